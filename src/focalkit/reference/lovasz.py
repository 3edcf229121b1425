"""NumPy float64 references for the Lovasz losses, written as Berman et al. describe them.

One class of one image at a time: drop the ignored positions, sort that class's errors in
decreasing order, permute the foreground indicators by the same order, and take the dot
product of the sorted errors with the increments of the Jaccard loss along it. No batching,
no shortcuts.
"""

from __future__ import annotations

import numpy as np

from ._common import as64, as_index
from .core import softmax

__all__ = ["lovasz_grad", "lovasz_softmax_loss", "lovasz_hinge_loss"]


def lovasz_grad(fg_sorted) -> np.ndarray:
    r"""Increments :math:`J_k - J_{k-1}` of the Jaccard loss
    :math:`J_k = 1 - \frac{G - \sum_{j \le k} g_j}{G + \sum_{j \le k} (1 - g_j)}` of a sorted
    0/1 vector, with :math:`J_0 = 0`."""
    g = np.asarray(fg_sorted, dtype=np.float64)
    total = g.sum()
    intersection = total - np.cumsum(g)
    union = total + np.cumsum(1.0 - g)
    jaccard = 1.0 - intersection / union
    increments = jaccard.copy()
    increments[1:] = jaccard[1:] - jaccard[:-1]
    return increments


def _lovasz_flat(errors, fg) -> float:
    """Sort the errors, permute the labels with them, dot with the Jaccard increments."""
    order = np.argsort(-errors, kind="stable")
    return float(np.dot(errors[order], lovasz_grad(fg[order])))


def _softmax_flat(p, labels, classes) -> float:
    """Loss of one flat set of positions: p of shape (C, M), labels of shape (M,)."""
    if labels.size == 0:
        return 0.0
    num_classes = p.shape[0]
    chosen = range(num_classes) if isinstance(classes, str) else classes
    losses = []
    for c in chosen:
        fg = (labels == c).astype(np.float64)
        if classes == "present" and fg.sum() == 0:
            continue
        losses.append(_lovasz_flat(np.abs(fg - p[c]), fg))
    return float(np.mean(losses)) if losses else 0.0


def lovasz_softmax_loss(input, target, classes="present", per_image: bool = False,
                        ignore_index=None, from_logits: bool = True) -> np.float64:
    """Lovasz-Softmax: per class, the Lovasz extension of the Jaccard loss of
    :math:`|[t = c] - p_c|`, averaged over the chosen classes (and images with
    ``per_image``)."""
    x = as64(input)
    t = as_index(target)
    n, c = x.shape[0], x.shape[1]
    if ignore_index is not None:
        x = np.where(np.expand_dims(t != ignore_index, 1), x, 0.0)
    p = softmax(x, axis=1) if from_logits else x
    p = p.reshape(n, c, -1)
    t = t.reshape(n, -1)
    if not isinstance(classes, str):
        classes = [int(k) for k in classes]

    def flat(p_img, t_img):
        keep = np.ones(t_img.shape, dtype=bool) if ignore_index is None else t_img != ignore_index
        return _softmax_flat(p_img[:, keep], t_img[keep], classes)

    if per_image:
        losses = [flat(p[i], t[i]) for i in range(n)]
        return np.float64(np.mean(losses)) if losses else np.float64(0.0)
    return np.float64(flat(p.transpose(1, 0, 2).reshape(c, -1), t.reshape(-1)))


def lovasz_hinge_loss(input, target, per_image: bool = True, ignore_index=None) -> np.float64:
    """Lovasz hinge: the Lovasz extension of the Jaccard loss of the hinge errors
    :math:`\\max(1 - x\\,(2y - 1), 0)`."""
    x = as64(input).reshape(as64(input).shape[0], -1)
    y = as64(target).reshape(x.shape)

    def flat(x_img, y_img):
        keep = np.ones(y_img.shape, dtype=bool) if ignore_index is None else y_img != ignore_index
        x_img, y_img = x_img[keep], y_img[keep]
        if y_img.size == 0:
            return 0.0
        errors = 1.0 - x_img * (2.0 * y_img - 1.0)
        order = np.argsort(-errors, kind="stable")
        return float(np.dot(np.maximum(errors[order], 0.0), lovasz_grad(y_img[order])))

    if per_image:
        losses = [flat(x[i], y[i]) for i in range(x.shape[0])]
        return np.float64(np.mean(losses)) if losses else np.float64(0.0)
    return np.float64(flat(x.reshape(-1), y.reshape(-1)))
