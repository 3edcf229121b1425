"""The checked options of each kernel, one named tuple per loss.

A public loss validates its arguments, packs them into its options tuple and hands
``(input, target, options)`` to the implementation :mod:`focalkit._dispatch` chose; every
backend's kernel of that loss takes the same three arguments. Named tuples (not dataclasses)
so that ``torch.compile`` traces them without a graph break.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import Tensor


class FocalModulationOptions(NamedTuple):
    gamma: float
    alpha: float | Tensor | None


class SigmoidFocalOptions(NamedTuple):
    alpha: float | Tensor | None
    gamma: float
    pos_weight: Tensor | None
    weight: Tensor | None
    ignore_index: int | None
    reduction: str
    from_logits: bool
    epsilon: float


class SoftmaxFocalOptions(NamedTuple):
    alpha: Tensor | None
    gamma: float
    ignore_index: int | None
    label_smoothing: float
    is_index: bool
    reduction: str
    epsilon: float


class LinearSoftmaxFocalOptions(NamedTuple):
    """Options of the softmax focal loss over a linear layer: the layer's weight and bias
    are among them, and the kernels differentiate them with the input (``differentiated``)."""

    weight: Tensor
    bias: Tensor | None
    alpha: Tensor | None
    gamma: float
    ignore_index: int | None
    label_smoothing: float
    epsilon: float
    z_loss: float
    reduction: str
    chunk_size: int | None

    #: The fields a kernel differentiates besides the input (see ``_dispatch.decide``).
    differentiated = ("weight", "bias")


class AsymmetricOptions(NamedTuple):
    gamma_pos: float
    gamma_neg: float
    clip: float
    weight: Tensor | None
    ignore_index: int | None
    reduction: str


class QualityFocalOptions(NamedTuple):
    beta: float
    weight: Tensor | None
    ignore_index: int | None
    reduction: str


class VarifocalOptions(NamedTuple):
    alpha: float
    gamma: float
    iou_weighted: bool
    weight: Tensor | None
    ignore_index: int | None
    reduction: str


class DistributionFocalOptions(NamedTuple):
    weight: Tensor | None
    ignore_index: int | None
    reduction: str


class Poly1Options(NamedTuple):
    epsilon: float
    weight: Tensor | None
    ignore_index: int | None
    label_smoothing: float
    is_index: bool
    reduction: str


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


class RegionStatsOptions(NamedTuple):
    """Options of the per-image, per-class (TP, FP, FN) of the region losses."""

    mode: str
    from_logits: bool
    ignore_index: int | None
    intersection: str
    is_index: bool


class LovaszSoftmaxOptions(NamedTuple):
    ignore_index: int | None
    from_logits: bool
    per_image: bool
    classes: str | Sequence[int]


class LovaszHingeOptions(NamedTuple):
    ignore_index: int | None
    per_image: bool


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


class DistanceTransformOptions(NamedTuple):
    """Options of the Euclidean distance transform of a bool mask (no target)."""

    spacing: tuple[float, ...]
    dtype: torch.dtype


class HausdorffDTOptions(NamedTuple):
    alpha: float
    include_background: bool
    ignore_index: int | None
    reduction: str


class BoundaryOptions(NamedTuple):
    include_background: bool
    ignore_index: int | None
    reduction: str


class SoftclDiceOptions(NamedTuple):
    iterations: int
    smooth: float
    eps: float
    include_background: bool
    ignore_index: int | None
    reduction: str
