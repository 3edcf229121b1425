"""Module forms of the region losses: Dice, Jaccard (IoU) and Tversky."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from .. import functional as FK
from .._checks import (
    INTERSECTIONS,
    REGION_MODES,
    check_binary_ignore_index,
    check_bool,
    check_choice,
    check_classes,
    check_ignore_index,
    check_real,
)
from ._base import GammaMixin, LossModule
from ._registry import register

__all__ = ["DiceLoss", "JaccardLoss", "TverskyLoss"]


class _RegionLoss(LossModule):
    """Options shared by the region losses, validated once at construction.

    Its ``__init__`` is the constructor of :class:`DiceLoss` and :class:`JaccardLoss`.
    """

    _mean_over = "batch"

    _repr_fields = ("mode", "from_logits", "smooth", "classes", "ignore_index", "per_image",
                    "log_loss", "reduction")

    def __init__(self, mode: str = "multiclass", *, from_logits: bool = True,
                 smooth: float = 0.0, eps: float = 1e-7, classes: Sequence[int] | None = None,
                 ignore_index: int | None = None, per_image: bool = False,
                 log_loss: bool = False, reduction: str = "mean", sync_dist: bool = False,
                 intersection: str = "product") -> None:
        super().__init__(reduction=reduction)
        self.mode = check_choice("mode", mode, REGION_MODES)
        self.from_logits = check_bool("from_logits", from_logits)
        self.smooth = check_real("smooth", smooth, low=0.0)
        self.eps = check_real("eps", eps, low=0.0, low_open=True)
        check_classes(classes, None)  # the upper bound needs the input
        self.classes = classes
        self.ignore_index = check_ignore_index(ignore_index) if mode == "multiclass" \
            else check_binary_ignore_index(ignore_index)
        self.per_image = check_bool("per_image", per_image)
        self.log_loss = check_bool("log_loss", log_loss)
        self.sync_dist = check_bool("sync_dist", sync_dist)
        self.intersection = check_choice("intersection", intersection, INTERSECTIONS)

    def _options(self) -> dict:
        return dict(mode=self.mode, from_logits=self.from_logits, smooth=self.smooth,
                    eps=self.eps, classes=self.classes, ignore_index=self.ignore_index,
                    per_image=self.per_image, log_loss=self.log_loss,
                    reduction=self.reduction, sync_dist=self.sync_dist,
                    intersection=self.intersection)


@register("dice", "mode")
class DiceLoss(_RegionLoss):
    r"""Module form of :func:`focalkit.functional.dice_loss`.

    .. math::
        \ell_c = 1 - \frac{2\,TP_c + s}{2\,TP_c + FP_c + FN_c + s}

    Args:
        mode: ``"multiclass"`` | ``"binary"`` | ``"multilabel"``. Default: ``"multiclass"``.
        from_logits: whether inputs are logits. Default: True.
        smooth: :math:`s \ge 0`. Default: 0.0.
        eps: lower bound of the denominator. Default: 1e-7.
        classes: class indices to include, or None for all. Default: None.
        ignore_index: target value to skip. Default: None.
        per_image: statistics per image. Default: False.
        log_loss: :math:`-\log` of the score instead of one minus it. Default: False.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"`` over classes. Default: ``"mean"``.
        sync_dist: all-reduce the statistics over ``torch.distributed`` processes.
            Default: False.
        intersection: ``"product"`` | ``"min"`` (soft-label form). Default: ``"product"``.

    Shape:
        - input: :math:`(N, C, *)`; target: :math:`(N, *)` indices or :math:`(N, C, *)`;
          output: scalar, or :math:`(C,)` / :math:`(N, C)` with ``reduction="none"``.

    Raises:
        TypeError, ValueError: as :func:`focalkit.functional.dice_loss`.

    Example:
        >>> import torch
        >>> from focalkit import DiceLoss
        >>> from focalkit.functional import dice_loss
        >>> x, t = torch.randn(2, 3, 4, 4), torch.randint(0, 3, (2, 4, 4))
        >>> torch.equal(DiceLoss(smooth=1.0)(x, t), dice_loss(x, t, smooth=1.0))
        True
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return FK.dice_loss(input, target, **self._options())


@register("jaccard", "mode", ("iou",))
class JaccardLoss(_RegionLoss):
    r"""Module form of :func:`focalkit.functional.jaccard_loss`.

    .. math::
        \ell_c = 1 - \frac{TP_c + s}{TP_c + FP_c + FN_c + s}

    Args:
        mode, from_logits, smooth, eps, classes, ignore_index, per_image, log_loss,
        reduction, sync_dist, intersection: as :class:`DiceLoss`.

    Shape:
        As :class:`DiceLoss`.

    Raises:
        TypeError, ValueError: as :func:`focalkit.functional.jaccard_loss`.

    Example:
        >>> import torch
        >>> from focalkit import JaccardLoss
        >>> from focalkit.functional import jaccard_loss
        >>> x, y = torch.randn(2, 1, 4, 4), torch.randint(0, 2, (2, 1, 4, 4))
        >>> torch.equal(JaccardLoss("binary")(x, y), jaccard_loss(x, y, mode="binary"))
        True
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return FK.jaccard_loss(input, target, **self._options())


@register("tversky", "mode", ("focal_tversky",))
class TverskyLoss(GammaMixin, _RegionLoss):
    r"""Module form of :func:`focalkit.functional.tversky_loss` (focal-Tversky with
    ``gamma != 1``).

    .. math::
        \ell_c = \left(1 - \frac{TP_c + s}{TP_c + \alpha\,FP_c + \beta\,FN_c + s}\right)^\gamma

    Args:
        mode: as :class:`DiceLoss`. Default: ``"multiclass"``.
        alpha: weight of false positives, ``>= 0``. Default: 0.5.
        beta: weight of false negatives, ``>= 0``. Default: 0.5.
        gamma: focal exponent ``>= 0``; settable later (e.g. by
            :class:`focalkit.GammaScheduler`). Default: 1.0.
        from_logits, smooth, eps, classes, ignore_index, per_image, log_loss, reduction,
        sync_dist, intersection: as :class:`DiceLoss`.

    Shape:
        As :class:`DiceLoss`.

    Raises:
        TypeError, ValueError: as :func:`focalkit.functional.tversky_loss`.

    Example:
        >>> import torch
        >>> from focalkit import DiceLoss, TverskyLoss
        >>> x, t = torch.randn(2, 3, 4, 4), torch.randint(0, 3, (2, 4, 4))
        >>> torch.allclose(TverskyLoss(alpha=0.5, beta=0.5)(x, t), DiceLoss()(x, t))
        True
    """

    _repr_fields = ("mode", "alpha", "beta", "gamma") + _RegionLoss._repr_fields[1:]

    def __init__(self, mode: str = "multiclass", *, alpha: float = 0.5, beta: float = 0.5,
                 gamma: float = 1.0, from_logits: bool = True, smooth: float = 0.0,
                 eps: float = 1e-7, classes: Sequence[int] | None = None,
                 ignore_index: int | None = None, per_image: bool = False,
                 log_loss: bool = False, reduction: str = "mean", sync_dist: bool = False,
                 intersection: str = "product") -> None:
        super().__init__(mode, from_logits=from_logits, smooth=smooth, eps=eps, classes=classes,
                         ignore_index=ignore_index, per_image=per_image, log_loss=log_loss,
                         reduction=reduction, sync_dist=sync_dist, intersection=intersection)
        self.alpha = check_real("alpha", alpha, low=0.0)
        self.beta = check_real("beta", beta, low=0.0)
        self.gamma = gamma

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return FK.tversky_loss(input, target, alpha=self.alpha, beta=self.beta,
                               gamma=self.gamma, **self._options())
