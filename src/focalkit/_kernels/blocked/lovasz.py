"""Lovasz losses as autograd Functions that form the input gradient in the forward pass.

Every class of every image is one row; the rows are sorted as integer keys (on the CPU a few
rows per sort, in cache, elsewhere all rows in one sort), the Lovasz weights come from a
cumulative sum over the sorted labels and go back to the unsorted positions with one scatter,
through the softmax Jacobian. The gradient is the only tensor saved for the backward pass.
Nothing here leaves the device or depends on the data in Python, so the same Functions serve
CUDA tensors; the float32 sort keys below are exact everywhere.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..._tensor import count_dtype
from .. import BLOCKED, TRITON
from ..plain import lovasz as plain
from ..plain.lovasz import (
    LovaszHingeOptions,
    LovaszSoftmaxOptions,
    class_row_weights,
    hinge_rows,
    lovasz_weights,
    softmax_probabilities,
)


def _saved_grad_backward(ctx, grad_output: Tensor, form) -> Tensor:
    """Input gradient of a Function whose forward saved ``(x, target, grad)`` and ``options``.

    The saved gradient times ``grad_output``; for higher-order gradients, the gradient of the
    plain form ``form(x, target, ctx.options)`` instead.
    """
    x, target, grad = ctx.saved_tensors
    if torch.is_grad_enabled():
        with torch.enable_grad():
            loss = form(x, target, ctx.options)
        (dx,) = torch.autograd.grad(loss, x, grad_output, create_graph=True)
        return dx
    return grad * grad_output.to(grad.dtype)


#: PyTorch sorts a 1-D integer tensor of at least this many elements (its parallel grain size)
#: with a radix sort on the CPU.
_RADIX_MIN = 2 ** 15
#: On the CPU, up to 4 rows of at most this many elements in all are sorted together: a radix
#: sort of that size works in the cache.
_GROUP_SIZE = 2 ** 18


def _group_size(num_rows: int, length: int) -> int:
    """Rows per sort on the CPU: 4, 2 or 1, dividing ``num_rows``, at most ``_GROUP_SIZE``
    elements in all where more than one."""
    group = 4 if num_rows % 4 == 0 else 2 if num_rows % 2 == 0 else 1
    while group > 1 and group * length > _GROUP_SIZE:
        group //= 2
    return group


def _sort_groups(rows: Tensor, group: int) -> tuple[Tensor, Tensor]:
    """Sort float32 rows of errors on the CPU, ``group`` rows at a time (see
    :func:`_sort_descending`); return the sorted rows and the permutation.

    A group of consecutive rows is one 1-D int32 radix sort (four byte passes) with key
    ``(position in group - 2) * 2**30 + 2**30 - 2 - bits``, the bit pattern ``bits`` of an
    error clamped to ``[-1, 2**30 - 2]``: an error is at most 1.0, whose pattern is below
    ``2**30``; -1.0 (an ignored position) has a negative pattern and takes the last key of its
    row, NaN the first. The sorted values are gathered from the unsorted rows into the keys'
    buffer, so NaN stays NaN.

    The sorts run on one thread (``torch.set_num_threads(1)`` for their duration, restored
    afterwards). A parallel radix sort waits on its threads several times per call; over many
    short calls those waits cost more than the second thread gains, and far more when other
    processes share the cores. One thread sorting one cache-resident group after another is
    still about twice as fast as a parallel sort of every row as one flat int64 array.
    """
    num_rows, length = rows.shape
    keys = torch.clamp(rows.view(torch.int32), -1, 2 ** 30 - 2)
    offsets = torch.arange(num_rows, dtype=torch.int32, device=rows.device).remainder_(group)
    offsets.sub_(2).mul_(2 ** 30).add_(2 ** 30 - 2)
    torch.sub(offsets.unsqueeze(1), keys, out=keys)
    keys = keys.view(num_rows // group, group * length)
    perm = torch.empty(keys.shape, dtype=torch.int64, device=rows.device)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for group_keys, group_perm in zip(keys, perm, strict=True):
            torch.sort(group_keys, stable=True, out=(group_keys, group_perm))
    finally:
        torch.set_num_threads(threads)
    values = keys.view(torch.float32)
    torch.gather(rows.view(keys.shape), 1, perm, out=values)
    return values.view(num_rows, length), perm


def _sort_descending(rows: Tensor) -> tuple[Tensor, Tensor, tuple[Tensor, ...]]:
    """Sort each row of ``rows`` in decreasing order, stably (ties keep their order).

    Returns the sorted rows (``rows`` itself or a new buffer), the permutation and the
    buffers of the shape and dtype of ``rows`` that the sort left free (one or two). The
    permutation has the shape ``(G, S)`` of ``rows`` viewed as ``G`` groups of whole rows:
    entry ``j`` of group ``g`` is the index, in the unsorted group, of the value that is
    ``j``-th in the sorted group.

    float32 rows of errors (non-negative, with -1 marking ignored positions) are sorted as
    integer keys with a radix sort, since the bit pattern of a non-negative float orders like
    the float:

    * on the CPU, where a group of rows (see :func:`_group_size`) holds at least
      ``_RADIX_MIN`` elements: a group at a time, as int32 keys (see :func:`_sort_groups`);
    * otherwise, all rows as one flat int64 array with key ``row * 2**32 + (2**31 - 1 -
      bits)``; the sorted values come back from the keys' low 32 bits, in sequential passes.

    Other dtypes take a batched row sort.
    """
    num_rows, length = rows.shape
    if rows.dtype != torch.float32:
        values, perm = torch.sort(rows, dim=1, descending=True, stable=True)
        return values, perm, (rows,)
    group = _group_size(num_rows, length)
    if rows.device.type == "cpu" and group * length >= _RADIX_MIN:
        values, perm = _sort_groups(rows, group)
        return values, perm, (rows,)
    offsets = torch.arange(num_rows, dtype=torch.int64, device=rows.device)
    offsets = offsets.mul_(2 ** 32).add_(2 ** 31 - 1).unsqueeze(1)
    keys = torch.empty((num_rows, length), dtype=torch.int64, device=rows.device)
    torch.sub(offsets, rows.view(torch.int32), out=keys)
    keys = keys.view(-1)
    perm = torch.empty_like(keys)
    torch.sort(keys, stable=True, out=(keys, perm))
    keys.bitwise_and_(2 ** 32 - 1).neg_().add_(2 ** 31 - 1)
    rows.view(torch.int32).view(-1).copy_(keys)
    spare = keys.view(torch.float32).view(2, num_rows, length)
    return rows, perm.view(1, -1), (spare[0], spare[1])


def _weights_in_place(fg_sorted: Tensor, seen: Tensor, out: Tensor) -> tuple[Tensor, Tensor]:
    """:func:`~focalkit._kernels.plain.lovasz.lovasz_weights` of float rows of sorted
    foreground indicators, in place: ``fg_sorted`` is overwritten, the weights go to ``out``
    (same shape and dtype as ``fg_sorted`` and ``seen``). Returns ``out`` and the number of
    foreground positions of every row."""
    cum = fg_sorted.cumsum_(1)
    total = cum[:, -1:].clone()
    # union_k = G + (valid background positions among the first k), exact integers
    union = torch.sub(seen, cum, out=cum).add_(total)
    if seen.dim() == 2:
        union.clamp_min_(1.0)  # 0 only before the first valid position, where seen is 0 too
    jac = torch.div(seen, union, out=union)
    out[:, :1] = jac[:, :1]
    torch.sub(jac[:, 1:], jac[:, :-1], out=out[:, 1:])
    return out, total


class _LovaszSoftmaxFunction(torch.autograd.Function):
    """Sorted rows of errors; the input gradient is formed in the forward pass and saved alone.

    The errors and the foreground indicators are written straight into the row layout, the
    errors are sorted and the indicators gathered with the same permutation. With ``w`` the
    row weights times the Lovasz weights, the gradient with respect to the probabilities is
    ``w`` scattered back to the unsorted positions, negated on the foreground; the softmax
    Jacobian is applied in place.
    """

    @staticmethod
    def forward(ctx, x, target, ignore_index, from_logits, per_image, classes):
        p, valid, labels = softmax_probabilities(x, target, ignore_index, from_logits, fill=0)
        n, c, m = p.shape
        dtype = p.dtype
        if per_image:
            errors, fg = (torch.empty((n, c, m), dtype=dtype, device=x.device),
                          torch.zeros((n, c, m), dtype=dtype, device=x.device))
            layout, fg_layout = errors, fg
        else:
            errors, fg = (torch.empty((c, n, m), dtype=dtype, device=x.device),
                          torch.zeros((c, n, m), dtype=dtype, device=x.device))
            layout, fg_layout = errors.transpose(0, 1), fg.transpose(0, 1)
        rows = errors.view(n * c, m) if per_image else errors.view(c, n * m)
        # One class per position is foreground (none where ignored): a scatter marks it, and
        # its error is 1 - p where the others' is p (|p - 1| and 1 - p round alike).
        index = labels.long().unsqueeze(1)
        fg_layout.scatter_(1, index, 1.0 if valid is None else valid.unsqueeze(1).to(dtype))
        p_t = p.gather(1, index)
        layout.copy_(p)
        layout.scatter_(1, index, torch.sub(1.0, p_t))
        if valid is not None:
            layout.masked_fill_(~valid.unsqueeze(1), -1.0)
        values, perm, free = _sort_descending(rows)
        del layout, rows
        fg_rows = fg.view(perm.shape)
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
        if counting == dtype and values.shape[1] > 0:
            out = free[0].view(perm.shape) if free else None
            fg_sorted = torch.gather(fg_rows, 1, perm, out=out).view(values.shape)
            # the indicators' buffer is free once gathered: it takes the weights
            weights, counts = _weights_in_place(fg_sorted, seen, fg.view(values.shape))
        else:
            fg_sorted = fg_rows.gather(1, perm).view(values.shape)
            weights, counts = lovasz_weights(fg_sorted, seen, dtype)
        del fg_sorted, fg_rows, fg, free
        weights.mul_(class_row_weights(counts, classes, per_image, c, dtype))
        grad = None
        # The loss is the sorted errors times the weights, summed pairwise: forming it from the
        # gradient terms below would subtract nearly equal sums and lose about 1e-5 of it.
        loss = values.mul_(weights).sum()
        if ctx.needs_input_grad[0]:
            # The weights go back to the unsorted positions, into the sorted values' buffer.
            flat = values.view(perm.shape).scatter_(1, perm, weights.view(perm.shape))
            del perm, values
            # d loss / d p is w on the background and -w on the foreground: a gather and a
            # scatter handle the foreground.
            w = flat.view(n, c, m) if per_image else flat.view(c, n, m).transpose(0, 1)
            w_t = w.gather(1, index)
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
        dx = _saved_grad_backward(ctx, grad_output, plain.lovasz_softmax_loss)
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
        dx = _saved_grad_backward(ctx, grad_output, plain.lovasz_hinge_loss)
        return dx, None, None, None


@TRITON.implements(plain.lovasz_softmax_loss)
@BLOCKED.implements(plain.lovasz_softmax_loss)
def lovasz_softmax_loss(x: Tensor, target: Tensor, options: LovaszSoftmaxOptions) -> Tensor:
    """See :func:`focalkit.functional.lovasz_softmax_loss`."""
    return _LovaszSoftmaxFunction.apply(x, target, *options)


@TRITON.implements(plain.lovasz_hinge_loss)
@BLOCKED.implements(plain.lovasz_hinge_loss)
def lovasz_hinge_loss(x: Tensor, target: Tensor, options: LovaszHingeOptions) -> Tensor:
    """See :func:`focalkit.functional.lovasz_hinge_loss`."""
    return _LovaszHingeFunction.apply(x, target, *options)
