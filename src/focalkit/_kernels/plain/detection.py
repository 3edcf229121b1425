"""The dense-detection losses (QFL, VFL, DFL) as differentiable PyTorch operations."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ..._tensor import compute_dtype, ignore_mask, mask_and_reduce, mask_ignored
from .. import plain_form
from .focal import bce_with_logits, pow_gamma, power


class QualityFocalOptions(NamedTuple):
    beta: float
    weight: Tensor | None
    ignore_index: int | None
    reduction: str


class VarifocalOptions(NamedTuple):
    alpha: float
    gamma: float
    iou_weighted: bool
    weight: Tensor | None
    ignore_index: int | None
    reduction: str


class DistributionFocalOptions(NamedTuple):
    weight: Tensor | None
    ignore_index: int | None
    reduction: str


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


@plain_form
def varifocal_loss(input: Tensor, target: Tensor, options: VarifocalOptions) -> Tensor:
    """Varifocal loss; see :func:`focalkit.functional.varifocal_loss`."""
    alpha, gamma, iou_weighted, weight, ignore_index, reduction = options
    dtype = compute_dtype(input)
    valid, x, y = mask_ignored(input.to(dtype), target.to(dtype), ignore_index)
    loss, _ = varifocal_terms(x, y, alpha, gamma, iou_weighted, with_grad=False)
    return mask_and_reduce(loss, valid, weight, reduction).to(input.dtype)


@plain_form
def quality_focal_loss(input: Tensor, target: Tensor, options: QualityFocalOptions) -> Tensor:
    """Quality focal loss; see :func:`focalkit.functional.quality_focal_loss`."""
    beta, weight, ignore_index, reduction = options
    dtype = compute_dtype(input)
    valid, x, y = mask_ignored(input.to(dtype), target.to(dtype), ignore_index)
    distance = torch.lerp(torch.sigmoid(x), -torch.sigmoid(-x), y).abs()
    loss = pow_gamma(distance, beta) * bce_with_logits(x, y)
    return mask_and_reduce(loss, valid, weight, reduction).to(input.dtype)


@plain_form
def distribution_focal_loss(input: Tensor, target: Tensor,
                            options: DistributionFocalOptions) -> Tensor:
    """Distribution focal loss; see :func:`focalkit.functional.distribution_focal_loss`."""
    weight, ignore_index, reduction = options
    bins = input.shape[-1]
    dtype = compute_dtype(input)
    valid, y = ignore_mask(target.to(dtype), ignore_index)
    x = input.to(dtype)
    if valid is not None:
        x = torch.where(valid.unsqueeze(-1), x, 0.0)
    log_s = torch.log_softmax(x, dim=-1)
    left = y.detach().floor().long().clamp_max(bins - 2)
    log_left = log_s.gather(-1, left.unsqueeze(-1)).squeeze(-1)
    log_right = log_s.gather(-1, (left + 1).unsqueeze(-1)).squeeze(-1)
    near = y - left.to(dtype)
    loss = -((1.0 - near) * log_left + near * log_right)
    return mask_and_reduce(loss, valid, weight, reduction).to(input.dtype)
