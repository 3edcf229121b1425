"""NumPy float64 references for the long-tail losses: logit adjustment and LDAM.

Both build the shifted logits explicitly and hand them to the cross-entropy reference.
"""

from __future__ import annotations

import numpy as np

from ._common import as64, as_index, class_shape, one_hot
from .core import cross_entropy

__all__ = ["logit_adjusted_cross_entropy", "ldam_loss"]


def logit_adjusted_cross_entropy(x, target, class_counts=None, prior=None, tau: float = 1.0,
                                 weight=None, ignore_index: int = -100,
                                 reduction: str = "mean", label_smoothing: float = 0.0):
    r"""Cross-entropy of :math:`x_c + \tau \log \pi_c`, :math:`\pi = n / \sum n`."""
    x = as64(x)
    pi = as64(class_counts if prior is None else prior)
    pi = pi / pi.sum()
    shifted = x + tau * np.log(pi).reshape(class_shape(x.ndim))
    return cross_entropy(shifted, target, weight, ignore_index, reduction, label_smoothing)


def ldam_loss(x, target, class_counts, max_margin: float = 0.5, scale: float = 30.0,
              weight=None, ignore_index: int = -100, reduction: str = "mean"):
    r"""Cross-entropy of :math:`s (x - m_t\,\mathrm{onehot}(t))`,
    :math:`m_c = m_\text{max}\,n_c^{-1/4} / \max_k n_k^{-1/4}`."""
    x = as64(x)
    t = as_index(target)
    n = as64(class_counts)
    margins = max_margin * n ** -0.25 / (n ** -0.25).max()
    safe = np.where(t != ignore_index, t, 0)
    shifted = scale * (x - one_hot(safe, x.shape[1]) * margins.reshape(class_shape(x.ndim)))
    return cross_entropy(shifted, t, weight, ignore_index, reduction)
