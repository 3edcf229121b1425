"""NumPy float64 reference for the asymmetric loss (ASL)."""

from __future__ import annotations

import numpy as np

from ._common import as64, reduce
from .core import log_sigmoid

__all__ = ["asymmetric_loss"]


def asymmetric_loss(x, y, gamma_pos: float = 0.0, gamma_neg: float = 4.0, clip: float = 0.05,
                    reduction: str = "mean", weight=None, ignore_index=None):
    r""":math:`-w[y (1 - p)^{\gamma_+} \log p + (1 - y) p_m^{\gamma_-} \log(1 - p_m)]` with
    :math:`p_m = \max(p - c, 0)`.

    ``"mean"`` divides by the number of entries whose target is not ``ignore_index``.
    """
    x, y = as64(x), as64(y)
    valid = np.ones(y.shape, dtype=bool) if ignore_index is None else y != ignore_index
    x, y = np.where(valid, x, 0.0), np.where(valid, y, 0.0)
    p = np.exp(log_sigmoid(x))
    shifted = np.maximum(p - clip, 0.0)
    # log(1 - p_m): 1 - p_m = min(1 - p + c, 1), with 1 - p = sigmoid(-x).
    log_rest = np.log(np.minimum(np.exp(log_sigmoid(-x)) + clip, 1.0)) if clip > 0 \
        else log_sigmoid(-x)
    positive = (1.0 - p) ** gamma_pos * log_sigmoid(x)
    negative = shifted ** gamma_neg * log_rest
    loss = -(y * positive + (1.0 - y) * negative)
    if weight is not None:
        loss = loss * as64(weight)
    loss = np.where(valid, loss, 0.0)
    return reduce(loss, reduction, valid.sum())
