"""The asymmetric loss (ASL) on the blocked Function: the closed form, block by block."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .. import BLOCKED
from ..plain import asymmetric as plain
from ..plain.asymmetric import AsymmetricOptions, asymmetric_terms
from ..plain.focal import power, power_minus_one
from . import _elementwise


def asymmetric_block(x: Tensor, y: Tensor, gamma_pos: float, gamma_neg: float, clip: float, *,
                     with_grad: bool) -> tuple[Tensor, Tensor | None]:
    """:func:`asymmetric_terms` on one block, updating its temporaries in place."""
    log_p = F.logsigmoid(x)
    p = torch.exp(log_p)
    q = torch.sub(log_p, x).exp_()
    if clip > 0.0:
        shifted = torch.sub(p, clip).clamp_min_(0.0)
        log_rest = torch.add(q, clip).clamp_max_(1.0).log_()
    else:
        shifted, log_rest = p, torch.sub(log_p, x)
    pos_factor = power(q, gamma_pos)
    neg_factor = power(shifted, gamma_neg)
    pos_term = log_p if pos_factor is None else torch.mul(pos_factor, log_p)
    neg_term = log_rest if neg_factor is None else torch.mul(neg_factor, log_rest)
    # y (B - A) - B = -[y A + (1 - y) B], +0 (not -0) below the margin.
    loss = torch.sub(neg_term, pos_term).mul_(y).sub_(neg_term)
    if not with_grad:
        return loss, None
    if pos_factor is None:
        d_pos = q
    else:
        d_pos = torch.addcmul(q, p, log_p, value=-gamma_pos).mul_(pos_factor)
    pq = torch.mul(p, q)
    if clip > 0.0:
        ratio = torch.add(q, clip).reciprocal_().mul_(pq)
        if neg_factor is None:
            ratio.mul_(torch.sign(shifted))
    else:
        ratio = p
    d_neg = torch.neg(ratio) if neg_factor is None else torch.mul(ratio, neg_factor).neg_()
    if gamma_neg != 0.0:
        slope = torch.mul(pq, log_rest)
        lower = power_minus_one(shifted, gamma_neg)
        if lower is not None:
            slope.mul_(lower)
        d_neg.add_(slope, alpha=gamma_neg)
    return loss, torch.sub(d_neg, d_pos).mul_(y).sub_(d_neg)


_KERNEL = _elementwise.weighted(asymmetric_block, asymmetric_terms)


@BLOCKED.implements(plain.asymmetric_loss)
def asymmetric_loss(input: Tensor, target: Tensor, options: AsymmetricOptions) -> Tensor:
    """The asymmetric loss through the blocked closed-form Function (arguments checked)."""
    gamma_pos, gamma_neg, clip, weight, ignore_index, reduction = options
    return _elementwise.apply(_KERNEL, (gamma_pos, gamma_neg, clip),
                              input, target, weight, ignore_index, reduction)
