"""Module forms of the dense-detection losses: quality focal, distribution focal, varifocal."""

from __future__ import annotations

from torch import Tensor

from .. import functional as FK
from .._checks import (
    check_binary_ignore_index,
    check_bool,
    check_ignore_index,
    check_optional_weight,
    check_real,
)
from ._base import GammaMixin, LossModule
from ._registry import register

__all__ = ["QualityFocalLoss", "DistributionFocalLoss", "VarifocalLoss"]


@register("quality_focal", "multilabel", ("qfl",))
class QualityFocalLoss(LossModule):
    r"""Module form of :func:`focalkit.functional.quality_focal_loss`.

    .. math::
        \ell = -w\,|y - \sigma(x)|^\beta
               \left[y \log \sigma(x) + (1 - y) \log(1 - \sigma(x))\right]

    Args:
        beta: exponent of the modulating factor, ``>= 0``. Default: 2.0.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``. Default: ``"mean"``.
        weight: element weight broadcastable to the input (kept as a buffer). Default: None.
        ignore_index: target value to skip. Default: None.

    Shape:
        - input: :math:`(*)`; target: same shape; output: scalar or :math:`(*)`.

    Raises:
        TypeError, ValueError: as :func:`focalkit.functional.quality_focal_loss`.

    Example:
        >>> import torch
        >>> from focalkit import QualityFocalLoss
        >>> from focalkit.functional import quality_focal_loss
        >>> x, y = torch.randn(5, 3), torch.rand(5, 3)
        >>> torch.equal(QualityFocalLoss(beta=1.0)(x, y), quality_focal_loss(x, y, beta=1.0))
        True
    """

    _repr_fields = ("beta", "reduction", "weight", "ignore_index")

    _buffer_fields = ("weight",)

    def __init__(self, *, beta: float = 2.0, reduction: str = "mean",
                 weight: Tensor | None = None, ignore_index: int | None = None) -> None:
        super().__init__(reduction=reduction)
        self.beta = check_real("beta", beta, low=0.0)
        self.weight = check_optional_weight("weight", weight)
        self.ignore_index = check_binary_ignore_index(ignore_index)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return FK.quality_focal_loss(input, target, beta=self.beta, reduction=self.reduction,
                                     weight=self.weight, ignore_index=self.ignore_index)


@register("distribution_focal", "distribution", ("dfl",))
class DistributionFocalLoss(LossModule):
    r"""Module form of :func:`focalkit.functional.distribution_focal_loss`.

    .. math::
        \ell = -w\left[(y_r - y) \log S_{y_l} + (y - y_l) \log S_{y_r}\right]

    Args:
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``. Default: ``"mean"``.
        weight: weight per target value, broadcastable to the target (kept as a buffer).
            Default: None.
        ignore_index: target value to skip. Default: None.

    Shape:
        - input: :math:`(*, n)` logits over ``n`` bins; target: :math:`(*)` in
          :math:`[0, n - 1]`; output: scalar or :math:`(*)`.

    Raises:
        TypeError, ValueError: as :func:`focalkit.functional.distribution_focal_loss`.

    Example:
        >>> import torch
        >>> from focalkit import DistributionFocalLoss
        >>> from focalkit.functional import distribution_focal_loss
        >>> x, y = torch.randn(2, 4, 16), torch.rand(2, 4) * 15
        >>> torch.equal(DistributionFocalLoss()(x, y), distribution_focal_loss(x, y))
        True
    """

    _repr_fields = ("reduction", "weight", "ignore_index")

    _buffer_fields = ("weight",)

    def __init__(self, *, reduction: str = "mean", weight: Tensor | None = None,
                 ignore_index: int | None = None) -> None:
        super().__init__(reduction=reduction)
        self.weight = check_optional_weight("weight", weight)
        self.ignore_index = check_ignore_index(ignore_index)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return FK.distribution_focal_loss(input, target, reduction=self.reduction,
                                          weight=self.weight, ignore_index=self.ignore_index)


@register("varifocal", "multilabel", ("vfl",))
class VarifocalLoss(GammaMixin, LossModule):
    r"""Module form of :func:`focalkit.functional.varifocal_loss`.

    .. math::
        \ell = \begin{cases} -w\,t\left[t \log p + (1 - t) \log(1 - p)\right] & t > 0 \\
               -w\,\alpha\,p^\gamma \log(1 - p) & t = 0 \end{cases}

    Args:
        alpha: weight of the negatives, ``>= 0``. Default: 0.75.
        gamma: focusing parameter of the negatives, ``>= 0``; settable later (e.g. by
            :class:`focalkit.GammaScheduler`). Default: 2.0.
        iou_weighted: weight the positives by their target (True) or by 1. Default: True.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``. Default: ``"mean"``.
        weight: element weight broadcastable to the input (kept as a buffer). Default: None.
        ignore_index: target value to skip. Default: None.

    Shape:
        - input: :math:`(*)`; target: same shape; output: scalar or :math:`(*)`.

    Raises:
        TypeError, ValueError: as :func:`focalkit.functional.varifocal_loss`.

    Example:
        >>> import torch
        >>> from focalkit import VarifocalLoss
        >>> from focalkit.functional import varifocal_loss
        >>> x = torch.randn(6, 4)
        >>> t = torch.rand(6, 4) * (torch.rand(6, 4) < 0.2)
        >>> torch.equal(VarifocalLoss(alpha=0.5)(x, t), varifocal_loss(x, t, alpha=0.5))
        True
    """

    _repr_fields = ("alpha", "gamma", "iou_weighted", "reduction", "weight", "ignore_index")

    _buffer_fields = ("weight",)

    def __init__(self, *, alpha: float = 0.75, gamma: float = 2.0, iou_weighted: bool = True,
                 reduction: str = "mean", weight: Tensor | None = None,
                 ignore_index: int | None = None) -> None:
        super().__init__(reduction=reduction)
        self.alpha = check_real("alpha", alpha, low=0.0)
        self.gamma = gamma
        self.iou_weighted = check_bool("iou_weighted", iou_weighted)
        self.weight = check_optional_weight("weight", weight)
        self.ignore_index = check_binary_ignore_index(ignore_index)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return FK.varifocal_loss(input, target, alpha=self.alpha, gamma=self.gamma,
                                 iou_weighted=self.iou_weighted, reduction=self.reduction,
                                 weight=self.weight, ignore_index=self.ignore_index)
