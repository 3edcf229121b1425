"""Module forms of the Lovasz losses."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from .. import functional as FK
from .._checks import (
    check_binary_ignore_index,
    check_bool,
    check_choice,
    check_classes,
    check_ignore_index,
)
from ._registry import register

__all__ = ["LovaszSoftmaxLoss", "LovaszHingeLoss"]


@register("lovasz_softmax", "multiclass")
class LovaszSoftmaxLoss(nn.Module):
    r"""Module form of :func:`focalkit.functional.lovasz_softmax_loss`.

    .. math::
        \ell = \frac{1}{|K|} \sum_{c \in K} \sum_k e^c_{\pi_k}\,(J^c_k - J^c_{k-1})

    Args:
        classes: ``"present"`` | ``"all"`` | a sequence of class indices.
            Default: ``"present"``.
        per_image: one loss per image, averaged. Default: False.
        ignore_index: target value to skip. Default: None.
        from_logits: whether inputs are logits. Default: True.

    Shape:
        - input: :math:`(N, C, *)`; target: :math:`(N, *)`; output: scalar.

    Raises:
        TypeError, ValueError: as :func:`focalkit.functional.lovasz_softmax_loss`.

    Example:
        >>> import torch
        >>> from focalkit import LovaszSoftmaxLoss
        >>> from focalkit.functional import lovasz_softmax_loss
        >>> x, t = torch.randn(2, 4, 6, 6), torch.randint(0, 4, (2, 6, 6))
        >>> torch.equal(LovaszSoftmaxLoss(per_image=True)(x, t),
        ...             lovasz_softmax_loss(x, t, per_image=True))
        True
    """

    _mean_over = "batch"

    def __init__(self, *, classes: str | Sequence[int] = "present", per_image: bool = False,
                 ignore_index: int | None = None, from_logits: bool = True) -> None:
        super().__init__()
        if isinstance(classes, str):
            check_choice("classes", classes, ("present", "all"))
        else:
            check_classes(classes, None)  # the upper bound needs the input
        self.classes = classes
        self.per_image = check_bool("per_image", per_image)
        self.ignore_index = check_ignore_index(ignore_index)
        self.from_logits = check_bool("from_logits", from_logits)

    def extra_repr(self) -> str:
        return (f"classes={self.classes!r}, per_image={self.per_image}, "
                f"ignore_index={self.ignore_index}, from_logits={self.from_logits}")

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return FK.lovasz_softmax_loss(input, target, classes=self.classes,
                                      per_image=self.per_image,
                                      ignore_index=self.ignore_index,
                                      from_logits=self.from_logits)


@register("lovasz_hinge", "binary")
class LovaszHingeLoss(nn.Module):
    r"""Module form of :func:`focalkit.functional.lovasz_hinge_loss`.

    .. math::
        \ell = \sum_k \max(e_{\pi_k}, 0)\,(J_k - J_{k-1}), \qquad e_i = 1 - x_i (2 y_i - 1)

    Args:
        per_image: one loss per image, averaged. Default: True.
        ignore_index: target value to skip. Default: None.

    Shape:
        - input: :math:`(N, *)` logits; target: same; output: scalar.

    Raises:
        TypeError, ValueError: as :func:`focalkit.functional.lovasz_hinge_loss`.

    Example:
        Logits beyond the margin on the right side cost nothing; on the decision boundary
        every hinge error is 1, and the loss is 1, the Jaccard loss of getting all wrong:

        >>> import torch
        >>> from focalkit import LovaszHingeLoss
        >>> loss, y = LovaszHingeLoss(), torch.tensor([[1, 0, 1, 0]])
        >>> loss(4.0 * (2 * y - 1), y)
        tensor(0.)
        >>> loss(torch.zeros(1, 4), y)
        tensor(1.)
    """

    _mean_over = "batch"

    def __init__(self, *, per_image: bool = True, ignore_index: int | None = None) -> None:
        super().__init__()
        self.per_image = check_bool("per_image", per_image)
        self.ignore_index = check_binary_ignore_index(ignore_index)

    def extra_repr(self) -> str:
        return f"per_image={self.per_image}, ignore_index={self.ignore_index}"

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return FK.lovasz_hinge_loss(input, target, per_image=self.per_image,
                                    ignore_index=self.ignore_index)
