"""Helpers shared by the NumPy reference implementations."""

from __future__ import annotations

import numpy as np


def as64(a: object) -> np.ndarray:
    """Any array-like (tensors included) as a float64 NumPy array."""
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    return np.asarray(a, dtype=np.float64)


def as_index(a: object) -> np.ndarray:
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    return np.asarray(a, dtype=np.int64)


def reduce(loss: np.ndarray, reduction: str, denominator: float | None = None) -> np.ndarray:
    """``"none"`` keeps ``loss``; ``"sum"`` adds it up; ``"mean"`` divides the sum by
    ``denominator`` (default: the number of elements), and is 0 when that is 0."""
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "sum":
        return np.float64(total)
    if denominator is None:
        denominator = loss.size
    return np.float64(total / denominator) if denominator else np.float64(0.0)


def class_shape(ndim: int) -> tuple[int, ...]:
    """Shape that puts a length-C vector along axis 1 of an ``ndim``-D array."""
    return (1, -1) + (1,) * (ndim - 2)


def one_hot(t: np.ndarray, num_classes: int) -> np.ndarray:
    """``(N, *)`` indices to ``(N, C, *)`` float64 one-hot."""
    eye = np.eye(num_classes)[t]  # (N, *, C)
    return np.moveaxis(eye, -1, 1)
