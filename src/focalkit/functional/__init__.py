"""Pure loss functions, in the manner of :mod:`torch.nn.functional`.

This is the single source of truth: every module in :mod:`focalkit.nn` calls one of these.
"""

from .focal import focal_modulation, sigmoid_focal_loss, softmax_focal_loss

__all__ = ["focal_modulation", "sigmoid_focal_loss", "softmax_focal_loss"]
