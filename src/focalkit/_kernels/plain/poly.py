"""Poly-1 cross-entropy as differentiable PyTorch operations: its one statement."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from ..._tensor import compute_dtype, ignore_mask, weighted_mean
from ..._tracing import known_to_be
from .. import plain_form


class Poly1Options(NamedTuple):
    epsilon: float
    weight: Tensor | None
    ignore_index: int | None
    label_smoothing: float
    is_index: bool
    reduction: str


@plain_form
def poly1_cross_entropy(input: Tensor, target: Tensor, options: Poly1Options) -> Tensor:
    """Poly-1 cross-entropy; see :func:`focalkit.functional.poly1_cross_entropy`."""
    epsilon, weight, ignore_index, label_smoothing, is_index, reduction = options
    dtype = compute_dtype(input)
    x = input.to(dtype)
    c = x.shape[1]
    class_shape = (1, c) + (1,) * (x.dim() - 2)
    w_c = None if weight is None else weight.reshape(class_shape)
    if is_index:
        valid, t = ignore_mask(target, ignore_index)
        if valid is not None:
            x = torch.where(valid.unsqueeze(1), x, 0.0)
        log_p = torch.log_softmax(x, dim=1)
        log_pt = log_p.gather(1, t.unsqueeze(1)).squeeze(1)
        loss = -log_pt - epsilon * torch.expm1(log_pt)
        w_t = None if weight is None else weight[t]
        if w_t is not None:
            loss = loss * w_t
        if not known_to_be(label_smoothing, 0.0):
            cost = -log_p - epsilon * torch.expm1(log_p)
            if w_c is not None:
                cost = cost * w_c
            loss = (1.0 - label_smoothing) * loss + label_smoothing / c * cost.sum(dim=1)
        if valid is not None:
            loss = torch.where(valid, loss, 0.0)
        if w_t is None:
            denominator = valid.sum() if valid is not None else torch.tensor(loss.numel())
        else:
            denominator = (w_t if valid is None else torch.where(valid, w_t, 0.0)).sum()
    else:
        log_p = torch.log_softmax(x, dim=1)
        q = target.to(dtype)
        if not known_to_be(label_smoothing, 0.0):
            q = q * (1.0 - label_smoothing) + label_smoothing / c
        if w_c is not None:
            q = q * w_c
        loss = (q * (-log_p - epsilon * torch.expm1(log_p))).sum(dim=1)
        denominator = torch.tensor(loss.numel())
    return weighted_mean(loss, reduction, denominator).to(input.dtype)
