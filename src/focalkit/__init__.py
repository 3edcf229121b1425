"""focalkit: loss functions for class-imbalanced learning in PyTorch.

The functions live in :mod:`focalkit.functional`; the modules in :mod:`focalkit.nn` are
re-exported here.
"""

from . import functional, init, reference, weights
from .init import prior_bias, prior_bias_
from .nn import (
    AsymmetricLoss,
    ComboLoss,
    DiceLoss,
    DistributionFocalLoss,
    FocalLoss,
    FocalWrapper,
    JaccardLoss,
    LovaszHingeLoss,
    LovaszSoftmaxLoss,
    Poly1CrossEntropyLoss,
    QualityFocalLoss,
    SigmoidFocalLoss,
    SoftmaxFocalLoss,
    TverskyLoss,
    VarifocalLoss,
)
from .schedules import GammaScheduler
from .weights import binary_alpha, class_weights

__version__ = "0.1.0"

__all__ = [
    "AsymmetricLoss",
    "ComboLoss",
    "DiceLoss",
    "DistributionFocalLoss",
    "FocalLoss",
    "FocalWrapper",
    "GammaScheduler",
    "JaccardLoss",
    "LovaszHingeLoss",
    "LovaszSoftmaxLoss",
    "Poly1CrossEntropyLoss",
    "QualityFocalLoss",
    "SigmoidFocalLoss",
    "SoftmaxFocalLoss",
    "TverskyLoss",
    "VarifocalLoss",
    "binary_alpha",
    "class_weights",
    "functional",
    "init",
    "prior_bias",
    "prior_bias_",
    "reference",
    "weights",
]
