"""Asymmetric loss (ASL) for multi-label classification (Ridnik et al., ICCV 2021).

Two implementations compute the same numbers: the plain composition of PyTorch operations
(:mod:`focalkit._kernels.plain.asymmetric`, differentiated by autograd; the path
``torch.compile`` traces, and the one taken when the target or ``weight`` needs a gradient),
and a blocked ``torch.autograd.Function`` with the closed-form gradient
(:mod:`focalkit._kernels.blocked.asymmetric`), the default on the CPU, which saves one
input-sized buffer for backward.
"""

from __future__ import annotations

from torch import Tensor

from .. import _dispatch
from .._checks import (
    as_optional_tensor,
    check_binary_ignore_index,
    check_float_tensor,
    check_real,
    check_reduction,
    check_same_shape,
    check_unit_interval,
)
from .._kernels.plain import asymmetric as plain
from .._kernels.plain.asymmetric import AsymmetricOptions

__all__ = ["asymmetric_loss"]


def asymmetric_loss(input: Tensor, target: Tensor, *, gamma_pos: float = 0.0,
                    gamma_neg: float = 4.0, clip: float = 0.05, reduction: str = "mean",
                    weight: Tensor | None = None, ignore_index: int | None = None) -> Tensor:
    r"""Asymmetric loss for multi-label classification (Ridnik et al., 2021).

    Binary cross-entropy per label with separate focusing for positives and negatives, and a
    probability margin that discards the easiest negatives altogether:

    .. math::
        \ell = -w\left[y\,(1 - p)^{\gamma_+} \log p
               + (1 - y)\,p_m^{\gamma_-} \log(1 - p_m)\right], \qquad
        p = \sigma(x), \quad p_m = \max(p - c, 0)

    with :math:`c` the ``clip`` margin. A negative scored below :math:`c` adds nothing; a
    larger :math:`\gamma_-` than :math:`\gamma_+` takes weight away from the many negatives
    of a multi-label problem without touching the positives. Both logarithms are computed in
    log space from the logits (``logsigmoid``), never as ``log(p.clamp(eps))``. Soft targets
    in [0, 1] weight the two terms linearly. The gradient is the closed form, evaluated in the
    forward pass.

    Args:
        input: logits of any shape, usually :math:`(N, C)`.
        target: same shape as ``input``, floats in [0, 1]; entries equal to ``ignore_index``
            are skipped.
        gamma_pos: focusing parameter of the positives, ``>= 0``. Default: 0.0.
        gamma_neg: focusing parameter of the negatives, ``>= 0``. Default: 4.0.
        clip: probability margin :math:`c` in [0, 1) shifted onto the negatives; 0 disables
            it. Default: 0.05.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``. ``"mean"`` divides by the number of
            non-ignored elements and is 0 (with an all-zero gradient) when there are none;
            the paper's reduction is ``"sum"``. Default: ``"mean"``.
        weight: element weight broadcastable to ``input`` (per-class weights as a
            :math:`(C,)` tensor). Default: None.
        ignore_index: target value marking entries to skip, outside [0, 1]; they add nothing
            to the loss or the mean's denominator and get exactly zero gradient, whatever
            their logits. Default: None.

    Shape:
        - input: :math:`(*)`, any shape.
        - target: same as ``input``.
        - output: scalar, or the shape of ``input`` with ``reduction="none"``.

    Returns:
        Tensor: the loss, in the dtype of ``input`` (half inputs are computed in float32).

    Raises:
        TypeError: if ``input``, ``target`` or ``weight`` is not a floating-point tensor, or a
            hyper-parameter is not a real number.
        ValueError: if the shapes differ, a target lies outside [0, 1], ``gamma_pos`` or
            ``gamma_neg`` is negative, ``clip`` lies outside [0, 1), ``weight`` is NaN,
            infinite or negative or does not broadcast to the input, ``ignore_index`` is 0 or 1
            (a valid target), or ``reduction`` is unknown.

    References:
        T. Ridnik, E. Ben-Baruch, N. Zamir, A. Noy, I. Friedman, M. Protter, L. Zelnik-Manor.
        Asymmetric Loss For Multi-Label Classification. ICCV 2021.
        https://arxiv.org/abs/2009.14119

    Example:
        With no focusing and no margin it is binary cross-entropy:

        >>> import torch
        >>> import torch.nn.functional as F
        >>> from focalkit.functional import asymmetric_loss
        >>> x = torch.tensor([[2.0, -1.0, 0.5], [-3.0, 0.2, 1.5]])
        >>> y = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
        >>> torch.allclose(asymmetric_loss(x, y, gamma_neg=0.0, clip=0.0),
        ...                F.binary_cross_entropy_with_logits(x, y))
        True

        A negative scored below the margin (here ``sigmoid(-3) = 0.047 < 0.05``) adds
        nothing, and the default focusing all but removes the other easy negatives:

        >>> asymmetric_loss(x, y, reduction="none")
        tensor([[1.2693e-01, 5.6780e-04, 9.1253e-02],
                [0.0000e+00, 5.9814e-01, 5.0652e-01]])
    """
    check_float_tensor("input", input)
    check_float_tensor("target", target)
    check_same_shape(input, target)
    gamma_pos = check_real("gamma_pos", gamma_pos, low=0.0)
    gamma_neg = check_real("gamma_neg", gamma_neg, low=0.0)
    clip = check_real("clip", clip, low=0.0, high=1.0, high_open=True)
    check_reduction(reduction)
    ignore_index = check_binary_ignore_index(ignore_index)
    weight = as_optional_tensor("weight", weight, input)
    check_unit_interval("target", target, ignore_index)

    options = AsymmetricOptions(gamma_pos, gamma_neg, clip, weight, ignore_index, reduction)
    return _dispatch.run(plain.asymmetric_loss, input, target, options)
