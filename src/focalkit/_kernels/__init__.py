"""Closed-form autograd Functions behind the functional losses."""
