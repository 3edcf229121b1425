"""Loss modules: thin :class:`torch.nn.Module` wrappers around :mod:`focalkit.functional`."""

from .focal import FocalLoss, FocalWrapper, SigmoidFocalLoss, SoftmaxFocalLoss

__all__ = ["FocalLoss", "FocalWrapper", "SigmoidFocalLoss", "SoftmaxFocalLoss"]
