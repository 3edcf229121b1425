"""NumPy float64 reference implementations of every loss: the test oracles.

Plain formulas, written to be read. Inputs may be NumPy arrays or tensors; outputs are
float64 NumPy arrays (or NumPy scalars after a reduction). Use them to check a loss, to
learn what it computes, or to see why ``cross_entropy == nll_loss(log_softmax(x))``:

>>> import numpy as np
>>> from focalkit import reference as R
>>> x = np.array([[2.0, 0.5, -1.0]]); t = np.array([0])
>>> bool(np.isclose(R.cross_entropy(x, t), R.nll_loss(R.log_softmax(x), t)))
True
"""

from .asymmetric import asymmetric_loss
from .core import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    log_sigmoid,
    log_softmax,
    nll_loss,
    sigmoid,
    softmax,
)
from .detection import distribution_focal_loss, quality_focal_loss, varifocal_loss
from .focal import sigmoid_focal_loss, softmax_focal_loss
from .long_tail import ldam_loss, logit_adjusted_cross_entropy
from .lovasz import lovasz_grad, lovasz_hinge_loss, lovasz_softmax_loss
from .poly import poly1_cross_entropy
from .region import dice_loss, jaccard_loss, region_stats, tversky_loss
from .region_more import generalized_dice_loss, unified_focal_loss

__all__ = [
    "asymmetric_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "dice_loss",
    "generalized_dice_loss",
    "distribution_focal_loss",
    "jaccard_loss",
    "ldam_loss",
    "log_sigmoid",
    "log_softmax",
    "logit_adjusted_cross_entropy",
    "lovasz_grad",
    "lovasz_hinge_loss",
    "lovasz_softmax_loss",
    "nll_loss",
    "poly1_cross_entropy",
    "quality_focal_loss",
    "region_stats",
    "sigmoid",
    "sigmoid_focal_loss",
    "softmax",
    "softmax_focal_loss",
    "tversky_loss",
    "unified_focal_loss",
    "varifocal_loss",
]
