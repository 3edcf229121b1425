"""Losses by name, for configuration files: :func:`get_loss` and :func:`list_losses`.

A configuration file can name a loss and its options in plain data, e.g. YAML::

    loss:
      name: focal
      mode: multiclass
      gamma: 2.0

and ``get_loss(**config["loss"])`` builds it. Every loss module of :mod:`focalkit.nn`
registers itself in :data:`LOSSES` where it is defined.
"""

from .nn._registry import LOSSES, LossEntry, get_loss, list_losses, register

__all__ = ["LOSSES", "LossEntry", "get_loss", "list_losses", "register"]
