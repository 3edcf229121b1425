r"""Lovasz losses: the Lovasz extension of the Jaccard loss (Berman et al., 2018).

For one class (or the binary problem) with errors :math:`e_i \ge 0` sorted in decreasing
order, :math:`e_{\pi_1} \ge e_{\pi_2} \ge \dots`, and foreground indicators :math:`g_i`
permuted by the *same* order, the Lovasz extension of the Jaccard loss is

.. math::
    \bar\Delta(e) = \sum_k e_{\pi_k}\,\left(J_k - J_{k-1}\right), \qquad
    J_k = 1 - \frac{G - \sum_{j \le k} g_{\pi_j}}{G + \sum_{j \le k} (1 - g_{\pi_j})},
    \quad J_0 = 0,

with :math:`G = \sum_i g_i`: :math:`J_k` is the Jaccard loss of predicting the :math:`k`
largest errors wrong. Every class of every image is one row of a single batched sort; the
weights :math:`J_k - J_{k-1}` come from a cumulative sum over the sorted labels. The
forward pass also evaluates the closed-form gradient (the weights scattered back to the
unsorted positions, through the softmax Jacobian), so that the only tensor kept for the
backward pass is the input gradient itself.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from .._checks import (
    check_binary_values,
    check_bool,
    check_choice,
    check_class_indices,
    check_classes,
    check_float_tensor,
    check_ignore_index,
    check_same_shape,
    check_unit_interval,
    compute_dtype,
    ignore_mask,
    is_compiling,
    mask_ignored,
)

__all__ = ["lovasz_softmax_loss", "lovasz_hinge_loss", "lovasz_grad"]

ClassesLike = str | Sequence[int] | Tensor


# ---------------------------------------------------------------------------------------------
# Shared pieces
# ---------------------------------------------------------------------------------------------


def lovasz_grad(fg_sorted: Tensor, valid_sorted: Tensor | None = None, *,
                dtype: torch.dtype = torch.float32) -> Tensor:
    r"""Weights :math:`J_k - J_{k-1}` of the Lovasz extension, for each row of sorted labels.

    .. math::
        J_k = \frac{n_k}{G + n_k - F_k}, \qquad F_k = \sum_{j \le k} g_{\pi_j}, \quad
        n_k = \#\{j \le k \text{ valid}\},

    which is :math:`1 - (G - F_k) / (G + n_k - F_k)` written without the cancellation, and 0
    while no valid position has been seen. Positions with ``valid_sorted`` False (which must
    come last in each row) get weight 0.

    Args:
        fg_sorted: boolean foreground indicators of shape :math:`(R, L)`, permuted in the
            order of decreasing errors.
        valid_sorted: boolean mask of the positions that count, same shape and order, or None
            when all count. Default: None.
        dtype: floating dtype of the result (counts are exact in it up to :math:`2^{24}`
            positions for float32; longer rows count in float64). Default: ``torch.float32``.

    Shape:
        - output: :math:`(R, L)`.

    Returns:
        Tensor: the weights; in each row they are non-negative and add up to the Jaccard loss
        of predicting everything wrong (1 when the row has a foreground position).

    Example:
        >>> import torch
        >>> from focalkit.functional import lovasz_grad
        >>> lovasz_grad(torch.tensor([[True, False, True, False]]))
        tensor([[0.5000, 0.1667, 0.3333, 0.0000]])
    """
    rows, length = fg_sorted.shape
    count_dtype = _count_dtype(length, dtype)
    if valid_sorted is None:
        seen = torch.arange(1, length + 1, dtype=count_dtype, device=fg_sorted.device)
    else:
        seen = valid_sorted.cumsum(1, dtype=count_dtype)
    return _lovasz_weights(fg_sorted, seen, dtype)[0]


def _count_dtype(length: int, dtype: torch.dtype) -> torch.dtype:
    """A dtype in which counts up to ``length`` are exact."""
    return dtype if length < 2 ** 24 or dtype == torch.float64 else torch.float64


def _lovasz_weights(fg_sorted: Tensor, seen: Tensor, dtype: torch.dtype,
                    scratch: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """:func:`lovasz_grad` given ``seen``, the running count of valid positions (1-D when
    every position is valid), in a dtype from :func:`_count_dtype`; also returns the number
    of foreground positions of every row, shape ``(R, 1)``. ``scratch``, a free flat buffer
    of at least ``2 * R * L`` elements of ``seen.dtype``, spares two fresh allocations."""
    rows, length = fg_sorted.shape
    if length == 0:
        return (torch.zeros((rows, 0), dtype=dtype, device=fg_sorted.device),
                torch.zeros((rows, 1), dtype=seen.dtype, device=fg_sorted.device))
    size = rows * length
    if scratch is not None and scratch.dtype == seen.dtype and scratch.numel() >= 2 * size:
        union, weights = scratch[:size].view(rows, length), scratch[size:2 * size].view(rows,
                                                                                      length)
    else:
        union = torch.empty((rows, length), dtype=seen.dtype, device=fg_sorted.device)
        weights = torch.empty_like(union)
    if seen.dim() == 1:
        # union_k = G + (number of background positions among the first k)
        torch.cumsum(torch.logical_not(fg_sorted), 1, dtype=seen.dtype, out=union)
        total = length - union[:, -1:]
        union.add_(total)
    else:
        torch.cumsum(fg_sorted, 1, dtype=seen.dtype, out=union)
        total = union[:, -1:].clone()
        torch.sub(seen, union, out=union).add_(total)
        union.clamp_min_(1.0)  # 0 only before the first valid position, where seen is 0 too
    jac = torch.div(seen, union, out=union)
    weights[:, :1] = jac[:, :1]
    torch.sub(jac[:, 1:], jac[:, :-1], out=weights[:, 1:])
    return weights.to(dtype), total


def _small_labels(labels: Tensor, num_classes: int) -> Tensor:
    """Class labels in the narrowest integer dtype that holds ``num_classes`` (the marker)."""
    if num_classes < 255:
        return labels.to(torch.uint8)
    if num_classes < 2 ** 15 - 1:
        return labels.to(torch.int16)
    return labels.to(torch.int32)


def _row_weights(present: Tensor, per_image: bool) -> Tensor:
    """Weight of each (image, class) row so that the loss is a mean of means (0 if empty)."""
    count = present.sum(dim=-1, keepdim=True).clamp_min(1)
    weights = present / count
    if per_image:
        weights = weights / max(present.shape[0], 1)
    return weights


def _saved_grad_backward(ctx, grad_output: Tensor, plain) -> Tensor:
    """Input gradient of a Function whose forward saved ``(x, target, grad)`` and ``options``.

    The saved gradient times ``grad_output``; for higher-order gradients, the gradient of the
    plain composition ``plain(x, target, *ctx.options)`` instead.
    """
    x, target, grad = ctx.saved_tensors
    if torch.is_grad_enabled():
        with torch.enable_grad():
            loss = plain(x, target, *ctx.options)
        (dx,) = torch.autograd.grad(loss, x, grad_output, create_graph=True)
        return dx
    return grad * grad_output.to(grad.dtype)


# ---------------------------------------------------------------------------------------------
# Lovasz-Softmax
# ---------------------------------------------------------------------------------------------


def _sort_descending(rows: Tensor) -> tuple[Tensor, Tensor | None]:
    """Flat indices into ``rows`` that sort each row in decreasing order, and a buffer of
    ``2 * rows.numel()`` float32 values that the sort no longer needs (or None).

    float32 rows of errors (non-negative, with -1 marking ignored positions) are sorted as one
    flat int64 array with key ``row * 2**32 + (2**31 - 1 - bits)``: the bit pattern of a
    non-negative float orders like the float, and one parallel radix sort of the whole batch,
    in place, is faster than a comparison sort per row. Other dtypes take a batched row sort.
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
        return perm, keys.view(torch.float32)
    perm = torch.sort(rows, dim=1, descending=True)[1]
    starts = torch.arange(0, num_rows * length, length, device=rows.device).unsqueeze(1)
    return perm.add_(starts).view(-1), None


def _prepare_softmax(input: Tensor, target: Tensor, ignore_index: int | None,
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
    labels = _small_labels(t, c)
    fg = labels.unsqueeze(1) == torch.arange(c, device=input.device,
                                             dtype=labels.dtype).view(1, c, 1)
    return p, fg, valid, labels


def _class_weights(counts: Tensor, classes: object, per_image: bool, num_classes: int,
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
    return _row_weights(present.to(dtype), per_image).reshape(-1, 1)


def _scratch_like(scratch: Tensor | None, like: Tensor) -> Tensor | None:
    """A view of the free buffer ``scratch`` shaped like ``like``, or None if it is too small."""
    if scratch is None or scratch.dtype != like.dtype or scratch.numel() < like.numel():
        return None
    return scratch[:like.numel()].view(like.shape)


def _as_rows(tensor: Tensor, per_image: bool) -> Tensor:
    """``(N, C, M)`` to one row per (image, class) or per class (a copy only for the latter)."""
    n, c, m = tensor.shape
    if per_image:
        return tensor.reshape(n * c, m)
    return tensor.transpose(0, 1).reshape(c, n * m)


class _LovaszSoftmaxFunction(torch.autograd.Function):
    """One batched sort; the input gradient is formed in the forward pass and saved alone.

    The errors are written straight into the row layout, sorted once, and the foreground mask
    is gathered with the same permutation. With ``w`` the row weights times the Lovasz
    weights, the gradient with respect to the probabilities is ``w`` scattered back to the
    unsorted positions, negated on the foreground; the softmax Jacobian is applied in place.
    """

    @staticmethod
    def forward(ctx, x, target, ignore_index, from_logits, per_image, classes):
        p, fg, valid, labels = _prepare_softmax(x, target, ignore_index, from_logits)
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
        fg_sorted = _as_rows(fg, per_image).reshape(-1).gather(0, perm).view(rows.shape)
        count_dtype = _count_dtype(rows.shape[1], dtype)
        seen = torch.arange(1, rows.shape[1] + 1, dtype=count_dtype, device=x.device)
        if valid is not None:
            # Ignored positions sort last: the running count stops at the row's valid count.
            valid_counts = valid.sum(dim=1, keepdim=True)
            if per_image:
                valid_counts = valid_counts.repeat_interleave(c, dim=0)
            else:
                valid_counts = valid_counts.sum().reshape(1, 1)
            seen = torch.minimum(seen, valid_counts.to(count_dtype))
        weights, counts = _lovasz_weights(fg_sorted, seen, dtype, scratch)
        weights.mul_(_class_weights(counts, classes, per_image, c, dtype))
        del fg_sorted
        grad = None
        if not ctx.needs_input_grad[0]:
            values = rows.view(-1).gather(0, perm).view(rows.shape)
            loss = torch.bmm(values.unsqueeze(1), weights.unsqueeze(2)).sum()
        else:
            # The weights go back to the unsorted positions, into the errors' buffer.
            flat = errors.view(-1).scatter_(0, perm, weights.view(-1))
            del perm, weights, layout, rows
            # d loss / d p is w on the background and -w on the foreground, and
            # loss = sum_j |p_j - fg_j| w_j = sum_j p_j (d loss / d p_j) + sum_fg w_j.
            # One class per position is foreground: a gather and a scatter handle it.
            w = flat.view(n, c, m) if per_image else flat.view(c, n, m).transpose(0, 1)
            index = labels.long().clamp_max_(c - 1).unsqueeze(1)
            w_t = w.gather(1, index)
            p_t = p.gather(1, index)
            loss = w_t.sum()
            p_w = torch.mul(p, w, out=_scratch_like(scratch, p))
            dot = p_w.sum(dim=1, keepdim=True)
            del p_w, scratch
            w_t.mul_(-2.0)
            dot.addcmul_(w_t, p_t)
            loss = loss + dot.sum()
            grad = torch.empty((n, c, m), dtype=dtype, device=x.device)
            if from_logits:
                torch.sub(w, dot, out=grad).mul_(p)
                grad.scatter_add_(1, index, w_t.mul_(p_t))
            else:
                grad.copy_(w).scatter_add_(1, index, w_t)
            grad = grad.to(x.dtype).view(x.shape)
        ctx.options = (ignore_index, from_logits, per_image, classes)
        ctx.save_for_backward(x, target, grad)
        return loss.to(x.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        dx = _saved_grad_backward(ctx, grad_output, _lovasz_softmax_plain)
        return dx, None, None, None, None, None


def _lovasz_softmax_plain(input, target, ignore_index, from_logits, per_image, classes):
    """The same loss as a composition of differentiable operations (autograd's gradient)."""
    p, fg, valid, _ = _prepare_softmax(input, target, ignore_index, from_logits)
    errors = torch.where(fg, 1.0 - p, p)
    if valid is not None:
        errors = errors.masked_fill(~valid.unsqueeze(1), -1.0)
    values, perm = torch.sort(_as_rows(errors, per_image), dim=1, descending=True)
    fg_sorted = _as_rows(fg, per_image).gather(1, perm)
    valid_sorted = None if valid is None else values.detach() >= 0
    weights = lovasz_grad(fg_sorted, valid_sorted, dtype=p.dtype)
    counts = fg.sum(dim=2) if per_image else fg.sum(dim=(0, 2))
    row_weights = _class_weights(counts, classes, per_image, fg.shape[1], p.dtype)
    return ((values * weights).sum(dim=1, keepdim=True) * row_weights).sum().to(input.dtype)


def _check_lovasz_classes(classes: object, num_classes: int) -> str | list[int]:
    if isinstance(classes, str):
        return check_choice("classes", classes, ("present", "all"))
    return check_classes(classes, num_classes)


def lovasz_softmax_loss(input: Tensor, target: Tensor, *, classes: ClassesLike = "present",
                        per_image: bool = False, ignore_index: int | None = None,
                        from_logits: bool = True) -> Tensor:
    r"""Lovasz-Softmax loss (Berman et al., 2018): a convex surrogate of the mean IoU.

    For each class :math:`c`, the errors :math:`e_i = |[t_i = c] - p_{ic}|` of the softmax
    probabilities are sorted in decreasing order and weighted by the increments of the
    Jaccard loss along that order (see :func:`lovasz_grad`):

    .. math::
        \ell_c = \sum_k e_{\pi_k}\,\left(J_k - J_{k-1}\right), \qquad
        \ell = \frac{1}{|K|} \sum_{c \in K} \ell_c,

    with :math:`K` the classes present in the target (``"present"``), all classes
    (``"all"``) or the given list. With ``per_image`` each image gets its own sorts and its
    own :math:`K`, and the loss is the mean over images. The result equals the authors'
    per-class, per-image algorithm, computed as one sort over every (image, class) row; the
    gradient is the closed form, evaluated in the forward pass.

    Args:
        input: logits of shape :math:`(N, C, *)` (probabilities with ``from_logits=False``).
        target: class indices of shape :math:`(N, *)`.
        classes: ``"present"`` | ``"all"`` | a sequence of distinct class indices. An image
            (or batch) without any valid position contributes 0. Default: ``"present"``.
        per_image: one loss per image, averaged over images. Default: False.
        ignore_index: target value of positions to leave out; they get exactly zero gradient,
            even where their logits are NaN or infinite. Default: None.
        from_logits: whether ``input`` holds logits (True) or probabilities. Default: True.

    Shape:
        - input: :math:`(N, C, *)`; target: :math:`(N, *)`; output: scalar.

    Returns:
        Tensor: the loss, in the dtype of ``input`` (half inputs are computed in float32).

    Raises:
        TypeError: if ``input`` is not floating point, ``target`` is not an integer tensor or
            ``from_logits`` is not a bool.
        ValueError: on a shape mismatch, fewer than 2 classes, class indices out of range,
            probabilities outside [0, 1], or bad ``classes``.

    References:
        M. Berman, A. Rannen Triki, M. B. Blaschko. The Lovasz-Softmax loss: A tractable
        surrogate for the optimization of the intersection-over-union measure in neural
        networks. CVPR 2018. https://arxiv.org/abs/1705.08790

    Example:
        The loss of a hard prediction is its Jaccard loss, averaged over present classes:

        >>> import torch
        >>> from focalkit.functional import lovasz_softmax_loss
        >>> t = torch.tensor([[0, 0, 1, 1]])
        >>> p = torch.tensor([[[1.0, 1.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]]])
        >>> lovasz_softmax_loss(p, t, from_logits=False)  # IoU 2/3 and 1/2
        tensor(0.4167)
    """
    check_float_tensor("input", input)
    if input.dim() < 2 or input.shape[1] < 2:
        raise ValueError(f"input must have shape (N, C, *) with C >= 2 classes; got shape "
                         f"{tuple(input.shape)}")
    if not isinstance(target, Tensor):
        raise TypeError(f"target must be a torch.Tensor; got {type(target).__name__}")
    if target.is_floating_point() or target.is_complex() or target.dtype == torch.bool:
        raise TypeError(f"target must hold integer class indices; got dtype {target.dtype}")
    expected = (input.shape[0], *input.shape[2:])
    if tuple(target.shape) != expected:
        raise ValueError(f"target of class indices must have shape (N, *) = {expected} for "
                         f"input {tuple(input.shape)}; got {tuple(target.shape)}")
    ignore_index = check_ignore_index(ignore_index)
    c = input.shape[1]
    classes = _check_lovasz_classes(classes, c)
    check_class_indices(target, c, ignore_index)
    if not check_bool("from_logits", from_logits):
        check_unit_interval("input (probabilities, from_logits=False)", input)
    per_image = bool(per_image)
    if is_compiling():
        return _lovasz_softmax_plain(input, target, ignore_index, from_logits, per_image,
                                     classes)
    return _LovaszSoftmaxFunction.apply(input, target, ignore_index, from_logits, per_image,
                                        classes)


# ---------------------------------------------------------------------------------------------
# Lovasz hinge
# ---------------------------------------------------------------------------------------------


def _hinge_rows(input: Tensor, target: Tensor, ignore_index: int | None, per_image: bool):
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
    weights = lovasz_grad(fg_sorted, valid_sorted, dtype=dtype)
    return sign, values, perm, weights, 1.0 / max(rows, 1)


class _LovaszHingeFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, target, ignore_index, per_image):
        sign, values, perm, weights, scale = _hinge_rows(x, target, ignore_index, per_image)
        loss = (torch.relu(values) * weights).sum() * scale
        grad = None
        if ctx.needs_input_grad[0]:
            weights = weights.masked_fill_(values <= 0, 0.0).mul_(-scale)
            grad = torch.empty_like(weights).scatter_(1, perm, weights).mul_(sign)
            grad = grad.to(x.dtype).reshape(x.shape)
        ctx.options = (ignore_index, per_image)
        ctx.save_for_backward(x, target, grad)
        return loss.to(x.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        return _saved_grad_backward(ctx, grad_output, _lovasz_hinge_plain), None, None, None


def _lovasz_hinge_plain(input, target, ignore_index, per_image):
    _, values, _, weights, scale = _hinge_rows(input, target, ignore_index, per_image)
    return ((torch.relu(values) * weights).sum() * scale).to(input.dtype)


def lovasz_hinge_loss(input: Tensor, target: Tensor, *, per_image: bool = True,
                      ignore_index: int | None = None) -> Tensor:
    r"""Lovasz hinge loss (Berman et al., 2018): a convex surrogate of the binary IoU.

    With hinge errors :math:`e_i = 1 - x_i s_i` of the logits, :math:`s_i = 2 y_i - 1`,
    sorted in decreasing order:

    .. math::
        \ell = \sum_k \max(e_{\pi_k}, 0)\,\left(J_k - J_{k-1}\right)

    (see :func:`lovasz_grad`), per image and averaged over images with ``per_image``
    (the default, as in the paper), or over the whole batch. An image without valid positions
    contributes 0.

    Args:
        input: logits of shape :math:`(N, *)` (e.g. :math:`(N, H, W)` or :math:`(N, 1, H, W)`).
        target: the shape of ``input``, values 0 or 1 (integer, bool or float), or
            ``ignore_index``.
        per_image: one loss per image, averaged. Default: True.
        ignore_index: target value of positions to leave out; they get exactly zero gradient,
            even where their logits are NaN or infinite. Default: None.

    Shape:
        - input: :math:`(N, *)`; target: same; output: scalar.

    Returns:
        Tensor: the loss, in the dtype of ``input`` (half inputs are computed in float32).

    Raises:
        TypeError: if ``input`` is not floating point or ``target`` is not a tensor.
        ValueError: on a shape mismatch or target values other than 0, 1 and
            ``ignore_index``.

    References:
        M. Berman, A. Rannen Triki, M. B. Blaschko. The Lovasz-Softmax loss: A tractable
        surrogate for the optimization of the intersection-over-union measure in neural
        networks. CVPR 2018. https://arxiv.org/abs/1705.08790

    Example:
        Logits beyond the margin on the right side cost nothing:

        >>> import torch
        >>> from focalkit.functional import lovasz_hinge_loss
        >>> y = torch.tensor([[1, 0, 1, 0]])
        >>> lovasz_hinge_loss(torch.tensor([[2.0, -3.0, 1.5, -1.0]]), y)
        tensor(0.)
        >>> lovasz_hinge_loss(torch.tensor([[2.0, -3.0, 1.5, 0.0]]), y) > 0
        tensor(True)
    """
    check_float_tensor("input", input)
    if input.dim() < 1:
        raise ValueError(f"input must have shape (N, *); got shape {tuple(input.shape)}")
    if not isinstance(target, Tensor):
        raise TypeError(f"target must be a torch.Tensor; got {type(target).__name__}")
    if target.is_complex():
        raise TypeError(f"target must hold 0/1 labels; got dtype {target.dtype}")
    check_same_shape(input, target)
    ignore_index = check_ignore_index(ignore_index)
    check_binary_values("target", target, ignore_index)
    per_image = bool(per_image)
    if is_compiling():
        return _lovasz_hinge_plain(input, target, ignore_index, per_image)
    return _LovaszHingeFunction.apply(input, target, ignore_index, per_image)
