"""The Lovasz losses as differentiable PyTorch operations, and the sorted-row pieces the
blocked Functions share: the rows, their Lovasz weights and the per-row class weights."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import Tensor

from ..._tensor import compute_dtype, count_dtype, ignore_mask, mask_ignored
from .. import plain_form


class LovaszSoftmaxOptions(NamedTuple):
    ignore_index: int | None
    from_logits: bool
    per_image: bool
    classes: str | Sequence[int]


class LovaszHingeOptions(NamedTuple):
    ignore_index: int | None
    per_image: bool


def lovasz_weights(fg_sorted: Tensor, seen: Tensor, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """:func:`sorted_weights` given ``seen``, the running count of valid positions (1-D when
    every position is valid), in a dtype from :func:`count_dtype`; also returns the number
    of foreground positions of every row, shape ``(R, 1)``."""
    rows, length = fg_sorted.shape
    if length == 0:
        return (torch.zeros((rows, 0), dtype=dtype, device=fg_sorted.device),
                torch.zeros((rows, 1), dtype=seen.dtype, device=fg_sorted.device))
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


def softmax_probabilities(input: Tensor, target: Tensor, ignore_index: int | None,
                          from_logits: bool, fill: int) -> tuple[Tensor, Tensor | None, Tensor]:
    """Probabilities ``(N, C, M)``, validity ``(N, M)`` (None without ``ignore_index``) and
    class indices ``(N, M)``, ignored positions set to ``fill``."""
    n, c = input.shape[0], input.shape[1]
    m = math.prod(input.shape[2:])
    x = input.reshape(n, c, m)
    valid, t = ignore_mask(target.reshape(n, m), ignore_index, fill=fill)
    if valid is not None:
        x = torch.where(valid.unsqueeze(1), x, 0.0)
    x = x.to(compute_dtype(input))
    p = torch.softmax(x, dim=1) if from_logits else x
    return p, valid, t


def prepare_softmax(input: Tensor, target: Tensor, ignore_index: int | None,
                    from_logits: bool) -> tuple[Tensor, Tensor, Tensor | None, Tensor]:
    """Probabilities ``(N, C, M)``, foreground mask ``(N, C, M)``, validity ``(N, M)`` and
    labels ``(N, M)`` (ignored positions labelled ``C``)."""
    c = input.shape[1]
    p, valid, t = softmax_probabilities(input, target, ignore_index, from_logits, fill=c)
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


@plain_form
def lovasz_softmax_loss(input: Tensor, target: Tensor, options: LovaszSoftmaxOptions) -> Tensor:
    """Lovasz-Softmax loss; see :func:`focalkit.functional.lovasz_softmax_loss`."""
    ignore_index, from_logits, per_image, classes = options
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


@plain_form
def lovasz_hinge_loss(input: Tensor, target: Tensor, options: LovaszHingeOptions) -> Tensor:
    """Lovasz hinge loss; see :func:`focalkit.functional.lovasz_hinge_loss`."""
    ignore_index, per_image = options
    _, values, _, weights, scale = hinge_rows(input, target, ignore_index, per_image)
    return ((torch.relu(values) * weights).sum() * scale).to(input.dtype)
