"""NumPy float64 references for the losses torch already has: BCE, softmax, NLL, CE.

They are written for reading: one formula per line, no tricks beyond the log-sum-exp and
log-sigmoid forms that keep them finite. The tests check each against
:mod:`torch.nn.functional`, and then use them as the oracles for focalkit's own losses.
"""

from __future__ import annotations

import numpy as np

from ._common import as64, as_index, class_shape, one_hot, reduce

__all__ = [
    "sigmoid",
    "log_sigmoid",
    "softmax",
    "log_softmax",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "nll_loss",
    "cross_entropy",
]


def sigmoid(x):
    """:math:`1 / (1 + e^{-x})`."""
    return np.exp(log_sigmoid(x))


def log_sigmoid(x):
    r""":math:`\log \sigma(x) = -\log(1 + e^{-x})`, as ``-logaddexp(0, -x)`` (no overflow)."""
    return -np.logaddexp(0.0, -as64(x))


def log_softmax(x, axis: int = 1):
    r""":math:`x_c - \log \sum_k e^{x_k}`, shifting by the maximum first."""
    x = as64(x)
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax(x, axis: int = 1):
    r""":math:`e^{x_c} / \sum_k e^{x_k}`."""
    return np.exp(log_softmax(x, axis))


def binary_cross_entropy(p, y, weight=None, reduction: str = "mean", pos_weight=None):
    r"""BCE on probabilities: :math:`-w\,[w_p\,y \log p + (1 - y) \log(1 - p)]`.

    Each log is clamped at -100, as :func:`torch.nn.functional.binary_cross_entropy` does, so
    that a probability of exactly 0 or 1 gives a finite loss.
    """
    p, y = as64(p), as64(y)
    with np.errstate(divide="ignore"):
        log_p = np.maximum(np.log(p), -100.0)
        log_q = np.maximum(np.log(1.0 - p), -100.0)
    w_p = 1.0 if pos_weight is None else as64(pos_weight)
    loss = -(w_p * y * log_p + (1.0 - y) * log_q)
    if weight is not None:
        loss = loss * as64(weight)
    return reduce(loss, reduction)


def binary_cross_entropy_with_logits(x, y, weight=None, reduction: str = "mean",
                                     pos_weight=None):
    r"""BCE on logits: :math:`-w\,[w_p\,y \log \sigma(x) + (1 - y) \log \sigma(-x)]`."""
    x, y = as64(x), as64(y)
    w_p = 1.0 if pos_weight is None else as64(pos_weight)
    loss = -(w_p * y * log_sigmoid(x) + (1.0 - y) * log_sigmoid(-x))
    if weight is not None:
        loss = loss * as64(weight)
    return reduce(loss, reduction)


def nll_loss(log_p, target, weight=None, ignore_index: int = -100, reduction: str = "mean"):
    r"""Negative log-likelihood :math:`-w_t \log p_t` of class-index targets.

    ``"mean"`` divides by the summed weights of the non-ignored targets, as torch does.
    """
    log_p, t = as64(log_p), as_index(target)
    c = log_p.shape[1]
    w = np.ones(c) if weight is None else as64(weight)
    valid = t != ignore_index
    safe_t = np.where(valid, t, 0)
    picked = np.take_along_axis(log_p, np.expand_dims(safe_t, 1), axis=1).squeeze(1)
    w_t = np.where(valid, w[safe_t], 0.0)
    loss = -w_t * picked
    loss = np.where(valid, loss, 0.0)
    return reduce(loss, reduction, w_t.sum())


def cross_entropy(x, target, weight=None, ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0):
    r"""Softmax cross-entropy: ``nll_loss(log_softmax(x), target)`` plus label smoothing.

    Class-index targets: :math:`(1 - \varepsilon)\,\text{NLL} + \frac{\varepsilon}{C}\,
    \sum_c -w_c \log p_c`, each part averaged by the summed target weights (torch's rule).
    Class-probability targets :math:`q` of shape ``(N, C, *)``:
    :math:`-\sum_c w_c\,q'_c \log p_c` with :math:`q' = (1 - \varepsilon) q + \varepsilon / C`,
    averaged over the positions.
    """
    x = as64(x)
    c = x.shape[1]
    log_p = log_softmax(x, axis=1)
    w = np.ones(c) if weight is None else as64(weight)
    w_c = w.reshape(class_shape(x.ndim))
    target_arr = np.asarray(target.detach().cpu().numpy() if hasattr(target, "detach")
                            else target)
    if target_arr.dtype.kind == "f":
        q = as64(target_arr) * (1.0 - label_smoothing) + label_smoothing / c
        loss = -(w_c * q * log_p).sum(axis=1)
        return reduce(loss, reduction)
    t = as_index(target_arr)
    valid = t != ignore_index
    safe_t = np.where(valid, t, 0)
    log_p = np.where(np.expand_dims(valid, 1), log_p, 0.0)
    nll = -(one_hot(safe_t, c) * w_c * log_p).sum(axis=1)
    smooth = -(w_c * log_p).sum(axis=1)
    nll, smooth = np.where(valid, nll, 0.0), np.where(valid, smooth, 0.0)
    if reduction == "none":
        return (1.0 - label_smoothing) * nll + label_smoothing / c * smooth
    denominator = np.where(valid, w[safe_t], 0.0).sum()
    return ((1.0 - label_smoothing) * reduce(nll, reduction, denominator)
            + label_smoothing / c * reduce(smooth, reduction, denominator))
