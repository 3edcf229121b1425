"""Lovasz losses as autograd Functions that form the input gradient in the forward pass.

Every class of every image is one row of a single batched sort; the Lovasz weights come from a
cumulative sum over the sorted labels and go back to the unsorted positions with one scatter,
through the softmax Jacobian. The gradient is the only tensor saved for the backward pass.
Nothing here leaves the device or loops over images or classes in Python, so the same Functions
serve CUDA tensors; the float32 sort keys below are a CPU speed-up that is exact everywhere.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..._tensor import count_dtype
from .. import plain
from ..options import LovaszHingeOptions, LovaszSoftmaxOptions
from ..plain.lovasz import (
    as_rows,
    class_row_weights,
    hinge_rows,
    lovasz_weights,
    prepare_softmax,
)


def _saved_grad_backward(ctx, grad_output: Tensor, plain) -> Tensor:
    """Input gradient of a Function whose forward saved ``(x, target, grad)`` and ``options``.

    The saved gradient times ``grad_output``; for higher-order gradients, the gradient of the
    plain composition ``plain(x, target, ctx.options)`` instead.
    """
    x, target, grad = ctx.saved_tensors
    if torch.is_grad_enabled():
        with torch.enable_grad():
            loss = plain(x, target, ctx.options)
        (dx,) = torch.autograd.grad(loss, x, grad_output, create_graph=True)
        return dx
    return grad * grad_output.to(grad.dtype)


def _sort_descending(rows: Tensor) -> tuple[Tensor, Tensor | None]:
    """Sort each row of ``rows`` in decreasing order, in place; return the flat indices of the
    sorted values in the unsorted ``rows``, and a buffer of ``2 * rows.numel()`` float32 values
    that the sort no longer needs (or None).

    float32 rows of errors (non-negative, with -1 marking ignored positions) are sorted as one
    flat int64 array with key ``row * 2**32 + (2**31 - 1 - bits)``: the bit pattern of a
    non-negative float orders like the float, and one parallel radix sort of the whole batch,
    in place, is faster than a comparison sort per row. The sorted values come back from the
    keys' low 32 bits, in sequential passes. Other dtypes take a batched row sort.
    """
    num_rows, length = rows.shape
    if rows.dtype == torch.float32:
        offsets = torch.arange(num_rows, dtype=torch.int64, device=rows.device)
        offsets = offsets.mul_(2 ** 32).add_(2 ** 31 - 1).unsqueeze(1)
        keys = torch.empty((num_rows, length), dtype=torch.int64, device=rows.device)
        torch.sub(offsets, rows.view(torch.int32), out=keys)
        keys = keys.view(-1)
        perm = torch.empty_like(keys)
        torch.sort(keys, out=(keys, perm))
        keys.bitwise_and_(2 ** 32 - 1).neg_().add_(2 ** 31 - 1)
        rows.view(torch.int32).view(-1).copy_(keys)
        return perm, keys.view(torch.float32)
    values, perm = torch.sort(rows, dim=1, descending=True)
    rows.copy_(values)
    starts = torch.arange(0, num_rows * length, length, device=rows.device).unsqueeze(1)
    return perm.add_(starts).view(-1), None


def _scratch_like(scratch: Tensor | None, like: Tensor) -> Tensor | None:
    """A view of the free buffer ``scratch`` shaped like ``like``, or None if it is too small."""
    if scratch is None or scratch.dtype != like.dtype or scratch.numel() < like.numel():
        return None
    return scratch[:like.numel()].view(like.shape)


class _LovaszSoftmaxFunction(torch.autograd.Function):
    """One batched sort; the input gradient is formed in the forward pass and saved alone.

    The errors are written straight into the row layout, sorted once, and the foreground mask
    is gathered with the same permutation. With ``w`` the row weights times the Lovasz
    weights, the gradient with respect to the probabilities is ``w`` scattered back to the
    unsorted positions, negated on the foreground; the softmax Jacobian is applied in place.
    """

    @staticmethod
    def forward(ctx, x, target, ignore_index, from_logits, per_image, classes):
        p, fg, valid, labels = prepare_softmax(x, target, ignore_index, from_logits)
        n, c, m = p.shape
        dtype = p.dtype
        if per_image:
            errors = torch.empty((n, c, m), dtype=dtype, device=x.device)
            layout, rows = errors, errors.view(n * c, m)
        else:
            errors = torch.empty((c, n, m), dtype=dtype, device=x.device)
            layout, rows = errors.transpose(0, 1), errors.view(c, n * m)
        torch.sub(p, fg.view(torch.uint8), out=layout).abs_()
        if valid is not None:
            layout.masked_fill_(~valid.unsqueeze(1), -1.0)
        perm, scratch = _sort_descending(rows)
        fg_sorted = as_rows(fg, per_image).reshape(-1).gather(0, perm).view(rows.shape)
        counting = count_dtype(rows.shape[1], dtype)
        seen = torch.arange(1, rows.shape[1] + 1, dtype=counting, device=x.device)
        if valid is not None:
            # Ignored positions sort last: the running count stops at the row's valid count.
            valid_counts = valid.sum(dim=1, keepdim=True)
            if per_image:
                valid_counts = valid_counts.repeat_interleave(c, dim=0)
            else:
                valid_counts = valid_counts.sum().reshape(1, 1)
            seen = torch.minimum(seen, valid_counts.to(counting))
        weights, counts = lovasz_weights(fg_sorted, seen, dtype, scratch)
        weights.mul_(class_row_weights(counts, classes, per_image, c, dtype))
        del fg_sorted
        grad = None
        # The loss is the sorted errors times the weights, summed pairwise: forming it from the
        # gradient terms below would subtract nearly equal sums and lose about 1e-5 of it.
        loss = rows.mul_(weights).sum()
        if ctx.needs_input_grad[0]:
            # The weights go back to the unsorted positions, into the errors' buffer.
            flat = errors.view(-1).scatter_(0, perm, weights.view(-1))
            del perm, weights, layout, rows
            # d loss / d p is w on the background and -w on the foreground; one class per
            # position is foreground: a gather and a scatter handle it.
            w = flat.view(n, c, m) if per_image else flat.view(c, n, m).transpose(0, 1)
            index = labels.long().clamp_max_(c - 1).unsqueeze(1)
            w_t = w.gather(1, index)
            p_t = p.gather(1, index)
            p_w = torch.mul(p, w, out=_scratch_like(scratch, p))
            dot = p_w.sum(dim=1, keepdim=True)
            del p_w, scratch
            w_t.mul_(-2.0)
            dot.addcmul_(w_t, p_t)
            grad = torch.empty((n, c, m), dtype=dtype, device=x.device)
            if from_logits:
                torch.sub(w, dot, out=grad).mul_(p)
                grad.scatter_add_(1, index, w_t.mul_(p_t))
            else:
                grad.copy_(w).scatter_add_(1, index, w_t)
            grad = grad.to(x.dtype).view(x.shape)
        ctx.options = LovaszSoftmaxOptions(ignore_index, from_logits, per_image, classes)
        ctx.save_for_backward(x, target, grad)
        return loss.to(x.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        dx = _saved_grad_backward(ctx, grad_output, plain.lovasz.lovasz_softmax_loss)
        return dx, None, None, None, None, None


class _LovaszHingeFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, target, ignore_index, per_image):
        sign, values, perm, weights, scale = hinge_rows(x, target, ignore_index, per_image)
        loss = (torch.relu(values) * weights).sum() * scale
        grad = None
        if ctx.needs_input_grad[0]:
            weights = weights.masked_fill_(values <= 0, 0.0).mul_(-scale)
            grad = torch.empty_like(weights).scatter_(1, perm, weights).mul_(sign)
            grad = grad.to(x.dtype).reshape(x.shape)
        ctx.options = LovaszHingeOptions(ignore_index, per_image)
        ctx.save_for_backward(x, target, grad)
        return loss.to(x.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        dx = _saved_grad_backward(ctx, grad_output, plain.lovasz.lovasz_hinge_loss)
        return dx, None, None, None


def lovasz_softmax_loss(x: Tensor, target: Tensor, options: LovaszSoftmaxOptions) -> Tensor:
    """See :func:`focalkit.functional.lovasz_softmax_loss`."""
    return _LovaszSoftmaxFunction.apply(x, target, *options)


def lovasz_hinge_loss(x: Tensor, target: Tensor, options: LovaszHingeOptions) -> Tensor:
    """See :func:`focalkit.functional.lovasz_hinge_loss`."""
    return _LovaszHingeFunction.apply(x, target, *options)
