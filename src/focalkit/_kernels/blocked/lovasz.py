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


#: PyTorch sorts a 1-D integer tensor of at least this many elements (its parallel grain size)
#: with a radix sort on the CPU.
_RADIX_MIN = 2 ** 15
#: On the CPU, up to 4 rows of at most this many elements in all are sorted together: a radix
#: sort of that size works in the cache.
_GROUP_SIZE = 2 ** 18


def _sort_groups(rows: Tensor) -> tuple[Tensor, Tensor]:
    """Sort float32 rows of errors on the CPU, a few at a time: see :func:`_sort_descending`.

    A group of ``k`` consecutive rows (``k`` = 1, 2 or 4, dividing the number of rows) is one
    1-D int32 radix sort (four byte passes) with key
    ``(position in group - 2) * 2**30 + 2**30 - 2 - bits``: the bit pattern of an error is at
    most that of 1.0, below ``2**30``, and -1 (an ignored position) becomes ``-1``, the last
    key of its row. The sorted values are gathered from the unsorted rows into the keys'
    buffer.
    """
    num_rows, length = rows.shape
    group = 4 if num_rows % 4 == 0 else 2 if num_rows % 2 == 0 else 1
    while group > 1 and group * length > _GROUP_SIZE:
        group //= 2
    keys = torch.clamp(rows.view(torch.int32), -1, 2 ** 30 - 2)
    offsets = torch.arange(num_rows, dtype=torch.int32, device=rows.device).remainder_(group)
    offsets.sub_(2).mul_(2 ** 30).add_(2 ** 30 - 2)
    torch.sub(offsets.unsqueeze(1), keys, out=keys)
    keys = keys.view(num_rows // group, group * length)
    perm = torch.empty(keys.shape, dtype=torch.int64, device=rows.device)
    for group_keys, group_perm in zip(keys, perm, strict=True):
        torch.sort(group_keys, out=(group_keys, group_perm))
    values = keys.view(torch.float32)
    torch.gather(rows.view(keys.shape), 1, perm, out=values)
    return values.view(num_rows, length), perm


def _sort_descending(rows: Tensor) -> tuple[Tensor, Tensor, tuple[Tensor, ...]]:
    """Sort each row of ``rows`` in decreasing order.

    Returns the sorted rows (``rows`` itself or a new buffer), the permutation and the
    buffers of the shape and dtype of ``rows`` that the sort left free (none to two). The
    permutation has the shape ``(G, S)`` of ``rows`` viewed as ``G`` groups of whole rows:
    entry ``j`` of group ``g`` is the index, in the unsorted group, of the value that is
    ``j``-th in the sorted group.

    float32 rows of errors (non-negative, with -1 marking ignored positions) are sorted as
    integer keys with a radix sort, since the bit pattern of a non-negative float orders like
    the float; the sort is stable, so ties keep their order whatever the groups:

    * on the CPU, rows of at least ``2**13`` elements: a few rows at a time, as int32 keys
      (see :func:`_sort_groups`);
    * otherwise, all rows as one flat int64 array with key ``row * 2**32 + (2**31 - 1 -
      bits)``; the sorted values come back from the keys' low 32 bits, in sequential passes.

    Other dtypes take a batched row sort.
    """
    num_rows, length = rows.shape
    if rows.dtype != torch.float32:
        values, perm = torch.sort(rows, dim=1, descending=True)
        return values, perm, (rows,)
    if rows.device.type == "cpu" and 4 * length >= _RADIX_MIN:
        values, perm = _sort_groups(rows)
        return values, perm, (rows,)
    offsets = torch.arange(num_rows, dtype=torch.int64, device=rows.device)
    offsets = offsets.mul_(2 ** 32).add_(2 ** 31 - 1).unsqueeze(1)
    keys = torch.empty((num_rows, length), dtype=torch.int64, device=rows.device)
    torch.sub(offsets, rows.view(torch.int32), out=keys)
    keys = keys.view(-1)
    perm = torch.empty_like(keys)
    torch.sort(keys, out=(keys, perm))
    keys.bitwise_and_(2 ** 32 - 1).neg_().add_(2 ** 31 - 1)
    rows.view(torch.int32).view(-1).copy_(keys)
    spare = keys.view(torch.float32).view(2, num_rows, length)
    return rows, perm.view(1, -1), (spare[0], spare[1])


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
        values, perm, free = _sort_descending(rows)
        del layout, rows
        fg_sorted = as_rows(fg, per_image).view(perm.shape).gather(1, perm)
        fg_sorted = fg_sorted.view(values.shape)
        counting = count_dtype(values.shape[1], dtype)
        seen = torch.arange(1, values.shape[1] + 1, dtype=counting, device=x.device)
        if valid is not None:
            # Ignored positions sort last: the running count stops at the row's valid count.
            valid_counts = valid.sum(dim=1, keepdim=True)
            if per_image:
                valid_counts = valid_counts.repeat_interleave(c, dim=0)
            else:
                valid_counts = valid_counts.sum().reshape(1, 1)
            seen = torch.minimum(seen, valid_counts.to(counting))
        buffers = None
        if counting == dtype:
            buffers = (free[0], free[1] if len(free) > 1 else torch.empty_like(values))
        del free
        weights, counts = lovasz_weights(fg_sorted, seen, dtype, buffers)
        weights.mul_(class_row_weights(counts, classes, per_image, c, dtype))
        del fg_sorted, buffers
        grad = None
        # The loss is the sorted errors times the weights, summed pairwise: forming it from the
        # gradient terms below would subtract nearly equal sums and lose about 1e-5 of it.
        loss = values.mul_(weights).sum()
        if ctx.needs_input_grad[0]:
            # The weights go back to the unsorted positions, into the sorted values' buffer.
            flat = values.view(perm.shape).scatter_(1, perm, weights.view(perm.shape))
            del perm, values
            # d loss / d p is w on the background and -w on the foreground; one class per
            # position is foreground: a gather and a scatter handle it.
            w = flat.view(n, c, m) if per_image else flat.view(c, n, m).transpose(0, 1)
            index = labels.long().clamp_max_(c - 1).unsqueeze(1)
            w_t = w.gather(1, index)
            p_t = p.gather(1, index)
            p_w = torch.mul(p, w, out=weights.view(p.shape))
            dot = p_w.sum(dim=1, keepdim=True)
            del p_w, weights
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
