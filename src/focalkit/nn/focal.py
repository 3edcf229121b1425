"""Module forms of the focal losses."""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import functional as FK
from .._checks import (
    REDUCTIONS,
    check_binary_ignore_index,
    check_bool,
    check_choice,
    check_ignore_index,
    check_optional_weight,
    check_real,
    check_reduction,
    check_unit_alpha,
    class_vector,
)
from .._tensor import reduce
from ._base import GammaMixin, LossModule, as_class_vector, describe_fields, float_target
from ._registry import register

__all__ = ["SigmoidFocalLoss", "SoftmaxFocalLoss", "FocalLoss", "FocalWrapper"]


@register("sigmoid_focal", "multilabel", ("binary_focal",))
class SigmoidFocalLoss(GammaMixin, LossModule):
    r"""Module form of :func:`focalkit.functional.sigmoid_focal_loss`.

    .. math::
        \ell = -w\,\alpha_t\,(1 - p_t)^\gamma
               \left[w_p\,y \log p + (1 - y)\log(1 - p)\right]

    Args:
        alpha: positive-class weight in [0, 1], a tensor broadcastable to the input, or None.
            Default: 0.25.
        gamma: focusing parameter ``>= 0``; settable later (e.g. by
            :class:`focalkit.GammaScheduler`). Default: 2.0.
        pos_weight: positive-term weight as in :class:`torch.nn.BCEWithLogitsLoss`.
            Default: None.
        weight: element weight as in :class:`torch.nn.BCEWithLogitsLoss`. Default: None.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``. Default: ``"mean"``.
        from_logits: whether inputs are logits (True) or probabilities. Default: True.
        ignore_index: target value to skip. Default: None.
        epsilon: weight of the Poly-1 term :math:`\epsilon\,(1 - p_t)^{\gamma + 1}`,
            ``>= -1``. Default: 0.0.

    Shape:
        - input: :math:`(*)`; target: same shape; output: scalar or :math:`(*)`.

    Raises:
        TypeError, ValueError: as :func:`focalkit.functional.sigmoid_focal_loss`.

    Example:
        >>> import torch
        >>> from focalkit import SigmoidFocalLoss
        >>> from focalkit.functional import sigmoid_focal_loss
        >>> x, y = torch.randn(4, 3), torch.randint(0, 2, (4, 3)).float()
        >>> torch.equal(SigmoidFocalLoss(gamma=1.5)(x, y), sigmoid_focal_loss(x, y, gamma=1.5))
        True
    """

    _repr_fields = ("alpha", "gamma", "pos_weight", "weight", "reduction", "from_logits",
                    "ignore_index", "epsilon")
    _buffer_fields = ("alpha", "pos_weight", "weight")

    def __init__(self, *, alpha: float | Tensor | None = 0.25, gamma: float = 2.0,
                 pos_weight: Tensor | None = None, weight: Tensor | None = None,
                 reduction: str = "mean", from_logits: bool = True,
                 ignore_index: int | None = None, epsilon: float = 0.0) -> None:
        super().__init__(reduction=reduction)
        self.alpha = check_unit_alpha(alpha)
        self.pos_weight = check_optional_weight("pos_weight", pos_weight)
        self.weight = check_optional_weight("weight", weight)
        self.gamma = gamma
        self.from_logits = check_bool("from_logits", from_logits)
        self.ignore_index = check_binary_ignore_index(ignore_index)
        self.epsilon = check_real("epsilon", epsilon, low=-1.0)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return FK.sigmoid_focal_loss(
            input, target, alpha=self.alpha, gamma=self.gamma, pos_weight=self.pos_weight,
            weight=self.weight, reduction=self.reduction, from_logits=self.from_logits,
            ignore_index=self.ignore_index, epsilon=self.epsilon)


@register("softmax_focal", "multiclass", ("multiclass_focal",))
class SoftmaxFocalLoss(GammaMixin, LossModule):
    r"""Module form of :func:`focalkit.functional.softmax_focal_loss`.

    .. math::
        \ell = -\alpha_t\,(1 - p_t)^\gamma \log p_t

    Args:
        alpha: None, a float, or C per-class weights (kept as a buffer). Default: None.
        gamma: focusing parameter ``>= 0``; settable later. Default: 2.0.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``. Default: ``"mean"``.
        ignore_index: class index to skip. Default: -100.
        label_smoothing: in [0, 1]. Default: 0.0.
        epsilon: weight of the Poly-1 term :math:`\epsilon\,(1 - p_t)^{\gamma + 1}`,
            ``>= -1``. Default: 0.0.

    Shape:
        - input: :math:`(N, C, *)`; target: :math:`(N, *)` indices or :math:`(N, C, *)`
          probabilities; output: scalar or :math:`(N, *)`.

    Raises:
        TypeError, ValueError: as :func:`focalkit.functional.softmax_focal_loss`.

    Example:
        >>> import torch
        >>> import torch.nn.functional as F
        >>> from focalkit import SoftmaxFocalLoss
        >>> x, t = torch.randn(8, 5), torch.randint(0, 5, (8,))
        >>> torch.allclose(SoftmaxFocalLoss(gamma=0.0)(x, t), F.cross_entropy(x, t))
        True
    """

    _repr_fields = ("alpha", "gamma", "reduction", "ignore_index", "label_smoothing",
                    "epsilon")
    _buffer_fields = ("alpha",)

    def __init__(self, *, alpha: float | Sequence[float] | Tensor | None = None,
                 gamma: float = 2.0, reduction: str = "mean", ignore_index: int = -100,
                 label_smoothing: float = 0.0, epsilon: float = 0.0) -> None:
        super().__init__(reduction=reduction)
        _set_softmax_focal(self, alpha, gamma, ignore_index, label_smoothing, epsilon)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return FK.softmax_focal_loss(
            input, target, alpha=self.alpha, gamma=self.gamma, reduction=self.reduction,
            ignore_index=self.ignore_index, label_smoothing=self.label_smoothing,
            epsilon=self.epsilon)


def _float_tensor(values: Sequence[float]) -> Tensor:
    return torch.as_tensor(list(values), dtype=torch.get_default_dtype())


def _set_softmax_focal(module: nn.Module, alpha: object, gamma: object, ignore_index: object,
                      label_smoothing: object, epsilon: object) -> None:
    """Check and set the hyper-parameters of the softmax focal loss on ``module`` (a
    :class:`SoftmaxFocalLoss`, or the same loss over a linear layer)."""
    module.alpha = _class_alpha(alpha)
    module.gamma = gamma
    module.ignore_index = check_ignore_index(ignore_index)
    module.label_smoothing = check_real("label_smoothing", label_smoothing, low=0.0, high=1.0)
    module.epsilon = check_real("epsilon", epsilon, low=-1.0)


def _class_alpha(alpha: object) -> object:
    """A softmax ``alpha``: None, a float, or per-class weights as a 1-D float tensor."""
    if isinstance(alpha, Sequence) and not isinstance(alpha, str):
        alpha = _float_tensor(alpha)
    if isinstance(alpha, Tensor):
        if alpha.dim() != 1:
            raise ValueError(f"alpha must be a 1-D tensor with one weight per class; got "
                             f"shape {tuple(alpha.shape)}")
        class_vector("alpha", alpha, alpha.numel(), like=alpha, high=None)
    elif alpha is not None:
        check_real("alpha", alpha, low=0.0)
    return alpha


@register("focal", "mode")
class FocalLoss(nn.Module):
    r"""One focal loss for three kinds of problem, chosen by ``mode``.

    * ``"binary"``: one sigmoid output. Input :math:`(N, 1, *)` or :math:`(N, *)` logits;
      target of the same shape, or :math:`(N, *)` for a :math:`(N, 1, *)` input. Calls
      :func:`~focalkit.functional.sigmoid_focal_loss`.
    * ``"multilabel"``: C independent sigmoid outputs, input and target :math:`(N, C, *)`. A
      1-D ``alpha`` or ``pos_weight`` of C values applies along dimension 1 (the class
      dimension), whatever the number of spatial dimensions.
    * ``"multiclass"``: softmax over C classes, target :math:`(N, *)` indices or
      :math:`(N, C, *)` probabilities. Calls :func:`~focalkit.functional.softmax_focal_loss`.

    Integer and boolean targets are accepted in the sigmoid modes and converted to float.
    Every hyper-parameter can be reassigned after construction (``loss.reduction = "sum"``,
    ``loss.alpha = weights``) and is checked as in the constructor; the values live on the
    inner loss module ``loss.loss``, tensors as its buffers.

    .. math::
        \ell = -\alpha_t\,(1 - p_t)^\gamma \log p_t

    Args:
        mode: ``"binary"`` | ``"multiclass"`` | ``"multilabel"``.
        alpha: ``"auto"`` (0.25 in the sigmoid modes, as in the paper; None in multiclass),
            None, a float, or per-class values. Default: ``"auto"``.
        gamma: focusing parameter ``>= 0``. Default: 2.0.
        pos_weight: positive-term weight (sigmoid modes only). Default: None.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``. Default: ``"mean"``.
        ignore_index: target value to skip; None means -100 in multiclass mode (as in
            :func:`torch.nn.functional.cross_entropy`) and nothing in the sigmoid modes.
            Default: None.
        label_smoothing: in [0, 1] (multiclass only). Default: 0.0.
        epsilon: weight of the Poly-1 term :math:`\epsilon\,(1 - p_t)^{\gamma + 1}`,
            ``>= -1`` (every mode). Default: 0.0.

    Shape:
        See the modes above; the output is a scalar, or per element with ``"none"``.

    Raises:
        ValueError: for an unknown ``mode``, options that do not apply to it, and everything
            the underlying function rejects.

    Example:
        >>> import torch
        >>> from focalkit import FocalLoss
        >>> from focalkit.functional import sigmoid_focal_loss
        >>> x, y = torch.randn(2, 1, 4, 4), torch.randint(0, 2, (2, 4, 4))
        >>> torch.equal(FocalLoss("binary")(x, y),
        ...             sigmoid_focal_loss(x, y.unsqueeze(1).float()))
        True
    """

    _repr_fields = ("mode", "alpha", "gamma", "pos_weight", "reduction", "ignore_index")
    MODES = ("binary", "multiclass", "multilabel")

    def __init__(self, mode: str, *, alpha: object = "auto", gamma: float = 2.0,
                 pos_weight: Tensor | None = None, reduction: str = "mean",
                 ignore_index: int | None = None, label_smoothing: float = 0.0,
                 epsilon: float = 0.0) -> None:
        super().__init__()
        self.mode = check_choice("mode", mode, self.MODES)
        # Every hyper-parameter lives on this loss (its tensors as its buffers); the
        # properties below read and write it, so later assignments take effect.
        self.loss = SoftmaxFocalLoss(alpha=None) if mode == "multiclass" \
            else SigmoidFocalLoss(alpha=None)
        self.alpha = alpha
        self.gamma = gamma
        self.pos_weight = pos_weight
        self.reduction = reduction
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing
        self.epsilon = epsilon

    def extra_repr(self) -> str:
        return describe_fields(self, self._repr_fields)

    @property
    def alpha(self) -> object:
        """The class weight of the chosen loss; setting ``"auto"`` gives 0.25 in the sigmoid
        modes and None in multiclass mode, and a sequence becomes a tensor (a buffer)."""
        return self.loss.alpha

    @alpha.setter
    def alpha(self, value: object) -> None:
        if isinstance(value, str):
            check_choice("alpha", value, ("auto",))
            value = None if self.mode == "multiclass" else 0.25
        if self.mode == "multiclass":
            self.loss.alpha = _class_alpha(value)
        else:
            if isinstance(value, Sequence):
                value = _float_tensor(value)
            self.loss.alpha = check_unit_alpha(value)

    @property
    def gamma(self) -> float:
        """The focusing parameter of the wrapped loss; setting it checks ``gamma >= 0``."""
        return self.loss.gamma

    @gamma.setter
    def gamma(self, value: float) -> None:
        self.loss.gamma = value

    @property
    def pos_weight(self) -> object:
        """The positive-term weight (sigmoid modes; always None in multiclass mode)."""
        return getattr(self.loss, "pos_weight", None)

    @pos_weight.setter
    def pos_weight(self, value: object) -> None:
        if self.mode == "multiclass":
            if value is not None:
                raise ValueError("pos_weight applies to the sigmoid modes only; got mode "
                                 "'multiclass'")
            return
        self.loss.pos_weight = check_optional_weight("pos_weight", value)

    @property
    def reduction(self) -> str:
        """``"none"`` | ``"mean"`` | ``"sum"``."""
        return self.loss.reduction

    @reduction.setter
    def reduction(self, value: str) -> None:
        self.loss.reduction = check_reduction(value)

    @property
    def ignore_index(self) -> int | None:
        """The target value skipped (setting None in multiclass mode gives -100)."""
        return self.loss.ignore_index

    @ignore_index.setter
    def ignore_index(self, value: int | None) -> None:
        if self.mode == "multiclass":
            value = check_ignore_index(value)
            self.loss.ignore_index = -100 if value is None else value
        else:
            self.loss.ignore_index = check_binary_ignore_index(value)

    @property
    def label_smoothing(self) -> float:
        """Label smoothing in [0, 1] (multiclass mode; always 0 in the sigmoid modes)."""
        return getattr(self.loss, "label_smoothing", 0.0)

    @label_smoothing.setter
    def label_smoothing(self, value: float) -> None:
        if self.mode == "multiclass":
            self.loss.label_smoothing = check_real("label_smoothing", value, low=0.0, high=1.0)
        elif value != 0.0:
            raise ValueError(f"label_smoothing applies to mode 'multiclass' only; got mode "
                             f"{self.mode!r} with label_smoothing={value}")

    @property
    def epsilon(self) -> float:
        """Weight of the Poly-1 term, ``>= -1``."""
        return self.loss.epsilon

    @epsilon.setter
    def epsilon(self, value: float) -> None:
        self.loss.epsilon = check_real("epsilon", value, low=-1.0)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        if self.mode == "multiclass":
            return self.loss(input, target)
        target = float_target(target, input)
        if self.mode == "binary" and input.dim() == target.dim() + 1 and input.shape[1] == 1:
            target = target.unsqueeze(1)
        loss = self.loss
        return FK.sigmoid_focal_loss(
            input, target, alpha=as_class_vector(loss.alpha, input.dim()), gamma=loss.gamma,
            pos_weight=as_class_vector(loss.pos_weight, input.dim()), weight=loss.weight,
            reduction=loss.reduction, ignore_index=loss.ignore_index, epsilon=loss.epsilon)


class FocalWrapper(GammaMixin, nn.Module):
    r"""Turn any element-wise sigmoid loss module into a focal loss.

    The wrapped module computes its loss per element (with ``reduction="none"``, without
    changing the module), which is then scaled by :math:`\alpha_t (1 - p_t)^\gamma` with
    :math:`p_t` from ``sigmoid(input)`` (see :func:`focalkit.functional.focal_modulation`),
    and reduced the way the wrapped module's own ``reduction`` says. This is how detection
    codebases (YOLO, mmdetection) put focal loss around ``nn.BCEWithLogitsLoss(pos_weight=...)``;
    the wrapped module stays usable on its own.

    .. math::
        \ell = \alpha_t\,(1 - p_t)^\gamma\,\ell_\text{base}(x, y)

    Args:
        loss_fn: a module with a ``reduction`` attribute whose ``"none"`` output has the
            input's shape, e.g. :class:`torch.nn.BCEWithLogitsLoss`.
        gamma: focusing parameter ``>= 0``. Default: 1.5.
        alpha: positive-class weight in [0, 1], or None. Default: 0.25.

    Shape:
        - input, target: :math:`(*)`; output: reduced as ``loss_fn.reduction`` says, in the
          dtype ``input`` and ``target`` promote to (float32 for float16 logits with float32
          targets, as under autocast), like the wrapped loss.

    Raises:
        TypeError: if ``loss_fn`` is not a module with a ``reduction`` attribute.
        ValueError: if ``gamma < 0``, ``alpha`` is outside [0, 1] or ``loss_fn.reduction`` is
            unknown; in ``forward``, if the targets lie outside [0, 1], their shape differs
            from the input's, or ``loss_fn`` does not return one loss per input element.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> from focalkit import FocalWrapper
        >>> from focalkit.functional import sigmoid_focal_loss
        >>> x, y = torch.randn(4, 3), torch.randint(0, 2, (4, 3)).float()
        >>> wrapped = FocalWrapper(nn.BCEWithLogitsLoss(), gamma=2.0, alpha=0.25)
        >>> torch.allclose(wrapped(x, y), sigmoid_focal_loss(x, y))
        True
    """

    def __init__(self, loss_fn: nn.Module, *, gamma: float = 1.5,
                 alpha: float | None = 0.25) -> None:
        super().__init__()
        if not isinstance(loss_fn, nn.Module) or not isinstance(
                getattr(loss_fn, "reduction", None), str):
            raise TypeError(f"loss_fn must be an nn.Module with a 'reduction' attribute; got "
                            f"{type(loss_fn).__name__}")
        check_choice("loss_fn.reduction", loss_fn.reduction, REDUCTIONS)
        self.loss_fn = loss_fn
        self.gamma = gamma
        self.alpha = None if alpha is None else check_real("alpha", alpha, low=0.0, high=1.0)

    def extra_repr(self) -> str:
        return f"gamma={self.gamma}, alpha={self.alpha}"

    def _elementwise(self, input: Tensor, target: Tensor) -> Tensor:
        fn = self.loss_fn
        if type(fn) is nn.BCEWithLogitsLoss:
            return F.binary_cross_entropy_with_logits(input, target, weight=fn.weight,
                                                      pos_weight=fn.pos_weight,
                                                      reduction="none")
        unreduced = copy.copy(fn)
        unreduced.reduction = "none"
        return unreduced(input, target)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        reduction = check_choice("loss_fn.reduction", self.loss_fn.reduction, REDUCTIONS)
        factor = FK.focal_modulation(input, target, gamma=self.gamma, alpha=self.alpha)
        base = self._elementwise(input, target)
        if base.shape != input.shape:
            raise ValueError(f"loss_fn must return one loss per element of input (shape "
                             f"{tuple(input.shape)}) with reduction='none'; got shape "
                             f"{tuple(base.shape)}")
        return reduce(base * factor, reduction)
