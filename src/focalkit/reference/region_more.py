"""NumPy float64 references for the generalized Dice and the unified focal losses.

Dense targets throughout: class indices become one-hot arrays, a binary channel becomes the
two classes (background, foreground), and every sum is written out.
"""

from __future__ import annotations

import numpy as np

from ._common import as64, as_index, one_hot, reduce
from .core import log_sigmoid, log_softmax
from .region import region_stats

__all__ = ["generalized_dice_loss", "unified_focal_loss"]


def generalized_dice_loss(input, target, weighting: str = "square", mode: str = "multiclass",
                          from_logits: bool = True, smooth: float = 0.0, classes=None,
                          ignore_index=None, per_image: bool = False, reduction: str = "mean",
                          intersection: str = "product"):
    r""":math:`1 - (2 \sum_c w_c TP_c + s) / (\sum_c w_c (2 TP_c + FP_c + FN_c) + s)` with
    :math:`w_c = V_c^{-2}`, :math:`V_c^{-1}` or 1, :math:`V_c = TP_c + FN_c`; an absent class
    takes the largest present weight, and all weights are 1 when no class is present."""
    tp, fp, fn = region_stats(input, target, mode, from_logits, ignore_index, per_image,
                              intersection)
    if classes is not None:
        tp, fp, fn = tp[..., list(classes)], fp[..., list(classes)], fn[..., list(classes)]
    volume = tp + fn
    with np.errstate(divide="ignore"):
        if weighting == "square":
            w = 1.0 / volume ** 2
        elif weighting == "simple":
            w = 1.0 / volume
        else:
            w = np.ones_like(volume)
    w = np.atleast_2d(w).copy()
    for row in w:
        finite = np.isfinite(row)
        row[~finite] = row[finite].max() if finite.any() else 1.0
        if not finite.any():
            row[:] = 1.0
    w = w.reshape(volume.shape)
    numerator = 2.0 * (w * tp).sum(axis=-1) + smooth
    denominator = (w * (2.0 * tp + fp + fn)).sum(axis=-1) + smooth
    score = np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1.0),
                     1.0)
    return reduce(1.0 - score, reduction)


def unified_focal_loss(input, target, mode: str = "multiclass", from_logits: bool = True,
                       weight: float = 0.5, delta: float = 0.6, gamma: float = 0.5,
                       background=0, smooth: float = 0.0, eps: float = 1e-7,
                       ignore_index=None, per_image: bool = False, reduction: str = "mean"):
    r""":math:`\lambda F_c + (1 - \lambda) T_c` per class: :math:`F_c` the mean over kept
    positions of :math:`-q_c \log p_c` times :math:`(1 - \delta)(1 - p_c)^\gamma`
    (background) or :math:`\delta` (foreground); :math:`T_c = 1 - TI_c` (background) or
    :math:`(1 - TI_c)^{1 - \gamma}`, :math:`TI = (TP + s) / (TP + \delta FN + (1 - \delta) FP
    + s)`."""
    x = as64(input)
    n = x.shape[0]
    if mode == "binary":
        x = x.reshape(n, 1, -1)
        y = as64(target).reshape(n, 1, -1)
        valid = np.ones(y.shape[::2], dtype=bool) if ignore_index is None \
            else (y[:, 0] != ignore_index)
        y = np.where(valid[:, None], y, 0.0)
        q = np.concatenate([1.0 - y, y], axis=1)
        if from_logits:
            log_p = np.concatenate([log_sigmoid(-x), log_sigmoid(x)], axis=1)
        else:
            with np.errstate(divide="ignore"):
                log_p = np.maximum(np.log(np.concatenate([1.0 - x, x], axis=1)), -100.0)
    else:
        x = x.reshape(n, x.shape[1], -1)
        c = x.shape[1]
        if np.asarray(target.detach().cpu() if hasattr(target, "detach") else target
                      ).dtype.kind in "iu":
            t = as_index(target).reshape(n, -1)
            valid = np.ones(t.shape, dtype=bool) if ignore_index is None else t != ignore_index
            q = one_hot(np.where(valid, t, 0), c)
        else:
            q = as64(target).reshape(n, c, -1)
            valid = np.ones((n, q.shape[2]), dtype=bool)
        if from_logits:
            log_p = log_softmax(np.where(valid[:, None], x, 0.0), axis=1)
        else:
            with np.errstate(divide="ignore"):
                log_p = np.maximum(np.log(x), -100.0)
    p = np.exp(log_p)
    c = q.shape[1]
    keep = valid[:, None].astype(np.float64)
    p, q = p * keep, q * keep
    bg = np.zeros(c, dtype=bool)
    if background is not None:
        bg[np.atleast_1d(background)] = True
    bg_c = bg.reshape(1, c, 1)
    factor = np.where(bg_c, (1.0 - delta) * (1.0 - p) ** gamma, delta)
    terms = np.where(keep > 0, -q * np.where(keep > 0, log_p, 0.0) * factor, 0.0)
    sums, count = terms.sum(axis=2), valid.sum(axis=1).astype(np.float64)
    tp, fp, fn = (p * q).sum(axis=2), (p * (1 - q)).sum(axis=2), ((1 - p) * q).sum(axis=2)
    if not per_image:
        sums, count = sums.sum(axis=0), count.sum()
        tp, fp, fn = tp.sum(axis=0), fp.sum(axis=0), fn.sum(axis=0)
        focal = sums / max(count, 1.0)
    else:
        focal = sums / np.maximum(count, 1.0)[:, None]
    ti = (tp + smooth) / np.maximum(tp + delta * fn + (1 - delta) * fp + smooth, eps)
    ti = np.where(tp + fp + fn == 0, 1.0, ti)
    base = np.maximum(1.0 - ti, 0.0)
    tversky = np.where(bg, base, base ** (1.0 - gamma))
    return reduce(weight * focal + (1.0 - weight) * tversky, reduction)
