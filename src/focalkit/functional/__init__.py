"""Pure loss functions, in the manner of :mod:`torch.nn.functional`.

This is the single source of truth: every module in :mod:`focalkit.nn` calls one of these.
"""

from .asymmetric import asymmetric_loss
from .detection import distribution_focal_loss, quality_focal_loss, varifocal_loss
from .focal import focal_modulation, sigmoid_focal_loss, softmax_focal_loss
from .generalized_dice import generalized_dice_loss
from .long_tail import ldam_loss, ldam_margins, logit_adjusted_cross_entropy
from .lovasz import lovasz_grad, lovasz_hinge_loss, lovasz_softmax_loss
from .poly import poly1_cross_entropy
from .region import dice_loss, jaccard_loss, region_stats, tversky_loss
from .unified import unified_focal_loss

__all__ = [
    "asymmetric_loss",
    "dice_loss",
    "distribution_focal_loss",
    "focal_modulation",
    "generalized_dice_loss",
    "jaccard_loss",
    "ldam_loss",
    "ldam_margins",
    "logit_adjusted_cross_entropy",
    "lovasz_grad",
    "lovasz_hinge_loss",
    "lovasz_softmax_loss",
    "poly1_cross_entropy",
    "quality_focal_loss",
    "region_stats",
    "sigmoid_focal_loss",
    "softmax_focal_loss",
    "tversky_loss",
    "unified_focal_loss",
    "varifocal_loss",
]
