"""Losses of dense object detectors with IoU-aware classification and box distributions.

* :func:`quality_focal_loss` and :func:`varifocal_loss` train a classification score that
  also estimates the localisation quality: the target of the positive class is the IoU of the
  predicted box with its ground truth, 0 elsewhere.
* :func:`distribution_focal_loss` trains a discrete distribution over box-edge offsets.

The varifocal loss, element-wise and evaluated on every anchor and class, has a blocked
closed-form ``torch.autograd.Function`` (:mod:`focalkit._kernels.blocked.detection`), the
default on the CPU; the plain composition (:mod:`focalkit._kernels.plain.detection`) is the
path ``torch.compile`` traces, and the one taken when the target or ``weight`` needs a
gradient.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .. import _dispatch
from .._checks import (
    as_optional_tensor,
    check_binary_ignore_index,
    check_bool,
    check_device,
    check_float_tensor,
    check_ignore_outside,
    check_real,
    check_reduction,
    check_same_shape,
    check_unit_interval,
    value_checks,
)
from .._kernels.plain import detection as plain
from .._kernels.plain.detection import (
    DistributionFocalOptions,
    QualityFocalOptions,
    VarifocalOptions,
)

__all__ = ["quality_focal_loss", "distribution_focal_loss", "varifocal_loss"]




def _check_dense(input: Tensor, target: Tensor, reduction: str, ignore_index: object,
                 weight: object) -> tuple[int | None, Tensor | None]:
    check_float_tensor("input", input)
    check_float_tensor("target", target)
    check_same_shape(input, target)
    check_reduction(reduction)
    ignore_index = check_binary_ignore_index(ignore_index)
    weight = as_optional_tensor("weight", weight, input)
    check_unit_interval("target", target, ignore_index)
    return ignore_index, weight


def quality_focal_loss(input: Tensor, target: Tensor, *, beta: float = 2.0,
                       reduction: str = "mean", weight: Tensor | None = None,
                       ignore_index: int | None = None) -> Tensor:
    r"""Quality focal loss (QFL) of Generalized Focal Loss (Li et al., 2020).

    Sigmoid focal loss for a soft target: the target of the ground-truth class is the IoU of
    the predicted box with its ground truth (the "quality"), 0 for the other classes and for
    the background, and the modulating factor is the distance to that target:

    .. math::
        \ell = -w\,|y - \sigma(x)|^\beta
               \left[y \log \sigma(x) + (1 - y) \log(1 - \sigma(x))\right]

    For a 0/1 target this is the sigmoid focal loss without ``alpha``. :math:`y - \sigma(x)`
    is formed from :math:`\sigma(x)` and :math:`\sigma(-x)`, exact at :math:`y = 1`; the
    cross-entropy is computed in log space from the logits.

    Args:
        input: logits of any shape, usually :math:`(N, C)` (anchors by classes).
        target: same shape as ``input``, quality scores in [0, 1]; entries equal to
            ``ignore_index`` are skipped.
        beta: exponent of the modulating factor, ``>= 0``; 0 gives binary cross-entropy with
            soft targets. Default: 2.0.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``. ``"mean"`` divides by the number of
            non-ignored elements (detectors usually take ``"sum"`` and divide by the number of
            positives). Default: ``"mean"``.
        weight: element weight broadcastable to ``input``. Default: None.
        ignore_index: target value marking entries to skip, outside [0, 1]; they add nothing
            and get exactly zero gradient. Default: None.

    Shape:
        - input: :math:`(*)`; target: same shape; output: scalar, or :math:`(*)` with
          ``reduction="none"``.

    Returns:
        Tensor: the loss, in the dtype of ``input`` (half inputs are computed in float32).

    Raises:
        TypeError: if ``input``, ``target`` or ``weight`` is not a floating-point tensor, or
            ``beta`` is not a real number.
        ValueError: if the shapes differ, a target lies outside [0, 1], ``beta < 0``,
            ``weight`` is NaN, infinite or negative or does not broadcast to the input,
            ``ignore_index`` is 0 or 1 (a valid target), or ``reduction`` is unknown.

    References:
        X. Li, W. Wang, L. Wu, S. Chen, X. Hu, J. Li, J. Tang, J. Yang. Generalized Focal
        Loss: Learning Qualified and Distributed Bounding Boxes for Dense Object Detection.
        NeurIPS 2020. https://arxiv.org/abs/2006.04388

    Example:
        A prediction equal to its quality target costs nothing, however uncertain:

        >>> import torch
        >>> from focalkit.functional import quality_focal_loss
        >>> x = torch.tensor([0.0, 2.0, -2.0])
        >>> y = torch.tensor([0.5, 0.6, 0.0])
        >>> quality_focal_loss(x, y, reduction="none")
        tensor([0.0000, 0.0731, 0.0018])
    """
    ignore_index, weight = _check_dense(input, target, reduction, ignore_index, weight)
    beta = check_real("beta", beta, low=0.0)
    options = QualityFocalOptions(beta, weight, ignore_index, reduction)
    return _dispatch.run(plain.quality_focal_loss, input, target, options)


def varifocal_loss(input: Tensor, target: Tensor, *, alpha: float = 0.75, gamma: float = 2.0,
                   iou_weighted: bool = True, reduction: str = "mean",
                   weight: Tensor | None = None, ignore_index: int | None = None) -> Tensor:
    r"""Varifocal loss (VFL) of VarifocalNet (Zhang et al., 2021).

    Binary cross-entropy against an IoU-aware target :math:`t` (the IoU of the predicted box
    with its ground truth at the ground-truth class, 0 elsewhere), weighted asymmetrically:
    positives by their target, negatives by a focal factor.

    .. math::
        \ell = \begin{cases}
            -w\,t\left[t \log p + (1 - t) \log(1 - p)\right] & t > 0 \\
            -w\,\alpha\,p^\gamma \log(1 - p) & t = 0
        \end{cases}, \qquad p = \sigma(x)

    Weighting the positives by :math:`t` puts the training signal on the high-quality
    detections; only the negatives are focused, since the positives are rare. The focal weight
    :math:`\alpha p^\gamma` is differentiated, as in the paper's implementation. The gradient
    is the closed form, evaluated in the forward pass.

    Args:
        input: logits of any shape, usually :math:`(N, C)` (anchors by classes).
        target: same shape as ``input``, IoU-aware scores in [0, 1] (0 for the negatives);
            entries equal to ``ignore_index`` are skipped.
        alpha: weight of the negatives, ``>= 0``. Default: 0.75.
        gamma: focusing parameter of the negatives, ``>= 0``. Default: 2.0.
        iou_weighted: weight the positives by their target (True) or by 1 (False).
            Default: True.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``. ``"mean"`` divides by the number of
            non-ignored elements. Default: ``"mean"``.
        weight: element weight broadcastable to ``input``. Default: None.
        ignore_index: target value marking entries to skip, outside [0, 1]; they add nothing
            and get exactly zero gradient. Default: None.

    Shape:
        - input: :math:`(*)`; target: same shape; output: scalar, or :math:`(*)` with
          ``reduction="none"``.

    Returns:
        Tensor: the loss, in the dtype of ``input`` (half inputs are computed in float32).

    Raises:
        TypeError: if ``input``, ``target`` or ``weight`` is not a floating-point tensor, a
            hyper-parameter is not a real number, or ``iou_weighted`` is not a bool.
        ValueError: if the shapes differ, a target lies outside [0, 1], ``alpha`` or ``gamma``
            is negative, ``weight`` is NaN, infinite or negative or does not broadcast to the
            input, ``ignore_index`` is 0 or 1 (a valid target), or ``reduction`` is unknown.

    References:
        H. Zhang, Y. Wang, F. Dayoub, N. Sunderhauf. VarifocalNet: An IoU-aware Dense Object
        Detector. CVPR 2021. https://arxiv.org/abs/2008.13367

    Example:
        Positives are weighted by their IoU target, and a confident negative counts almost
        nothing:

        >>> import torch
        >>> from focalkit.functional import varifocal_loss
        >>> x = torch.tensor([1.0, 1.0, -3.0])
        >>> t = torch.tensor([0.9, 0.3, 0.0])
        >>> varifocal_loss(x, t, reduction="none")
        tensor([3.7194e-01, 3.0398e-01, 8.1962e-05])
    """
    ignore_index, weight = _check_dense(input, target, reduction, ignore_index, weight)
    alpha = check_real("alpha", alpha, low=0.0)
    gamma = check_real("gamma", gamma, low=0.0)
    iou_weighted = check_bool("iou_weighted", iou_weighted)
    options = VarifocalOptions(alpha, gamma, iou_weighted, weight, ignore_index, reduction)
    return _dispatch.run(plain.varifocal_loss, input, target, options)


def distribution_focal_loss(input: Tensor, target: Tensor, *, reduction: str = "mean",
                            weight: Tensor | None = None,
                            ignore_index: int | None = None) -> Tensor:
    r"""Distribution focal loss (DFL) of Generalized Focal Loss (Li et al., 2020).

    A box edge's offset :math:`y` is predicted as a discrete distribution :math:`S` (a softmax
    over ``n_bins`` logits) on the integers :math:`0, 1, \dots, n - 1`. DFL puts the
    probability on the two bins around :math:`y`, in proportion to their closeness:

    .. math::
        \ell = -w\left[(y_r - y) \log S_{y_l} + (y - y_l) \log S_{y_r}\right], \qquad
        y_l = \lfloor y \rfloor, \quad y_r = y_l + 1

    It is a cross-entropy with the soft target that splits :math:`y` between its neighbours,
    so its minimum (over :math:`S`) puts exactly that split on the two bins, whose expected
    value is :math:`y`. A target exactly on the last bin, :math:`y = n - 1`, takes
    :math:`y_l = n - 2`, so that all its weight goes to the last bin (no index past the end,
    no clamping of the target). Computed with ``log_softmax``.

    Args:
        input: logits of shape :math:`(*, n)`, one distribution over ``n >= 2`` bins per
            target value; :math:`(N, n)`, or :math:`(N, 4, n)` for the four edges of a box.
        target: continuous offsets in :math:`[0, n - 1]` of shape :math:`(*)`, the input's
            shape without its last dimension; entries equal to ``ignore_index`` are skipped.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``. ``"mean"`` divides by the number of
            non-ignored target values. Default: ``"mean"``.
        weight: weight per target value, a number or a tensor broadcastable to the target's
            shape (e.g. the quality score of each box). Default: None.
        ignore_index: target value marking entries to skip, outside :math:`[0, n - 1]` (a
            valid offset); they add nothing and get exactly zero gradient, whatever their
            logits. Default: None.

    Shape:
        - input: :math:`(*, n)`.
        - target: :math:`(*)`.
        - output: scalar, or :math:`(*)` with ``reduction="none"``.

    Returns:
        Tensor: the loss, in the dtype of ``input`` (half inputs are computed in float32).

    Raises:
        TypeError: if ``input``, ``target`` or a ``weight`` tensor is not floating point.
        ValueError: if ``input`` has fewer than 2 bins, the target's shape is not the input's
            without its last dimension, a target lies outside :math:`[0, n - 1]`, ``weight``
            is NaN, infinite or negative or does not broadcast to the target, ``ignore_index``
            lies in :math:`[0, n - 1]`, or ``reduction`` is unknown.

    References:
        X. Li, W. Wang, L. Wu, S. Chen, X. Hu, J. Li, J. Tang, J. Yang. Generalized Focal
        Loss: Learning Qualified and Distributed Bounding Boxes for Dense Object Detection.
        NeurIPS 2020. https://arxiv.org/abs/2006.04388

    Example:
        An integer target is the cross-entropy of its bin, the last bin included:

        >>> import torch
        >>> import torch.nn.functional as F
        >>> from focalkit.functional import distribution_focal_loss
        >>> x = torch.randn(3, 8)
        >>> y = torch.tensor([0.0, 3.0, 7.0])
        >>> torch.allclose(distribution_focal_loss(x, y), F.cross_entropy(x, y.long()))
        True
    """
    check_float_tensor("input", input)
    check_float_tensor("target", target)
    if input.dim() < 1 or input.shape[-1] < 2:
        raise ValueError(f"input must have shape (*, n_bins) with n_bins >= 2; got shape "
                         f"{tuple(input.shape)}")
    if target.shape != input.shape[:-1]:
        raise ValueError(f"target must have the input's shape without its last (bin) "
                         f"dimension, {tuple(input.shape[:-1])}; got {tuple(target.shape)}")
    check_device("target", target, input)
    check_reduction(reduction)
    bins = input.shape[-1]
    ignore_index = check_ignore_outside(ignore_index, 0, bins - 1,
                                        f"[0, n_bins - 1] = [0, {bins - 1}]")
    weight = as_optional_tensor("weight", weight, input, shape=target.shape, of="target")
    _check_offsets(target, bins - 1, ignore_index)
    options = DistributionFocalOptions(weight, ignore_index, reduction)
    return _dispatch.run(plain.distribution_focal_loss, input, target, options)


def _check_offsets(target: Tensor, high: int, ignore_index: int | None) -> None:
    """Values of ``target`` (other than ``ignore_index``) must lie in [0, high]."""
    how = value_checks(target)
    if how is None:
        return
    values = target.detach()
    if how == "device":
        ok = (values >= 0) & (values <= high)
        if ignore_index is not None:
            ok |= values == ignore_index
        torch._assert_async(ok.all(), f"target values must lie in [0, n_bins - 1] = [0, {high}]")
        return
    if ignore_index is not None:
        values = values[values != ignore_index]
        if values.numel() == 0:
            return
    low, top = torch.aminmax(values)
    if bool(low < 0) or bool(top > high) or bool(torch.isnan(low)) or bool(torch.isnan(top)):
        raise ValueError(f"target values must lie in [0, n_bins - 1] = [0, {high}]; got values "
                         f"in [{float(low):g}, {float(top):g}]")
