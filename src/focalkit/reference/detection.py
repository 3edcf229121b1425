"""NumPy float64 references for the dense-detection losses: QFL, DFL and VFL."""

from __future__ import annotations

import numpy as np

from ._common import as64, reduce
from .core import binary_cross_entropy_with_logits, log_softmax, sigmoid

__all__ = ["quality_focal_loss", "distribution_focal_loss", "varifocal_loss"]


def _masked(x, y, ignore_index):
    x, y = as64(x), as64(y)
    valid = np.ones(y.shape, dtype=bool) if ignore_index is None else y != ignore_index
    return valid, np.where(valid, x, 0.0), np.where(valid, y, 0.0)


def _finish(loss, valid, weight, reduction):
    if weight is not None:
        loss = loss * as64(weight)
    loss = np.where(valid, loss, 0.0)
    return reduce(loss, reduction, valid.sum())


def quality_focal_loss(x, y, beta: float = 2.0, reduction: str = "mean", weight=None,
                       ignore_index=None):
    r""":math:`|y - \sigma(x)|^\beta\,\mathrm{BCE}(x, y)`."""
    valid, x, y = _masked(x, y, ignore_index)
    bce = binary_cross_entropy_with_logits(x, y, reduction="none")
    loss = np.abs(y - sigmoid(x)) ** beta * bce
    return _finish(loss, valid, weight, reduction)


def varifocal_loss(x, t, alpha: float = 0.75, gamma: float = 2.0, iou_weighted: bool = True,
                   reduction: str = "mean", weight=None, ignore_index=None):
    r""":math:`s\,\mathrm{BCE}(x, t)` with :math:`s = t` (or 1) where :math:`t > 0` and
    :math:`s = \alpha\,\sigma(x)^\gamma` where :math:`t = 0`."""
    valid, x, t = _masked(x, t, ignore_index)
    bce = binary_cross_entropy_with_logits(x, t, reduction="none")
    positive_scale = t if iou_weighted else np.ones_like(t)
    scale = np.where(t > 0, positive_scale, alpha * sigmoid(x) ** gamma)
    return _finish(scale * bce, valid, weight, reduction)


def distribution_focal_loss(x, y, reduction: str = "mean", weight=None, ignore_index=None):
    r""":math:`-[(y_r - y) \log S_{y_l} + (y - y_l) \log S_{y_r}]`, with :math:`S` the softmax
    over the last axis, :math:`y_l = \min(\lfloor y \rfloor, n - 2)` and :math:`y_r = y_l + 1`.
    """
    x, y = as64(x), as64(y)
    n = x.shape[-1]
    valid = np.ones(y.shape, dtype=bool) if ignore_index is None else y != ignore_index
    y = np.where(valid, y, 0.0)
    x = np.where(valid[..., None], x, 0.0)
    log_s = log_softmax(x, axis=-1)
    left = np.minimum(np.floor(y), n - 2).astype(np.int64)
    log_left = np.take_along_axis(log_s, left[..., None], axis=-1)[..., 0]
    log_right = np.take_along_axis(log_s, left[..., None] + 1, axis=-1)[..., 0]
    loss = -((left + 1 - y) * log_left + (y - left) * log_right)
    return _finish(loss, valid, weight, reduction)
