"""Focal losses: sigmoid (binary / multi-label) and softmax (multi-class).

Each function checks its arguments and hands them to the implementation that
:mod:`focalkit._dispatch` picks: the plain composition of PyTorch operations
(:mod:`focalkit._kernels.plain.focal`, the statement of the formula), or a kernel with the
closed-form gradient (cache-blocked on the CPU, fused Triton kernels on CUDA).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from .. import _dispatch
from .._checks import (
    as_optional_tensor,
    check_binary_ignore_index,
    check_bool,
    check_class_target,
    check_class_values,
    check_float_tensor,
    check_gamma,
    check_real,
    check_reduction,
    check_same_shape,
    check_softmax_focal,
    check_unit_alpha,
    check_unit_interval,
    class_vector,
)
from .._kernels.plain import focal as plain
from .._kernels.plain.focal import FocalModulationOptions, SigmoidFocalOptions, SoftmaxFocalOptions

__all__ = ["sigmoid_focal_loss", "softmax_focal_loss", "focal_modulation"]

AlphaLike = float | Sequence[float] | Tensor | None


# ---------------------------------------------------------------------------------------------
# Shared pieces
# ---------------------------------------------------------------------------------------------


def focal_modulation(input: Tensor, target: Tensor, *, gamma: float = 2.0,
                     alpha: float | Tensor | None = 0.25) -> Tensor:
    r"""The focal factor :math:`\alpha_t (1 - p_t)^\gamma` for logits and binary targets.

    .. math::
        p_t = \sigma(x)\,y + \sigma(-x)\,(1 - y), \qquad
        \alpha_t = \alpha y + (1 - \alpha)(1 - y)

    :math:`1 - p_t` is formed from :math:`\sigma(x)` and :math:`\sigma(-x)` directly, so it stays
    accurate for confident predictions where :math:`1 - \sigma(x)` would round to zero.

    Args:
        input: logits of any shape.
        target: targets in [0, 1], same shape as ``input``.
        gamma: focusing parameter :math:`\gamma \ge 0`. Default: 2.0.
        alpha: weight of the positive class in [0, 1], a tensor broadcastable to ``input``, or
            None for no class weighting. Default: 0.25.

    Returns:
        Tensor: the factor, same shape as ``input``, in the dtype that ``input`` and
        ``target`` promote to (as :func:`torch.nn.functional.binary_cross_entropy_with_logits`
        returns; half precision is computed in float32).

    Raises:
        TypeError: if ``input`` or ``target`` is not a floating-point tensor, or ``alpha`` or
            ``gamma`` has the wrong type.
        ValueError: if the shapes differ, a target lies outside [0, 1], ``alpha`` lies outside
            [0, 1] or does not broadcast to ``input`` (or lives on another device), or
            ``gamma < 0``.

    Example:
        >>> import torch
        >>> from focalkit.functional import focal_modulation
        >>> x = torch.tensor([4.0, -4.0])
        >>> focal_modulation(x, torch.tensor([1.0, 1.0]), gamma=2.0, alpha=None)
        tensor([3.2350e-04, 9.6435e-01])
    """
    check_float_tensor("input", input)
    check_float_tensor("target", target)
    check_same_shape(input, target)
    gamma = check_gamma(gamma)
    alpha = check_unit_alpha(alpha, input)
    check_unit_interval("target", target)
    options = FocalModulationOptions(gamma, alpha)
    return _dispatch.run(plain.focal_modulation, input, target, options)


# ---------------------------------------------------------------------------------------------
# Sigmoid focal loss
# ---------------------------------------------------------------------------------------------






def sigmoid_focal_loss(input: Tensor, target: Tensor, *, alpha: float | Tensor | None = 0.25,
                       gamma: float = 2.0, pos_weight: Tensor | None = None,
                       weight: Tensor | None = None, reduction: str = "mean",
                       from_logits: bool = True, ignore_index: int | None = None,
                       epsilon: float = 0.0) -> Tensor:
    r"""Focal loss for binary and multi-label problems (Lin et al., 2017).

    Binary cross-entropy scaled by how wrong each prediction is, so that the many easy
    examples (confident, correct background in dense detection) stop drowning out the few
    hard ones:

    .. math::
        \ell = -w\,\alpha_t\,(1 - p_t)^\gamma
               \left[w_p\,y \log p + (1 - y)\log(1 - p)\right], \quad
        p_t = p\,y + (1 - p)(1 - y), \quad \alpha_t = \alpha y + (1 - \alpha)(1 - y)

    with :math:`p = \sigma(x)`. ``alpha`` weights the positives (the paper's convention:
    ``alpha=0.25`` *down*-weights them, balancing the stronger pull of :math:`\gamma` on the
    negatives). Soft targets in [0, 1] are allowed. The log terms are computed in log space
    from the logits; the gradient is the closed form, evaluated in the forward pass.

    ``epsilon`` adds the Poly-1 term of Leng et al. (2022),
    :math:`w\,\alpha_t\,\epsilon\,(1 - p_t)^{\gamma + 1}`, weighted like the focal term
    (``pos_weight`` does not apply to it); ``epsilon != 0`` takes the plain composition.
    An infinite logit gives the limits: loss and gradient 0 for a right prediction, an
    infinite loss with BCE's gradient for a wrong one.

    Backends (see ``focalkit.backends``): logits are computed by the cache-blocked kernel on
    the CPU and the fused Triton kernel on CUDA. Probabilities (``from_logits=False``),
    ``epsilon != 0``, a target or hyper-parameter tensor that requires grad, and, on the
    Triton path, an ``alpha``/``pos_weight``/``weight`` whose broadcast dimensions are not one
    contiguous run of the input's (e.g. shape ``(N, 1, W)`` for ``(N, C, W)``) take the plain
    composition.

    Args:
        input: logits (or probabilities with ``from_logits=False``) of any shape.
        target: same shape as ``input``, floats in [0, 1]; entries equal to ``ignore_index``
            are skipped.
        alpha: positive-class weight in [0, 1], a tensor of such values broadcastable to
            ``input`` (per-class alpha for multi-label), or None to disable. Default: 0.25.
        gamma: focusing parameter, ``gamma >= 0``; 0 gives (weighted) BCE. Default: 2.0.
        pos_weight: weight of the positive term, broadcastable to ``input``, as in
            :class:`torch.nn.BCEWithLogitsLoss`. Default: None.
        weight: element weight broadcastable to ``input``, as in
            :class:`torch.nn.BCEWithLogitsLoss`. Default: None.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``. ``"mean"`` divides by the number of
            non-ignored elements and is 0 (with an all-zero gradient) when there are none.
            Default: ``"mean"``.
        from_logits: whether ``input`` holds logits (True) or probabilities (False). Default:
            True.
        ignore_index: target value marking entries to skip, outside [0, 1]; they add nothing
            to the loss or the mean's denominator and get exactly zero gradient, whatever
            their logits. Default: None.
        epsilon: weight of the Poly-1 term :math:`(1 - p_t)^{\gamma + 1}`, ``>= -1``; 0 gives
            the focal loss. Default: 0.0.

    Shape:
        - input: :math:`(*)`, any shape.
        - target: same as ``input``.
        - output: scalar, or the shape of ``input`` with ``reduction="none"``.

    Returns:
        Tensor: the loss, in the dtype of ``input`` (half inputs are computed in float32).

    Raises:
        TypeError: if ``input`` or ``target`` is not a floating-point tensor, or a
            hyper-parameter has the wrong type.
        ValueError: if the shapes differ, a target lies outside [0, 1], ``alpha`` lies outside
            [0, 1], ``gamma < 0``, ``epsilon < -1``, ``weight`` or ``pos_weight`` is NaN,
            infinite or negative, ``reduction`` is unknown, ``ignore_index`` is 0 or 1 (a
            valid target), or a hyper-parameter tensor lives on another device than
            ``input``.

    References:
        T.-Y. Lin, P. Goyal, R. Girshick, K. He, P. Dollar. Focal Loss for Dense Object
        Detection. ICCV 2017. https://arxiv.org/abs/1708.02002

        Z. Leng, M. Tan, C. Liu, E. D. Cubuk, X. Shi, S. Cheng, D. Anguelov. PolyLoss: A
        Polynomial Expansion Perspective of Classification Loss Functions. ICLR 2022.
        https://arxiv.org/abs/2204.12511

    Example:
        With ``gamma=0`` and no ``alpha`` it is binary cross-entropy:

        >>> import torch
        >>> import torch.nn.functional as F
        >>> from focalkit.functional import sigmoid_focal_loss
        >>> x = torch.tensor([[2.0, -1.0], [0.5, 3.0]])
        >>> y = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        >>> torch.allclose(sigmoid_focal_loss(x, y, gamma=0.0, alpha=None),
        ...                F.binary_cross_entropy_with_logits(x, y))
        True

        Confident, correct predictions are down-weighted far more than wrong ones:

        >>> sigmoid_focal_loss(x, y, alpha=None, reduction="none")
        tensor([[1.8036e-03, 2.2658e-02],
                [3.7741e-01, 1.0928e-04]])

        ``epsilon`` adds :math:`\epsilon\,(1 - p_t)^{\gamma + 1}`; 0 leaves the loss as it is:

        >>> torch.equal(sigmoid_focal_loss(x, y, epsilon=0.0), sigmoid_focal_loss(x, y))
        True
        >>> sigmoid_focal_loss(x, y, alpha=None, epsilon=1.0, reduction="none")
        tensor([[3.4974e-03, 4.2110e-02],
                [6.1859e-01, 2.1595e-04]])
    """
    check_float_tensor("input", input)
    check_float_tensor("target", target)
    check_same_shape(input, target)
    gamma = check_gamma(gamma)
    check_reduction(reduction)
    from_logits = check_bool("from_logits", from_logits)
    ignore_index = check_binary_ignore_index(ignore_index)
    alpha = check_unit_alpha(alpha, input)
    epsilon = check_real("epsilon", epsilon, low=-1.0)
    pos_weight = as_optional_tensor("pos_weight", pos_weight, input)
    weight = as_optional_tensor("weight", weight, input)
    check_unit_interval("target", target, ignore_index)
    if not from_logits:
        check_unit_interval("input (probabilities, from_logits=False)", input)

    options = SigmoidFocalOptions(alpha, gamma, pos_weight, weight, ignore_index, reduction,
                                  from_logits, epsilon)
    return _dispatch.run(plain.sigmoid_focal_loss, input, target, options)


# ---------------------------------------------------------------------------------------------
# Softmax focal loss
# ---------------------------------------------------------------------------------------------






def softmax_focal_loss(input: Tensor, target: Tensor, *, alpha: AlphaLike = None,
                       gamma: float = 2.0, reduction: str = "mean", ignore_index: int = -100,
                       label_smoothing: float = 0.0, epsilon: float = 0.0) -> Tensor:
    r"""Focal loss for multi-class problems: softmax cross-entropy scaled by :math:`(1-p_t)^\gamma`.

    .. math::
        \ell = -\alpha_t\,(1 - p_t)^\gamma \log p_t, \qquad
        \log p_t = \mathrm{log\_softmax}(x)_t

    For class-probability targets :math:`q` (or with label smoothing) each class contributes
    its own term, :math:`\ell = -\sum_c q_c\,\alpha_c\,(1 - p_c)^\gamma \log p_c`, which reduces
    to the line above for a one-hot :math:`q`. Everything is computed from ``log_softmax``;
    :math:`1 - p_t` is ``-expm1(log_pt)``, accurate for confident predictions. The gradient is
    the closed form :math:`G\,(\mathrm{softmax}(x) - \mathrm{onehot}(t))` with
    :math:`G = \alpha_t\,((1-p_t)^\gamma - \gamma (1-p_t)^{\gamma-1} p_t \log p_t)`.

    ``epsilon`` adds the Poly-1 term of Leng et al. (2022),
    :math:`\alpha_t\,\epsilon\,(1 - p_t)^{\gamma + 1}` (per class, weighted by
    :math:`q_c\,\alpha_c`, for probability targets or label smoothing); ``epsilon != 0``
    takes the plain composition. A ``-inf`` logit (a masked class, or a float16 overflow)
    gives the limits: the gradient stays finite wherever
    :func:`torch.nn.functional.cross_entropy`'s does.

    Backends (see ``focalkit.backends``): class-index targets are computed by the
    cache-blocked kernel on the CPU and the fused Triton kernel on CUDA; label smoothing and
    probability targets by the Triton kernel on CUDA and the plain composition elsewhere.
    ``epsilon != 0`` and an ``alpha`` that requires grad take the plain composition.

    Args:
        input: logits of shape :math:`(N, C, *)`.
        target: class indices of shape :math:`(N, *)` (integer dtype), or class probabilities
            of shape :math:`(N, C, *)` (floating dtype).
        alpha: class weights: None, one float for every class, or a sequence/tensor of C
            non-negative values (e.g. from :func:`focalkit.weights.class_weights`).
            Default: None.
        gamma: focusing parameter, ``gamma >= 0``; 0 gives cross-entropy. Default: 2.0.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``. ``"mean"`` is the plain mean over the
            non-ignored positions (``alpha`` does not enter the denominator, unlike
            ``weight`` in :func:`torch.nn.functional.cross_entropy`); it is 0 with an
            all-zero gradient when every position is ignored. Default: ``"mean"``.
        ignore_index: class index to skip (index targets only: with probability targets it
            must be the default or None). Ignored positions get exactly zero gradient even
            when their logits are NaN or inf. Default: -100.
        label_smoothing: in [0, 1]; mixes the target with the uniform distribution as in
            :func:`torch.nn.functional.cross_entropy`. Default: 0.0.
        epsilon: weight of the Poly-1 term :math:`(1 - p_t)^{\gamma + 1}`, ``>= -1``; 0 gives
            the focal loss. Default: 0.0.

    Shape:
        - input: :math:`(N, C)` or :math:`(N, C, d_1, ..., d_K)`.
        - target: :math:`(N)` / :math:`(N, d_1, ..., d_K)` indices, or the shape of ``input``
          for probabilities.
        - output: scalar, or :math:`(N, d_1, ..., d_K)` with ``reduction="none"``.

    Returns:
        Tensor: the loss, in the dtype of ``input`` (half inputs are computed in float32).

    Raises:
        TypeError: if ``input`` is not floating point, ``target`` is neither integer nor
            floating point, or an ``alpha`` tensor is not floating point.
        ValueError: on a shape mismatch, a class index outside ``[0, C)`` (other than
            ``ignore_index``), an ``alpha`` with the wrong number of values or a negative one,
            ``gamma < 0``, ``epsilon < -1``, ``label_smoothing`` outside [0, 1], an unknown
            ``reduction``, or an explicit ``ignore_index`` with probability targets.

    References:
        T.-Y. Lin, P. Goyal, R. Girshick, K. He, P. Dollar. Focal Loss for Dense Object
        Detection. ICCV 2017. https://arxiv.org/abs/1708.02002

        Z. Leng, M. Tan, C. Liu, E. D. Cubuk, X. Shi, S. Cheng, D. Anguelov. PolyLoss: A
        Polynomial Expansion Perspective of Classification Loss Functions. ICLR 2022.
        https://arxiv.org/abs/2204.12511

    Example:
        With ``gamma=0`` and no ``alpha`` it is cross-entropy:

        >>> import torch
        >>> import torch.nn.functional as F
        >>> from focalkit.functional import softmax_focal_loss
        >>> x = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]])
        >>> t = torch.tensor([0, 1])
        >>> torch.allclose(softmax_focal_loss(x, t, gamma=0.0), F.cross_entropy(x, t))
        True

        The well-classified first sample loses most of its weight at ``gamma=2``:

        >>> softmax_focal_loss(x, t, reduction="none")
        tensor([0.0111, 2.6011])

        ``epsilon`` adds :math:`\epsilon\,(1 - p_t)^{\gamma + 1}`:

        >>> softmax_focal_loss(x, t, epsilon=1.0, reduction="none")
        tensor([0.0209, 3.4464])
    """
    check_float_tensor("input", input)
    is_index = check_class_target(input, target)
    gamma, ignore_index, label_smoothing, epsilon = check_softmax_focal(
        gamma, reduction, ignore_index, label_smoothing, epsilon)
    c = input.shape[1]
    alpha = class_vector("alpha", alpha, c, like=input, high=None)
    if not is_index and ignore_index not in (None, -100):
        raise ValueError(f"ignore_index applies to class-index targets; got class-probability "
                         f"targets of shape {tuple(target.shape)} with "
                         f"ignore_index={ignore_index}")
    target = check_class_values(target, is_index, c, ignore_index)

    options = SoftmaxFocalOptions(alpha, gamma, ignore_index, label_smoothing, is_index,
                                  reduction, epsilon)
    return _dispatch.run(plain.softmax_focal_loss, input, target, options)
