"""One blocked autograd Function for element-wise losses with a closed-form derivative.

A loss family supplies two functions with the signature ``(x, y, *params, with_grad) ->
(loss, grad)``: the element-wise loss of logits ``x`` and targets ``y`` (both in the compute
dtype, ignored entries already replaced by zeros) and, when asked, its derivative with respect
to ``x``. ``block`` runs block by block in the forward pass: it updates its own temporaries in
place (a fresh tensor per step would cost more than the arithmetic, in page faults), never
``x`` or ``y``, and returns fresh tensors. ``terms`` computes the same with out-of-place
operations; it runs on whole tensors, differentiably, for higher-order gradients.

The forward pass keeps, besides the inputs, one input-sized buffer: the finished gradient.
The backward pass multiplies it by the incoming gradient (and ``1 / count`` for a mean).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ..._tensor import compute_dtype, mask_ignored, sum_of_blocks
from . import blocks as _blocks

Terms = Callable[..., tuple[Tensor, Tensor | None]]




class ElementwiseLossFunction(torch.autograd.Function):
    """Blocked forward computing loss and gradient together; backward is one multiplication."""

    @staticmethod
    def forward(ctx, block_fn, terms, params, x, y, weight, ignore_index, reduction):
        dtype = compute_dtype(x)
        need_grad = ctx.needs_input_grad[3]
        rows, cols = _blocks.row_layout(x.shape, flat=weight is None)
        x2, y2 = x.reshape(rows, cols), y.reshape(rows, cols)
        weight2 = None if weight is None else _blocks.as_rows(weight.to(dtype), x.shape,
                                                              rows, cols)
        out = torch.empty((rows, cols), dtype=x.dtype, device=x.device) \
            if reduction == "none" else None
        grad = torch.empty((rows, cols), dtype=x.dtype, device=x.device) if need_grad else None
        sums, counts = [], []
        for block in _blocks.blocks(rows, cols):
            wb = None if weight2 is None else weight2[block]
            valid, xb, yb = mask_ignored(x2[block].to(dtype), y2[block].to(dtype), ignore_index)
            if valid is not None:
                # The stand-ins are finite, so a zero weight gives exact zeros, never NaN.
                keep = valid.to(dtype)
                wb = keep if wb is None else wb * keep
                counts.append(valid.sum())
            loss, grad_b = block_fn(xb, yb, *params, with_grad=need_grad)
            if wb is not None:
                loss.mul_(wb)
                if need_grad:
                    grad_b.mul_(wb)
            if need_grad:
                grad[block] = grad_b
            if out is not None:
                out[block] = loss
            else:
                sums.append(loss.sum().double())
        count = _blocks.kept_count(counts, ignore_index, x)
        ctx.set_materialize_grads(True)
        ctx.terms, ctx.params = terms, params
        ctx.ignore_index, ctx.reduction = ignore_index, reduction
        saved_grad = None if grad is None else grad.reshape(x.shape)
        ctx.save_for_backward(x, y, saved_grad, count, weight)
        if out is not None:
            return out.reshape(x.shape)
        return sum_of_blocks(sums, count, reduction, x)

    @staticmethod
    def backward(ctx, grad_output):
        x, y, grad, count, weight = ctx.saved_tensors
        # In the compute dtype: a count above 65504 would be inf in float16.
        dtype = compute_dtype(x)
        scale = grad_output.to(dtype)
        if ctx.reduction == "mean":
            scale = scale / count.clamp_min(1).to(dtype)
        if torch.is_grad_enabled():
            # Higher-order gradients: the same closed form, on whole tensors, differentiably.
            valid, xc, yc = mask_ignored(x.to(dtype), y.to(dtype), ctx.ignore_index)
            _, dx = ctx.terms(xc, yc, *ctx.params, with_grad=True)
            if weight is not None:
                dx = dx * weight.to(dtype)
            if valid is not None:
                dx = torch.where(valid, dx, 0.0)
            return None, None, None, (dx * scale).to(x.dtype), None, None, None, None
        if grad.dtype != dtype:
            grad = (grad.to(dtype) * scale).to(grad.dtype)
        else:
            grad = grad * scale
        return None, None, None, grad, None, None, None, None


def apply(block: Terms, terms: Terms, params: tuple, input: Tensor, target: Tensor,
          weight: Tensor | None, ignore_index: int | None, reduction: str) -> Tensor:
    """Evaluate an element-wise loss with :class:`ElementwiseLossFunction`.

    Without grad mode (evaluation) the gradient pass is skipped.
    """
    logits = input if torch.is_grad_enabled() else input.detach()
    return ElementwiseLossFunction.apply(block, terms, params, logits, target, weight,
                                         ignore_index, reduction)
