"""focalkit: loss functions for class-imbalanced learning in PyTorch.

The functions live in :mod:`focalkit.functional`; the modules in :mod:`focalkit.nn` are
re-exported here.
"""

from . import backends, functional, init, nn, reference, registry, weights
from .init import prior_bias, prior_bias_
from .nn import *  # noqa: F403 (every loss module, listed once in focalkit.nn.__all__)
from .registry import get_loss, list_losses
from .schedules import GammaScheduler
from .weights import binary_alpha, class_weights

__version__ = "0.1.0"

__all__ = [
    "GammaScheduler",
    "backends",
    "binary_alpha",
    "class_weights",
    "functional",
    "get_loss",
    "init",
    "list_losses",
    "prior_bias",
    "prior_bias_",
    "reference",
    "registry",
    "weights",
]
__all__ += nn.__all__
