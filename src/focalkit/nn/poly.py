"""Module form of the Poly-1 cross-entropy."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from .. import functional as FK
from .._checks import check_ignore_index, check_real, class_vector
from ._base import LossModule
from ._registry import register

__all__ = ["Poly1CrossEntropyLoss"]


@register("poly1_cross_entropy", "multiclass", ("poly1",))
class Poly1CrossEntropyLoss(LossModule):
    r"""Module form of :func:`focalkit.functional.poly1_cross_entropy`.

    .. math::
        \ell = -\log p_t + \epsilon\,(1 - p_t)

    Args:
        epsilon: weight of the polynomial term, ``>= -1``. Default: 1.0.
        weight: C class weights (kept as a buffer), as in ``nn.CrossEntropyLoss``.
            Default: None.
        ignore_index: class index to skip. Default: -100.
        label_smoothing: in [0, 1]. Default: 0.0.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``. Default: ``"mean"``.

    Shape:
        - input: :math:`(N, C, *)`; target: :math:`(N, *)` indices or :math:`(N, C, *)`
          probabilities; output: scalar or :math:`(N, *)`.

    Raises:
        TypeError, ValueError: as :func:`focalkit.functional.poly1_cross_entropy`.

    Example:
        >>> import torch
        >>> import torch.nn.functional as F
        >>> from focalkit import Poly1CrossEntropyLoss
        >>> x, t = torch.randn(8, 5), torch.randint(0, 5, (8,))
        >>> torch.allclose(Poly1CrossEntropyLoss(epsilon=0.0)(x, t), F.cross_entropy(x, t))
        True
    """

    _mean_over = "weights"

    _repr_fields = ("epsilon", "weight", "ignore_index", "label_smoothing", "reduction")

    _buffer_fields = ("weight",)

    def __init__(self, *, epsilon: float = 1.0, weight: Sequence[float] | Tensor | None = None,
                 ignore_index: int = -100, label_smoothing: float = 0.0,
                 reduction: str = "mean") -> None:
        super().__init__(reduction=reduction)
        self.epsilon = check_real("epsilon", epsilon, low=-1.0)
        if isinstance(weight, Sequence) and not isinstance(weight, str):
            weight = torch.as_tensor(list(weight), dtype=torch.get_default_dtype())
        if isinstance(weight, Tensor):
            if weight.dim() != 1:
                raise ValueError(f"weight must be a 1-D tensor with one weight per class; got "
                                 f"shape {tuple(weight.shape)}")
            class_vector("weight", weight, weight.numel(), like=weight, high=None)
        self.weight = weight
        self.ignore_index = check_ignore_index(ignore_index)
        self.label_smoothing = check_real("label_smoothing", label_smoothing, low=0.0, high=1.0)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return FK.poly1_cross_entropy(input, target, epsilon=self.epsilon, weight=self.weight,
                                      ignore_index=self.ignore_index,
                                      label_smoothing=self.label_smoothing,
                                      reduction=self.reduction)
