"""NumPy float64 reference for the softmax focal loss over a linear layer."""

from __future__ import annotations

import numpy as np

from ._common import as64, as_index
from .core import log_softmax
from .focal import softmax_focal_loss

__all__ = ["linear_softmax_focal_loss"]


def linear_softmax_focal_loss(x, weight, target, bias=None, gamma: float = 2.0, alpha=None,
                              label_smoothing: float = 0.0, epsilon: float = 0.0,
                              z_loss: float = 0.0, ignore_index: int = -100,
                              reduction: str = "mean"):
    r""":func:`softmax_focal_loss` of the logits :math:`z = x W^\top + b`, plus
    :math:`\lambda_z \log^2 \sum_c e^{z_c}` per kept position, for features ``(*, H)`` and
    class indices ``(*)``. ``"mean"`` averages over the kept positions.
    """
    x, w = as64(x), as64(weight)
    t = as_index(target).reshape(-1)
    z = x.reshape(-1, x.shape[-1]) @ w.T
    if bias is not None:
        z = z + as64(bias)
    valid = t != ignore_index
    loss = softmax_focal_loss(z, t, alpha=alpha, gamma=gamma, reduction="none",
                              ignore_index=ignore_index, label_smoothing=label_smoothing,
                              epsilon=epsilon)
    lse = z[:, :1] - log_softmax(z, axis=1)[:, :1]
    loss = loss + np.where(valid, z_loss * lse[:, 0] ** 2, 0.0)
    if reduction == "none":
        return loss.reshape(np.shape(target))
    total = loss.sum()
    if reduction == "sum":
        return np.float64(total)
    return np.float64(total / valid.sum()) if valid.any() else np.float64(0.0)
