"""Module form of the asymmetric loss (ASL)."""

from __future__ import annotations

from torch import Tensor

from .. import functional as FK
from .._checks import check_binary_ignore_index, check_optional_weight, check_real
from ._base import LossModule
from ._registry import register

__all__ = ["AsymmetricLoss"]


@register("asymmetric", "multilabel", ("asl",))
class AsymmetricLoss(LossModule):
    r"""Module form of :func:`focalkit.functional.asymmetric_loss`.

    .. math::
        \ell = -w\left[y\,(1 - p)^{\gamma_+} \log p
               + (1 - y)\,p_m^{\gamma_-} \log(1 - p_m)\right], \quad p_m = \max(p - c, 0)

    Args:
        gamma_pos: focusing parameter of the positives, ``>= 0``. Default: 0.0.
        gamma_neg: focusing parameter of the negatives, ``>= 0``. Default: 4.0.
        clip: probability margin :math:`c` in [0, 1); 0 disables it. Default: 0.05.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``. Default: ``"mean"``.
        weight: element weight broadcastable to the input (kept as a buffer), e.g. C
            per-class weights. Default: None.
        ignore_index: target value to skip. Default: None.

    Shape:
        - input: :math:`(*)`, usually :math:`(N, C)`; target: same shape; output: scalar or
          :math:`(*)`.

    Raises:
        TypeError, ValueError: as :func:`focalkit.functional.asymmetric_loss`.

    Example:
        >>> import torch
        >>> from focalkit import AsymmetricLoss
        >>> from focalkit.functional import asymmetric_loss
        >>> x, y = torch.randn(4, 6), torch.randint(0, 2, (4, 6)).float()
        >>> criterion = AsymmetricLoss(gamma_neg=2.0, clip=0.1)
        >>> torch.equal(criterion(x, y), asymmetric_loss(x, y, gamma_neg=2.0, clip=0.1))
        True
    """

    _repr_fields = ("gamma_pos", "gamma_neg", "clip", "reduction", "weight", "ignore_index")

    _buffer_fields = ("weight",)

    def __init__(self, *, gamma_pos: float = 0.0, gamma_neg: float = 4.0, clip: float = 0.05,
                 reduction: str = "mean", weight: Tensor | None = None,
                 ignore_index: int | None = None) -> None:
        super().__init__(reduction=reduction)
        self.gamma_pos = check_real("gamma_pos", gamma_pos, low=0.0)
        self.gamma_neg = check_real("gamma_neg", gamma_neg, low=0.0)
        self.clip = check_real("clip", clip, low=0.0, high=1.0, high_open=True)
        self.weight = check_optional_weight("weight", weight)
        self.ignore_index = check_binary_ignore_index(ignore_index)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return FK.asymmetric_loss(input, target, gamma_pos=self.gamma_pos,
                                  gamma_neg=self.gamma_neg, clip=self.clip,
                                  reduction=self.reduction, weight=self.weight,
                                  ignore_index=self.ignore_index)
