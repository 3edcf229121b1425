"""Cache-blocked focal loss kernels for the CPU, as autograd Functions with closed-form gradients.

Each Function evaluates the loss and its gradient in one walk over the input, block by block
(see :mod:`focalkit._kernels.blocked.blocks`), so that the whole chain of element-wise steps runs
in cache; the backward pass only scales the saved gradient (sigmoid) or forms it from two
saved per-position buffers (softmax). Each saves for backward at most one input-sized buffer
besides the inputs.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..._tensor import compute_dtype, ignore_mask, sum_of_blocks
from .. import BLOCKED
from ..plain import focal as plain
from ..plain.focal import (
    SigmoidFocalOptions,
    SoftmaxFocalOptions,
    alpha_factor,
    bce_with_logits,
    pow_gamma_minus_one,
    sigmoid_focal_terms,
    softmax_focal_index_grad,
)
from . import _elementwise, blocks
from ._elementwise import ElementwiseKernel, has_infinite


def _sigmoid_focal_block(x: Tensor, y: Tensor, alpha: float | Tensor | None, gamma: float,
                         pos_weight: Tensor | None, weight: Tensor | None, with_grad: bool,
                         grad_out: Tensor | None = None, limits: bool = True
                         ) -> tuple[Tensor | None, Tensor, Tensor | None]:
    r"""The closed form of :func:`sigmoid_focal_terms` on one block, in few passes.

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

    With ``limits``, infinite logits are replaced by the largest finite ones, where :math:`p`
    and :math:`q` are exactly 0 and 1: every term is finite there and the derivative is its
    limit; ``b`` is then set to its limit, 0 for a right prediction and infinite for a wrong
    one. Without it the block must hold no infinite logit (it would give NaN or inf).

    Returns ``(f * m, b, grad)``: the loss is their element-wise product (a sum is one dot
    product); the first is None when it is 1 (``gamma=0`` without ``alpha`` or ``weight``).
    ``grad`` is written into ``grad_out`` when given.
    """
    infinite = None
    if limits:
        infinite = torch.isinf(x)
        big = torch.finfo(x.dtype).max
        x = torch.clamp(x, -big, big)
    p = torch.sigmoid(x)
    q = torch.sigmoid(torch.neg(x))
    neg_tail = torch.minimum(p, q).neg_().log1p_()
    if pos_weight is None:
        bce = torch.clamp_min(x, 0.0).addcmul_(x, y, value=-1.0).sub_(neg_tail)
    else:
        bce = bce_with_logits(x, y, pos_weight, torch.neg(neg_tail))
    m = torch.lerp(p, q, y)
    power = None if gamma in (0.0, 1.0) else m if gamma == 2.0 else pow_gamma_minus_one(m, gamma)
    if alpha is None:
        factor = power
    elif power is None or isinstance(alpha, Tensor):
        factor = alpha_factor(alpha, y)
        if power is not None:
            factor.mul_(power)
    else:
        # alpha_factor(alpha, y) * power in two passes: power (1 - alpha) + power y (2 alpha - 1)
        factor = torch.mul(power, 1.0 - alpha).addcmul_(power, y, value=2.0 * alpha - 1.0)
    if weight is not None:
        factor = weight if factor is None else factor * weight
    if gamma == 0.0:
        loss_factor = factor
    else:
        loss_factor = m if factor is None else torch.mul(factor, m)
    if not with_grad:
        return loss_factor, _infinite_bce(bce, infinite), None
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
    return loss_factor, _infinite_bce(bce, infinite), grad


def _infinite_bce(bce: Tensor, infinite: Tensor | None) -> Tensor:
    """``bce`` with its limit, infinite, where the logit is infinite and the prediction wrong."""
    if infinite is None:
        return bce
    return bce.masked_fill_(infinite.logical_and_(bce != 0), float("inf"))


def _sigmoid_focal_kernel_block(x: Tensor, y: Tensor, params: tuple, weight: Tensor | None,
                                with_grad: bool, grad_out: Tensor | None, limits: bool
                                ) -> tuple[Tensor, Tensor | None]:
    alpha, gamma, pos_weight = params
    loss_factor, bce, grad = _sigmoid_focal_block(x, y, alpha, gamma, pos_weight, weight,
                                                  with_grad, grad_out, limits)
    return (bce if loss_factor is None else bce.mul_(loss_factor)), grad


def _sigmoid_focal_kernel_terms(x: Tensor, y: Tensor, params: tuple, weight: Tensor | None,
                                with_grad: bool) -> tuple[Tensor, Tensor | None]:
    alpha, gamma, pos_weight = params
    return sigmoid_focal_terms(x, y, alpha, gamma, pos_weight, weight, with_grad)


#: The sigmoid focal loss on the blocked Function; ``params`` are (alpha, gamma, pos_weight).
SIGMOID_FOCAL = ElementwiseKernel(_sigmoid_focal_kernel_block, _sigmoid_focal_kernel_terms,
                                  guards_infinite=True)


def _focal_index_block(log_pt: Tensor, alpha_t: Tensor | None, gamma: float, with_grad: bool,
                       coeff_out: Tensor | None = None, limits: bool = True
                       ) -> tuple[Tensor | None, Tensor | None]:
    r"""The terms of :func:`focal_index_terms` on one block, in few passes.

    With :math:`f = \alpha_t\,m^{\gamma - 1}`, the loss is :math:`-(f m) \log p_t` and
    :math:`G = f\,(m - \gamma\,p_t \log p_t)` (for :math:`\gamma = 0`: :math:`f m` is
    :math:`\alpha_t` and :math:`G = \alpha_t`).

    With ``limits``, :math:`p_t \log p_t` takes its limit 0 at :math:`\log p_t = -\infty` (a
    ``-inf`` target logit); without it the block must hold no such position.

    Returns ``(f * m, G)``, the first None when it is 1; ``G`` is written into ``coeff_out``
    when given.
    """
    if gamma == 0.0:
        if not with_grad:
            return alpha_t, None
        coeff = alpha_t if alpha_t is not None else torch.ones_like(log_pt)
        return alpha_t, coeff if coeff_out is None else coeff_out.copy_(coeff)
    m = torch.expm1(log_pt).neg_()
    power = None if gamma == 1.0 else m if gamma == 2.0 else pow_gamma_minus_one(m, gamma)
    factor = alpha_t if power is None else power if alpha_t is None else power * alpha_t
    loss_factor = m if factor is None else factor * m
    if not with_grad:
        return loss_factor, None
    p_log_p = torch.exp(log_pt).mul_(
        log_pt.clamp_min(torch.finfo(log_pt.dtype).min) if limits else log_pt)
    coeff = torch.add(m, p_log_p, alpha=-gamma)
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
        for rows, cols in blocks.class_blocks(n, c, positions):
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
            # A -inf target logit (log p_t = -inf) needs the guarded forms below; on the CPU a
            # quick min/max over the block's positions says whether it holds one.
            limits = not xb.is_cpu or has_infinite(log_pt)
            loss_factor, _ = _focal_index_block(log_pt, alpha_t, gamma, need_grad,
                                                coeff[rows, cols] if need_grad else None,
                                                limits)
            if loss is None:
                sums.append(-(log_pt if loss_factor is None else loss_factor.mul_(log_pt))
                            .sum().double())
            elif loss_factor is None:
                torch.neg(log_pt, out=loss[rows, cols])
            else:
                torch.mul(loss_factor, log_pt, out=loss[rows, cols]).neg_()
            if need_grad:
                lse_b = torch.sub(xb.gather(1, index).squeeze(1), log_pt, out=lse[rows, cols])
                if limits:
                    # x_t - log p_t is NaN for a -inf target logit; the log-sum-exp itself is
                    # finite there, at one more pass.
                    torch.logsumexp(xb, dim=1, out=lse_b)
        if ignore_index is None or not counts:
            count = torch.tensor(n * positions if ignore_index is None else 0, device=x.device)
        else:
            count = torch.stack(counts).sum()
        ctx.gamma, ctx.ignore_index, ctx.reduction = gamma, ignore_index, reduction
        ctx.save_for_backward(x, target, alpha, lse, coeff, count)
        if loss is not None:
            return loss.reshape(target.shape).to(x.dtype)
        return sum_of_blocks(sums, count, reduction, x)

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
            dx = softmax_focal_index_grad(x, target, alpha, ctx.gamma, ctx.ignore_index)
            if ctx.reduction == "none":
                dx = dx * scale.reshape(n, 1, *x.shape[2:])
            else:
                dx = dx * scale
            return dx.to(x.dtype), None, None, None, None, None
        x3 = x.reshape(n, c, positions)
        t2 = target.reshape(n, positions)
        g = coeff * scale
        grad = torch.empty(x3.shape, dtype=x.dtype, device=x.device)
        for rows, cols in blocks.class_blocks(n, c, positions):
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


@BLOCKED.implements(plain.sigmoid_focal_loss,
                    takes=lambda x, options: options.from_logits and options.epsilon == 0.0)
def sigmoid_focal_loss(x: Tensor, y: Tensor, options: SigmoidFocalOptions) -> Tensor:
    """Sigmoid focal loss of logits ``x``; see :func:`focalkit.functional.sigmoid_focal_loss`."""
    alpha, gamma, pos_weight, weight, ignore_index, reduction, _, _ = options
    return _elementwise.apply(SIGMOID_FOCAL, (alpha, gamma, pos_weight), x, y, weight,
                              ignore_index, reduction)


@BLOCKED.implements(plain.softmax_focal_loss,
                    takes=lambda x, options: (options.is_index and options.label_smoothing == 0.0
                                              and options.epsilon == 0.0))
def softmax_focal_loss(x: Tensor, target: Tensor, options: SoftmaxFocalOptions) -> Tensor:
    """Softmax focal loss of class-index targets; see
    :func:`focalkit.functional.softmax_focal_loss`."""
    return _SoftmaxFocalFunction.apply(x, target, options.alpha, options.gamma,
                                       options.ignore_index, options.reduction)
