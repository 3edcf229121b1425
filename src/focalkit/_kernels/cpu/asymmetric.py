"""Closed form of the asymmetric loss (ASL), element by element, for the blocked Function."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ...functional.focal import _pow_gamma, _pow_gamma_minus_one
from . import _elementwise


def asymmetric_terms(x: Tensor, y: Tensor, gamma_pos: float, gamma_neg: float, clip: float, *,
                     with_grad: bool) -> tuple[Tensor, Tensor | None]:
    r"""Element-wise asymmetric loss of logits and, optionally, its derivative.

    With :math:`p = \sigma(x)`, :math:`q = \sigma(-x) = 1 - p`, the shifted probability
    :math:`p_m = \max(p - c, 0)` and :math:`1 - p_m = \min(q + c, 1)`:

    .. math::
        A = q^{\gamma_+} \log p, \quad B = p_m^{\gamma_-} \log(1 - p_m), \quad
        \ell = -\left[y\,A + (1 - y)\,B\right]

    and, since :math:`dq/dx = -pq`, :math:`d\log p/dx = q` and, where :math:`p > c`,
    :math:`dp_m/dx = pq`:

    .. math::
        \frac{dA}{dx} = q^{\gamma_+}\left(q - \gamma_+\,p \log p\right), \qquad
        \frac{dB}{dx} = \gamma_-\,p_m^{\gamma_- - 1}\,p q \log(1 - p_m)
                        - p_m^{\gamma_-}\,\frac{p q}{1 - p_m},

    with :math:`dB/dx = 0` where :math:`p \le c` (there :math:`B = 0`). Both logarithms are
    taken from the logits: :math:`\log p` is ``logsigmoid(x)``, and :math:`\log(1 - p_m)` is
    ``logsigmoid(-x)`` without clipping and :math:`\log\min(q + c, 1) \ge \log c` with it.
    """
    p = torch.sigmoid(x)
    q = torch.sigmoid(-x)
    log_p = F.logsigmoid(x)
    if clip > 0.0:
        shifted = torch.clamp_min(p - clip, 0.0)
        log_rest = torch.log(torch.clamp_max(q + clip, 1.0))
    else:
        shifted = p
        log_rest = F.logsigmoid(-x)
    pos_factor = _pow_gamma(q, gamma_pos)
    neg_factor = _pow_gamma(shifted, gamma_neg)
    pos_term = pos_factor * log_p
    neg_term = neg_factor * log_rest
    loss = -y * pos_term - (1.0 - y) * neg_term
    if not with_grad:
        return loss, None
    d_pos = q if gamma_pos == 0.0 else pos_factor * (q - gamma_pos * p * log_p)
    pq = p * q
    if clip > 0.0:
        ratio = torch.where(shifted > 0, pq / (q + clip), 0.0)
    else:
        ratio = p
    d_neg = -neg_factor * ratio
    if gamma_neg != 0.0:
        d_neg = d_neg + gamma_neg * _pow_gamma_minus_one(shifted, gamma_neg) * pq * log_rest
    grad = -y * d_pos - (1.0 - y) * d_neg
    return loss, grad


def asymmetric_loss(input: Tensor, target: Tensor, gamma_pos: float, gamma_neg: float,
                    clip: float, weight: Tensor | None, ignore_index: int | None,
                    reduction: str) -> Tensor:
    """The asymmetric loss through the blocked closed-form Function (arguments checked)."""
    return _elementwise.apply(asymmetric_terms, (gamma_pos, gamma_neg, clip), input, target,
                              weight, ignore_index, reduction)
