"""The region losses' statistics and ratios as differentiable PyTorch operations.

Dice, Jaccard, Tversky, generalized Dice and the unified focal loss are ratios of the same
per-class statistics :math:`(TP, FP, FN)`; :func:`region_stats` is their plain kernel (the
blocked and Triton backends compute the same sums with closed-form gradients), and the ratios
below turn them into losses. Each formula is written once.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from ..._tensor import compute_dtype, ignore_mask, mask_ignored, reduce
from ..._tracing import known_to_be
from .. import plain_form
from .focal import pow_gamma


class RegionStatsOptions(NamedTuple):
    """Options of the per-image, per-class (TP, FP, FN) of the region losses."""

    mode: str
    from_logits: bool
    ignore_index: int | None
    intersection: str
    is_index: bool


class RegionOptions(NamedTuple):
    """The checked options shared by Dice, Jaccard, Tversky, generalized Dice and unified
    focal (each loss adds its own weights)."""

    mode: str
    from_logits: bool
    smooth: float
    eps: float
    classes: list[int] | None
    ignore_index: int | None
    per_image: bool
    log_loss: bool
    reduction: str
    sync_dist: bool
    intersection: str
    is_index: bool
    num_classes: int

    def stats_options(self) -> RegionStatsOptions:
        """The options of the per-class statistics of these options."""
        return RegionStatsOptions(self.mode, self.from_logits, self.ignore_index,
                                  self.intersection, self.is_index)

#: The weightings of the generalized Dice loss.
WEIGHTINGS = ("square", "simple", "uniform")


def index_sums(x: Tensor, t: Tensor, valid: Tensor | None,
                from_logits: bool) -> tuple[Tensor, Tensor, Tensor]:
    """(TP, sum of p, count) per image and class, as differentiable operations.

    Ignored positions are masked before the softmax, so that NaN or infinite logits there
    cannot reach the sums or the gradient.
    """
    n, c = x.shape[0], x.shape[1]
    if valid is not None:
        x = torch.where(valid.unsqueeze(1), x, 0.0)
    x = x.to(compute_dtype(x))
    p = torch.softmax(x, dim=1) if from_logits else x
    p_t = p.gather(1, t.unsqueeze(1)).squeeze(1)
    if valid is None:
        p_sum = p.sum(dim=2)
        weight = torch.ones_like(p_t)
    else:
        weight = valid.to(x.dtype)
        p_sum = torch.bmm(p, weight.unsqueeze(2)).squeeze(2)
        p_t = p_t * weight
    zeros = torch.zeros((n, c), dtype=x.dtype, device=x.device)
    return zeros.scatter_add(1, t, p_t), p_sum, zeros.scatter_add(1, t, weight)


def dense_sums(x: Tensor, q: Tensor, valid: Tensor | None,
               activation: str) -> tuple[Tensor, Tensor, Tensor]:
    """(TP, sum of p, sum of q) per image and class for a target ``q`` of the input's shape
    ``(N, C, M)``, with the product intersection; ``activation`` is ``"softmax"`` over ``C``,
    ``"sigmoid"`` or ``"none"`` (probabilities). Entries left out by ``valid`` are replaced
    by zeros before any arithmetic."""
    dtype = compute_dtype(x)
    if valid is not None:
        x, q = torch.where(valid, x, 0.0), torch.where(valid, q, 0)
    x, q = x.to(dtype), q.to(dtype)
    if activation == "softmax":
        p = torch.softmax(x, dim=1)
    elif activation == "sigmoid":
        p = torch.sigmoid(x)
    else:
        p = x
    if valid is not None:
        p = torch.where(valid, p, 0.0)
    return (p * q).sum(dim=2), p.sum(dim=2), q.sum(dim=2)


def activation(options: RegionStatsOptions) -> str:
    """How a region loss turns its input into probabilities."""
    if not options.from_logits:
        return "none"
    return "softmax" if options.mode == "multiclass" else "sigmoid"


def as_stats(tp: Tensor, p_sum: Tensor, q_sum: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(TP, FP, FN) from TP and the sums of the prediction and the target."""
    return tp, (p_sum - tp).clamp_min(0.0), (q_sum - tp).clamp_min(0.0)


def flat_index(input: Tensor, target: Tensor,
               ignore_index: int | None) -> tuple[Tensor, Tensor, Tensor | None]:
    """Logits ``(N, C, M)``, int64 labels ``(N, M)`` (ignored ones replaced by class 0) and the
    mask of the kept positions, for class-index targets."""
    n, c = input.shape[0], input.shape[1]
    m = math.prod(input.shape[2:])
    valid, t = ignore_mask(target.reshape(n, m), ignore_index)
    return input.reshape(n, c, m), t.long(), valid


def flat_dense(input: Tensor, target: Tensor, mode: str) -> tuple[Tensor, Tensor]:
    """Input and target ``(N, C, M)`` for targets of the input's shape (C = 1 in binary mode)."""
    n = input.shape[0]
    c = 1 if mode == "binary" else input.shape[1]
    m = input.numel() // max(n * c, 1)
    return input.reshape(n, c, m), target.reshape(n, c, m)


@plain_form
def region_stats(input: Tensor, target: Tensor,
                 options: RegionStatsOptions) -> tuple[Tensor, Tensor, Tensor]:
    """Per-image, per-class (TP, FP, FN); see :func:`focalkit.functional.region_stats`."""
    if options.is_index:
        x, t, valid = flat_index(input, target, options.ignore_index)
        return as_stats(*index_sums(x, t, valid, options.from_logits))
    x, y = flat_dense(input, target, options.mode)
    if options.intersection == "product":
        valid = None if options.ignore_index is None else y != options.ignore_index
        return as_stats(*dense_sums(x, y, valid, activation(options)))
    valid, x, y = mask_ignored(x, y, options.ignore_index)
    x, q = x.to(compute_dtype(x)), y.to(compute_dtype(x))
    kind = activation(options)
    p = torch.softmax(x, dim=1) if kind == "softmax" else torch.sigmoid(x) if kind == "sigmoid" \
        else x
    if valid is not None:
        p = torch.where(valid, p, 0.0)
    return (torch.minimum(p, q).sum(dim=2), torch.relu(p - q).sum(dim=2),
            torch.relu(q - p).sum(dim=2))


def overlap_loss(tp: Tensor, fp: Tensor, fn: Tensor, *, tp_weight: float, alpha: float,
                 beta: float, gamma: float, smooth: float, eps: float,
                 log_loss: bool) -> Tensor:
    r"""Per-class loss of the ratio :math:`(w\,TP + s) / (w\,TP + \alpha FP + \beta FN + s)`:
    :math:`(1 - r)^\gamma`, or :math:`(-\log r)^\gamma` with ``log_loss``.

    Dice is :math:`w = 2, \alpha = \beta = 1`, Jaccard :math:`w = \alpha = \beta = 1`,
    Tversky :math:`w = 1`. A class absent from both target and prediction is a perfect match
    (never 0 / 0).
    """
    numerator = tp_weight * tp + smooth
    denominator = ((tp_weight * tp + alpha * fp) + beta * fn) + smooth
    score = numerator / denominator.clamp_min(eps)
    score = torch.where((tp + fp) + fn == 0, 1.0, score)
    loss = -torch.log(score.clamp_min(eps)) if log_loss else 1.0 - score
    if known_to_be(gamma, 0.0):
        return loss.pow(0.0)  # the constant 1, still attached to the graph (zero gradient)
    if known_to_be(gamma, 1.0):
        return loss
    return pow_gamma(loss, gamma)


def generalized_dice_weights(volume: Tensor, weighting: str) -> Tensor:
    """Per-class weights of the generalized Dice loss from the target volumes: ``1 / V**2``
    (``"square"``), ``1 / V`` (``"simple"``) or 1; a class absent from the target takes the
    largest weight of the present ones (1 when none is present)."""
    if weighting == "uniform":
        return torch.ones_like(volume)
    present = volume > 0
    safe = torch.where(present, volume, 1.0)
    weight = 1.0 / (safe * safe if weighting == "square" else safe)
    weight = torch.where(present, weight, 0.0)
    largest = weight.amax(dim=-1, keepdim=True)
    weight = torch.where(present, weight, largest)
    return torch.where(largest > 0, weight, 1.0)


def generalized_dice(tp: Tensor, fp: Tensor, fn: Tensor, *, weighting: str,
                     smooth: float) -> Tensor:
    """The generalized Dice loss from the statistics (one value per image, or one)."""
    weight = generalized_dice_weights((tp + fn).detach(), weighting)
    numerator = 2.0 * (weight * tp).sum(dim=-1) + smooth
    denominator = (weight * ((2.0 * tp + fp) + fn)).sum(dim=-1) + smooth
    # Nothing in the target nor predicted: a perfect score. Tested as "== 0", not "> 0", so
    # that a NaN statistic (a NaN input) stays NaN instead of reading as an empty image.
    empty = denominator == 0
    return 1.0 - torch.where(empty, 1.0, numerator / torch.where(empty, 1.0, denominator))


def unified_focal(x: Tensor, target: Tensor, tp: Tensor, fp: Tensor, fn: Tensor, *,
                  is_index: bool, ignore_index: int | None, from_logits: bool, weight: float,
                  delta: float, gamma: float, background: list[int], smooth: float,
                  eps: float, per_image: bool, reduction: str) -> Tensor:
    """The unified focal loss of Yeung et al. from logits (or probabilities) ``x`` of shape
    ``(N, C, M)``, its target and its Tversky statistics: the weighted mean of the asymmetric
    focal Tversky term (per class) and the asymmetric focal term (per class, the mean over
    the kept positions); see :func:`focalkit.functional.unified_focal_loss`."""
    n, num_classes, m = x.shape
    denominator = ((tp + delta * fn) + (1.0 - delta) * fp) + smooth
    index = ((tp + smooth) / denominator.clamp_min(eps))
    index = torch.where((tp + fp) + fn == 0, 1.0, index)
    base = (1.0 - index).clamp_min(0.0)
    is_background = torch.zeros(num_classes, dtype=torch.bool, device=x.device)
    is_background[background] = True
    tversky = torch.where(is_background, base, pow_gamma(base, 1.0 - gamma))

    # Focal term: per-position cross-entropy with the asymmetric factor, summed per class.
    dtype = compute_dtype(x)
    if is_index:
        valid, t = ignore_mask(target, ignore_index)
        t = t.long()
    else:
        valid, q = ignore_mask(target, ignore_index)
        valid = None if valid is None else valid[:, 0]
        q = q.to(dtype)
    xs = x.to(dtype)
    if valid is not None:
        xs = torch.where(valid.unsqueeze(1), xs, 0.0 if from_logits else 1.0)
    if from_logits:
        log_p = torch.log_softmax(xs, dim=1)
    else:
        positive = xs > 0
        log_p = torch.where(positive, torch.log(torch.where(positive, xs, 1.0)), -100.0)
        log_p = log_p.clamp_min(-100.0)
    if is_index:
        log_p = log_p.gather(1, t.unsqueeze(1)).squeeze(1)
        fore = (~is_background)[t]
        q = None
    else:
        fore = (~is_background).reshape(1, -1, 1)
    one_minus_p = -torch.expm1(log_p) if from_logits else 1.0 - log_p.exp()
    factor = torch.where(fore, delta, (1.0 - delta) * pow_gamma(one_minus_p.clamp_min(0.0),
                                                                 gamma))
    terms = -log_p * factor
    if valid is not None:
        keep = valid if is_index else valid.unsqueeze(1)
        terms = torch.where(keep, terms, 0.0)
    if is_index:
        zeros = torch.zeros((n, num_classes), dtype=dtype, device=x.device)
        sums = zeros.scatter_add(1, t, terms)
    else:
        sums = (terms * q).sum(dim=2)
    count = torch.full((n,), float(m), dtype=dtype, device=x.device) if valid is None \
        else valid.sum(dim=1).to(dtype)
    if not per_image:
        sums, count = sums.sum(dim=0), count.sum()
    focal = sums / count.clamp_min(1.0).unsqueeze(-1)
    loss = weight * focal + (1.0 - weight) * tversky
    return reduce(loss, reduction)
