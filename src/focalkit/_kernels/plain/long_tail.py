"""The long-tail losses (logit adjustment, LDAM) as differentiable PyTorch operations."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ..._tensor import compute_dtype, ignore_mask, reduce, weighted_mean
from ..._tracing import known_to_be
from .. import plain_form


class LogitAdjustedOptions(NamedTuple):
    prior: Tensor
    tau: float
    weight: Tensor | None
    ignore_index: int | None
    label_smoothing: float
    is_index: bool
    reduction: str


class LDAMOptions(NamedTuple):
    margins: Tensor
    scale: float
    weight: Tensor | None
    ignore_index: int | None
    reduction: str


def class_view(vector: Tensor, dims: int) -> Tensor:
    """A length-C vector shaped to broadcast along dimension 1 of a ``dims``-D input."""
    return vector.reshape((1, -1) + (1,) * (dims - 2))


def ldam_margins(counts: Tensor, max_margin: float) -> Tensor:
    r"""Margins :math:`\Delta_c \propto n_c^{-1/4}`, the largest equal to ``max_margin``."""
    inverse_root = counts.pow(-0.25)
    return max_margin * inverse_root / inverse_root.max()


def cross_entropy(logits: Tensor, target: Tensor, weight: Tensor | None,
                  ignore_index: int | None, reduction: str, label_smoothing: float,
                  is_index: bool, valid: Tensor | None) -> Tensor:
    """Cross-entropy of already shifted logits, with focalkit's empty-mean rule.

    The mean of class-index targets divides by the summed weights of the kept positions
    (torch's rule), and is 0 rather than NaN when nothing is kept. Label smoothing is
    composed here rather than passed to :func:`torch.nn.functional.cross_entropy`, whose
    float argument ``torch.compile`` would specialise (a recompile for every new value).
    """
    smoothing = not known_to_be(label_smoothing, 0.0)
    c = logits.shape[1]
    if not is_index:
        q = target.to(logits.dtype)
        if smoothing:
            q = q * (1.0 - label_smoothing) + label_smoothing / c
        return F.cross_entropy(logits, q, weight=weight, reduction=reduction)
    index = -100 if ignore_index is None else ignore_index
    loss = F.cross_entropy(logits, target, weight=weight, ignore_index=index,
                           reduction="none")
    if smoothing:
        cost = -torch.log_softmax(logits, dim=1)
        if weight is not None:
            cost = cost * class_view(weight, logits.dim())
        uniform = cost.sum(dim=1) / c
        if valid is not None:
            uniform = torch.where(valid, uniform, 0.0)
        loss = (1.0 - label_smoothing) * loss + label_smoothing * uniform
    if reduction != "mean":
        return reduce(loss, reduction)
    safe = target if valid is None else torch.where(valid, target, 0)
    per_position = torch.ones_like(loss) if weight is None else weight[safe]
    if valid is not None:
        per_position = torch.where(valid, per_position, 0.0)
    return weighted_mean(loss, reduction, per_position.sum())


@plain_form
def logit_adjusted_cross_entropy(input: Tensor, target: Tensor,
                                 options: LogitAdjustedOptions) -> Tensor:
    """Logit-adjusted cross-entropy; see
    :func:`focalkit.functional.logit_adjusted_cross_entropy`."""
    prior, tau, weight, ignore_index, label_smoothing, is_index, reduction = options
    dtype = compute_dtype(input)
    valid = None
    x = input.to(dtype)
    if is_index:
        valid, _ = ignore_mask(target, ignore_index)
        if valid is not None:
            x = torch.where(valid.unsqueeze(1), x, 0.0)
    prior = prior.to(dtype)
    shift = tau * torch.log(prior / prior.sum())
    logits = x + class_view(shift, x.dim())
    return cross_entropy(logits, target, weight, ignore_index, reduction, label_smoothing,
                         is_index, valid).to(input.dtype)


@plain_form
def ldam_loss(input: Tensor, target: Tensor, options: LDAMOptions) -> Tensor:
    """LDAM loss; see :func:`focalkit.functional.ldam_loss`."""
    margins, scale, weight, ignore_index, reduction = options
    dtype = compute_dtype(input)
    valid, t = ignore_mask(target, ignore_index)
    x = input.to(dtype)
    if valid is not None:
        x = torch.where(valid.unsqueeze(1), x, 0.0)
    index = t.unsqueeze(1)
    m_t = margins[index]
    logits = scale * x.scatter(1, index, x.gather(1, index) - m_t)
    return cross_entropy(logits, target, weight, ignore_index, reduction, 0.0, True,
                         valid).to(input.dtype)
