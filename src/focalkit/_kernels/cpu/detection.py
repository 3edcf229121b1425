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
    :math:`b = \mathrm{softplus}(x)`. :math:`p - t` is formed as :math:`(1 - t) - q`, exact at
    :math:`t = 1`.
    """
    # p and q from log q = logsigmoid(-x) (log p = log q + x); b = -log q - t x.
    log_q = F.logsigmoid(-x)
    q = torch.exp(log_q)
    p = torch.exp(log_q + x)
    bce = torch.addcmul(log_q, t, x).neg()
    # 1 for a negative, 0 for a positive (t >= 0), as a float: products, not branches. A
    # negative's t is 0, so t alone is the positives' weight with iou_weighted.
    negative = 1.0 - torch.sign(t)
    pos_scale = t if iou_weighted else 1.0 - negative
    focal = power(p, gamma)
    if focal is None:
        scale = torch.add(pos_scale, negative, alpha=alpha)
    else:
        scale = torch.addcmul(pos_scale, focal, negative, value=alpha)
    loss = scale * bce
    if not with_grad:
        return loss, None
    # p - t as (1 - t) - q: exact at t = 1.
    d_pos = pos_scale * ((1.0 - t) - q)
    d_neg = torch.addcmul(p, q, bce, value=gamma)
    d_neg = d_neg * (negative if focal is None else focal * negative)
    return loss, torch.add(d_pos, d_neg, alpha=alpha)


def varifocal_block(x: Tensor, t: Tensor, alpha: float, gamma: float, iou_weighted: bool, *,
                    with_grad: bool) -> tuple[Tensor, Tensor | None]:
    """:func:`varifocal_terms` on one block, updating its temporaries in place."""
    log_q = F.logsigmoid(torch.neg(x))
    q = torch.exp(log_q)
    p = torch.add(log_q, x).exp_()
    bce = log_q.addcmul_(t, x).neg_()
    negative = torch.sign(t).neg_().add_(1.0)
    pos_scale = t if iou_weighted else torch.rsub(negative, 1.0)
    focal = power(p, gamma)
    if focal is None:
        neg_weight = negative
    elif focal is p:
        neg_weight = torch.mul(p, negative)
    else:
        neg_weight = focal.mul_(negative)
    loss = torch.add(pos_scale, neg_weight, alpha=alpha).mul_(bce)
    if not with_grad:
        return loss, None
    d_pos = torch.rsub(t, 1.0).sub_(q).mul_(pos_scale)
    d_neg = p.addcmul_(q, bce, value=gamma).mul_(neg_weight)
    return loss, d_pos.add_(d_neg, alpha=alpha)


def varifocal_loss(input: Tensor, target: Tensor, alpha: float, gamma: float,
                   iou_weighted: bool, weight: Tensor | None, ignore_index: int | None,
                   reduction: str) -> Tensor:
    """The varifocal loss through the blocked closed-form Function (arguments checked)."""
    return _elementwise.apply(varifocal_block, varifocal_terms, (alpha, gamma, iou_weighted),
                              input, target, weight, ignore_index, reduction)
