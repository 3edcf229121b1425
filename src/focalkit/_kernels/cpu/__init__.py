"""Kernels for CPU tensors, written with eager PyTorch operations on cache-sized blocks."""
