"""NumPy float64 reference for the Poly-1 cross-entropy."""

from __future__ import annotations

import numpy as np

from ._common import as64, as_index, class_shape, one_hot, reduce
from .core import log_softmax

__all__ = ["poly1_cross_entropy"]


def poly1_cross_entropy(x, target, epsilon: float = 1.0, weight=None, ignore_index: int = -100,
                        label_smoothing: float = 0.0, reduction: str = "mean"):
    r""":math:`\sum_c w_c q_c [-\log p_c + \epsilon (1 - p_c)]`, :math:`q` the (smoothed)
    target distribution; for a class index :math:`t` without smoothing or weights,
    :math:`-\log p_t + \epsilon (1 - p_t)`. ``"mean"`` divides as ``cross_entropy`` does: by
    the summed weights of the non-ignored targets, or by the number of positions for
    probability targets.
    """
    x = as64(x)
    c = x.shape[1]
    w = np.ones(c) if weight is None else as64(weight)
    target_arr = np.asarray(target.detach().cpu().numpy() if hasattr(target, "detach")
                            else target)
    if target_arr.dtype.kind == "f":
        valid = np.ones((x.shape[0],) + x.shape[2:], dtype=bool)
        q = as64(target_arr)
        denominator = valid.sum()
    else:
        t = as_index(target_arr)
        valid = t != ignore_index
        safe_t = np.where(valid, t, 0)
        q = one_hot(safe_t, c)
        x = np.where(np.expand_dims(valid, 1), x, 0.0)
        denominator = np.where(valid, w[safe_t], 0.0).sum()
    q = q * (1.0 - label_smoothing) + label_smoothing / c
    log_p = log_softmax(x, axis=1)
    cost = -log_p + epsilon * (1.0 - np.exp(log_p))
    loss = (w.reshape(class_shape(x.ndim)) * q * cost).sum(axis=1)
    loss = np.where(valid, loss, 0.0)
    return reduce(loss, reduction, denominator)
