"""Closed form of the varifocal loss, element by element, for the blocked Function."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from . import _elementwise
from ._power import power


def varifocal_terms(x: Tensor, t: Tensor, alpha: float, gamma: float, iou_weighted: bool, *,
                    with_grad: bool) -> tuple[Tensor, Tensor | None]:
    r"""Element-wise varifocal loss of logits and, optionally, its derivative.

    With :math:`p = \sigma(x)`, :math:`q = \sigma(-x)` and :math:`b` the binary cross-entropy
    of :math:`x` against the target :math:`t`:

    .. math::
        \ell = \begin{cases} s\,b & t > 0 \\ \alpha\,p^\gamma\,b & t = 0 \end{cases}, \qquad
        \frac{d\ell}{dx} = \begin{cases} s\,(p - t) & t > 0 \\
                           \alpha\,p^\gamma\,(p + \gamma\,q\,b) & t = 0 \end{cases}

    with :math:`s = t` (``iou_weighted``) or 1. The negatives' weight :math:`\alpha p^\gamma`
    is differentiated (:math:`d p^\gamma/dx = \gamma p^\gamma q`); at :math:`t = 0`,
    :math:`b = \mathrm{softplus}(x)`. :math:`p - t` is formed as :math:`p(1 - t) - t q`,
    exact at :math:`t = 1`.
    """
    # p and q from log q = logsigmoid(-x) (log p = log q + x); b = -log q - t x.
    log_q = F.logsigmoid(-x)
    p = torch.exp(log_q + x)
    q = torch.exp(log_q)
    bce = torch.addcmul(log_q, t, x).neg()
    # 1 for a positive, 0 for a negative (t >= 0), as a float: a blend, not a branch.
    positive = torch.sign(t)
    pos_scale = t if iou_weighted else positive
    focal = power(p, gamma)
    neg_scale = alpha if focal is None else alpha * focal
    loss = torch.lerp(torch.as_tensor(neg_scale, dtype=x.dtype, device=x.device)
                      if focal is None else neg_scale, pos_scale, positive) * bce
    if not with_grad:
        return loss, None
    d_pos = pos_scale * torch.lerp(p, -q, t)
    d_neg = torch.addcmul(p, q, bce, value=gamma) * neg_scale
    return loss, torch.lerp(d_neg, d_pos, positive)


def varifocal_loss(input: Tensor, target: Tensor, alpha: float, gamma: float,
                   iou_weighted: bool, weight: Tensor | None, ignore_index: int | None,
                   reduction: str) -> Tensor:
    """The varifocal loss through the blocked closed-form Function (arguments checked)."""
    return _elementwise.apply(varifocal_terms, (alpha, gamma, iou_weighted), input, target,
                              weight, ignore_index, reduction)
