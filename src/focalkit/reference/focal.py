"""NumPy float64 references for the focal losses."""

from __future__ import annotations

import numpy as np

from ._common import as64, as_index, class_shape, one_hot, reduce
from .core import log_sigmoid, log_softmax

__all__ = ["sigmoid_focal_loss", "softmax_focal_loss"]


def sigmoid_focal_loss(x, y, alpha=0.25, gamma: float = 2.0, pos_weight=None, weight=None,
                       reduction: str = "mean", from_logits: bool = True, ignore_index=None,
                       epsilon: float = 0.0):
    r""":math:`w\,\alpha_t (1 - p_t)^\gamma [-w_p\,y \log p - (1 - y) \log (1 - p)
    + \epsilon\,(1 - p_t)]`.

    ``"mean"`` divides by the number of entries whose target is not ``ignore_index``.
    """
    x, y = as64(x), as64(y)
    valid = np.ones(y.shape, dtype=bool) if ignore_index is None else y != ignore_index
    x, y = np.where(valid, x, 0.0), np.where(valid, y, 0.0)
    if from_logits:
        p, one_minus_p = np.exp(log_sigmoid(x)), np.exp(log_sigmoid(-x))
        log_p, log_one_minus_p = log_sigmoid(x), log_sigmoid(-x)
    else:
        p, one_minus_p = x, 1.0 - x
        with np.errstate(divide="ignore"):
            log_p = np.maximum(np.log(p), -100.0)
            log_one_minus_p = np.maximum(np.log(one_minus_p), -100.0)
    w_p = 1.0 if pos_weight is None else as64(pos_weight)
    bce = -(w_p * y * log_p + (1.0 - y) * log_one_minus_p)
    one_minus_pt = p * (1.0 - y) + one_minus_p * y
    loss = one_minus_pt ** gamma * (bce + epsilon * one_minus_pt)
    if alpha is not None:
        a = as64(alpha)
        loss = loss * (a * y + (1.0 - a) * (1.0 - y))
    if weight is not None:
        loss = loss * as64(weight)
    loss = np.where(valid, loss, 0.0)
    return reduce(loss, reduction, valid.sum())


def softmax_focal_loss(x, target, alpha=None, gamma: float = 2.0, reduction: str = "mean",
                       ignore_index: int = -100, label_smoothing: float = 0.0,
                       epsilon: float = 0.0):
    r""":math:`\sum_c q_c\,\alpha_c\,(1 - p_c)^\gamma (\epsilon\,(1 - p_c) - \log p_c)`
    (``epsilon`` the Poly-1 weight) with :math:`q` the
    (smoothed) target distribution; for a class index :math:`t` without smoothing this is
    :math:`-\alpha_t (1 - p_t)^\gamma \log p_t`. ``"mean"`` averages over non-ignored
    positions, without weighting by ``alpha``.
    """
    x = as64(x)
    c = x.shape[1]
    a = np.ones(c) if alpha is None else np.broadcast_to(as64(alpha), (c,))
    a_c = a.reshape(class_shape(x.ndim))
    target_arr = np.asarray(target.detach().cpu().numpy() if hasattr(target, "detach")
                            else target)
    if target_arr.dtype.kind == "f":
        valid = np.ones((x.shape[0],) + x.shape[2:], dtype=bool)
        q = as64(target_arr)
    else:
        t = as_index(target_arr)
        valid = t != ignore_index
        q = one_hot(np.where(valid, t, 0), c)
        x = np.where(np.expand_dims(valid, 1), x, 0.0)
    q = q * (1.0 - label_smoothing) + label_smoothing / c
    log_p = log_softmax(x, axis=1)
    p = np.exp(log_p)
    loss = (q * a_c * (1.0 - p) ** gamma * (epsilon * (1.0 - p) - log_p)).sum(axis=1)
    loss = np.where(valid, loss, 0.0)
    return reduce(loss, reduction, valid.sum())
