"""Loss modules: thin :class:`torch.nn.Module` wrappers around :mod:`focalkit.functional`."""

from .combo import ComboLoss
from .focal import FocalLoss, FocalWrapper, SigmoidFocalLoss, SoftmaxFocalLoss
from .long_tail import LDAMLoss, LogitAdjustedCrossEntropyLoss
from .lovasz import LovaszHingeLoss, LovaszSoftmaxLoss
from .region import DiceLoss, JaccardLoss, TverskyLoss
from .region_more import GeneralizedDiceLoss, UnifiedFocalLoss

__all__ = [
    "ComboLoss",
    "DiceLoss",
    "FocalLoss",
    "FocalWrapper",
    "GeneralizedDiceLoss",
    "JaccardLoss",
    "LDAMLoss",
    "LogitAdjustedCrossEntropyLoss",
    "LovaszHingeLoss",
    "LovaszSoftmaxLoss",
    "SigmoidFocalLoss",
    "SoftmaxFocalLoss",
    "TverskyLoss",
    "UnifiedFocalLoss",
]
