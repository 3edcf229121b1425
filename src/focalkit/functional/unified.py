r"""Unified focal loss (Yeung et al., 2022), asymmetric form, for any number of classes.

A weighted sum of two terms that treat the background and the foreground classes
differently: an *asymmetric focal* term, cross-entropy whose background part is suppressed by
the focal factor :math:`(1 - p)^\gamma` while the foreground part is kept whole, and an
*asymmetric focal Tversky* term, whose foreground part is enhanced by the exponent
:math:`1 - \gamma < 1`. The Tversky statistics come from the per-class statistics of
:mod:`focalkit.functional.region`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import torch
from torch import Tensor

from .._checks import (
    check_bool,
    check_choice,
    check_real,
    check_region_inputs,
    check_region_options,
)
from .._kernels.plain.region import RegionOptions, unified_focal
from .._tensor import compute_dtype, ignore_mask
from .region import statistics

__all__ = ["unified_focal_loss"]

UNIFIED_MODES = ("multiclass", "binary")


def _check_background(background: object, num_classes: int) -> list[int]:
    if background is None:
        return []
    values = [background] if isinstance(background, numbers.Integral) else background
    if isinstance(values, Tensor):
        values = values.tolist()
    if isinstance(values, str) or not isinstance(values, Sequence) or any(
            isinstance(v, bool) or not isinstance(v, numbers.Integral) for v in values):
        raise TypeError(f"background must be None, a class index or a sequence of class "
                        f"indices; got {background!r}")
    bad = [int(v) for v in values if not 0 <= v < num_classes]
    if bad:
        raise ValueError(f"background must lie in [0, {num_classes - 1}] for {num_classes} "
                         f"classes; got {bad[0]}")
    values = [int(v) for v in values]
    if len(set(values)) != len(values):
        raise ValueError(f"background must not repeat a class; got {values}")
    return sorted(values)


def _two_channels(input: Tensor, target: Tensor, from_logits: bool,
                  ignore_index: int | None) -> tuple[Tensor, Tensor, int | None]:
    r"""Binary input ``(N, 1, M)`` as two classes (background, foreground).

    Logits :math:`x` become :math:`(0, x)`, whose softmax is :math:`(\sigma(-x), \sigma(x))`;
    probabilities :math:`p` become :math:`(1 - p, p)`, targets :math:`q` become
    :math:`(1 - q, q)`. Ignored positions are marked -1 in both target channels.
    """
    x = input
    first = torch.zeros_like(x) if from_logits else 1.0 - x
    valid, q = ignore_mask(target, ignore_index)
    q = q.to(compute_dtype(input))
    q2 = torch.cat((1.0 - q, q), dim=1)
    if valid is not None:
        q2 = torch.where(valid, q2, -1.0)
    return torch.cat((first, x), dim=1), q2, None if valid is None else -1


def unified_focal_loss(input: Tensor, target: Tensor, *, mode: str = "multiclass",
                       from_logits: bool = True, weight: float = 0.5, delta: float = 0.6,
                       gamma: float = 0.5, background: int | Sequence[int] | None = 0,
                       smooth: float = 0.0, eps: float = 1e-7,
                       ignore_index: int | None = None, per_image: bool = False,
                       reduction: str = "mean") -> Tensor:
    r"""Asymmetric unified focal loss (Yeung et al., 2022), for any number of classes.

    .. math::
        \ell_c = \lambda\,F_c + (1 - \lambda)\,T_c

    with :math:`\lambda` = ``weight``, the asymmetric focal term (a mean over the :math:`M`
    kept positions)

    .. math::
        F_c = -\frac{1}{M} \sum_i q_{ic} \log p_{ic} \cdot
              \begin{cases} (1 - \delta)\,(1 - p_{ic})^\gamma & c \in B \\
                            \delta & c \notin B \end{cases}

    and the asymmetric focal Tversky term

    .. math::
        T_c = \begin{cases} 1 - \mathrm{TI}_c & c \in B \\
                            (1 - \mathrm{TI}_c)^{1 - \gamma} & c \notin B \end{cases},
        \qquad
        \mathrm{TI}_c = \frac{TP_c + s}{TP_c + \delta\,FN_c + (1 - \delta)\,FP_c + s},

    where :math:`B` is the set of ``background`` classes. The focal factor suppresses the easy
    background positions in the cross-entropy, the exponent :math:`1 - \gamma < 1` enlarges
    the Tversky loss of the foreground classes where it is small, and :math:`\delta > 1/2`
    charges foreground misses (false negatives) more than false alarms. The statistics are
    those of :func:`region_stats` (summed over the batch, or per image with ``per_image``),
    and a class absent from both target and prediction has :math:`\mathrm{TI}_c = 1`.

    In ``"binary"`` mode a single sigmoid channel is the foreground and its complement the
    background class 0, as in MONAI's ``AsymmetricUnifiedFocalLoss``, which this loss equals
    on binary inputs (with ``per_image=True``, ``smooth=eps=1e-7`` and MONAI's probabilities;
    see the migration notes in the documentation).

    Args:
        input: logits of shape :math:`(N, C, *)` (softmax over ``C``) in ``"multiclass"``
            mode, or :math:`(N, 1, *)` / :math:`(N, *)` (one sigmoid) in ``"binary"`` mode;
            probabilities with ``from_logits=False``.
        target: ``"multiclass"``: class indices :math:`(N, *)` (integer dtype) or class
            probabilities :math:`(N, C, *)`. ``"binary"``: the shape of ``input``, values in
            [0, 1].
        mode: ``"multiclass"`` | ``"binary"``. Default: ``"multiclass"``.
        from_logits: whether ``input`` holds logits (True) or probabilities. Default: True.
        weight: :math:`\lambda \in [0, 1]`, the share of the focal term. Default: 0.5.
        delta: :math:`\delta \in [0, 1]`, the foreground's weight in the focal term and the
            false negatives' in the Tversky index. Default: 0.6.
        gamma: :math:`\gamma \in [0, 1]`: background suppression and foreground enhancement.
            Default: 0.5.
        background: the background class index, several, or None for none (every class is
            then foreground). In binary mode the implicit background is class 0.
            Default: 0.
        smooth: :math:`s \ge 0`, added to numerator and denominator of the Tversky index.
            Default: 0.0.
        eps: lower bound of the Tversky denominator. Default: 1e-7.
        ignore_index: target value of positions to leave out (in multiclass mode,
            class-index targets only); they get exactly zero gradient. Default: None.
        per_image: statistics and means per image instead of over the batch. Default: False.
        reduction: over classes (and images with ``per_image``): ``"none"`` | ``"mean"`` |
            ``"sum"``. ``"mean"`` averages :math:`\ell_c` over the classes; Yeung et al.'s
            code sums its focal term over the classes instead (its two-class focal term is
            twice :math:`\tfrac{1}{2}(F_0 + F_1)`), which ``"sum"`` gives. Default: ``"mean"``.

    Shape:
        - output: scalar; with ``reduction="none"``, :math:`(C,)` or :math:`(N, C)` with
          ``per_image`` (:math:`C = 2` in binary mode).

    Returns:
        Tensor: the loss, in the dtype of ``input`` (half inputs are computed in float32).

    Raises:
        TypeError: if ``input`` is not floating point, ``target`` has an unsupported dtype, or
            an option has the wrong type.
        ValueError: for an unknown ``mode`` or ``reduction``; shapes that do not fit the mode;
            class indices out of range; targets or probabilities outside [0, 1]; ``weight``,
            ``delta`` or ``gamma`` outside [0, 1]; ``background`` out of range or naming a
            class twice;
            ``smooth < 0`` or ``eps <= 0``.

    References:
        M. Yeung, E. Sala, C.-B. Schönlieb, L. Rundo. Unified Focal Loss: Generalising Dice
        and Cross Entropy-based Losses to Handle Class Imbalanced Medical Image Segmentation.
        Computerized Medical Imaging and Graphics 95, 2022. https://arxiv.org/abs/2102.04525

    Example:
        With ``gamma=0``, ``delta=1/2`` and no background class, the focal term is half the
        cross-entropy and the Tversky term the Dice loss:

        >>> import torch
        >>> import torch.nn.functional as F
        >>> from focalkit.functional import dice_loss, unified_focal_loss
        >>> x, t = torch.randn(2, 3, 4, 4), torch.randint(0, 3, (2, 4, 4))
        >>> loss = unified_focal_loss(x, t, weight=0.5, delta=0.5, gamma=0.0, background=None)
        >>> plain = 0.5 * (0.5 * F.cross_entropy(x, t) / 3) + 0.5 * dice_loss(x, t)
        >>> torch.allclose(loss, plain)
        True
    """
    mode = check_choice("mode", mode, UNIFIED_MODES)
    per_image = check_bool("per_image", per_image)
    _, smooth, eps, ignore_index = check_region_options(mode, smooth, eps, reduction,
                                                        ignore_index, per_image, False,
                                                        "product")
    weight = check_real("weight", weight, low=0.0, high=1.0)
    delta = check_real("delta", delta, low=0.0, high=1.0)
    gamma = check_real("gamma", gamma, low=0.0, high=1.0)
    is_index, num_classes = check_region_inputs(input, target, mode, from_logits,
                                                ignore_index)
    n = input.shape[0]
    m = math.prod(input.shape[2:]) if mode == "multiclass" else input.numel() // max(n, 1)
    if mode == "binary":
        x, q, stats_ignore = _two_channels(input.reshape(n, 1, m), target.reshape(n, 1, m),
                                           from_logits, ignore_index)
        target = q
        num_classes = 2
    else:
        x, stats_ignore = input.reshape(n, num_classes, m), ignore_index
        target = target.reshape(n, m) if is_index else target.reshape(n, num_classes, m)
    background = _check_background(background, num_classes)
    options = RegionOptions("multiclass", from_logits, smooth, eps, None, stats_ignore,
                            per_image, False, reduction, False, "product", is_index,
                            num_classes)
    tp, fp, fn = statistics(x, target, options)
    return unified_focal(x, target, tp, fp, fn, is_index=is_index, ignore_index=stats_ignore,
                         from_logits=from_logits, weight=weight, delta=delta, gamma=gamma,
                         background=background, smooth=smooth, eps=eps, per_image=per_image,
                         reduction=reduction).to(input.dtype)
