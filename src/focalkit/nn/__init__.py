"""Loss modules: thin :class:`torch.nn.Module` wrappers around :mod:`focalkit.functional`."""

from .asymmetric import AsymmetricLoss
from .combo import ComboLoss
from .detection import DistributionFocalLoss, QualityFocalLoss, VarifocalLoss
from .focal import FocalLoss, FocalWrapper, SigmoidFocalLoss, SoftmaxFocalLoss
from .lovasz import LovaszHingeLoss, LovaszSoftmaxLoss
from .poly import Poly1CrossEntropyLoss
from .region import DiceLoss, JaccardLoss, TverskyLoss

__all__ = [
    "AsymmetricLoss",
    "ComboLoss",
    "DiceLoss",
    "DistributionFocalLoss",
    "FocalLoss",
    "FocalWrapper",
    "JaccardLoss",
    "LovaszHingeLoss",
    "LovaszSoftmaxLoss",
    "Poly1CrossEntropyLoss",
    "QualityFocalLoss",
    "SigmoidFocalLoss",
    "SoftmaxFocalLoss",
    "TverskyLoss",
    "VarifocalLoss",
]
