"""Loss modules: thin :class:`torch.nn.Module` wrappers around :mod:`focalkit.functional`."""

from .asymmetric import AsymmetricLoss
from .combo import ComboLoss
from .detection import DistributionFocalLoss, QualityFocalLoss, VarifocalLoss
from .focal import FocalLoss, FocalWrapper, SigmoidFocalLoss, SoftmaxFocalLoss
from .long_tail import LDAMLoss, LogitAdjustedCrossEntropyLoss
from .lovasz import LovaszHingeLoss, LovaszSoftmaxLoss
from .poly import Poly1CrossEntropyLoss
from .region import DiceLoss, JaccardLoss, TverskyLoss
from .region_more import GeneralizedDiceLoss, UnifiedFocalLoss

__all__ = [
    "AsymmetricLoss",
    "ComboLoss",
    "DiceLoss",
    "DistributionFocalLoss",
    "FocalLoss",
    "FocalWrapper",
    "GeneralizedDiceLoss",
    "JaccardLoss",
    "LDAMLoss",
    "LogitAdjustedCrossEntropyLoss",
    "LovaszHingeLoss",
    "LovaszSoftmaxLoss",
    "Poly1CrossEntropyLoss",
    "QualityFocalLoss",
    "SigmoidFocalLoss",
    "SoftmaxFocalLoss",
    "TverskyLoss",
    "UnifiedFocalLoss",
    "VarifocalLoss",
]
