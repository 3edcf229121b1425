"""The varifocal loss on the blocked Function: the closed form, block by block."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .. import BLOCKED
from ..plain import detection as plain
from ..plain.detection import VarifocalOptions, varifocal_terms
from ..plain.focal import power
from . import _elementwise


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


_KERNEL = _elementwise.weighted(varifocal_block, varifocal_terms)


@BLOCKED.implements(plain.varifocal_loss)
def varifocal_loss(input: Tensor, target: Tensor, options: VarifocalOptions) -> Tensor:
    """The varifocal loss through the blocked closed-form Function (arguments checked)."""
    alpha, gamma, iou_weighted, weight, ignore_index, reduction = options
    return _elementwise.apply(_KERNEL, (alpha, gamma, iou_weighted),
                              input, target, weight, ignore_index, reduction)
