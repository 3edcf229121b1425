"""The focal losses as differentiable PyTorch operations: their one statement.

The plain backend evaluates these compositions and autograd differentiates them; the blocked
and Triton kernels compute the same numbers with closed-form gradients, and reuse the pieces
below for their higher-order gradients and tests. Everything here is device-agnostic.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from ..._tensor import compute_dtype, ignore_mask, mask_ignored, reduce
from ..._tracing import is_compiling, known_to_be
from .. import plain_form


class FocalModulationOptions(NamedTuple):
    gamma: float
    alpha: float | Tensor | None


class SigmoidFocalOptions(NamedTuple):
    alpha: float | Tensor | None
    gamma: float
    pos_weight: Tensor | None
    weight: Tensor | None
    ignore_index: int | None
    reduction: str
    from_logits: bool
    epsilon: float


class SoftmaxFocalOptions(NamedTuple):
    alpha: Tensor | None
    gamma: float
    ignore_index: int | None
    label_smoothing: float
    is_index: bool
    reduction: str
    epsilon: float


def alpha_factor(alpha: float | Tensor, y: Tensor) -> Tensor:
    r""":math:`\alpha_t = \alpha y + (1 - \alpha)(1 - y)`, written as one affine map of ``y``."""
    return (1.0 - alpha) + (2.0 * alpha - 1.0) * y


def pow_gamma(base: Tensor, gamma: float) -> Tensor:
    r"""``base ** gamma`` for ``base >= 0`` whose gradient stays finite at ``base = 0``.

    For ``0 < gamma < 1`` the derivative ``gamma * base**(gamma - 1)`` is infinite at 0; in the
    losses it is always multiplied by a factor that vanishes there, so the limit of the product
    is 0. The double ``where`` keeps autograd from forming ``0 * inf``.

    While ``torch.compile`` traces, no branch reads ``gamma`` (see
    :func:`~focalkit._tracing.known_to_be`): one form for every ``gamma >= 0``, whose value
    at ``base = 0`` is :math:`0^\gamma` and whose slope there is that of the branches (1 for
    ``gamma = 1``, else 0).
    """
    if known_to_be(gamma, 0.0):
        return torch.ones_like(base)
    if known_to_be(gamma, 1.0):
        return base
    if known_to_be(gamma, 2.0):
        return base * base
    positive = base != 0  # NaN stays NaN
    if is_compiling():
        zero = torch.zeros((), dtype=base.dtype, device=base.device)
        slope = zero.pow((gamma - 1.0) * (gamma - 1.0))  # 1 for gamma = 1, else 0
        at_zero = zero.pow(gamma) + (base - base.detach()) * slope
        return torch.where(positive, torch.where(positive, base, 1.0).pow(gamma), at_zero)
    if gamma >= 1.0:
        return base.pow(gamma)
    return torch.where(positive, torch.where(positive, base, 1.0).pow(gamma), 0.0)


def pow_gamma_minus_one(base: Tensor, gamma: float) -> Tensor:
    """``base ** (gamma - 1)``, with the value 0 where ``base = 0`` and ``gamma < 1``.

    Only used inside ``gamma * base**(gamma - 1) * h`` with ``h`` vanishing at least as fast as
    ``base``, whose limit at ``base = 0`` is 0.
    """
    if known_to_be(gamma, 1.0):
        return torch.ones_like(base)
    if known_to_be(gamma, 2.0):
        return base
    positive = base != 0  # NaN stays NaN
    if is_compiling():
        zero = torch.zeros((), dtype=base.dtype, device=base.device)
        at_zero = zero.pow((gamma - 1.0) * (gamma - 1.0))  # 1 for gamma = 1, else 0
        return torch.where(positive, torch.where(positive, base, 1.0).pow(gamma - 1.0),
                           at_zero)
    if gamma > 1.0:
        return base.pow(gamma - 1.0)
    return torch.where(positive, torch.where(positive, base, 1.0).pow(gamma - 1.0), 0.0)



def bce_with_logits(x: Tensor, y: Tensor, pos_weight: Tensor | None = None,
                    tail: Tensor | None = None) -> Tensor:
    r"""Binary cross-entropy of logits, stable for every ``x``:

    .. math::
        b = (1 - y)\,\mathrm{softplus}(x) + w_p\,y\,\mathrm{softplus}(-x)

    Both softplus terms are built from ``relu`` and the shared tail
    :math:`\log(1 + e^{-|x|})` (``tail``, computed here when not given), so that each stays
    accurate on its own (``softplus(x) - x`` would cancel for large ``x``).
    """
    if tail is None:
        tail = torch.log1p(torch.exp(-x.abs()))
    if pos_weight is None:
        return (torch.relu(x) - x * y) + tail
    return (1.0 - y) * torch.relu(x) + pos_weight * y * torch.relu(-x) \
        + (1.0 + (pos_weight - 1.0) * y) * tail


def sigmoid_focal_terms(x: Tensor, y: Tensor, alpha: float | Tensor | None, gamma: float,
                         pos_weight: Tensor | None, weight: Tensor | None,
                         with_grad: bool) -> tuple[Tensor, Tensor | None]:
    r"""Element-wise sigmoid focal loss of logits and, optionally, its derivative.

    With :math:`p = \sigma(x)`, :math:`q = \sigma(-x)`, :math:`m = 1 - p_t = p(1-y) + qy`,
    :math:`w_p` the positive weight and :math:`w` the element weight:

    .. math::
        b = (1-y)\,\mathrm{softplus}(x) + w_p\,y\,\mathrm{softplus}(-x), \qquad
        \ell = w\,\alpha_t\,m^\gamma\,b

    and, since :math:`dm/dx = (1 - 2y)\,p q` and :math:`db/dx = (1-y)\,p - w_p\,y\,q`,

    .. math::
        \frac{d\ell}{dx} = w\,\alpha_t\left[\gamma\,m^{\gamma-1}(1-2y)\,p q\,b
                           + m^\gamma\left((1-y)\,p - w_p\,y\,q\right)\right].

    The cross-entropy is :func:`bce_with_logits`.

    Infinite logits give the limits: the terms are evaluated at the largest finite logit of
    the same sign, where :math:`p` and :math:`q` are exactly 0 and 1, which makes the
    derivative its limit (0 for a right, infinitely confident prediction); the loss is 0 there
    and infinite for a wrong one, with that derivative as autograd's gradient.
    """
    infinite = torch.isinf(x)
    x_inf = x
    big = torch.finfo(x.dtype).max
    x = x.clamp(-big, big)
    tail = torch.log1p(torch.exp(-x.abs()))
    p = torch.sigmoid(x)
    q = torch.sigmoid(-x)
    bce = bce_with_logits(x, y, pos_weight, tail)
    dbce = torch.lerp(p, -q if pos_weight is None else -pos_weight * q, y)
    m = torch.lerp(p, q, y)
    mod = pow_gamma(m, gamma)
    loss = mod * bce
    scale = None
    if alpha is not None:
        scale = alpha_factor(alpha, y)
    if weight is not None:
        scale = weight if scale is None else scale * weight
    if scale is not None:
        loss = loss * scale
    # At x = +-inf: slope * x, infinite with the limit derivative as its gradient, unless the
    # slope is 0 (a right prediction, or a zero weight), where the loss above is exactly 0.
    slope = (mod * dbce if scale is None else mod * dbce * scale).detach()
    loss = torch.where(infinite & (slope != 0), slope * x_inf, loss)
    if not with_grad:
        return loss, None
    grad = mod * dbce
    if not known_to_be(gamma, 0.0):
        grad = grad + gamma * pow_gamma_minus_one(m, gamma) * (1.0 - 2.0 * y) * (p * q) * bce
    if scale is not None:
        grad = grad * scale
    return loss, grad


def focal_index_terms(log_pt: Tensor, alpha_t: Tensor | None, gamma: float,
                       with_grad: bool) -> tuple[Tensor, Tensor | None]:
    r"""Per-position softmax focal loss of :math:`\log p_t` and the gradient coefficient.

    With :math:`m = 1 - p_t` (``-expm1(log_pt)``, accurate as :math:`p_t \to 1`):

    .. math::
        \ell = -\alpha_t\,m^\gamma \log p_t, \qquad
        \frac{\partial \ell}{\partial x_j} = G\,(\mathrm{softmax}(x)_j - [j = t]), \quad
        G = \alpha_t\left(m^\gamma - \gamma\,m^{\gamma - 1}\,p_t \log p_t\right).

    At :math:`\log p_t = -\infty` (a ``-inf`` target logit) the loss is infinite, as
    cross-entropy's, and :math:`G` takes its limit :math:`\alpha_t`, since
    :math:`p_t \log p_t \to 0`; autograd's gradient of the loss has the same limit.
    """
    finite = None
    if not known_to_be(gamma, 0.0):
        # The focal factor from a finite stand-in; the limit where log p_t = -inf.
        finite = log_pt > float("-inf")
        safe = torch.where(finite, log_pt, -1.0)
    else:
        safe = log_pt
    m = -torch.expm1(safe)
    mod = pow_gamma(m, gamma)
    loss = -mod * safe
    if finite is not None:
        loss = torch.where(finite, loss, -log_pt)
    if alpha_t is not None:
        loss = loss * alpha_t
    if not with_grad:
        return loss, None
    coeff = mod
    if finite is not None:
        coeff = coeff - gamma * pow_gamma_minus_one(m, gamma) * torch.exp(safe) * safe
        coeff = torch.where(finite, coeff, 1.0)
    if alpha_t is not None:
        coeff = coeff * alpha_t
    return loss, coeff


def softmax_focal_index_grad(x: Tensor, target: Tensor, alpha: Tensor | None, gamma: float,
                              ignore_index: int | None) -> Tensor:
    """Closed-form gradient of the per-position loss, with differentiable operations."""
    dtype = compute_dtype(x)
    valid, t = ignore_mask(target, ignore_index)
    xc = x.to(dtype)
    if valid is not None:
        xc = torch.where(valid.unsqueeze(1), xc, 0.0)
    log_p = torch.log_softmax(xc, dim=1)
    log_pt = log_p.gather(1, t.unsqueeze(1)).squeeze(1)
    alpha_t = None if alpha is None else alpha.to(dtype)[t]
    _, coeff = focal_index_terms(log_pt, alpha_t, gamma, True)
    if valid is not None:
        coeff = torch.where(valid, coeff, 0.0)
    one_hot = torch.zeros_like(log_p).scatter_(1, t.unsqueeze(1), 1.0)
    return coeff.unsqueeze(1) * (torch.exp(log_p) - one_hot)


def power(base: Tensor, gamma: float) -> Tensor | None:
    """``base ** gamma`` for ``base >= 0``; None for ``gamma = 0`` (a factor of 1).

    Small integer powers are products (``pow`` with a general exponent costs as much as ten
    multiplications on CPU); the others keep a finite gradient at 0 as ``pow_gamma`` does.
    """
    if known_to_be(gamma, 0.0):
        return None
    if not is_compiling() and gamma in (1.0, 2.0, 3.0, 4.0):
        square = base * base if gamma > 1.0 else base
        return square * square if gamma == 4.0 else square * base if gamma == 3.0 else square
    return pow_gamma(base, gamma)


def power_minus_one(base: Tensor, gamma: float) -> Tensor | None:
    """``base ** (gamma - 1)``, 0 where ``base = 0`` and ``gamma < 1``; None when it is 1."""
    if not is_compiling() and gamma.is_integer() and gamma >= 1.0:
        return power(base, gamma - 1.0)
    return pow_gamma_minus_one(base, gamma)


def sigmoid_focal_probs(p: Tensor, y: Tensor, alpha: float | Tensor | None, gamma: float,
                         pos_weight: Tensor | None, weight: Tensor | None) -> Tensor:
    """Element-wise sigmoid focal loss of probabilities (log terms clamped at -100 like torch)."""
    q = 1.0 - p
    pos, neg = p > 0, q > 0
    log_p = torch.where(pos, torch.log(torch.where(pos, p, 1.0)), -100.0).clamp_min(-100.0)
    log_q = torch.where(neg, torch.log(torch.where(neg, q, 1.0)), -100.0).clamp_min(-100.0)
    positive = y * log_p if pos_weight is None else pos_weight * y * log_p
    bce = -(positive + (1.0 - y) * log_q)
    loss = pow_gamma(torch.lerp(p, q, y), gamma) * bce
    if alpha is not None:
        loss = loss * alpha_factor(alpha, y)
    if weight is not None:
        loss = loss * weight
    return loss


def poly_term(m: Tensor, gamma: float, epsilon: float, *scales: Tensor | None) -> Tensor:
    r"""The Poly-1 term :math:`\epsilon\,m^{\gamma + 1}` of :math:`m = 1 - p_t`, times the
    given weights (None for none)."""
    term = epsilon * pow_gamma(m, gamma + 1.0)
    for scale in scales:
        if scale is not None:
            term = term * scale
    return term


def focal_poly_terms(log_p: Tensor, alpha: Tensor | None, gamma: float, epsilon: float,
                     with_grad: bool) -> tuple[Tensor, Tensor | None]:
    r""":func:`focal_index_terms` with the Poly-1 term added, for any shape of ``log_p``.

    With :math:`m = 1 - p` and :math:`\ell = \alpha\left(-m^\gamma \log p
    + \epsilon\,m^{\gamma + 1}\right)`, the coefficient is :math:`-\partial \ell /
    \partial \log p`:

    .. math::
        k = \alpha\left(m^\gamma - \gamma\,m^{\gamma - 1}\,p \log p
            + \epsilon\,(\gamma + 1)\,m^\gamma\,p\right),

    so that a class-index loss has the logit gradient :math:`k_t\,(\mathrm{softmax}(x) -
    \mathrm{onehot}(t))`. ``alpha`` broadcasts against ``log_p`` (None for 1).
    """
    loss, coeff = focal_index_terms(log_p, alpha, gamma, with_grad)
    if known_to_be(epsilon, 0.0):
        return loss, coeff
    m = -torch.expm1(log_p)
    loss = loss + poly_term(m, gamma, epsilon, alpha)
    if with_grad:
        slope = (epsilon * (gamma + 1.0)) * pow_gamma(m, gamma) * torch.exp(log_p)
        coeff = coeff + (slope if alpha is None else slope * alpha)
    return loss, coeff


@plain_form
def softmax_focal_loss(input: Tensor, target: Tensor, options: SoftmaxFocalOptions) -> Tensor:
    """Softmax focal loss; see :func:`focalkit.functional.softmax_focal_loss`."""
    alpha, gamma, ignore_index, label_smoothing, is_index, reduction, epsilon = options
    dtype = compute_dtype(input)
    x = input.to(dtype)
    c = x.shape[1]
    class_shape = (1, c) + (1,) * (x.dim() - 2)
    alpha_c = None if alpha is None else alpha.to(dtype).reshape(class_shape)
    count = None
    if is_index:
        valid, t = ignore_mask(target, ignore_index)
        if valid is not None:
            x = torch.where(valid.unsqueeze(1), x, 0.0)
            count = valid.sum()
        log_p = torch.log_softmax(x, dim=1)
        if known_to_be(label_smoothing, 0.0):
            log_pt = log_p.gather(1, t.unsqueeze(1)).squeeze(1)
            alpha_t = None if alpha is None else alpha.to(dtype)[t]
            loss, _ = focal_poly_terms(log_pt, alpha_t, gamma, epsilon, False)
        else:
            q = torch.zeros_like(log_p).scatter_(1, t.unsqueeze(1), 1.0)
            q = q * (1.0 - label_smoothing) + label_smoothing / c
            loss = class_sum(log_p, q, alpha_c, gamma, epsilon)
        if valid is not None:
            loss = torch.where(valid, loss, 0.0)
    else:
        q = target.to(dtype)
        if not known_to_be(label_smoothing, 0.0):
            q = q * (1.0 - label_smoothing) + label_smoothing / c
        loss = class_sum(torch.log_softmax(x, dim=1), q, alpha_c, gamma, epsilon)
    return reduce(loss, reduction, count).to(input.dtype)


def class_sum(log_p: Tensor, q: Tensor, alpha_c: Tensor | None, gamma: float,
               epsilon: float) -> Tensor:
    r""":math:`\sum_c q_c\,\alpha_c\,(1 - p_c)^\gamma\,(\epsilon\,(1 - p_c) - \log p_c)`
    over the class dimension.

    A class without target mass adds nothing, even where :math:`\log p_c = -\infty`.
    """
    term, _ = focal_poly_terms(log_p, alpha_c, gamma, epsilon, False)
    return (torch.where(q > 0, term, 0.0) * q).sum(dim=1)


@plain_form
def focal_modulation(input: Tensor, target: Tensor, options: FocalModulationOptions) -> Tensor:
    """The focal factor; see :func:`focalkit.functional.focal_modulation`."""
    out_dtype = torch.promote_types(input.dtype, target.dtype)
    dtype = compute_dtype(out_dtype)
    x, y = input.to(dtype), target.to(dtype)
    alpha = options.alpha.to(dtype) if isinstance(options.alpha, Tensor) else options.alpha
    factor = pow_gamma(torch.lerp(torch.sigmoid(x), torch.sigmoid(-x), y), options.gamma)
    if alpha is not None:
        factor = factor * alpha_factor(alpha, y)
    return factor.to(out_dtype)


@plain_form
def sigmoid_focal_loss(input: Tensor, target: Tensor, options: SigmoidFocalOptions) -> Tensor:
    """Sigmoid focal loss; see :func:`focalkit.functional.sigmoid_focal_loss`."""
    alpha, gamma, pos_weight, weight, ignore_index, reduction, from_logits, epsilon = options
    dtype = compute_dtype(input)
    valid, x, y = mask_ignored(input.to(dtype), target.to(dtype), ignore_index)
    count = None if valid is None else valid.sum()
    if from_logits:
        loss, _ = sigmoid_focal_terms(x, y, alpha, gamma, pos_weight, weight, False)
    else:
        loss = sigmoid_focal_probs(x, y, alpha, gamma, pos_weight, weight)
    if not known_to_be(epsilon, 0.0):
        p, q = (torch.sigmoid(x), torch.sigmoid(-x)) if from_logits else (x, 1.0 - x)
        alpha_t = None if alpha is None else alpha_factor(alpha, y)
        loss = loss + poly_term(torch.lerp(p, q, y), gamma, epsilon, alpha_t, weight)
    if valid is not None:
        loss = torch.where(valid, loss, 0.0)
    return reduce(loss, reduction, count).to(input.dtype)
