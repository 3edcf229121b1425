"""Poly-1 cross-entropy (Leng et al., ICLR 2022): cross-entropy plus its first polynomial term."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from .. import _dispatch
from .._checks import (
    check_class_target,
    check_class_values,
    check_float_tensor,
    check_ignore_index,
    check_real,
    check_reduction,
    class_vector,
)
from .._kernels.plain import poly as plain
from .._kernels.plain.poly import Poly1Options

__all__ = ["poly1_cross_entropy"]


def poly1_cross_entropy(input: Tensor, target: Tensor, *, epsilon: float = 1.0,
                        weight: Sequence[float] | Tensor | None = None,
                        ignore_index: int = -100, label_smoothing: float = 0.0,
                        reduction: str = "mean") -> Tensor:
    r"""Poly-1 loss: softmax cross-entropy plus :math:`\epsilon\,(1 - p_t)` (Leng et al., 2022).

    Cross-entropy expands as :math:`-\log p_t = \sum_{j \ge 1} (1 - p_t)^j / j`. Poly-1 changes
    the weight of the first term, the one that dominates the gradient near convergence:

    .. math::
        \ell = -\log p_t + \epsilon\,(1 - p_t), \qquad p_t = \mathrm{softmax}(x)_t

    :math:`\epsilon > 0` keeps pushing confident predictions; :math:`\epsilon < 0` lets them
    go, down to :math:`\epsilon = -1`, where the leading term vanishes. With class weights
    :math:`w`, label smoothing or class-probability targets :math:`q`, every class contributes
    its own term,

    .. math::
        \ell = \sum_c w_c\,q_c \left[-\log p_c + \epsilon\,(1 - p_c)\right],

    which is :func:`torch.nn.functional.cross_entropy` plus
    :math:`\epsilon \sum_c w_c q_c (1 - p_c)`. With ``epsilon=0`` it is exactly
    ``cross_entropy`` with the same arguments. :math:`1 - p_c` is ``-expm1(log_softmax)``,
    accurate for confident predictions.

    Args:
        input: logits of shape :math:`(N, C, *)`.
        target: class indices of shape :math:`(N, *)` (integer dtype), or class probabilities
            of shape :math:`(N, C, *)` (floating dtype).
        epsilon: weight of the polynomial term, ``>= -1``. Default: 1.0.
        weight: C non-negative class weights, as in ``cross_entropy``. Default: None.
        ignore_index: class index to skip (index targets only); ignored positions get exactly
            zero gradient even when their logits are NaN or inf. Default: -100.
        label_smoothing: in [0, 1]; mixes the target with the uniform distribution, as in
            ``cross_entropy``. Default: 0.0.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``. ``"mean"`` follows ``cross_entropy``:
            for index targets it divides by the summed weights of the non-ignored targets (the
            number of them without ``weight``), for probability targets by the number of
            positions; it is 0 with an all-zero gradient when that is 0. Default: ``"mean"``.

    Shape:
        - input: :math:`(N, C)` or :math:`(N, C, d_1, ..., d_K)`.
        - target: :math:`(N)` / :math:`(N, d_1, ..., d_K)` indices, or the shape of ``input``
          for probabilities.
        - output: scalar, or :math:`(N, d_1, ..., d_K)` with ``reduction="none"``.

    Returns:
        Tensor: the loss, in the dtype of ``input`` (half inputs are computed in float32).

    Raises:
        TypeError: if ``input`` is not floating point, ``target`` is neither integer nor
            floating point, or ``epsilon`` is not a real number.
        ValueError: on a shape mismatch, a class index outside ``[0, C)`` (other than
            ``ignore_index``), probabilities outside [0, 1], a ``weight`` with the wrong number
            of values or a negative one, ``epsilon < -1``, ``label_smoothing`` outside [0, 1],
            or an unknown ``reduction``.

    References:
        Z. Leng, M. Tan, C. Liu, E. D. Cubuk, X. Shi, S. Cheng, D. Anguelov. PolyLoss: A
        Polynomial Expansion Perspective of Classification Loss Functions. ICLR 2022.
        https://arxiv.org/abs/2204.12511

    Example:
        Poly-1 exceeds cross-entropy by exactly :math:`\epsilon (1 - p_t)`:

        >>> import torch
        >>> import torch.nn.functional as F
        >>> from focalkit.functional import poly1_cross_entropy
        >>> x = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]])
        >>> t = torch.tensor([0, 1])
        >>> p_t = torch.softmax(x, dim=1)[[0, 1], t]
        >>> extra = poly1_cross_entropy(x, t, reduction="none") - F.cross_entropy(
        ...     x, t, reduction="none")
        >>> torch.allclose(extra, 1 - p_t)
        True
    """
    check_float_tensor("input", input)
    is_index = check_class_target(input, target)
    epsilon = check_real("epsilon", epsilon, low=-1.0)
    check_reduction(reduction)
    ignore_index = check_ignore_index(ignore_index)
    label_smoothing = check_real("label_smoothing", label_smoothing, low=0.0, high=1.0)
    c = input.shape[1]
    weight = class_vector("weight", weight, c, like=input, high=None)
    target = check_class_values(target, is_index, c, ignore_index)

    options = Poly1Options(epsilon, weight, ignore_index, label_smoothing, is_index, reduction)
    return _dispatch.run(plain.poly1_cross_entropy, input, target, options)
