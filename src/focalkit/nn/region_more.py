"""Module forms of the generalized Dice and unified focal losses."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from .. import functional as FK
from .._checks import (
    INTERSECTIONS,
    REGION_MODES,
    check_bool,
    check_choice,
    check_ignore_index,
    check_real,
)
from ..functional.generalized_dice import WEIGHTINGS
from ..functional.unified import UNIFIED_MODES
from ._base import GammaMixin, LossModule
from ._registry import register

__all__ = ["GeneralizedDiceLoss", "UnifiedFocalLoss"]


@register("generalized_dice", "mode")
class GeneralizedDiceLoss(LossModule):
    r"""Module form of :func:`focalkit.functional.generalized_dice_loss`.

    .. math::
        \ell = 1 - \frac{2 \sum_c w_c\,TP_c + s}{\sum_c w_c\,(2\,TP_c + FP_c + FN_c) + s},
        \qquad w_c = V_c^{-2}

    Args:
        mode: ``"multiclass"`` | ``"binary"`` | ``"multilabel"``. Default: ``"multiclass"``.
        weighting: ``"square"`` | ``"simple"`` | ``"uniform"``. Default: ``"square"``.
        from_logits: whether inputs are logits. Default: True.
        smooth: :math:`s \ge 0`. Default: 0.0.
        classes: class indices to pool, or None for all. Default: None.
        ignore_index: target value to skip. Default: None.
        per_image: one ratio per image. Default: False.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"`` over images. Default: ``"mean"``.
        sync_dist: all-reduce the statistics over ``torch.distributed`` processes.
            Default: False.
        intersection: ``"product"`` | ``"min"`` (soft-label form). Default: ``"product"``.

    Shape:
        - input: :math:`(N, C, *)`; target: :math:`(N, *)` indices or :math:`(N, C, *)`;
          output: scalar, or :math:`(N,)` with ``per_image`` and ``reduction="none"``.

    Raises:
        TypeError, ValueError: as :func:`focalkit.functional.generalized_dice_loss`.

    Example:
        >>> import torch
        >>> from focalkit import GeneralizedDiceLoss
        >>> from focalkit.functional import generalized_dice_loss
        >>> x, t = torch.randn(2, 3, 4, 4), torch.randint(0, 3, (2, 4, 4))
        >>> torch.equal(GeneralizedDiceLoss(weighting="simple")(x, t),
        ...             generalized_dice_loss(x, t, weighting="simple"))
        True
    """

    _mean_over = "batch"

    _repr_fields = ("mode", "weighting", "from_logits", "smooth", "classes", "ignore_index",
                    "per_image", "reduction")

    def __init__(self, mode: str = "multiclass", *, weighting: str = "square",
                 from_logits: bool = True, smooth: float = 0.0,
                 classes: Sequence[int] | None = None, ignore_index: int | None = None,
                 per_image: bool = False, reduction: str = "mean", sync_dist: bool = False,
                 intersection: str = "product") -> None:
        super().__init__(reduction=reduction)
        self.mode = check_choice("mode", mode, REGION_MODES)
        self.weighting = check_choice("weighting", weighting, WEIGHTINGS)
        self.from_logits = check_bool("from_logits", from_logits)
        self.smooth = check_real("smooth", smooth, low=0.0)
        self.classes = classes
        self.ignore_index = check_ignore_index(ignore_index)
        self.per_image = check_bool("per_image", per_image)
        self.sync_dist = check_bool("sync_dist", sync_dist)
        self.intersection = check_choice("intersection", intersection, INTERSECTIONS)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return FK.generalized_dice_loss(
            input, target, weighting=self.weighting, mode=self.mode,
            from_logits=self.from_logits, smooth=self.smooth, classes=self.classes,
            ignore_index=self.ignore_index, per_image=self.per_image,
            reduction=self.reduction, sync_dist=self.sync_dist, intersection=self.intersection)


@register("unified_focal", "multiclass")
class UnifiedFocalLoss(GammaMixin, LossModule):
    r"""Module form of :func:`focalkit.functional.unified_focal_loss` (asymmetric form).

    .. math::
        \ell_c = \lambda\,F_c + (1 - \lambda)\,T_c

    with :math:`F_c` the asymmetric focal and :math:`T_c` the asymmetric focal Tversky term.

    Args:
        mode: ``"multiclass"`` | ``"binary"``. Default: ``"multiclass"``.
        weight: :math:`\lambda \in [0, 1]`. Default: 0.5.
        delta: :math:`\delta \in [0, 1]`. Default: 0.6.
        gamma: :math:`\gamma \in [0, 1]`; settable later (e.g. by
            :class:`focalkit.GammaScheduler`). Default: 0.5.
        background: background class index, several, or None. Default: 0.
        from_logits: whether inputs are logits. Default: True.
        smooth: added to the Tversky numerator and denominator. Default: 0.0.
        eps: lower bound of the Tversky denominator. Default: 1e-7.
        ignore_index: target value to skip. Default: None.
        per_image: statistics per image. Default: False.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"`` over classes (and images).
            Default: ``"mean"``.

    Shape:
        - input: :math:`(N, C, *)` (or :math:`(N, 1, *)` / :math:`(N, *)` in binary mode);
          output: scalar, or :math:`(C,)` / :math:`(N, C)` with ``reduction="none"``.

    Raises:
        TypeError, ValueError: as :func:`focalkit.functional.unified_focal_loss`.

    Example:
        >>> import torch
        >>> from focalkit import UnifiedFocalLoss
        >>> from focalkit.functional import unified_focal_loss
        >>> x, y = torch.randn(2, 1, 4, 4), torch.randint(0, 2, (2, 1, 4, 4))
        >>> torch.equal(UnifiedFocalLoss("binary", delta=0.7)(x, y),
        ...             unified_focal_loss(x, y, mode="binary", delta=0.7))
        True
    """

    _mean_over = "batch"

    _repr_fields = ("mode", "weight", "delta", "gamma", "background", "from_logits",
                    "ignore_index", "per_image", "reduction")

    def __init__(self, mode: str = "multiclass", *, weight: float = 0.5, delta: float = 0.6,
                 gamma: float = 0.5, background: int | Sequence[int] | None = 0,
                 from_logits: bool = True, smooth: float = 0.0, eps: float = 1e-7,
                 ignore_index: int | None = None, per_image: bool = False,
                 reduction: str = "mean") -> None:
        super().__init__(reduction=reduction)
        self.mode = check_choice("mode", mode, UNIFIED_MODES)
        self.weight = check_real("weight", weight, low=0.0, high=1.0)
        self.delta = check_real("delta", delta, low=0.0, high=1.0)
        self.gamma = check_real("gamma", gamma, low=0.0, high=1.0)
        self.background = background
        self.from_logits = check_bool("from_logits", from_logits)
        self.smooth = check_real("smooth", smooth, low=0.0)
        self.eps = check_real("eps", eps, low=0.0, low_open=True)
        self.ignore_index = check_ignore_index(ignore_index)
        self.per_image = check_bool("per_image", per_image)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return FK.unified_focal_loss(
            input, target, mode=self.mode, from_logits=self.from_logits, weight=self.weight,
            delta=self.delta, gamma=self.gamma, background=self.background,
            smooth=self.smooth, eps=self.eps, ignore_index=self.ignore_index,
            per_image=self.per_image, reduction=self.reduction)
