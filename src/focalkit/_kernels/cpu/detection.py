"""Closed form of the varifocal loss, element by element, for the blocked Function."""

from __future__ import annotations

import torch
from torch import Tensor

from ...functional.focal import _pow_gamma
from . import _elementwise


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
    p = torch.sigmoid(x)
    q = torch.sigmoid(-x)
    bce = torch.relu(x) - x * t + torch.log1p(torch.exp(-x.abs()))
    positive = t > 0
    pos_scale = t if iou_weighted else torch.ones_like(t)
    neg_scale = alpha * _pow_gamma(p, gamma)
    loss = torch.where(positive, pos_scale, neg_scale) * bce
    if not with_grad:
        return loss, None
    d_pos = pos_scale * torch.lerp(p, -q, t)
    d_neg = neg_scale * (p + gamma * q * bce)
    return loss, torch.where(positive, d_pos, d_neg)


def varifocal_loss(input: Tensor, target: Tensor, alpha: float, gamma: float,
                   iou_weighted: bool, weight: Tensor | None, ignore_index: int | None,
                   reduction: str) -> Tensor:
    """The varifocal loss through the blocked closed-form Function (arguments checked)."""
    return _elementwise.apply(varifocal_terms, (alpha, gamma, iou_weighted), input, target,
                              weight, ignore_index, reduction)
