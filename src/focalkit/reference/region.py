"""NumPy float64 references for the region losses: Dice, Jaccard and Tversky.

Written the long way: the target becomes a dense ``(N, C, *)`` array (one-hot for class
indices), ignored positions are dropped with a mask, and every class's three sums are taken
explicitly before the ratio.
"""

from __future__ import annotations

import numpy as np

from ._common import as64, as_index, one_hot, reduce
from .core import sigmoid, softmax

__all__ = ["region_stats", "dice_loss", "jaccard_loss", "tversky_loss"]


def _is_index(target) -> bool:
    arr = target.detach().cpu().numpy() if hasattr(target, "detach") else np.asarray(target)
    return arr.dtype.kind in "iu"


def _dense(input, target, mode: str, from_logits: bool, ignore_index):
    """Predictions p, targets q and a validity mask, all float64 of shape (N, C, *)."""
    x = as64(input)
    if mode == "binary" and (x.ndim == 1 or x.shape[1] != 1):
        x = x.reshape(x.shape[0], 1, *x.shape[1:])
        target = as64(target).reshape(x.shape)
    if mode == "multiclass" and _is_index(target):
        t = as_index(target)
        valid = np.ones(t.shape, dtype=bool) if ignore_index is None else t != ignore_index
        q = one_hot(np.where(valid, t, 0), x.shape[1])
        valid = np.broadcast_to(np.expand_dims(valid, 1), x.shape)
    else:
        q = as64(target).reshape(x.shape)
        valid = np.ones(x.shape, dtype=bool) if ignore_index is None else q != ignore_index
        if mode == "multiclass":
            valid = np.broadcast_to(valid.all(axis=1, keepdims=True), x.shape)
    x = np.where(valid, x, 0.0)
    if not from_logits:
        p = x
    elif mode == "multiclass":
        p = softmax(x, axis=1)
    else:
        p = sigmoid(x)
    return np.where(valid, p, 0.0), np.where(valid, q, 0.0)


def region_stats(input, target, mode: str = "multiclass", from_logits: bool = True,
                 ignore_index=None, per_image: bool = False, intersection: str = "product"):
    r"""Per-class :math:`TP = \sum p q`, :math:`FP = \sum p (1 - q)`,
    :math:`FN = \sum (1 - p) q` (``intersection="min"``: :math:`\sum \min(p, q)`,
    :math:`\sum (p - q)^+`, :math:`\sum (q - p)^+`), shape ``(C,)`` or ``(N, C)``."""
    p, q = _dense(input, target, mode, from_logits, ignore_index)
    axes = tuple(range(2, p.ndim))
    if intersection == "min":
        tp = np.minimum(p, q).sum(axis=axes)
        fp = np.maximum(p - q, 0.0).sum(axis=axes)
        fn = np.maximum(q - p, 0.0).sum(axis=axes)
    else:
        tp = (p * q).sum(axis=axes)
        fp = (p * (1.0 - q)).sum(axis=axes)
        fn = ((1.0 - p) * q).sum(axis=axes)
    if not per_image:
        tp, fp, fn = tp.sum(axis=0), fp.sum(axis=0), fn.sum(axis=0)
    return tp, fp, fn


def tversky_loss(input, target, mode: str = "multiclass", from_logits: bool = True,
                 alpha: float = 0.5, beta: float = 0.5, gamma: float = 1.0,
                 smooth: float = 0.0, eps: float = 1e-7, classes=None, ignore_index=None,
                 per_image: bool = False, log_loss: bool = False, reduction: str = "mean",
                 intersection: str = "product", tp_weight: float = 1.0):
    r""":math:`(1 - \mathrm{TI})^\gamma`, :math:`\mathrm{TI} = (w\,TP + s) /
    \max(w\,TP + \alpha FP + \beta FN + s, \varepsilon)`, and :math:`\mathrm{TI} = 1` for a
    class with :math:`TP = FP = FN = 0`. (``tp_weight`` :math:`w = 2` with
    :math:`\alpha = \beta = 1` gives Dice.)"""
    tp, fp, fn = region_stats(input, target, mode, from_logits, ignore_index, per_image,
                              intersection)
    if classes is not None:
        tp, fp, fn = tp[..., list(classes)], fp[..., list(classes)], fn[..., list(classes)]
    numerator = tp_weight * tp + smooth
    denominator = tp_weight * tp + alpha * fp + beta * fn + smooth
    score = numerator / np.maximum(denominator, eps)
    score = np.where(tp + fp + fn == 0, 1.0, score)
    base = -np.log(np.maximum(score, eps)) if log_loss else 1.0 - score
    return reduce(np.maximum(base, 0.0) ** gamma, reduction)


def dice_loss(input, target, mode: str = "multiclass", from_logits: bool = True,
              smooth: float = 0.0, eps: float = 1e-7, classes=None, ignore_index=None,
              per_image: bool = False, log_loss: bool = False, reduction: str = "mean",
              intersection: str = "product"):
    r""":math:`1 - (2\,TP + s) / \max(2\,TP + FP + FN + s, \varepsilon)`."""
    return tversky_loss(input, target, mode, from_logits, 1.0, 1.0, 1.0, smooth, eps, classes,
                        ignore_index, per_image, log_loss, reduction, intersection,
                        tp_weight=2.0)


def jaccard_loss(input, target, mode: str = "multiclass", from_logits: bool = True,
                 smooth: float = 0.0, eps: float = 1e-7, classes=None, ignore_index=None,
                 per_image: bool = False, log_loss: bool = False, reduction: str = "mean",
                 intersection: str = "product"):
    r""":math:`1 - (TP + s) / \max(TP + FP + FN + s, \varepsilon)`."""
    return tversky_loss(input, target, mode, from_logits, 1.0, 1.0, 1.0, smooth, eps, classes,
                        ignore_index, per_image, log_loss, reduction, intersection)
