"""Module forms of the distance and topology losses: Hausdorff-DT, boundary, soft-clDice."""

from __future__ import annotations

from torch import Tensor

from .. import functional as FK
from .._checks import check_bool, check_ignore_index, check_positive_int, check_real
from ._base import LossModule
from ._registry import register

__all__ = ["BoundaryLoss", "HausdorffDTLoss", "SoftclDiceLoss"]


@register("hausdorff_dt", "multiclass", ("hausdorff",))
class HausdorffDTLoss(LossModule):
    r"""Module form of :func:`focalkit.functional.hausdorff_dt_loss`.

    .. math::
        \ell_{nc} = \frac{1}{|\Omega|} \sum_i (p_{nci} - q_{nci})^2
            \left(d_{p,nci}^{\,\alpha} + d_{q,nci}^{\,\alpha}\right)

    Args:
        alpha: exponent of the distances, ``> 0``. Default: 2.0.
        include_background: keep class 0. Default: False.
        ignore_index: target value to skip. Default: None.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"`` over images and classes.
            Default: ``"mean"``.

    Shape:
        - input: :math:`(N, C, *)` logits; target: :math:`(N, *)` class indices; output:
          scalar, or :math:`(N, C')` with ``reduction="none"``.

    Raises:
        TypeError, ValueError: as :func:`focalkit.functional.hausdorff_dt_loss`.

    Example:
        >>> import torch
        >>> from focalkit import HausdorffDTLoss
        >>> from focalkit.functional import hausdorff_dt_loss
        >>> x, t = torch.randn(2, 3, 8, 8), torch.randint(0, 3, (2, 8, 8))
        >>> torch.equal(HausdorffDTLoss(alpha=1.0)(x, t), hausdorff_dt_loss(x, t, alpha=1.0))
        True
    """

    _mean_over = "batch"

    _repr_fields = ("alpha", "include_background", "ignore_index", "reduction")

    def __init__(self, *, alpha: float = 2.0, include_background: bool = False,
                 ignore_index: int | None = None, reduction: str = "mean") -> None:
        super().__init__(reduction=reduction)
        self.alpha = check_real("alpha", alpha, low=0.0, low_open=True)
        self.include_background = check_bool("include_background", include_background)
        self.ignore_index = check_ignore_index(ignore_index)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return FK.hausdorff_dt_loss(input, target, alpha=self.alpha,
                                    include_background=self.include_background,
                                    ignore_index=self.ignore_index, reduction=self.reduction)


@register("boundary", "multiclass")
class BoundaryLoss(LossModule):
    r"""Module form of :func:`focalkit.functional.boundary_loss`.

    .. math::
        \ell_{nc} = \frac{1}{|\Omega|} \sum_i p_{nci}\,\phi_{nci}

    with :math:`\phi` the signed distance to the target's boundary (negative inside).

    Args:
        include_background: keep class 0. Default: False.
        ignore_index: target value to skip. Default: None.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"`` over images and classes.
            Default: ``"mean"``.

    Shape:
        - input: :math:`(N, C, *)` logits; target: :math:`(N, *)` class indices; output:
          scalar, or :math:`(N, C')` with ``reduction="none"``.

    Raises:
        TypeError, ValueError: as :func:`focalkit.functional.boundary_loss`.

    Example:
        >>> import torch
        >>> from focalkit import BoundaryLoss
        >>> from focalkit.functional import boundary_loss
        >>> x, t = torch.randn(2, 3, 8, 8), torch.randint(0, 3, (2, 8, 8))
        >>> torch.equal(BoundaryLoss(reduction="sum")(x, t),
        ...             boundary_loss(x, t, reduction="sum"))
        True
    """

    _mean_over = "batch"

    _repr_fields = ("include_background", "ignore_index", "reduction")

    def __init__(self, *, include_background: bool = False, ignore_index: int | None = None,
                 reduction: str = "mean") -> None:
        super().__init__(reduction=reduction)
        self.include_background = check_bool("include_background", include_background)
        self.ignore_index = check_ignore_index(ignore_index)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return FK.boundary_loss(input, target, include_background=self.include_background,
                                ignore_index=self.ignore_index, reduction=self.reduction)


@register("soft_cldice", "multiclass", ("cldice",))
class SoftclDiceLoss(LossModule):
    r"""Module form of :func:`focalkit.functional.soft_cldice_loss`.

    .. math::
        \ell_n = 1 - \frac{2\,T_\text{prec}\,T_\text{sens}}
                          {T_\text{prec} + T_\text{sens} + \varepsilon}

    Args:
        iterations: rounds of erosion of the soft skeleton, a positive int. Default: 3.
        smooth: :math:`s > 0` in the precision and sensitivity ratios. Default: 1.0.
        eps: :math:`\varepsilon > 0` in the harmonic mean. Default: 1e-4.
        include_background: keep class 0. Default: True.
        ignore_index: target value to skip. Default: None.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"`` over images. Default: ``"mean"``.

    Shape:
        - input: :math:`(N, C, *)` logits; target: :math:`(N, *)` class indices; output:
          scalar, or :math:`(N,)` with ``reduction="none"``.

    Raises:
        TypeError, ValueError: as :func:`focalkit.functional.soft_cldice_loss`.

    Example:
        Dice and clDice together, the combination of the paper:

        >>> import torch
        >>> from focalkit import ComboLoss, DiceLoss, SoftclDiceLoss
        >>> from focalkit.functional import dice_loss, soft_cldice_loss
        >>> combo = ComboLoss({"dice": (DiceLoss(), 0.5), "cldice": (SoftclDiceLoss(), 0.5)})
        >>> x, t = torch.randn(2, 3, 8, 8), torch.randint(0, 3, (2, 8, 8))
        >>> torch.allclose(combo(x, t), 0.5 * dice_loss(x, t) + 0.5 * soft_cldice_loss(x, t))
        True
    """

    _mean_over = "batch"

    _repr_fields = ("iterations", "smooth", "eps", "include_background", "ignore_index",
                    "reduction")

    def __init__(self, *, iterations: int = 3, smooth: float = 1.0, eps: float = 1e-4,
                 include_background: bool = True, ignore_index: int | None = None,
                 reduction: str = "mean") -> None:
        super().__init__(reduction=reduction)
        self.iterations = check_positive_int("iterations", iterations)
        self.smooth = check_real("smooth", smooth, low=0.0, low_open=True)
        self.eps = check_real("eps", eps, low=0.0, low_open=True)
        self.include_background = check_bool("include_background", include_background)
        self.ignore_index = check_ignore_index(ignore_index)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return FK.soft_cldice_loss(input, target, iterations=self.iterations,
                                   smooth=self.smooth, eps=self.eps,
                                   include_background=self.include_background,
                                   ignore_index=self.ignore_index, reduction=self.reduction)
