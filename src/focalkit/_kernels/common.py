"""Formulas shared by the plain autograd compositions and the kernels.

Everything here is written with differentiable PyTorch operations and is device-agnostic:
the plain path in :mod:`focalkit.functional` evaluates it directly, and the kernels use it
for their higher-order gradients and for the pieces they do not fuse. Each formula is written
once.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .._checks import compute_dtype, ignore_mask, mask_ignored

# ---------------------------------------------------------------------------------------------
# Focal: element-wise math
# ---------------------------------------------------------------------------------------------


def alpha_factor(alpha: float | Tensor, y: Tensor) -> Tensor:
    r""":math:`\alpha_t = \alpha y + (1 - \alpha)(1 - y)`, written as one affine map of ``y``."""
    return (1.0 - alpha) + (2.0 * alpha - 1.0) * y


def pow_gamma(base: Tensor, gamma: float) -> Tensor:
    """``base ** gamma`` for ``base >= 0`` whose gradient stays finite at ``base = 0``.

    For ``0 < gamma < 1`` the derivative ``gamma * base**(gamma - 1)`` is infinite at 0; in the
    losses it is always multiplied by a factor that vanishes there, so the limit of the product
    is 0. The double ``where`` keeps autograd from forming ``0 * inf``.
    """
    if gamma == 0.0:
        return torch.ones_like(base)
    if gamma == 1.0:
        return base
    if gamma == 2.0:
        return base * base
    if gamma >= 1.0:
        return base.pow(gamma)
    positive = base > 0
    return torch.where(positive, torch.where(positive, base, 1.0).pow(gamma), 0.0)


def pow_gamma_minus_one(base: Tensor, gamma: float) -> Tensor:
    """``base ** (gamma - 1)``, with the value 0 where ``base = 0`` and ``gamma < 1``.

    Only used inside ``gamma * base**(gamma - 1) * h`` with ``h`` vanishing at least as fast as
    ``base``, whose limit at ``base = 0`` is 0.
    """
    if gamma == 1.0:
        return torch.ones_like(base)
    if gamma == 2.0:
        return base
    if gamma > 1.0:
        return base.pow(gamma - 1.0)
    positive = base > 0
    return torch.where(positive, torch.where(positive, base, 1.0).pow(gamma - 1.0), 0.0)


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

    Both softplus terms are built from ``relu`` and ``log1p(exp(-|x|))`` so that each stays
    accurate on its own (``softplus(x) - x`` would cancel for large ``x``).

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
    if pos_weight is None:
        bce = (torch.relu(x) - x * y) + tail
        dbce = torch.lerp(p, -q, y)
    else:
        bce = (1.0 - y) * torch.relu(x) + pos_weight * y * torch.relu(-x) \
            + (1.0 + (pos_weight - 1.0) * y) * tail
        dbce = torch.lerp(p, -pos_weight * q, y)
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
    if gamma != 0.0:
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
    if gamma != 0.0:
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
    if gamma != 0.0:
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


# ---------------------------------------------------------------------------------------------
# Region: per-class sums for class-index targets
# ---------------------------------------------------------------------------------------------


def index_sums(x: Tensor, t: Tensor, valid: Tensor | None,
                from_logits: bool) -> tuple[Tensor, Tensor, Tensor]:
    """(TP, sum of p, count) per image and class, as differentiable operations.

    Ignored positions are masked before the softmax, so that NaN or infinite logits there
    cannot reach the sums or the gradient.
    """
    n, c = x.shape[0], x.shape[1]
    if valid is not None:
        x = torch.where(valid.unsqueeze(1), x, 0.0)
    x = x.to(compute_dtype(x))
    p = torch.softmax(x, dim=1) if from_logits else x
    p_t = p.gather(1, t.unsqueeze(1)).squeeze(1)
    if valid is None:
        p_sum = p.sum(dim=2)
        weight = torch.ones_like(p_t)
    else:
        weight = valid.to(x.dtype)
        p_sum = torch.bmm(p, weight.unsqueeze(2)).squeeze(2)
        p_t = p_t * weight
    zeros = torch.zeros((n, c), dtype=x.dtype, device=x.device)
    return zeros.scatter_add(1, t, p_t), p_sum, zeros.scatter_add(1, t, weight)


# ---------------------------------------------------------------------------------------------
# Lovasz: sorted rows and their weights
# ---------------------------------------------------------------------------------------------


def count_dtype(length: int, dtype: torch.dtype) -> torch.dtype:
    """A dtype in which counts up to ``length`` are exact."""
    return dtype if length < 2 ** 24 or dtype == torch.float64 else torch.float64


def lovasz_weights(fg_sorted: Tensor, seen: Tensor, dtype: torch.dtype,
                    scratch: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """:func:`sorted_weights` given ``seen``, the running count of valid positions (1-D when
    every position is valid), in a dtype from :func:`count_dtype`; also returns the number
    of foreground positions of every row, shape ``(R, 1)``. ``scratch``, a free flat buffer
    of at least ``2 * R * L`` elements of ``seen.dtype``, is filled in place instead of two
    fresh allocations."""
    rows, length = fg_sorted.shape
    if length == 0:
        return (torch.zeros((rows, 0), dtype=dtype, device=fg_sorted.device),
                torch.zeros((rows, 1), dtype=seen.dtype, device=fg_sorted.device))
    size = rows * length
    if scratch is None or scratch.dtype != seen.dtype or scratch.numel() < 2 * size:
        # Out-of-place: the form that torch.compile and torch.func trace.
        if seen.dim() == 1:
            # union_k = G + (number of background positions among the first k)
            union = torch.cumsum(torch.logical_not(fg_sorted), 1, dtype=seen.dtype)
            total = length - union[:, -1:]
            union = union + total
        else:
            cum = torch.cumsum(fg_sorted, 1, dtype=seen.dtype)
            total = cum[:, -1:]
            # 0 only before the first valid position, where seen is 0 too
            union = (seen - cum + total).clamp_min(1.0)
        jac = seen / union
        weights = torch.cat((jac[:, :1], jac[:, 1:] - jac[:, :-1]), dim=1)
        return weights.to(dtype), total
    union, weights = scratch[:size].view(rows, length), scratch[size:2 * size].view(rows, length)
    if seen.dim() == 1:
        torch.cumsum(torch.logical_not(fg_sorted), 1, dtype=seen.dtype, out=union)
        total = length - union[:, -1:]
        union.add_(total)
    else:
        torch.cumsum(fg_sorted, 1, dtype=seen.dtype, out=union)
        total = union[:, -1:].clone()
        torch.sub(seen, union, out=union).add_(total)
        union.clamp_min_(1.0)
    jac = torch.div(seen, union, out=union)
    weights[:, :1] = jac[:, :1]
    torch.sub(jac[:, 1:], jac[:, :-1], out=weights[:, 1:])
    return weights.to(dtype), total


def sorted_weights(fg_sorted: Tensor, valid_sorted: Tensor | None,
                   dtype: torch.dtype) -> Tensor:
    """The Lovasz weights of rows of sorted labels (see :func:`focalkit.functional.lovasz_grad`)."""
    length = fg_sorted.shape[1]
    counts = count_dtype(length, dtype)
    if valid_sorted is None:
        seen = torch.arange(1, length + 1, dtype=counts, device=fg_sorted.device)
    else:
        seen = valid_sorted.cumsum(1, dtype=counts)
    return lovasz_weights(fg_sorted, seen, dtype)[0]


def small_labels(labels: Tensor, num_classes: int) -> Tensor:
    """Class labels in the narrowest integer dtype that holds ``num_classes`` (the marker)."""
    if num_classes < 255:
        return labels.to(torch.uint8)
    if num_classes < 2 ** 15 - 1:
        return labels.to(torch.int16)
    return labels.to(torch.int32)


def row_weights(present: Tensor, per_image: bool) -> Tensor:
    """Weight of each (image, class) row so that the loss is a mean of means (0 if empty)."""
    count = present.sum(dim=-1, keepdim=True).clamp_min(1)
    weights = present / count
    if per_image:
        weights = weights / max(present.shape[0], 1)
    return weights


def prepare_softmax(input: Tensor, target: Tensor, ignore_index: int | None,
                     from_logits: bool) -> tuple[Tensor, Tensor, Tensor | None, Tensor]:
    """Probabilities ``(N, C, M)``, foreground mask ``(N, C, M)``, validity ``(N, M)`` and
    labels ``(N, M)`` (ignored positions labelled ``C``)."""
    n, c = input.shape[0], input.shape[1]
    m = math.prod(input.shape[2:])
    x = input.reshape(n, c, m)
    valid, t = ignore_mask(target.reshape(n, m), ignore_index, fill=c)
    if valid is not None:
        x = torch.where(valid.unsqueeze(1), x, 0.0)
    x = x.to(compute_dtype(input))
    p = torch.softmax(x, dim=1) if from_logits else x
    labels = small_labels(t, c)
    fg = labels.unsqueeze(1) == torch.arange(c, device=input.device,
                                             dtype=labels.dtype).view(1, c, 1)
    return p, fg, valid, labels


def class_row_weights(counts: Tensor, classes: object, per_image: bool, num_classes: int,
                   dtype: torch.dtype) -> Tensor:
    """Weight of every row, ``(N*C, 1)`` or ``(C, 1)``, from its foreground count: the mean
    over the chosen classes (and images)."""
    counts = counts.reshape(-1, num_classes) if per_image else counts.reshape(num_classes)
    if isinstance(classes, str):
        present = counts > 0 if classes == "present" else torch.ones_like(counts,
                                                                          dtype=torch.bool)
    else:
        present = torch.zeros(num_classes, dtype=torch.bool, device=counts.device)
        present[list(classes)] = True
        present = present.expand_as(counts)
    return row_weights(present.to(dtype), per_image).reshape(-1, 1)


def as_rows(tensor: Tensor, per_image: bool) -> Tensor:
    """``(N, C, M)`` to one row per (image, class) or per class (a copy only for the latter)."""
    n, c, m = tensor.shape
    if per_image:
        return tensor.reshape(n * c, m)
    return tensor.transpose(0, 1).reshape(c, n * m)


def hinge_rows(input: Tensor, target: Tensor, ignore_index: int | None, per_image: bool):
    n = input.shape[0]
    dtype = compute_dtype(input)
    rows = n if per_image else 1
    length = input.numel() // rows if rows else 0
    x = input.reshape(rows, length)
    valid, x, y = mask_ignored(x, target.reshape(rows, length), ignore_index)
    fg = y.bool() if not y.is_floating_point() else y > 0.5
    sign = fg.to(dtype) * 2.0 - 1.0
    errors = 1.0 - x.to(dtype) * sign
    if valid is not None:
        errors = errors.masked_fill(~valid, float("-inf"))
    values, perm = torch.sort(errors, dim=1, descending=True)
    fg_sorted = fg.gather(1, perm)
    valid_sorted = None if valid is None else valid.gather(1, perm)
    weights = sorted_weights(fg_sorted, valid_sorted, dtype)
    return sign, values, perm, weights, 1.0 / max(rows, 1)


def lovasz_softmax_plain(input, target, ignore_index, from_logits, per_image, classes):
    """The same loss as a composition of differentiable operations (autograd's gradient)."""
    p, fg, valid, _ = prepare_softmax(input, target, ignore_index, from_logits)
    errors = torch.where(fg, 1.0 - p, p)
    if valid is not None:
        errors = errors.masked_fill(~valid.unsqueeze(1), -1.0)
    values, perm = torch.sort(as_rows(errors, per_image), dim=1, descending=True)
    fg_sorted = as_rows(fg, per_image).gather(1, perm)
    valid_sorted = None if valid is None else values.detach() >= 0
    weights = sorted_weights(fg_sorted, valid_sorted, p.dtype)
    counts = fg.sum(dim=2) if per_image else fg.sum(dim=(0, 2))
    row_weights = class_row_weights(counts, classes, per_image, fg.shape[1], p.dtype)
    return ((values * weights).sum(dim=1, keepdim=True) * row_weights).sum().to(input.dtype)


def lovasz_hinge_plain(input, target, ignore_index, per_image):
    _, values, _, weights, scale = hinge_rows(input, target, ignore_index, per_image)
    return ((torch.relu(values) * weights).sum() * scale).to(input.dtype)
