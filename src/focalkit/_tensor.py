"""Tensor helpers every loss shares: compute dtypes, ignore masks and reductions.

Numeric building blocks only (no argument checks, no dispatch): the kernels of every backend
and the functional layer import them from here.
"""

from __future__ import annotations

import torch
from torch import Tensor


def compute_dtype(tensor: Tensor | torch.dtype) -> torch.dtype:
    """float32 for half-precision inputs (or dtypes), otherwise the input's own dtype."""
    dtype = tensor if isinstance(tensor, torch.dtype) else tensor.dtype
    if dtype in (torch.float16, torch.bfloat16):
        return torch.float32
    return dtype


def count_dtype(length: int, dtype: torch.dtype) -> torch.dtype:
    """A dtype in which counts up to ``length`` are exact."""
    return dtype if length < 2 ** 24 or dtype == torch.float64 else torch.float64


def ignore_mask(target: Tensor, ignore_index: int | None,
                fill: int = 0) -> tuple[Tensor | None, Tensor]:
    """(mask of the kept entries or None, ``target`` with ignored entries set to ``fill``).

    Replacing the ignored entries before any arithmetic is what makes ``ignore_index`` exact:
    whatever they held, they then feed only finite stand-ins into the loss.
    """
    if ignore_index is None:
        return None, target
    valid = target != ignore_index
    return valid, torch.where(valid, target, fill)


def mask_ignored(input: Tensor, target: Tensor,
                 ignore_index: int | None) -> tuple[Tensor | None, Tensor, Tensor]:
    """:func:`ignore_mask` for element-wise losses: ignored inputs and targets both become 0."""
    valid, target = ignore_mask(target, ignore_index)
    if valid is not None:
        input = torch.where(valid, input, 0.0)
    return valid, input, target


def reduce(loss: Tensor, reduction: str, count: Tensor | int | None = None) -> Tensor:
    """Apply ``reduction``. ``count`` is the number of non-ignored elements for "mean".

    A mean over zero elements is 0 (still attached to the graph), never NaN.
    """
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "sum":
        return total
    if count is None:
        count = loss.numel()
    if isinstance(count, Tensor):
        return total / count.clamp_min(1).to(total.dtype)
    return total / max(count, 1)


def weighted_mean(loss: Tensor, reduction: str, denominator: Tensor) -> Tensor:
    """Reduce ``loss`` as :func:`torch.nn.functional.cross_entropy` does with a ``weight``:
    ``"mean"`` divides by ``denominator``, the sum of the weights of the kept positions.

    A zero denominator means zero weights everywhere, hence a zero total: the mean is 0.
    """
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "mean":
        denominator = denominator.to(device=total.device, dtype=total.dtype)
        total = total / torch.where(denominator > 0, denominator, 1.0)
    return total


def mask_and_reduce(loss: Tensor, valid: Tensor | None, weight: Tensor | None,
                    reduction: str) -> Tensor:
    """Apply an element ``weight`` and the ignore mask, then ``reduction`` over the kept
    elements (the element-wise losses' common tail)."""
    if weight is not None:
        loss = loss * weight
    count = None
    if valid is not None:
        loss = torch.where(valid, loss, 0.0)
        count = valid.sum()
    return reduce(loss, reduction, count)


def sum_of_blocks(sums: list[Tensor], count: Tensor, reduction: str, input: Tensor) -> Tensor:
    """The total of per-block float64 loss sums (divided by ``count`` for ``"mean"``), in the
    dtype of ``input``: a blocked kernel sums each block pairwise and adds the block sums in
    float64, so that float32 results stay within a few roundings of float64."""
    total = torch.stack(sums).sum() if sums else torch.zeros((), dtype=torch.float64,
                                                               device=input.device)
    if reduction == "mean":
        total = total / count.clamp_min(1).to(total.dtype)
    return total.to(input.dtype)
