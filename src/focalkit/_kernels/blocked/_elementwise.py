"""The one blocked autograd Function of the element-wise losses with a closed-form derivative.

A loss supplies an :class:`ElementwiseKernel`: two forms of its element-wise loss of logits
``x`` and targets ``y`` (both in the compute dtype, ignored entries already replaced by finite
stand-ins) and of its derivative with respect to ``x``. Its ``params`` are numbers, None or
tensors that broadcast to the input (the loop hands each block its slice of them); ``weight``
is the element weight times the kept-entry mask, or None.

- ``block(x, y, params, weight, with_grad, grad_out, limits) -> (loss, grad)`` runs block by
  block in the forward pass. It updates its own temporaries in place (a fresh tensor per step
  would cost more than the arithmetic, in page faults), never ``x`` or ``y``, and returns a
  fresh loss; when ``grad_out`` is given it writes the gradient there. With ``limits`` False
  the block holds no infinite logit and a cheaper form may run.
- ``terms(x, y, params, weight, with_grad) -> (loss, grad)`` computes the same with
  out-of-place operations; it runs on whole tensors, differentiably, for higher-order
  gradients.

The forward pass keeps, besides the inputs, one input-sized buffer: the finished gradient.
The backward pass multiplies it by the incoming gradient (and ``1 / count`` for a mean).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor

from ..._tensor import compute_dtype, mask_ignored, sum_of_blocks
from . import blocks as _blocks

Block = Callable[[Tensor, Tensor, tuple, "Tensor | None", bool, "Tensor | None", bool],
                 tuple[Tensor, "Tensor | None"]]
Terms = Callable[[Tensor, Tensor, tuple, "Tensor | None", bool], tuple[Tensor, "Tensor | None"]]


class ElementwiseKernel(NamedTuple):
    """The block and whole-tensor forms of one element-wise loss (see the module docstring).

    ``guards_infinite``: the block has a cheaper form for blocks without infinite logits, so
    the loop asks for the guarded one only where a block holds one.
    """

    block: Block
    terms: Terms
    guards_infinite: bool = False


def has_infinite(x: Tensor) -> bool:
    """Whether the CPU block ``x`` holds an infinite value: one fast reduction, so that the
    guarded passes run only for the rare blocks that need them."""
    if x.numel() == 0:
        return False
    low, high = torch.aminmax(x)
    return math.isinf(low) or math.isinf(high)


def _block_loss(kernel: ElementwiseKernel, x: Tensor, y: Tensor, params: tuple,
                weight: Tensor | None, grad: Tensor | None, block: _blocks.Block, direct: bool,
                limits: bool) -> Tensor:
    """The loss of one block; its gradient goes into ``grad[block]`` when ``grad`` is given
    (written there by the kernel when ``direct``: the buffer has the compute dtype)."""
    loss, grad_b = kernel.block(x, y, params, weight, grad is not None,
                                grad[block] if direct else None, limits)
    if grad is not None and not direct:
        grad[block] = grad_b
    return loss


class ElementwiseLossFunction(torch.autograd.Function):
    """Blocked forward computing loss and gradient together; backward is one multiplication."""

    @staticmethod
    def forward(ctx, kernel, x, y, params, weight, ignore_index, reduction):
        dtype = compute_dtype(x)
        need_grad = ctx.needs_input_grad[1]
        tensors = [p for p in params if isinstance(p, Tensor)]
        rows, cols = _blocks.row_layout(x.shape, flat=weight is None and not tensors)

        def rows_of(t):
            return _blocks.as_rows(t.to(dtype), x.shape, rows, cols) \
                if isinstance(t, Tensor) else t

        x2, y2 = x.reshape(rows, cols), y.reshape(rows, cols)
        params2, weight2 = tuple(rows_of(p) for p in params), rows_of(weight)
        out = torch.empty((rows, cols), dtype=x.dtype, device=x.device) \
            if reduction == "none" else None
        grad = torch.empty((rows, cols), dtype=x.dtype, device=x.device) if need_grad else None
        direct = grad is not None and grad.dtype == dtype
        sums, counts = [], []
        for block in _blocks.blocks(rows, cols):
            pb = tuple(p[block] if isinstance(p, Tensor) else p for p in params2)
            wb = None if weight2 is None else weight2[block]
            valid, xb, yb = mask_ignored(x2[block].to(dtype), y2[block].to(dtype), ignore_index)
            if valid is not None:
                # The stand-ins are finite, so a zero weight gives exact zeros, never NaN.
                keep = valid.to(dtype)
                wb = keep if wb is None else wb * keep
                counts.append(valid.sum())
            step = (kernel, xb, yb, pb, wb, grad, block, direct)
            # Guarded passes for infinite logits cost some 15% of a block; on the CPU they run
            # only for a block that holds one: with a reduction, a block whose sum is not
            # finite is evaluated again (only an infinite logit, or a NaN that stays NaN, makes
            # it so); without one, a quick min/max says.
            guard = not kernel.guards_infinite or not xb.is_cpu
            if out is not None:
                out[block] = _block_loss(*step, guard or has_infinite(xb))
            else:
                total = _block_loss(*step, guard).sum().double()
                if not guard and not math.isfinite(total):
                    total = _block_loss(*step, True).sum().double()
                sums.append(total)
        count = _blocks.kept_count(counts, ignore_index, x)
        ctx.set_materialize_grads(True)
        ctx.kernel, ctx.ignore_index, ctx.reduction = kernel, ignore_index, reduction
        ctx.params = tuple(None if isinstance(p, Tensor) else p for p in params)
        ctx.tensor_slots = tuple(i for i, p in enumerate(params) if isinstance(p, Tensor))
        saved_grad = None if grad is None else grad.reshape(x.shape)
        ctx.save_for_backward(x, y, saved_grad, count, weight, *tensors)
        if out is not None:
            return out.reshape(x.shape)
        return sum_of_blocks(sums, count, reduction, x)

    @staticmethod
    def backward(ctx, grad_output):
        x, y, grad, count, weight, *tensors = ctx.saved_tensors
        # In the compute dtype: a count above 65504 would be inf in float16.
        dtype = compute_dtype(x)
        scale = grad_output.to(dtype)
        if ctx.reduction == "mean":
            scale = scale / count.clamp_min(1).to(dtype)
        if torch.is_grad_enabled():
            # Higher-order gradients: the same closed form, on whole tensors, differentiably.
            params = list(ctx.params)
            for slot, tensor in zip(ctx.tensor_slots, tensors, strict=True):
                params[slot] = tensor
            valid, xc, yc = mask_ignored(x.to(dtype), y.to(dtype), ctx.ignore_index)
            w = None if weight is None else weight.to(dtype)
            _, dx = ctx.kernel.terms(xc, yc, tuple(params), w, True)
            if valid is not None:
                dx = torch.where(valid, dx, 0.0)
            return None, (dx * scale).to(x.dtype), None, None, None, None, None
        if grad.dtype != dtype:
            grad = (grad.to(dtype) * scale).to(grad.dtype)
        else:
            grad = grad * scale
        return None, grad, None, None, None, None, None


def apply(kernel: ElementwiseKernel, params: tuple, input: Tensor, target: Tensor,
          weight: Tensor | None, ignore_index: int | None, reduction: str) -> Tensor:
    """Evaluate an element-wise loss with :class:`ElementwiseLossFunction`.

    Without grad mode (evaluation) the gradient pass is skipped.
    """
    logits = input if torch.is_grad_enabled() else input.detach()
    return ElementwiseLossFunction.apply(kernel, logits, target, params, weight, ignore_index,
                                         reduction)


def weighted(block: Callable[..., tuple[Tensor, Tensor | None]],
             terms: Callable[..., tuple[Tensor, Tensor | None]]) -> ElementwiseKernel:
    """The kernel of a loss whose forms take its params as positional arguments and know no
    weight: the weight multiplies their loss and derivative."""

    def run_block(x, y, params, weight, with_grad, grad_out, limits):
        loss, grad = block(x, y, *params, with_grad=with_grad)
        if weight is not None:
            loss.mul_(weight)
        if grad is not None:
            if weight is not None:
                grad = torch.mul(grad, weight, out=grad_out) if grad_out is not None \
                    else grad.mul_(weight)
            elif grad_out is not None:
                grad = grad_out.copy_(grad)
        return loss, grad

    def run_terms(x, y, params, weight, with_grad):
        loss, grad = terms(x, y, *params, with_grad=with_grad)
        if weight is None:
            return loss, grad
        return loss * weight, None if grad is None else grad * weight

    return ElementwiseKernel(run_block, run_terms)
