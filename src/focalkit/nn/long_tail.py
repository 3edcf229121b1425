"""Module forms of the long-tail losses: logit-adjusted cross-entropy and LDAM."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from .. import functional as FK
from .._checks import check_ignore_index, check_real, class_vector
from ._base import LossModule
from ._registry import register

__all__ = ["LogitAdjustedCrossEntropyLoss", "LDAMLoss"]


def _class_buffer(name: str, value: object, *, positive: bool) -> Tensor | None:
    """Per-class values as a 1-D float64 tensor (integer counts included), checked once at
    construction."""
    if value is None:
        return None
    if isinstance(value, Tensor):
        if value.dtype == torch.bool or value.is_complex():
            raise TypeError(f"{name} must hold real numbers; got dtype {value.dtype}")
        tensor = value.detach().to(torch.float64)
    elif isinstance(value, Sequence) and not isinstance(value, str):
        tensor = torch.as_tensor(list(value), dtype=torch.float64)
    else:
        raise TypeError(f"{name} must be None or a sequence or 1-D tensor of per-class "
                        f"values; got {type(value).__name__}")
    if tensor.dim() != 1 or tensor.numel() == 0:
        raise ValueError(f"{name} must be a 1-D tensor with one value per class; got shape "
                         f"{tuple(tensor.shape)}")
    class_vector(name, tensor, tensor.numel(), like=tensor, high=None)
    if positive and bool((tensor <= 0).any()):
        raise ValueError(f"{name} must be positive for every class; got "
                         f"{tensor.tolist()}")
    return tensor


@register("logit_adjusted_cross_entropy", "multiclass", ("logit_adjusted", "balanced_softmax"))
class LogitAdjustedCrossEntropyLoss(LossModule):
    r"""Module form of :func:`focalkit.functional.logit_adjusted_cross_entropy`.

    Balanced Softmax with ``tau=1`` and class counts.

    .. math::
        \ell = \mathrm{CE}\left(x + \tau \log \pi,\; t\right), \qquad
        \pi_c = \frac{n_c}{\sum_k n_k}

    Args:
        class_counts: training samples per class (kept as a buffer). Give this or ``prior``.
        prior: class prior, C positive values (kept as a buffer). Give this or
            ``class_counts``.
        tau: temperature ``>= 0``. Default: 1.0.
        weight: per-class weights as in :class:`torch.nn.CrossEntropyLoss` (kept as a buffer).
            Default: None.
        ignore_index: class index to skip. Default: -100.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``. Default: ``"mean"``.
        label_smoothing: in [0, 1]. Default: 0.0.

    Shape:
        - input: :math:`(N, C, *)`; target: :math:`(N, *)` indices or :math:`(N, C, *)`
          probabilities; output: scalar or :math:`(N, *)`.

    Raises:
        TypeError, ValueError: as :func:`focalkit.functional.logit_adjusted_cross_entropy`,
            at construction where the value alone decides.

    Example:
        >>> import torch
        >>> from focalkit import LogitAdjustedCrossEntropyLoss
        >>> from focalkit.functional import logit_adjusted_cross_entropy
        >>> x, t = torch.randn(8, 3), torch.randint(0, 3, (8,))
        >>> criterion = LogitAdjustedCrossEntropyLoss(class_counts=[100, 10, 1])
        >>> torch.equal(criterion(x, t),
        ...             logit_adjusted_cross_entropy(x, t, class_counts=[100, 10, 1]))
        True
    """

    _mean_over = "weights"

    _repr_fields = ("class_counts", "prior", "tau", "weight", "reduction", "ignore_index")
    _buffer_fields = ("class_counts", "prior", "weight")
    _exact_fields = ("class_counts", "prior")

    def __init__(self, *, class_counts: Sequence[float] | Tensor | None = None,
                 prior: Sequence[float] | Tensor | None = None, tau: float = 1.0,
                 weight: Sequence[float] | Tensor | None = None, ignore_index: int = -100,
                 reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        super().__init__(reduction=reduction)
        if (class_counts is None) == (prior is None):
            raise TypeError("LogitAdjustedCrossEntropyLoss needs exactly one of class_counts "
                            "and prior; got " + ("neither" if prior is None else "both"))
        self.class_counts = _class_buffer("class_counts", class_counts, positive=True)
        self.prior = _class_buffer("prior", prior, positive=True)
        self.weight = _class_buffer("weight", weight, positive=False)
        self.tau = check_real("tau", tau, low=0.0)
        self.ignore_index = check_ignore_index(ignore_index)
        self.label_smoothing = check_real("label_smoothing", label_smoothing, low=0.0, high=1.0)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return FK.logit_adjusted_cross_entropy(
            input, target, class_counts=self.class_counts, prior=self.prior, tau=self.tau,
            weight=self.weight, ignore_index=self.ignore_index, reduction=self.reduction,
            label_smoothing=self.label_smoothing)


@register("ldam", "multiclass")
class LDAMLoss(LossModule):
    r"""Module form of :func:`focalkit.functional.ldam_loss`.

    .. math::
        \ell = \mathrm{CE}\left(s\,(x - m_t\,\mathrm{onehot}(t)),\; t\right), \qquad
        m_c = m_\text{max} \left(\frac{\min_k n_k}{n_c}\right)^{1/4}

    For the paper's deferred re-weighting (DRW), switch ``weight`` on late in training with a
    :class:`focalkit.GammaScheduler` (``param="weight"``, ``schedule="deferred"``).

    Args:
        class_counts: training samples per class (kept as a buffer).
        max_margin: margin of the rarest class, ``> 0``. Default: 0.5.
        scale: logit scale :math:`s > 0`. Default: 30.0.
        weight: per-class weights as in :class:`torch.nn.CrossEntropyLoss` (kept as a buffer;
            settable later). Default: None.
        ignore_index: class index to skip. Default: -100.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``. Default: ``"mean"``.

    Shape:
        - input: :math:`(N, C, *)`; target: :math:`(N, *)` indices; output: scalar or
          :math:`(N, *)`.

    Raises:
        TypeError, ValueError: as :func:`focalkit.functional.ldam_loss`, at construction where
            the value alone decides.

    Example:
        >>> import torch
        >>> from focalkit import LDAMLoss
        >>> from focalkit.functional import ldam_loss
        >>> x, t = torch.randn(8, 3).tanh(), torch.randint(0, 3, (8,))
        >>> torch.equal(LDAMLoss(class_counts=[100, 10, 1])(x, t),
        ...             ldam_loss(x, t, class_counts=[100, 10, 1]))
        True
    """

    _mean_over = "weights"

    _repr_fields = ("class_counts", "max_margin", "scale", "weight", "reduction",
                    "ignore_index")
    _buffer_fields = ("class_counts", "weight")
    _exact_fields = ("class_counts",)

    def __init__(self, *, class_counts: Sequence[float] | Tensor, max_margin: float = 0.5,
                 scale: float = 30.0, weight: Sequence[float] | Tensor | None = None,
                 ignore_index: int = -100, reduction: str = "mean") -> None:
        super().__init__(reduction=reduction)
        counts = _class_buffer("class_counts", class_counts, positive=True)
        if counts is None:
            raise TypeError("class_counts must be a sequence or 1-D tensor of per-class "
                            "counts; got None")
        self.class_counts = counts
        self.max_margin = check_real("max_margin", max_margin, low=0.0, low_open=True)
        self.scale = check_real("scale", scale, low=0.0, low_open=True)
        self.weight = _class_buffer("weight", weight, positive=False)
        self.ignore_index = check_ignore_index(ignore_index)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return FK.ldam_loss(input, target, class_counts=self.class_counts,
                            max_margin=self.max_margin, scale=self.scale, weight=self.weight,
                            ignore_index=self.ignore_index, reduction=self.reduction)
