"""Focal losses: sigmoid (binary / multi-label) and softmax (multi-class).

Each loss has two implementations that compute the same numbers:

* a plain composition of PyTorch operations, differentiated by autograd. It is the readable
  statement of the formula, the path ``torch.compile`` traces, and the path taken when the
  target or a hyper-parameter tensor needs a gradient;
* a ``torch.autograd.Function`` with the closed-form gradient, evaluated block by block (see
  :mod:`focalkit._blocks`) so that the whole chain of element-wise steps runs in cache. It is
  the default in eager mode, and saves for backward at most one buffer besides the inputs.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import torch
from torch import Tensor

from .. import _blocks
from .._checks import (
    check_binary_ignore_index,
    check_bool,
    check_broadcastable,
    check_class_indices,
    check_class_target,
    check_device,
    check_float_tensor,
    check_gamma,
    check_ignore_index,
    check_real,
    check_reduction,
    check_same_shape,
    check_unit_alpha,
    check_unit_interval,
    class_vector,
    compute_dtype,
    ignore_mask,
    is_compiling,
    mask_ignored,
    reduce,
)

__all__ = ["sigmoid_focal_loss", "softmax_focal_loss", "focal_modulation"]

AlphaLike = float | Sequence[float] | Tensor | None


# ---------------------------------------------------------------------------------------------
# Shared pieces
# ---------------------------------------------------------------------------------------------


def _pow_gamma(base: Tensor, gamma: float) -> Tensor:
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


def _pow_gamma_minus_one(base: Tensor, gamma: float) -> Tensor:
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


def _block_total(sums: list[Tensor], count: Tensor, reduction: str, dtype: torch.dtype,
                 input: Tensor) -> Tensor:
    """The sum of the per-block loss sums (divided by ``count`` for ``"mean"``), as ``input``."""
    total = torch.stack(sums).sum() if sums else torch.zeros((), dtype=dtype,
                                                               device=input.device)
    if reduction == "mean":
        total = total / count.clamp_min(1).to(dtype)
    return total.to(input.dtype)


def focal_modulation(input: Tensor, target: Tensor, *, gamma: float = 2.0,
                     alpha: float | Tensor | None = 0.25) -> Tensor:
    r"""The focal factor :math:`\alpha_t (1 - p_t)^\gamma` for logits and binary targets.

    .. math::
        p_t = \sigma(x)\,y + \sigma(-x)\,(1 - y), \qquad
        \alpha_t = \alpha y + (1 - \alpha)(1 - y)

    :math:`1 - p_t` is formed from :math:`\sigma(x)` and :math:`\sigma(-x)` directly, so it stays
    accurate for confident predictions where :math:`1 - \sigma(x)` would round to zero.

    Args:
        input: logits of any shape.
        target: targets in [0, 1], same shape as ``input``.
        gamma: focusing parameter :math:`\gamma \ge 0`. Default: 2.0.
        alpha: weight of the positive class in [0, 1], a tensor broadcastable to ``input``, or
            None for no class weighting. Default: 0.25.

    Returns:
        Tensor: the factor, same shape as ``input``, in the dtype that ``input`` and
        ``target`` promote to (as :func:`torch.nn.functional.binary_cross_entropy_with_logits`
        returns; half precision is computed in float32).

    Raises:
        TypeError: if ``input`` or ``target`` is not a floating-point tensor, or ``alpha`` or
            ``gamma`` has the wrong type.
        ValueError: if the shapes differ, a target lies outside [0, 1], ``alpha`` lies outside
            [0, 1] or does not broadcast to ``input`` (or lives on another device), or
            ``gamma < 0``.

    Example:
        >>> import torch
        >>> from focalkit.functional import focal_modulation
        >>> x = torch.tensor([4.0, -4.0])
        >>> focal_modulation(x, torch.tensor([1.0, 1.0]), gamma=2.0, alpha=None)
        tensor([3.2350e-04, 9.6435e-01])
    """
    check_float_tensor("input", input)
    check_float_tensor("target", target)
    check_same_shape(input, target)
    gamma = check_gamma(gamma)
    alpha = check_unit_alpha(alpha, input)
    check_unit_interval("target", target)
    out_dtype = torch.promote_types(input.dtype, target.dtype)
    dtype = compute_dtype(out_dtype)
    x, y = input.to(dtype), target.to(dtype)
    if isinstance(alpha, Tensor):
        alpha = alpha.to(dtype)
    p = torch.sigmoid(x)
    q = torch.sigmoid(-x)
    factor = _pow_gamma(torch.lerp(p, q, y), gamma)
    if alpha is not None:
        factor = factor * ((1.0 - alpha) + (2.0 * alpha - 1.0) * y)
    return factor.to(out_dtype)


# ---------------------------------------------------------------------------------------------
# Sigmoid focal loss
# ---------------------------------------------------------------------------------------------


def _sigmoid_focal_terms(x: Tensor, y: Tensor, alpha: float | Tensor | None, gamma: float,
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
    """
    tail = torch.log1p(torch.exp(-x.abs()))
    p = torch.sigmoid(x)
    q = torch.sigmoid(-x)
    if pos_weight is None:
        bce = (torch.relu(x) - x * y) + tail
        dbce = torch.lerp(p, -q, y) if with_grad else None
    else:
        bce = (1.0 - y) * torch.relu(x) + pos_weight * y * torch.relu(-x) \
            + (1.0 + (pos_weight - 1.0) * y) * tail
        dbce = torch.lerp(p, -pos_weight * q, y) if with_grad else None
    m = torch.lerp(p, q, y)
    mod = _pow_gamma(m, gamma)
    loss = mod * bce
    scale = None
    if alpha is not None:
        scale = (1.0 - alpha) + (2.0 * alpha - 1.0) * y
    if weight is not None:
        scale = weight if scale is None else scale * weight
    if scale is not None:
        loss = loss * scale
    if not with_grad:
        return loss, None
    grad = mod * dbce
    if gamma != 0.0:
        grad = grad + gamma * _pow_gamma_minus_one(m, gamma) * (1.0 - 2.0 * y) * (p * q) * bce
    if scale is not None:
        grad = grad * scale
    return loss, grad


def _sigmoid_focal_probs(p: Tensor, y: Tensor, alpha: float | Tensor | None, gamma: float,
                         pos_weight: Tensor | None, weight: Tensor | None) -> Tensor:
    """Element-wise sigmoid focal loss of probabilities (log terms clamped at -100 like torch)."""
    q = 1.0 - p
    pos, neg = p > 0, q > 0
    log_p = torch.where(pos, torch.log(torch.where(pos, p, 1.0)), -100.0).clamp_min(-100.0)
    log_q = torch.where(neg, torch.log(torch.where(neg, q, 1.0)), -100.0).clamp_min(-100.0)
    positive = y * log_p if pos_weight is None else pos_weight * y * log_p
    bce = -(positive + (1.0 - y) * log_q)
    loss = _pow_gamma(torch.lerp(p, q, y), gamma) * bce
    if alpha is not None:
        loss = loss * ((1.0 - alpha) + (2.0 * alpha - 1.0) * y)
    if weight is not None:
        loss = loss * weight
    return loss


def _sigmoid_focal_block(x: Tensor, y: Tensor, alpha: float | Tensor | None, gamma: float,
                         pos_weight: Tensor | None, weight: Tensor | None, with_grad: bool,
                         grad_out: Tensor | None = None
                         ) -> tuple[Tensor | None, Tensor, Tensor | None]:
    r"""The closed form of :func:`_sigmoid_focal_terms` on one block, in few passes.

    Every step is one element-wise pass over the block, so the formula is regrouped to need
    few of them, updating block temporaries in place. With :math:`s = w\,\alpha_t` and
    :math:`f = s\,m^{\gamma-1}`:

    .. math::
        \ell = (f\,m)\,b, \qquad
        \frac{d\ell}{dx} = f\left[m\,b' + \gamma\,(1 - 2y)\,p q\,b\right],
        \qquad b' = \frac{db}{dx}.

    The shared softplus tail :math:`\log(1 + e^{-|x|})` equals
    :math:`-\log(1 - \min(p, q))`, a ``log1p`` of the smaller sigmoid, which spares the
    ``exp`` (both are accurate: :math:`\min(p, q) \le 1/2` is computed without cancellation).
    Without ``pos_weight``, :math:`b' = p - y` is formed as :math:`m - 2qy`, exact for hard
    labels.

    Returns ``(f * m, b, grad)``: the loss is their element-wise product (a sum is one dot
    product); the first is None when it is 1 (``gamma=0`` without ``alpha`` or ``weight``).
    ``grad`` is written into ``grad_out`` when given.
    """
    p = torch.sigmoid(x)
    q = torch.sigmoid(torch.neg(x))
    neg_tail = torch.minimum(p, q).neg_().log1p_()
    if pos_weight is None:
        bce = torch.clamp_min(x, 0.0).addcmul_(x, y, value=-1.0).sub_(neg_tail)
    else:
        bce = (1.0 - y) * torch.relu(x) + pos_weight * y * torch.relu(-x) \
            - (1.0 + (pos_weight - 1.0) * y) * neg_tail
    m = torch.lerp(p, q, y)
    power = None if gamma in (0.0, 1.0) else m if gamma == 2.0 else _pow_gamma_minus_one(m, gamma)
    if alpha is None:
        factor = power
    elif isinstance(alpha, Tensor):
        factor = torch.lerp(1.0 - alpha, alpha, y)
        if power is not None:
            factor.mul_(power)
    elif power is None:
        factor = torch.mul(y, 2.0 * alpha - 1.0).add_(1.0 - alpha)
    else:
        factor = torch.mul(power, 1.0 - alpha).addcmul_(power, y, value=2.0 * alpha - 1.0)
    if weight is not None:
        factor = weight if factor is None else factor * weight
    if gamma == 0.0:
        loss_factor = factor
    else:
        loss_factor = m if factor is None else torch.mul(factor, m)
    if not with_grad:
        return loss_factor, bce, None
    if pos_weight is None:
        grad = torch.addcmul(m, q, y, value=-2.0)
    else:
        grad = torch.lerp(p, -pos_weight * q, y)
    if gamma != 0.0:
        pq = p.mul_(q)
        grad.mul_(m).addcmul_(torch.addcmul(pq, pq, y, value=-2.0), bce, value=gamma)
    if factor is not None:
        grad = torch.mul(grad, factor, out=grad_out) if grad_out is not None \
            else grad.mul_(factor)
    elif grad_out is not None:
        grad = grad_out.copy_(grad)
    return loss_factor, bce, grad


class _SigmoidFocalFunction(torch.autograd.Function):
    """Blocked forward with the closed-form gradient; backward is one multiplication."""

    @staticmethod
    def forward(ctx, x, y, alpha, gamma, pos_weight, weight, ignore_index, reduction):
        dtype = compute_dtype(x)
        need_grad = ctx.needs_input_grad[0]
        aux = [t for t in (alpha, pos_weight, weight) if isinstance(t, Tensor)]
        rows, cols = _blocks.row_layout(x.shape, flat=not aux)
        x2 = x.reshape(rows, cols)
        y2 = y.reshape(rows, cols)

        def rows_of(t):
            return _blocks.as_rows(t.to(dtype), x.shape, rows, cols) if isinstance(t, Tensor) \
                else t

        alpha2, pos_weight2, weight2 = rows_of(alpha), rows_of(pos_weight), rows_of(weight)
        out = torch.empty((rows, cols), dtype=x.dtype, device=x.device) \
            if reduction == "none" else None
        grad = torch.empty((rows, cols), dtype=x.dtype, device=x.device) if need_grad else None
        sums, counts = [], []
        for block in _blocks.blocks(rows, cols):
            xb = x2[block].to(dtype)
            yb = y2[block].to(dtype)
            sub = [t[block] if isinstance(t, Tensor) else t for t in (alpha2, pos_weight2,
                                                                      weight2)]
            valid, xb, yb = mask_ignored(xb, yb, ignore_index)
            if valid is not None:
                # With finite stand-ins above, a zero weight gives exact zeros, never NaN.
                keep = valid.to(dtype)
                sub[2] = keep if sub[2] is None else sub[2] * keep
                counts.append(valid.sum())
            direct = need_grad and grad.dtype == dtype
            loss_factor, bce, grad_b = _sigmoid_focal_block(
                xb, yb, sub[0], gamma, sub[1], sub[2], need_grad,
                grad[block] if direct else None)
            if need_grad and not direct:
                grad[block] = grad_b
            if out is not None:
                if loss_factor is None:
                    out[block] = bce
                else:
                    out[block] = torch.mul(loss_factor, bce)
            elif loss_factor is None:
                sums.append(bce.sum())
            else:
                sums.append(torch.dot(loss_factor.reshape(-1), bce.reshape(-1)))
        if ignore_index is None:
            count = torch.tensor(x.numel(), device=x.device)
        else:
            count = torch.stack(counts).sum() if counts else torch.zeros((), device=x.device,
                                                                          dtype=torch.long)
        ctx.set_materialize_grads(True)
        ctx.gamma, ctx.ignore_index, ctx.reduction = gamma, ignore_index, reduction
        ctx.alpha_scalar = None if isinstance(alpha, Tensor) else alpha
        saved_grad = None if grad is None else grad.reshape(x.shape)
        tensors = (t if isinstance(t, Tensor) else None for t in (alpha, pos_weight, weight))
        ctx.save_for_backward(x, y, saved_grad, count, *tensors)
        if out is not None:
            return out.reshape(x.shape)
        return _block_total(sums, count, reduction, dtype, x)

    @staticmethod
    def backward(ctx, grad_output):
        x, y, grad, count, alpha_t, pos_weight, weight = ctx.saved_tensors
        alpha = alpha_t if alpha_t is not None else ctx.alpha_scalar
        # In the compute dtype: a count above 65504 would be inf in float16.
        dtype = compute_dtype(x)
        scale = grad_output.to(dtype)
        if ctx.reduction == "mean":
            scale = scale / count.clamp_min(1).to(dtype)
        if torch.is_grad_enabled():
            # Higher-order gradients: the same closed form, written with differentiable ops.
            xc, yc = x.to(dtype), y.to(dtype)
            valid, xc, yc = mask_ignored(xc, yc, ctx.ignore_index)
            _, dx = _sigmoid_focal_terms(xc, yc, alpha, ctx.gamma, pos_weight, weight, True)
            if valid is not None:
                dx = torch.where(valid, dx, 0.0)
            return (dx * scale).to(x.dtype), None, None, None, None, None, None, None
        if grad.dtype != dtype:
            grad = (grad.to(dtype) * scale).to(grad.dtype)
        else:
            grad = grad * scale
        return grad, None, None, None, None, None, None, None


def _as_optional_tensor(name: str, value: object, input: Tensor) -> Tensor | None:
    if value is None:
        return None
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return torch.tensor(float(value), dtype=compute_dtype(input), device=input.device)
    if not isinstance(value, Tensor):
        raise TypeError(f"{name} must be a tensor, a number or None; got {type(value).__name__}")
    check_float_tensor(name, value)
    check_broadcastable(name, value, input.shape)
    return value


def sigmoid_focal_loss(input: Tensor, target: Tensor, *, alpha: float | Tensor | None = 0.25,
                       gamma: float = 2.0, pos_weight: Tensor | None = None,
                       weight: Tensor | None = None, reduction: str = "mean",
                       from_logits: bool = True, ignore_index: int | None = None) -> Tensor:
    r"""Focal loss for binary and multi-label problems (Lin et al., 2017).

    Binary cross-entropy scaled by how wrong each prediction is, so that the many easy
    examples (confident, correct background in dense detection) stop drowning out the few
    hard ones:

    .. math::
        \ell = -w\,\alpha_t\,(1 - p_t)^\gamma
               \left[w_p\,y \log p + (1 - y)\log(1 - p)\right], \quad
        p_t = p\,y + (1 - p)(1 - y), \quad \alpha_t = \alpha y + (1 - \alpha)(1 - y)

    with :math:`p = \sigma(x)`. ``alpha`` weights the positives (the paper's convention:
    ``alpha=0.25`` *down*-weights them, balancing the stronger pull of :math:`\gamma` on the
    negatives). Soft targets in [0, 1] are allowed. The log terms are computed in log space
    from the logits; the gradient is the closed form, evaluated in the forward pass.

    Args:
        input: logits (or probabilities with ``from_logits=False``) of any shape.
        target: same shape as ``input``, floats in [0, 1]; entries equal to ``ignore_index``
            are skipped.
        alpha: positive-class weight in [0, 1], a tensor of such values broadcastable to
            ``input`` (per-class alpha for multi-label), or None to disable. Default: 0.25.
        gamma: focusing parameter, ``gamma >= 0``; 0 gives (weighted) BCE. Default: 2.0.
        pos_weight: weight of the positive term, broadcastable to ``input``, as in
            :class:`torch.nn.BCEWithLogitsLoss`. Default: None.
        weight: element weight broadcastable to ``input``, as in
            :class:`torch.nn.BCEWithLogitsLoss`. Default: None.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``. ``"mean"`` divides by the number of
            non-ignored elements and is 0 (with an all-zero gradient) when there are none.
            Default: ``"mean"``.
        from_logits: whether ``input`` holds logits (True) or probabilities (False). Default:
            True.
        ignore_index: target value marking entries to skip, outside [0, 1]; they add nothing
            to the loss or the mean's denominator and get exactly zero gradient, whatever
            their logits. Default: None.

    Shape:
        - input: :math:`(*)`, any shape.
        - target: same as ``input``.
        - output: scalar, or the shape of ``input`` with ``reduction="none"``.

    Returns:
        Tensor: the loss, in the dtype of ``input`` (half inputs are computed in float32).

    Raises:
        TypeError: if ``input`` or ``target`` is not a floating-point tensor, or a
            hyper-parameter has the wrong type.
        ValueError: if the shapes differ, a target lies outside [0, 1], ``alpha`` lies outside
            [0, 1], ``gamma < 0``, ``reduction`` is unknown, ``ignore_index`` is 0 or 1 (a
            valid target), or a hyper-parameter tensor lives on another device than ``input``.

    References:
        T.-Y. Lin, P. Goyal, R. Girshick, K. He, P. Dollar. Focal Loss for Dense Object
        Detection. ICCV 2017. https://arxiv.org/abs/1708.02002

    Example:
        With ``gamma=0`` and no ``alpha`` it is binary cross-entropy:

        >>> import torch
        >>> import torch.nn.functional as F
        >>> from focalkit.functional import sigmoid_focal_loss
        >>> x = torch.tensor([[2.0, -1.0], [0.5, 3.0]])
        >>> y = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        >>> torch.allclose(sigmoid_focal_loss(x, y, gamma=0.0, alpha=None),
        ...                F.binary_cross_entropy_with_logits(x, y))
        True

        Confident, correct predictions are down-weighted far more than wrong ones:

        >>> sigmoid_focal_loss(x, y, alpha=None, reduction="none")
        tensor([[1.8036e-03, 2.2658e-02],
                [3.7741e-01, 1.0928e-04]])
    """
    check_float_tensor("input", input)
    check_float_tensor("target", target)
    check_same_shape(input, target)
    gamma = check_gamma(gamma)
    check_reduction(reduction)
    from_logits = check_bool("from_logits", from_logits)
    ignore_index = check_binary_ignore_index(ignore_index)
    alpha = check_unit_alpha(alpha, input)
    pos_weight = _as_optional_tensor("pos_weight", pos_weight, input)
    weight = _as_optional_tensor("weight", weight, input)
    for name, value in (("pos_weight", pos_weight), ("weight", weight)):
        if value is not None:
            check_device(name, value, input)
    check_unit_interval("target", target, ignore_index)
    if not from_logits:
        check_unit_interval("input (probabilities, from_logits=False)", input)

    fast = (
        from_logits
        and not is_compiling()
        and not target.requires_grad
        and not any(isinstance(t, Tensor) and t.requires_grad for t in (alpha, pos_weight,
                                                                         weight))
    )
    if fast:
        # Without grad mode (evaluation) the Function skips the gradient pass.
        logits = input if torch.is_grad_enabled() else input.detach()
        return _SigmoidFocalFunction.apply(logits, target, alpha, gamma, pos_weight, weight,
                                           ignore_index, reduction)

    dtype = compute_dtype(input)
    x, y = input.to(dtype), target.to(dtype)
    valid, x, y = mask_ignored(x, y, ignore_index)
    count = None if valid is None else valid.sum()
    if from_logits:
        loss, _ = _sigmoid_focal_terms(x, y, alpha, gamma, pos_weight, weight, False)
    else:
        loss = _sigmoid_focal_probs(x, y, alpha, gamma, pos_weight, weight)
    if valid is not None:
        loss = torch.where(valid, loss, 0.0)
    return reduce(loss, reduction, count).to(input.dtype)


# ---------------------------------------------------------------------------------------------
# Softmax focal loss
# ---------------------------------------------------------------------------------------------


def _focal_index_terms(log_pt: Tensor, alpha_t: Tensor | None, gamma: float,
                       with_grad: bool) -> tuple[Tensor, Tensor | None]:
    r"""Per-position softmax focal loss of :math:`\log p_t` and the gradient coefficient.

    With :math:`m = 1 - p_t` (``-expm1(log_pt)``, accurate as :math:`p_t \to 1`):

    .. math::
        \ell = -\alpha_t\,m^\gamma \log p_t, \qquad
        \frac{\partial \ell}{\partial x_j} = G\,(\mathrm{softmax}(x)_j - [j = t]), \quad
        G = \alpha_t\left(m^\gamma - \gamma\,m^{\gamma - 1}\,p_t \log p_t\right).
    """
    m = -torch.expm1(log_pt)
    mod = _pow_gamma(m, gamma)
    loss = -mod * log_pt
    if alpha_t is not None:
        loss = loss * alpha_t
    if not with_grad:
        return loss, None
    coeff = mod
    if gamma != 0.0:
        coeff = coeff - gamma * _pow_gamma_minus_one(m, gamma) * torch.exp(log_pt) * log_pt
    if alpha_t is not None:
        coeff = coeff * alpha_t
    return loss, coeff


def _focal_index_block(log_pt: Tensor, alpha_t: Tensor | None, gamma: float, with_grad: bool,
                       coeff_out: Tensor | None = None) -> tuple[Tensor | None, Tensor | None]:
    r"""The terms of :func:`_focal_index_terms` on one block, in few passes.

    With :math:`f = \alpha_t\,m^{\gamma - 1}`, the loss is :math:`-(f m) \log p_t` and
    :math:`G = f\,(m - \gamma\,p_t \log p_t)` (for :math:`\gamma = 0`: :math:`f m` is
    :math:`\alpha_t` and :math:`G = \alpha_t`).

    Returns ``(f * m, G)``, the first None when it is 1; ``G`` is written into ``coeff_out``
    when given.
    """
    if gamma == 0.0:
        if not with_grad:
            return alpha_t, None
        coeff = alpha_t if alpha_t is not None else torch.ones_like(log_pt)
        return alpha_t, coeff if coeff_out is None else coeff_out.copy_(coeff)
    m = torch.expm1(log_pt).neg_()
    power = None if gamma == 1.0 else m if gamma == 2.0 else _pow_gamma_minus_one(m, gamma)
    factor = alpha_t if power is None else power if alpha_t is None else power * alpha_t
    loss_factor = m if factor is None else factor * m
    if not with_grad:
        return loss_factor, None
    coeff = torch.add(m, torch.exp(log_pt).mul_(log_pt), alpha=-gamma)
    if factor is not None:
        coeff = torch.mul(coeff, factor, out=coeff_out) if coeff_out is not None \
            else coeff.mul_(factor)
    elif coeff_out is not None:
        coeff = coeff_out.copy_(coeff)
    return loss_factor, coeff


_LOG2E = 1.4426950408889634


def _zero_columns_(block: Tensor, keep: Tensor) -> Tensor:
    """Zero ``block`` ``(N, C, P)`` in place at the positions where ``keep`` ``(N, P)`` is False.

    The zeros are exact, NaN and inf included: the float bits are AND-ed with an integer mask
    that has all bits set at kept positions and none elsewhere, a masked fill at the speed of
    a copy (``masked_fill_`` with a broadcast mask is an order of magnitude slower on CPU).
    """
    bits = torch.int64 if block.element_size() == 8 else torch.int32
    block.view(bits).bitwise_and_(keep.to(bits).neg_().unsqueeze(1))
    return block


class _SoftmaxFocalFunction(torch.autograd.Function):
    """Class-index softmax focal loss; saves two per-position buffers (log-sum-exp, G).

    Forward and backward each walk the input once, in blocks of ``(samples, C, positions)``:
    the forward takes :math:`\\log p_t` from ``log_softmax`` and computes the loss, the
    gradient coefficient :math:`G` and the log-sum-exp :math:`x_t - \\log p_t` of every
    position of the block; the backward writes
    :math:`G\\,(e^{x - \\mathrm{lse}} - \\mathrm{onehot}(t))` straight into the gradient.
    """

    @staticmethod
    def forward(ctx, x, target, alpha, gamma, ignore_index, reduction):
        dtype = compute_dtype(x)
        n, c = x.shape[0], x.shape[1]
        positions = target[0].numel() if n else 0
        x3 = x.reshape(n, c, positions)
        t2 = target.reshape(n, positions)
        need_grad = ctx.needs_input_grad[0]
        alpha_c = None if alpha is None else alpha.to(dtype)
        loss = torch.empty((n, positions), dtype=dtype, device=x.device) \
            if reduction == "none" else None
        sums, counts = [], []
        lse = torch.empty((n, positions), dtype=dtype, device=x.device) if need_grad else None
        coeff = torch.empty((n, positions), dtype=dtype, device=x.device) if need_grad else None
        for rows, cols in _blocks.class_blocks(n, c, positions):
            xb = x3[rows, :, cols].to(dtype)
            valid, t = ignore_mask(t2[rows, cols], ignore_index)
            index = t.unsqueeze(1)
            log_pt = torch.log_softmax(xb, dim=1).gather(1, index).squeeze(1)
            if valid is not None:
                # log p_t = 0 gives an ignored position zero loss whatever its logits; the
                # backward zeroes its gradient.
                log_pt = torch.where(valid, log_pt, 0.0)
                counts.append(torch.count_nonzero(valid))
            alpha_t = None if alpha_c is None else alpha_c[t]
            loss_factor, _ = _focal_index_block(log_pt, alpha_t, gamma, need_grad,
                                                coeff[rows, cols] if need_grad else None)
            if loss is None:
                sums.append(-(log_pt.sum() if loss_factor is None
                              else torch.dot(loss_factor.reshape(-1), log_pt.reshape(-1))))
            elif loss_factor is None:
                torch.neg(log_pt, out=loss[rows, cols])
            else:
                torch.mul(loss_factor, log_pt, out=loss[rows, cols]).neg_()
            if need_grad:
                torch.sub(xb.gather(1, index).squeeze(1), log_pt, out=lse[rows, cols])
        if ignore_index is None or not counts:
            count = torch.tensor(n * positions if ignore_index is None else 0, device=x.device)
        else:
            count = torch.stack(counts).sum()
        ctx.gamma, ctx.ignore_index, ctx.reduction = gamma, ignore_index, reduction
        ctx.save_for_backward(x, target, alpha, lse, coeff, count)
        if loss is not None:
            return loss.reshape(target.shape).to(x.dtype)
        return _block_total(sums, count, reduction, dtype, x)

    @staticmethod
    def backward(ctx, grad_output):
        x, target, alpha, lse, coeff, count = ctx.saved_tensors
        n, c = x.shape[0], x.shape[1]
        positions = target[0].numel() if n else 0
        # In the compute dtype: a count above 65504 would be inf in float16.
        dtype = compute_dtype(x)
        if ctx.reduction == "none":
            scale = grad_output.reshape(n, positions).to(dtype)
        elif ctx.reduction == "mean":
            scale = grad_output.to(dtype) / count.clamp_min(1).to(dtype)
        else:
            scale = grad_output.to(dtype)
        if torch.is_grad_enabled():
            # Higher-order gradients: the same closed form, written with differentiable ops.
            dx = _softmax_focal_index_grad(x, target, alpha, ctx.gamma, ctx.ignore_index)
            if ctx.reduction == "none":
                dx = dx * scale.reshape(n, 1, *x.shape[2:])
            else:
                dx = dx * scale
            return dx.to(x.dtype), None, None, None, None, None
        x3 = x.reshape(n, c, positions)
        t2 = target.reshape(n, positions)
        g = coeff * scale
        grad = torch.empty(x3.shape, dtype=x.dtype, device=x.device)
        for rows, cols in _blocks.class_blocks(n, c, positions):
            valid, t = ignore_mask(t2[rows, cols], ctx.ignore_index)
            g_b = g[rows, cols].unsqueeze(1)
            if dtype == x.dtype:
                block = torch.sub(x3[rows, :, cols], lse[rows, cols].unsqueeze(1),
                                  out=grad[rows, :, cols])
            else:
                block = torch.sub(x3[rows, :, cols].to(dtype), lse[rows, cols].unsqueeze(1))
            # exp(z) = 2**(z log2 e): exp2 is several times faster than exp on CPU.
            block.mul_(_LOG2E).exp2_().mul_(g_b).scatter_add_(1, t.unsqueeze(1), -g_b)
            if valid is not None:
                _zero_columns_(block, valid)
            if dtype != x.dtype:
                grad[rows, :, cols] = block
        return grad.reshape(x.shape), None, None, None, None, None


def _softmax_focal_index_grad(x: Tensor, target: Tensor, alpha: Tensor | None, gamma: float,
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
    _, coeff = _focal_index_terms(log_pt, alpha_t, gamma, True)
    if valid is not None:
        coeff = torch.where(valid, coeff, 0.0)
    one_hot = torch.zeros_like(log_p).scatter_(1, t.unsqueeze(1), 1.0)
    return coeff.unsqueeze(1) * (torch.exp(log_p) - one_hot)


def _softmax_focal_plain(input: Tensor, target: Tensor, alpha: Tensor | None, gamma: float,
                         ignore_index: int | None, label_smoothing: float, is_index: bool,
                         reduction: str) -> Tensor:
    """The loss written out with autograd-differentiable operations."""
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
        if label_smoothing == 0.0:
            log_pt = log_p.gather(1, t.unsqueeze(1)).squeeze(1)
            alpha_t = None if alpha is None else alpha.to(dtype)[t]
            loss, _ = _focal_index_terms(log_pt, alpha_t, gamma, False)
        else:
            q = torch.zeros_like(log_p).scatter_(1, t.unsqueeze(1), 1.0)
            q = q * (1.0 - label_smoothing) + label_smoothing / c
            loss = _class_sum(log_p, q, alpha_c, gamma)
        if valid is not None:
            loss = torch.where(valid, loss, 0.0)
    else:
        q = target.to(dtype)
        if label_smoothing != 0.0:
            q = q * (1.0 - label_smoothing) + label_smoothing / c
        loss = _class_sum(torch.log_softmax(x, dim=1), q, alpha_c, gamma)
    return reduce(loss, reduction, count).to(input.dtype)


def _class_sum(log_p: Tensor, q: Tensor, alpha_c: Tensor | None, gamma: float) -> Tensor:
    r""":math:`-\sum_c q_c\,\alpha_c\,(1 - p_c)^\gamma \log p_c` over the class dimension."""
    term = _pow_gamma(-torch.expm1(log_p), gamma) * log_p * q
    if alpha_c is not None:
        term = term * alpha_c
    return -term.sum(dim=1)


def softmax_focal_loss(input: Tensor, target: Tensor, *, alpha: AlphaLike = None,
                       gamma: float = 2.0, reduction: str = "mean", ignore_index: int = -100,
                       label_smoothing: float = 0.0) -> Tensor:
    r"""Focal loss for multi-class problems: softmax cross-entropy scaled by :math:`(1-p_t)^\gamma`.

    .. math::
        \ell = -\alpha_t\,(1 - p_t)^\gamma \log p_t, \qquad
        \log p_t = \mathrm{log\_softmax}(x)_t

    For class-probability targets :math:`q` (or with label smoothing) each class contributes
    its own term, :math:`\ell = -\sum_c q_c\,\alpha_c\,(1 - p_c)^\gamma \log p_c`, which reduces
    to the line above for a one-hot :math:`q`. Everything is computed from ``log_softmax``;
    :math:`1 - p_t` is ``-expm1(log_pt)``, accurate for confident predictions. The gradient is
    the closed form :math:`G\,(\mathrm{softmax}(x) - \mathrm{onehot}(t))` with
    :math:`G = \alpha_t\,((1-p_t)^\gamma - \gamma (1-p_t)^{\gamma-1} p_t \log p_t)`.

    Args:
        input: logits of shape :math:`(N, C, *)`.
        target: class indices of shape :math:`(N, *)` (integer dtype), or class probabilities
            of shape :math:`(N, C, *)` (floating dtype).
        alpha: class weights: None, one float for every class, or a sequence/tensor of C
            non-negative values (e.g. from :func:`focalkit.weights.class_weights`).
            Default: None.
        gamma: focusing parameter, ``gamma >= 0``; 0 gives cross-entropy. Default: 2.0.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``. ``"mean"`` is the plain mean over the
            non-ignored positions (``alpha`` does not enter the denominator, unlike
            ``weight`` in :func:`torch.nn.functional.cross_entropy`); it is 0 with an
            all-zero gradient when every position is ignored. Default: ``"mean"``.
        ignore_index: class index to skip (index targets only: with probability targets it
            must be the default or None). Ignored positions get exactly zero gradient even
            when their logits are NaN or inf. Default: -100.
        label_smoothing: in [0, 1]; mixes the target with the uniform distribution as in
            :func:`torch.nn.functional.cross_entropy`. Default: 0.0.

    Shape:
        - input: :math:`(N, C)` or :math:`(N, C, d_1, ..., d_K)`.
        - target: :math:`(N)` / :math:`(N, d_1, ..., d_K)` indices, or the shape of ``input``
          for probabilities.
        - output: scalar, or :math:`(N, d_1, ..., d_K)` with ``reduction="none"``.

    Returns:
        Tensor: the loss, in the dtype of ``input`` (half inputs are computed in float32).

    Raises:
        TypeError: if ``input`` is not floating point, ``target`` is neither integer nor
            floating point, or an ``alpha`` tensor is not floating point.
        ValueError: on a shape mismatch, a class index outside ``[0, C)`` (other than
            ``ignore_index``), an ``alpha`` with the wrong number of values or a negative one,
            ``gamma < 0``, ``label_smoothing`` outside [0, 1], an unknown ``reduction``, or an
            explicit ``ignore_index`` with probability targets.

    References:
        T.-Y. Lin, P. Goyal, R. Girshick, K. He, P. Dollar. Focal Loss for Dense Object
        Detection. ICCV 2017. https://arxiv.org/abs/1708.02002

    Example:
        With ``gamma=0`` and no ``alpha`` it is cross-entropy:

        >>> import torch
        >>> import torch.nn.functional as F
        >>> from focalkit.functional import softmax_focal_loss
        >>> x = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]])
        >>> t = torch.tensor([0, 1])
        >>> torch.allclose(softmax_focal_loss(x, t, gamma=0.0), F.cross_entropy(x, t))
        True

        The well-classified first sample loses most of its weight at ``gamma=2``:

        >>> softmax_focal_loss(x, t, reduction="none")
        tensor([0.0111, 2.6011])
    """
    check_float_tensor("input", input)
    is_index = check_class_target(input, target)
    gamma = check_gamma(gamma)
    check_reduction(reduction)
    ignore_index = check_ignore_index(ignore_index)
    label_smoothing = check_real("label_smoothing", label_smoothing, low=0.0, high=1.0)
    c = input.shape[1]
    alpha = class_vector("alpha", alpha, c, like=input, high=None)
    if is_index:
        if target.dtype not in (torch.int32, torch.int64):
            target = target.long()  # uint8 masks and the like; gather needs int32 or int64
        check_class_indices(target, c, ignore_index)
    else:
        if ignore_index not in (None, -100):
            raise ValueError(f"ignore_index applies to class-index targets; got class-probability "
                             f"targets of shape {tuple(target.shape)} with "
                             f"ignore_index={ignore_index}")
        check_unit_interval("target", target)

    fast = (
        is_index
        and label_smoothing == 0.0
        and not is_compiling()
        and not (alpha is not None and alpha.requires_grad)
    )
    if fast:
        # Without grad mode (evaluation) the Function skips the gradient pass.
        logits = input if torch.is_grad_enabled() else input.detach()
        return _SoftmaxFocalFunction.apply(logits, target, alpha, gamma, ignore_index, reduction)
    return _softmax_focal_plain(input, target, alpha, gamma, ignore_index, label_smoothing,
                                is_index, reduction)
