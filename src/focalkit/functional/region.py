r"""Region (overlap) losses: Dice, Jaccard (IoU) and Tversky.

All three are ratios of the same three per-class statistics of soft predictions :math:`p`
and targets :math:`q`,

.. math::
    TP_c = \sum_i p_{ic} q_{ic}, \qquad FP_c = \sum_i p_{ic} (1 - q_{ic}), \qquad
    FN_c = \sum_i (1 - p_{ic}) q_{ic},

summed over the batch and every spatial position (or over the positions of each image with
``per_image=True``). :func:`region_stats` computes them once for every loss, with the kernel
:mod:`focalkit._dispatch` picks (the formulas: :mod:`focalkit._kernels.plain.region`). For
class-index targets the target is never expanded to a one-hot tensor: :math:`TP_c` is the
probability of each position's own class, gathered and added up per class, and
:math:`TP_c + FN_c` is a per-class count. On the CPU these sums come from a
``torch.autograd.Function`` that keeps nothing of the input's size for the backward pass,
which recomputes the softmax once and applies the closed-form gradient.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from .. import _dispatch
from .._checks import (
    check_bool,
    check_classes,
    check_gamma,
    check_real,
    check_region_inputs,
    check_region_options,
)
from .._distributed import all_reduce_sum
from .._kernels.plain import region as plain
from .._kernels.plain.region import RegionOptions, overlap_loss
from .._tensor import reduce

__all__ = ["dice_loss", "jaccard_loss", "tversky_loss", "region_stats"]


def region_options(input: Tensor, target: object, *, mode: object, from_logits: object,
                   smooth: object, eps: object, classes: object, ignore_index: object,
                   per_image: object, log_loss: object, reduction: object, sync_dist: object,
                   intersection: object) -> RegionOptions:
    """Check a region loss's input, target and shared options, once for every loss."""
    per_image = check_bool("per_image", per_image)
    sync_dist = check_bool("sync_dist", sync_dist)
    log_loss = check_bool("log_loss", log_loss)
    mode, smooth, eps, ignore_index = check_region_options(mode, smooth, eps, reduction,
                                                           ignore_index, per_image, sync_dist,
                                                           intersection)
    is_index, num_classes = check_region_inputs(input, target, mode, from_logits, ignore_index)
    return RegionOptions(mode, from_logits, smooth, eps, check_classes(classes, num_classes),
                         ignore_index, per_image, log_loss, reduction, sync_dist, intersection,
                         is_index, num_classes)


def statistics(input: Tensor, target: Tensor,
               options: RegionOptions) -> tuple[Tensor, Tensor, Tensor]:
    """(TP, FP, FN) of checked arguments: per image with ``per_image``, else summed over the
    batch (and over the processes with ``sync_dist``), for the chosen classes."""
    stats_options = options.stats_options()
    tp, fp, fn = _dispatch.run(plain.region_stats, input, target, stats_options)
    if not options.per_image:
        stats = torch.stack((tp.sum(dim=0), fp.sum(dim=0), fn.sum(dim=0)))
        if options.sync_dist:
            stats = all_reduce_sum(stats)
        tp, fp, fn = stats[0], stats[1], stats[2]
    if options.classes is not None:
        index = torch.tensor(options.classes, device=tp.device)
        tp, fp, fn = (s.index_select(-1, index) for s in (tp, fp, fn))
    return tp, fp, fn


def region_stats(input: Tensor, target: Tensor, *, mode: str = "multiclass",
                 from_logits: bool = True, ignore_index: int | None = None,
                 per_image: bool = False, intersection: str = "product",
                 sync_dist: bool = False) -> tuple[Tensor, Tensor, Tensor]:
    r"""Soft true positives, false positives and false negatives per class.

    .. math::
        TP_c = \sum_i p_{ic} q_{ic}, \quad FP_c = \sum_i p_{ic}(1 - q_{ic}), \quad
        FN_c = \sum_i (1 - p_{ic}) q_{ic}

    With ``intersection="min"`` the soft-label form is used instead:
    :math:`TP_c = \sum_i \min(p_{ic}, q_{ic})`, :math:`FP_c = \sum_i (p_{ic} - q_{ic})^+`,
    :math:`FN_c = \sum_i (q_{ic} - p_{ic})^+`; both agree for hard targets. This is the helper
    behind :func:`dice_loss`, :func:`jaccard_loss` and :func:`tversky_loss`, exposed for metrics
    and custom ratios.

    Args:
        input: logits (or probabilities), see :func:`dice_loss`.
        target: class indices or probabilities, see :func:`dice_loss`.
        mode: ``"multiclass"`` | ``"binary"`` | ``"multilabel"``. Default: ``"multiclass"``.
        from_logits: whether ``input`` holds logits. Default: True.
        ignore_index: target value of positions to leave out. Default: None.
        per_image: statistics of each image instead of the whole batch. Default: False.
        intersection: ``"product"`` | ``"min"``. Default: ``"product"``.
        sync_dist: sum the batch statistics over the processes of the default
            ``torch.distributed`` group (autograd-aware). Default: False.

    Shape:
        - output: three tensors of shape :math:`(C,)`, or :math:`(N, C)` with ``per_image``
          (:math:`C = 1` in binary mode).

    Returns:
        tuple[Tensor, Tensor, Tensor]: ``(tp, fp, fn)`` in float32 for half inputs, otherwise
        in the input dtype.

    Raises:
        TypeError, ValueError: as :func:`dice_loss`.

    Example:
        :math:`TP_c + FN_c` is the number of positions of class :math:`c`:

        >>> import torch
        >>> from focalkit.functional import region_stats
        >>> x, t = torch.randn(2, 3, 4, 4), torch.randint(0, 3, (2, 4, 4))
        >>> tp, fp, fn = region_stats(x, t)
        >>> torch.allclose(tp + fn, torch.bincount(t.flatten(), minlength=3).float())
        True
    """
    options = region_options(input, target, mode=mode, from_logits=from_logits, smooth=0.0,
                             eps=1.0, classes=None, ignore_index=ignore_index,
                             per_image=per_image, log_loss=False, reduction="mean",
                             sync_dist=sync_dist, intersection=intersection)
    return statistics(input, target, options)


def _overlap(input: Tensor, target: Tensor, options: RegionOptions, *, tp_weight: float,
             alpha: float, beta: float, gamma: float) -> Tensor:
    tp, fp, fn = statistics(input, target, options)
    loss = overlap_loss(tp, fp, fn, tp_weight=tp_weight, alpha=alpha, beta=beta, gamma=gamma,
                        smooth=options.smooth, eps=options.eps, log_loss=options.log_loss)
    return reduce(loss, options.reduction).to(input.dtype)


def dice_loss(input: Tensor, target: Tensor, *, mode: str = "multiclass",
              from_logits: bool = True, smooth: float = 0.0, eps: float = 1e-7,
              classes: Sequence[int] | Tensor | None = None, ignore_index: int | None = None,
              per_image: bool = False, log_loss: bool = False, reduction: str = "mean",
              sync_dist: bool = False, intersection: str = "product") -> Tensor:
    r"""Dice loss (Milletari et al., 2016): one minus the soft Dice coefficient.

    .. math::
        \mathrm{dice}_c = \frac{2\,TP_c + s}{2\,TP_c + FP_c + FN_c + s}
                        = \frac{2 \sum_i p_{ic} q_{ic} + s}{\sum_i p_{ic} + \sum_i q_{ic} + s},
        \qquad \ell_c = 1 - \mathrm{dice}_c

    with the statistics of :func:`region_stats` summed over the batch and all positions
    (per image with ``per_image``), the denominator clamped below at ``eps``, and
    :math:`\ell_c = -\log \mathrm{dice}_c` with ``log_loss``.

    Args:
        input: logits of shape :math:`(N, C, *)`: softmax over ``C`` in ``"multiclass"``
            mode, an independent sigmoid per channel in ``"binary"`` / ``"multilabel"``
            mode; probabilities with ``from_logits=False``. Binary mode also takes
            :math:`(N, *)`.
        target: ``"multiclass"``: class indices :math:`(N, *)` (integer dtype) or class
            probabilities :math:`(N, C, *)` (float). ``"binary"`` / ``"multilabel"``: the shape
            of ``input``, values in [0, 1] (float, integer or bool; soft labels allowed).
        mode: ``"multiclass"`` | ``"binary"`` | ``"multilabel"``. Default: ``"multiclass"``.
        from_logits: whether ``input`` holds logits (True) or probabilities. Default: True.
        smooth: :math:`s \ge 0`, added to numerator and denominator. Default: 0.0.
        eps: lower bound of the denominator, and of the score under ``log_loss``.
            Default: 1e-7.
        classes: the class indices to include (a sequence of distinct indices), or None for
            all. Default: None.
        ignore_index: target value of positions to leave out of every sum; they get exactly
            zero gradient, even where their logits are NaN or infinite (in multiclass mode,
            class-index targets only; in the other modes a value outside [0, 1], since 0 and 1
            are valid targets). Default: None.
        per_image: compute each image's statistics and score separately (the reduction then
            runs over images and classes). Default: False.
        log_loss: use :math:`-\log(\mathrm{score})` instead of :math:`1 - \mathrm{score}`.
            Default: False.
        reduction: over classes (and images with ``per_image``): ``"none"`` | ``"mean"`` |
            ``"sum"``. Default: ``"mean"``.
        sync_dist: when ``torch.distributed`` is initialised, sum the per-class statistics over
            all processes (with the autograd-aware functional collective ``all_reduce``, so the
            gradient flows back to every process) before taking the ratio: every process gets
            the loss of the global batch. Its gradient on each process is then the world size
            times the gradient of the global loss, which is exactly what
            :class:`~torch.nn.parallel.DistributedDataParallel`'s gradient averaging expects.
            Needs ``per_image=False``. Default: False.
        intersection: ``"product"`` (default) gives the usual soft statistics
            :math:`TP = \sum p q`; ``"min"`` gives the soft-label form
            :math:`TP = \sum \min(p, q)`, :math:`FP = \sum (p - q)^+`,
            :math:`FN = \sum (q - p)^+`, whose optimum for a soft target :math:`q` is
            :math:`p = q` (with the product form it is :math:`p = 1` wherever
            :math:`q > 0`). Both forms agree for hard targets.

    Empty classes: a class absent from both the target and the prediction (:math:`TP = FP =
    FN = 0`) has score 1 and loss 0 for every ``smooth``. A class absent from the target but
    predicted is a miss: its score is :math:`s / (FP + s)`, loss near 1, and with
    :math:`s > 0` its gradient lowers the false prediction.

    Backends: the statistics of logits come from a kernel chosen by ``focalkit.backends``
    (class-index targets: a blocked CPU kernel or a fused Triton kernel; targets of the input's
    shape: a fused Triton kernel on CUDA). ``intersection="min"`` and probability inputs
    (``from_logits=False``) take the plain composition.

    Shape:
        - output: scalar; with ``reduction="none"`` :math:`(C,)`, or :math:`(N, C)` with
          ``per_image`` (:math:`C` = number of selected classes, 1 in binary mode).

    Returns:
        Tensor: the loss, in the dtype of ``input`` (half inputs are computed in float32).

    Raises:
        TypeError: if ``input`` is not floating point, ``target`` has an unsupported dtype, or
            an option has the wrong type.
        ValueError: for an unknown ``mode``, ``reduction`` or ``intersection``; shapes that do
            not fit the mode; class indices out of range; an ``ignore_index`` of 0 or 1
            outside multiclass mode; targets or probabilities outside [0, 1]; ``classes``
            out of range, empty or repeated; ``smooth < 0``; ``eps <= 0``; or ``sync_dist``
            with ``per_image``.

    References:
        F. Milletari, N. Navab, S.-A. Ahmadi. V-Net: Fully Convolutional Neural Networks for
        Volumetric Medical Image Segmentation. 3DV 2016. https://arxiv.org/abs/1606.04797

        Z. Wang, M. B. Blaschko et al. Dice Semimetric Losses: Optimizing the Dice Score with
        Soft Labels. MICCAI 2023. https://arxiv.org/abs/2303.16296

    Example:
        A perfect prediction scores 0, a class missing from both sides costs nothing:

        >>> import torch
        >>> from focalkit.functional import dice_loss
        >>> p = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]])  # (N=1, C=3, 2)
        >>> t = torch.tensor([[0, 1]])
        >>> dice_loss(p, t, from_logits=False, reduction="none")
        tensor([0., 0., 0.])
    """
    options = region_options(input, target, mode=mode, from_logits=from_logits, smooth=smooth,
                             eps=eps, classes=classes, ignore_index=ignore_index,
                             per_image=per_image, log_loss=log_loss, reduction=reduction,
                             sync_dist=sync_dist, intersection=intersection)
    return _overlap(input, target, options, tp_weight=2.0, alpha=1.0, beta=1.0, gamma=1.0)


def jaccard_loss(input: Tensor, target: Tensor, *, mode: str = "multiclass",
                 from_logits: bool = True, smooth: float = 0.0, eps: float = 1e-7,
                 classes: Sequence[int] | Tensor | None = None,
                 ignore_index: int | None = None, per_image: bool = False,
                 log_loss: bool = False, reduction: str = "mean", sync_dist: bool = False,
                 intersection: str = "product") -> Tensor:
    r"""Jaccard (IoU) loss: one minus the soft intersection over union.

    .. math::
        \mathrm{iou}_c = \frac{TP_c + s}{TP_c + FP_c + FN_c + s}
                       = \frac{\sum_i p_{ic} q_{ic} + s}
                              {\sum_i p_{ic} + \sum_i q_{ic} - \sum_i p_{ic} q_{ic} + s},
        \qquad \ell_c = 1 - \mathrm{iou}_c

    with the statistics of :func:`region_stats` (see :func:`dice_loss` for how they are
    summed), and :math:`\ell_c = -\log \mathrm{iou}_c` with ``log_loss``.

    Args:
        input: logits of shape :math:`(N, C, *)`: softmax over ``C`` in ``"multiclass"``
            mode, an independent sigmoid per channel in ``"binary"`` / ``"multilabel"``
            mode; probabilities with ``from_logits=False``. Binary mode also takes
            :math:`(N, *)`.
        target: ``"multiclass"``: class indices :math:`(N, *)` (integer dtype) or class
            probabilities :math:`(N, C, *)` (float). ``"binary"`` / ``"multilabel"``: the shape
            of ``input``, values in [0, 1] (float, integer or bool; soft labels allowed).
        mode: ``"multiclass"`` | ``"binary"`` | ``"multilabel"``. Default: ``"multiclass"``.
        from_logits: whether ``input`` holds logits (True) or probabilities. Default: True.
        smooth: :math:`s \ge 0`, added to numerator and denominator. Default: 0.0.
        eps: lower bound of the denominator, and of the score under ``log_loss``.
            Default: 1e-7.
        classes: the class indices to include (a sequence of distinct indices), or None for
            all. Default: None.
        ignore_index: target value of positions to leave out of every sum; they get exactly
            zero gradient, even where their logits are NaN or infinite (in multiclass mode,
            class-index targets only; in the other modes a value outside [0, 1], since 0 and 1
            are valid targets). Default: None.
        per_image: compute each image's statistics and score separately (the reduction then
            runs over images and classes). Default: False.
        log_loss: use :math:`-\log(\mathrm{score})` instead of :math:`1 - \mathrm{score}`.
            Default: False.
        reduction: over classes (and images with ``per_image``): ``"none"`` | ``"mean"`` |
            ``"sum"``. Default: ``"mean"``.
        sync_dist: when ``torch.distributed`` is initialised, sum the per-class statistics over
            all processes (with the autograd-aware functional collective ``all_reduce``, so the
            gradient flows back to every process) before taking the ratio: every process gets
            the loss of the global batch. Its gradient on each process is then the world size
            times the gradient of the global loss, which is exactly what
            :class:`~torch.nn.parallel.DistributedDataParallel`'s gradient averaging expects.
            Needs ``per_image=False``. Default: False.
        intersection: ``"product"`` (default) gives the usual soft statistics
            :math:`TP = \sum p q`; ``"min"`` gives the soft-label form
            :math:`TP = \sum \min(p, q)`, :math:`FP = \sum (p - q)^+`,
            :math:`FN = \sum (q - p)^+`, whose optimum for a soft target :math:`q` is
            :math:`p = q` (with the product form it is :math:`p = 1` wherever
            :math:`q > 0`). Both forms agree for hard targets.

    Empty classes: a class absent from both the target and the prediction (:math:`TP = FP =
    FN = 0`) has score 1 and loss 0 for every ``smooth``. A class absent from the target but
    predicted is a miss: its score is :math:`s / (FP + s)`, loss near 1, and with
    :math:`s > 0` its gradient lowers the false prediction.

    Backends: the statistics of logits come from a kernel chosen by ``focalkit.backends``
    (class-index targets: a blocked CPU kernel or a fused Triton kernel; targets of the input's
    shape: a fused Triton kernel on CUDA). ``intersection="min"`` and probability inputs
    (``from_logits=False``) take the plain composition.

    Shape:
        - output: scalar; with ``reduction="none"`` :math:`(C,)`, or :math:`(N, C)` with
          ``per_image`` (:math:`C` = number of selected classes, 1 in binary mode).

    Returns:
        Tensor: the loss, in the dtype of ``input`` (half inputs are computed in float32).

    Raises:
        TypeError: if ``input`` is not floating point, ``target`` has an unsupported dtype, or
            an option has the wrong type.
        ValueError: for an unknown ``mode``, ``reduction`` or ``intersection``; shapes that do
            not fit the mode; class indices out of range; an ``ignore_index`` of 0 or 1
            outside multiclass mode; targets or probabilities outside [0, 1]; ``classes``
            out of range, empty or repeated; ``smooth < 0``; ``eps <= 0``; or ``sync_dist``
            with ``per_image``.

    References:
        M. A. Rahman, Y. Wang. Optimizing Intersection-over-Union in Deep Neural Networks for
        Image Segmentation. ISVC 2016.

        Z. Wang, X. Ning, M. B. Blaschko. Jaccard Metric Losses: Optimizing the Jaccard Index
        with Soft Labels. NeurIPS 2023. https://arxiv.org/abs/2302.05666

    Example:
        IoU never exceeds Dice, so the Jaccard loss is never below the Dice loss:

        >>> import torch
        >>> from focalkit.functional import dice_loss, jaccard_loss
        >>> x, t = torch.randn(2, 4, 8, 8), torch.randint(0, 4, (2, 8, 8))
        >>> bool((jaccard_loss(x, t, reduction="none")
        ...       >= dice_loss(x, t, reduction="none")).all())
        True
    """
    options = region_options(input, target, mode=mode, from_logits=from_logits, smooth=smooth,
                             eps=eps, classes=classes, ignore_index=ignore_index,
                             per_image=per_image, log_loss=log_loss, reduction=reduction,
                             sync_dist=sync_dist, intersection=intersection)
    return _overlap(input, target, options, tp_weight=1.0, alpha=1.0, beta=1.0, gamma=1.0)


def tversky_loss(input: Tensor, target: Tensor, *, mode: str = "multiclass",
                 from_logits: bool = True, alpha: float = 0.5, beta: float = 0.5,
                 gamma: float = 1.0, smooth: float = 0.0, eps: float = 1e-7,
                 classes: Sequence[int] | Tensor | None = None,
                 ignore_index: int | None = None, per_image: bool = False,
                 log_loss: bool = False, reduction: str = "mean", sync_dist: bool = False,
                 intersection: str = "product") -> Tensor:
    r"""Tversky loss, and focal-Tversky loss with ``gamma != 1``.

    .. math::
        \mathrm{TI}_c = \frac{TP_c + s}{TP_c + \alpha\,FP_c + \beta\,FN_c + s}, \qquad
        \ell_c = (1 - \mathrm{TI}_c)^\gamma

    ``alpha`` weights false positives and ``beta`` false negatives; ``beta > alpha`` favours
    recall. With :math:`\alpha = \beta = 1` it is :func:`jaccard_loss`; with
    :math:`\alpha = \beta = 1/2` and :math:`\gamma = 1` it is :func:`dice_loss` (exactly for
    ``smooth=0``; in general Tversky with ``smooth=s`` equals Dice with ``smooth=2*s``). With
    ``log_loss`` the base is :math:`-\log \mathrm{TI}_c` instead of :math:`1 - \mathrm{TI}_c`.

    Abraham & Khan write the focal-Tversky loss as :math:`(1 - \mathrm{TI}_c)^{1/\gamma'}`:
    ``gamma`` here is the reciprocal of their :math:`\gamma'`, so their recommended
    :math:`\gamma' = 4/3` is ``gamma=0.75``. With ``gamma=0`` every class costs the constant 1
    (zero gradient, still attached to the graph).

    Args:
        input: logits of shape :math:`(N, C, *)`: softmax over ``C`` in ``"multiclass"``
            mode, an independent sigmoid per channel in ``"binary"`` / ``"multilabel"``
            mode; probabilities with ``from_logits=False``. Binary mode also takes
            :math:`(N, *)`.
        target: ``"multiclass"``: class indices :math:`(N, *)` (integer dtype) or class
            probabilities :math:`(N, C, *)` (float). ``"binary"`` / ``"multilabel"``: the shape
            of ``input``, values in [0, 1] (float, integer or bool; soft labels allowed).
        mode: ``"multiclass"`` | ``"binary"`` | ``"multilabel"``. Default: ``"multiclass"``.
        from_logits: whether ``input`` holds logits (True) or probabilities. Default: True.
        alpha: weight of false positives, ``>= 0``. Default: 0.5.
        beta: weight of false negatives, ``>= 0``. Default: 0.5.
        gamma: focal exponent, ``>= 0``: the reciprocal of the :math:`\gamma'` of Abraham &
            Khan. Default: 1.0.
        smooth: :math:`s \ge 0`, added to numerator and denominator. Default: 0.0.
        eps: lower bound of the denominator, and of the score under ``log_loss``.
            Default: 1e-7.
        classes: the class indices to include (a sequence of distinct indices), or None for
            all. Default: None.
        ignore_index: target value of positions to leave out of every sum; they get exactly
            zero gradient, even where their logits are NaN or infinite (in multiclass mode,
            class-index targets only; in the other modes a value outside [0, 1], since 0 and 1
            are valid targets). Default: None.
        per_image: compute each image's statistics and score separately (the reduction then
            runs over images and classes). Default: False.
        log_loss: use :math:`-\log(\mathrm{score})` instead of :math:`1 - \mathrm{score}`.
            Default: False.
        reduction: over classes (and images with ``per_image``): ``"none"`` | ``"mean"`` |
            ``"sum"``. Default: ``"mean"``.
        sync_dist: when ``torch.distributed`` is initialised, sum the per-class statistics over
            all processes (with the autograd-aware functional collective ``all_reduce``, so the
            gradient flows back to every process) before taking the ratio: every process gets
            the loss of the global batch. Its gradient on each process is then the world size
            times the gradient of the global loss, which is exactly what
            :class:`~torch.nn.parallel.DistributedDataParallel`'s gradient averaging expects.
            Needs ``per_image=False``. Default: False.
        intersection: ``"product"`` (default) gives the usual soft statistics
            :math:`TP = \sum p q`; ``"min"`` gives the soft-label form
            :math:`TP = \sum \min(p, q)`, :math:`FP = \sum (p - q)^+`,
            :math:`FN = \sum (q - p)^+`, whose optimum for a soft target :math:`q` is
            :math:`p = q` (with the product form it is :math:`p = 1` wherever
            :math:`q > 0`). Both forms agree for hard targets.

    Empty classes: a class absent from both the target and the prediction (:math:`TP = FP =
    FN = 0`) has score 1 and loss 0 for every ``smooth``. A class absent from the target but
    predicted is a miss: its score is :math:`s / (FP + s)`, loss near 1, and with
    :math:`s > 0` its gradient lowers the false prediction.

    Backends: the statistics of logits come from a kernel chosen by ``focalkit.backends``
    (class-index targets: a blocked CPU kernel or a fused Triton kernel; targets of the input's
    shape: a fused Triton kernel on CUDA). ``intersection="min"`` and probability inputs
    (``from_logits=False``) take the plain composition.

    Shape:
        - output: scalar; with ``reduction="none"`` :math:`(C,)`, or :math:`(N, C)` with
          ``per_image`` (:math:`C` = number of selected classes, 1 in binary mode).

    Returns:
        Tensor: the loss, in the dtype of ``input`` (half inputs are computed in float32).

    Raises:
        TypeError: if ``input`` is not floating point, ``target`` has an unsupported dtype, or
            an option has the wrong type.
        ValueError: for an unknown ``mode``, ``reduction`` or ``intersection``; shapes that do
            not fit the mode; class indices out of range; an ``ignore_index`` of 0 or 1
            outside multiclass mode; targets or probabilities outside [0, 1]; ``classes``
            out of range, empty or repeated; ``smooth``, ``alpha``, ``beta`` or ``gamma``
            negative; ``eps <= 0``; or ``sync_dist`` with ``per_image``.

    References:
        S. S. M. Salehi, D. Erdogmus, A. Gholipour. Tversky Loss Function for Image
        Segmentation Using 3D Fully Convolutional Deep Networks. MLMI 2017.
        https://arxiv.org/abs/1706.05721

        N. Abraham, N. M. Khan. A Novel Focal Tversky Loss Function with Improved Attention
        U-Net for Lesion Segmentation. ISBI 2019. https://arxiv.org/abs/1810.07842

    Example:
        With ``alpha = beta = 0.5`` it is the Dice loss:

        >>> import torch
        >>> from focalkit.functional import dice_loss, tversky_loss
        >>> x, t = torch.randn(2, 3, 5, 5), torch.randint(0, 3, (2, 5, 5))
        >>> torch.allclose(tversky_loss(x, t, alpha=0.5, beta=0.5), dice_loss(x, t))
        True
    """
    alpha = check_real("alpha", alpha, low=0.0)
    beta = check_real("beta", beta, low=0.0)
    gamma = check_gamma(gamma)
    options = region_options(input, target, mode=mode, from_logits=from_logits, smooth=smooth,
                             eps=eps, classes=classes, ignore_index=ignore_index,
                             per_image=per_image, log_loss=log_loss, reduction=reduction,
                             sync_dist=sync_dist, intersection=intersection)
    return _overlap(input, target, options, tp_weight=1.0, alpha=alpha, beta=beta,
                    gamma=gamma)
