"""Module form of the softmax focal loss over a linear layer."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from .. import functional as FK
from .._checks import check_optional_positive_int, check_real
from ._base import GammaMixin, LossModule
from ._registry import register
from .focal import _set_softmax_focal

__all__ = ["LinearSoftmaxFocalLoss"]


@register("linear_softmax_focal", "linear", ("linear_focal",))
class LinearSoftmaxFocalLoss(GammaMixin, LossModule):
    r"""Module form of :func:`focalkit.functional.linear_softmax_focal_loss`.

    .. math::
        z = x W^\top + b, \qquad
        \ell = -\alpha_t\,(1 - p_t)^\gamma \log p_t + \lambda_z \Bigl(\log \sum_c e^{z_c}
        \Bigr)^2

    The module holds the hyper-parameters; the layer stays the model's own (an ordinary
    :class:`torch.nn.Linear`, possibly tied to an embedding), whose weight and bias are passed
    with each call, ``loss(input, linear_weight, target, linear_bias)``.
    (:class:`torch.nn.LinearCrossEntropyLoss` owns its layer instead.)

    Args:
        alpha: None, a float, or C per-class weights (kept as a buffer). Default: None.
        gamma: focusing parameter ``>= 0``; settable later (e.g. by
            :class:`focalkit.GammaScheduler`). Default: 2.0.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``. Default: ``"mean"``.
        ignore_index: class index to skip. Default: -100.
        label_smoothing: in [0, 1]. Default: 0.0.
        epsilon: weight of the Poly-1 term :math:`\epsilon\,(1 - p_t)^{\gamma + 1}`,
            ``>= -1``. Default: 0.0.
        z_loss: weight of the squared log-sum-exp of the logits, ``>= 0``. Default: 0.0.
        chunk_size: rows per chunk for the kernels, or None to choose. Default: None.

    Shape:
        - input: :math:`(*, H)`; linear_weight: :math:`(C, H)`; target: :math:`(*)`;
          linear_bias: :math:`(C,)`; output: scalar or :math:`(*)`.

    Raises:
        TypeError, ValueError: as :func:`focalkit.functional.linear_softmax_focal_loss`.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> from focalkit import LinearSoftmaxFocalLoss, SoftmaxFocalLoss
        >>> head = nn.Linear(16, 100)
        >>> x, t = torch.randn(8, 16), torch.randint(0, 100, (8,))
        >>> loss = LinearSoftmaxFocalLoss(gamma=2.0)(x, head.weight, t, head.bias)
        >>> torch.allclose(loss, SoftmaxFocalLoss(gamma=2.0)(head(x), t))
        True
    """

    _repr_fields = ("alpha", "gamma", "reduction", "ignore_index", "label_smoothing",
                    "epsilon", "z_loss", "chunk_size")
    _buffer_fields = ("alpha",)

    def __init__(self, *, alpha: float | Sequence[float] | Tensor | None = None,
                 gamma: float = 2.0, reduction: str = "mean", ignore_index: int = -100,
                 label_smoothing: float = 0.0, epsilon: float = 0.0, z_loss: float = 0.0,
                 chunk_size: int | None = None) -> None:
        super().__init__(reduction=reduction)
        _set_softmax_focal(self, alpha, gamma, ignore_index, label_smoothing, epsilon)
        self.z_loss = check_real("z_loss", z_loss, low=0.0)
        self.chunk_size = check_optional_positive_int("chunk_size", chunk_size)

    def forward(self, input: Tensor, linear_weight: Tensor, target: Tensor,
                linear_bias: Tensor | None = None) -> Tensor:
        return FK.linear_softmax_focal_loss(
            input, linear_weight, target, linear_bias=linear_bias, gamma=self.gamma,
            alpha=self.alpha, label_smoothing=self.label_smoothing, epsilon=self.epsilon,
            z_loss=self.z_loss, ignore_index=self.ignore_index, reduction=self.reduction,
            chunk_size=self.chunk_size)
