"""The asymmetric loss (ASL) as differentiable PyTorch operations: its one statement."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ..._tensor import compute_dtype, mask_and_reduce, mask_ignored
from ..._tracing import known_to_be
from .. import plain_form
from .focal import power, power_minus_one


class AsymmetricOptions(NamedTuple):
    gamma_pos: float
    gamma_neg: float
    clip: float
    weight: Tensor | None
    ignore_index: int | None
    reduction: str


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
    # p and q from log p: one logsigmoid and two exps, all accurate (log q = log p - x).
    log_p = F.logsigmoid(x)
    p = torch.exp(log_p)
    log_q = log_p - x
    q = torch.exp(log_q)
    if not known_to_be(clip, 0.0):
        shifted = torch.clamp_min(p - clip, 0.0)
        log_rest = torch.log(torch.clamp_max(q + clip, 1.0))
    else:
        shifted, log_rest = p, log_q
    pos_factor = power(q, gamma_pos)
    neg_factor = power(shifted, gamma_neg)
    pos_term = log_p if pos_factor is None else pos_factor * log_p
    neg_term = log_rest if neg_factor is None else neg_factor * log_rest
    # 0 - (...) rather than a negation: an entry below the margin is +0, not -0.
    loss = 0.0 - torch.lerp(neg_term, pos_term, y)
    if not with_grad:
        return loss, None
    if pos_factor is None:
        d_pos = q
    else:
        d_pos = pos_factor * torch.addcmul(q, p, log_p, value=-gamma_pos)
    pq = p * q
    if not known_to_be(clip, 0.0):
        ratio = pq / (q + clip)
        if neg_factor is None:
            # Below the margin B is constant; with gamma_neg > 0 its factor is 0 there.
            ratio = ratio * torch.sign(shifted)
    else:
        ratio = p
    d_neg = -ratio if neg_factor is None else -(neg_factor * ratio)
    if not known_to_be(gamma_neg, 0.0):
        lower = power_minus_one(shifted, gamma_neg)
        slope = pq * log_rest if lower is None else lower * pq * log_rest
        d_neg = torch.add(d_neg, slope, alpha=gamma_neg)
    return loss, torch.lerp(d_neg, d_pos, y).neg()


@plain_form
def asymmetric_loss(input: Tensor, target: Tensor, options: AsymmetricOptions) -> Tensor:
    """Asymmetric loss; see :func:`focalkit.functional.asymmetric_loss`."""
    gamma_pos, gamma_neg, clip, weight, ignore_index, reduction = options
    dtype = compute_dtype(input)
    valid, x, y = mask_ignored(input.to(dtype), target.to(dtype), ignore_index)
    loss, _ = asymmetric_terms(x, y, gamma_pos, gamma_neg, clip, with_grad=False)
    return mask_and_reduce(loss, valid, weight, reduction).to(input.dtype)
