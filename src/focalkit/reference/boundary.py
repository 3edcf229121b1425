"""NumPy float64 references for the distance and topology losses, written the long way.

One image and one class at a time: the distance maps come from SciPy's
``scipy.ndimage.distance_transform_edt`` (two one-sided transforms for the distance to the
other kind), and the soft skeleton from explicit minima and maxima over padded
neighbourhoods. SciPy is needed by these references only; it is imported when one of them
runs.
"""

from __future__ import annotations

import itertools

import numpy as np

from ._common import as64, as_index, one_hot, reduce
from .core import softmax

__all__ = ["boundary_loss", "distance_transform", "hausdorff_dt_loss", "soft_cldice_loss"]


def _edt(mask: np.ndarray, spacing=None) -> np.ndarray:
    from scipy import ndimage

    return ndimage.distance_transform_edt(mask, sampling=spacing)


def distance_transform(mask, spacing=None) -> np.ndarray:
    """SciPy's Euclidean distance transform of each image ``mask[n]``; ``inf`` everywhere in
    an image without a False element."""
    mask = np.asarray(mask.detach().cpu().numpy() if hasattr(mask, "detach") else mask,
                      dtype=bool)
    out = np.empty(mask.shape, dtype=np.float64)
    for n in range(mask.shape[0]):
        out[n] = np.inf if mask[n].all() else _edt(mask[n], spacing)
    return out


def _other_kind(fg: np.ndarray, valid: np.ndarray) -> np.ndarray | None:
    """Distance from every position to the nearest valid position of the other kind, or None
    when the image lacks one of the kinds."""
    fg = fg & valid
    bg = valid & ~fg
    if not fg.any() or not bg.any():
        return None
    return np.where(fg, _edt(~bg), _edt(~fg))


def _inputs(input, target, ignore_index, include_background):
    """Probabilities, one-hot targets (N, C', *) and the valid mask (N, *)."""
    x = as64(input)
    t = as_index(target)
    valid = np.ones(t.shape, dtype=bool) if ignore_index is None else t != ignore_index
    t = np.where(valid, t, 0)
    p = softmax(np.where(valid[:, None], x, 0.0), axis=1) * valid[:, None]
    q = one_hot(t, x.shape[1]) * valid[:, None]
    if not include_background:
        p, q = p[:, 1:], q[:, 1:]
    return p, q, valid


def hausdorff_dt_loss(input, target, alpha: float = 2.0, include_background: bool = False,
                      ignore_index=None, reduction: str = "mean"):
    r""":math:`\frac{1}{|\Omega|}\sum (p - q)^2 (d_p^\alpha + d_q^\alpha)` per image and class,
    with :math:`d` the distance to the other kind of :math:`p > 1/2` and of :math:`q`."""
    p, q, valid = _inputs(input, target, ignore_index, include_background)
    loss = np.zeros(p.shape[:2])
    for n in range(p.shape[0]):
        for c in range(p.shape[1]):
            weight = np.zeros(p.shape[2:])
            for fg in (p[n, c] > 0.5, q[n, c] > 0.5):
                distance = _other_kind(fg, valid[n])
                if distance is not None:
                    weight += np.where(valid[n], distance, 0.0) ** alpha
            terms = (p[n, c] - q[n, c]) ** 2 * weight
            loss[n, c] = terms[valid[n]].sum() / max(valid[n].sum(), 1)
    return reduce(loss, reduction)


def boundary_loss(input, target, include_background: bool = False, ignore_index=None,
                  reduction: str = "mean"):
    r""":math:`\frac{1}{|\Omega|}\sum p\,\phi` per image and class, :math:`\phi = 1 - d` inside
    the target and :math:`d` outside."""
    p, q, valid = _inputs(input, target, ignore_index, include_background)
    loss = np.zeros(p.shape[:2])
    for n in range(p.shape[0]):
        for c in range(p.shape[1]):
            fg = q[n, c] > 0.5
            distance = _other_kind(fg, valid[n])
            if distance is None:
                continue
            signed = np.where(fg, 1.0 - distance, distance)
            loss[n, c] = (p[n, c] * signed)[valid[n]].sum() / max(valid[n].sum(), 1)
    return reduce(loss, reduction)


def _neighbourhood(x: np.ndarray, valid: np.ndarray, offsets, fill: float, pick) -> np.ndarray:
    """``pick`` (np.min or np.max) over ``x`` shifted by every offset, with ``fill`` outside
    the image and at invalid positions; 0 at invalid positions."""
    x = np.where(valid, x, fill)
    padded = np.pad(x, 1, constant_values=fill)
    shifted = [padded[tuple(slice(1 + o, 1 + o + size) for o, size in zip(offset, x.shape,
                                                                         strict=True))]
               for offset in offsets]
    return np.where(valid, pick(np.stack(shifted), axis=0), 0.0)


def _skeleton(img: np.ndarray, valid: np.ndarray, iterations: int) -> np.ndarray:
    """Soft skeleton of one image: erosion over the cross, dilation over the 3^d box."""
    d = img.ndim
    cross = [(0,) * d] + [tuple(s if k == axis else 0 for k in range(d))
                          for axis in range(d) for s in (-1, 1)]
    box = list(itertools.product((-1, 0, 1), repeat=d))

    def erode(x):
        return _neighbourhood(x, valid, cross, np.inf, np.min)

    def dilate(x):
        return _neighbourhood(x, valid, box, -np.inf, np.max)

    eroded = erode(img)
    skeleton = np.maximum(img - dilate(eroded), 0.0)
    for _ in range(iterations):
        img = eroded
        eroded = erode(img)
        delta = np.maximum(img - dilate(eroded), 0.0)
        skeleton = skeleton + np.maximum(delta - skeleton * delta, 0.0)
    return skeleton


def soft_cldice_loss(input, target, iterations: int = 3, smooth: float = 1.0,
                     eps: float = 1e-4, include_background: bool = True, ignore_index=None,
                     reduction: str = "mean"):
    r""":math:`1 - 2 T_p T_s / (T_p + T_s + \varepsilon)` per image, with
    :math:`T_p = (\sum S_p q + s) / (\sum S_p + s)` and
    :math:`T_s = (\sum S_q p + s) / (\sum S_q + s)`."""
    p, q, valid = _inputs(input, target, ignore_index, include_background)
    loss = np.zeros(p.shape[0])
    for n in range(p.shape[0]):
        skeleton_p = np.stack([_skeleton(p[n, c], valid[n], iterations)
                               for c in range(p.shape[1])])
        skeleton_q = np.stack([_skeleton(q[n, c], valid[n], iterations)
                               for c in range(p.shape[1])])
        precision = ((skeleton_p * q[n]).sum() + smooth) / (skeleton_p.sum() + smooth)
        sensitivity = ((skeleton_q * p[n]).sum() + smooth) / (skeleton_q.sum() + smooth)
        loss[n] = 1.0 - 2.0 * precision * sensitivity / (precision + sensitivity + eps)
    return reduce(loss, reduction)
