r"""Distance and topology losses: Hausdorff-DT, boundary and soft-clDice, and the exact
Euclidean distance transform they are built on.

The overlap losses (Dice, Jaccard) count pixels; these losses look at shape. The
Hausdorff-DT loss weights each pixel's error by how far it lies from the predicted and the
true boundaries, the boundary loss integrates the prediction against the signed distance to
the true boundary, and soft-clDice compares soft skeletons, so that a thin structure broken
in one place costs much more than its few missing pixels.

The distance maps come from :func:`distance_transform`'s algorithm on the tensor's own
device (an exact separable transform; a Triton kernel on CUDA), with no host round trip,
no Python loop over images and nothing data-dependent: the losses trace under
``torch.compile`` and run on ``meta`` tensors. The maps are constants of the loss, as in the
papers: no gradient flows through them.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import torch
from torch import Tensor

from .. import _dispatch
from .._checks import (
    check_bool,
    check_class_values,
    check_float_tensor,
    check_ignore_index,
    check_index_target,
    check_positive_int,
    check_real,
    check_reduction,
)
from .._kernels.plain import boundary as plain
from .._kernels.plain.boundary import (
    BoundaryOptions,
    DistanceTransformOptions,
    HausdorffDTOptions,
    SoftclDiceOptions,
)

__all__ = ["boundary_loss", "distance_transform", "hausdorff_dt_loss", "soft_cldice_loss"]

SPATIAL_DIMS = (1, 2, 3)


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------


def _check_spatial(name: str, tensor: Tensor, leading: int, layout: str) -> None:
    spatial = tensor.dim() - leading
    if spatial not in SPATIAL_DIMS:
        raise ValueError(f"{name} must have shape {layout} with 1 to 3 spatial dimensions; "
                         f"got shape {tuple(tensor.shape)}")


def _check_inputs(input: Tensor, target: object,
                  ignore_index: object) -> tuple[Tensor, int | None]:
    """Validate logits ``(N, C, *spatial)`` and class indices ``(N, *spatial)``; return the
    targets (int32 or int64) and the checked ``ignore_index``."""
    check_float_tensor("input", input)
    _check_spatial("input", input, 2, "(N, C, *spatial)")
    if input.shape[1] < 2:
        raise ValueError(f"input must have shape (N, C, *spatial) with C >= 2 classes; got "
                         f"shape {tuple(input.shape)}")
    check_index_target(input, target, "(N, *spatial)")
    ignore_index = check_ignore_index(ignore_index)
    return check_class_values(target, True, input.shape[1], ignore_index), ignore_index


def _spacing(spacing: object, dims: int) -> list[float]:
    if spacing is None:
        return [1.0] * dims
    if isinstance(spacing, numbers.Real) and not isinstance(spacing, bool):
        return [check_real("spacing", spacing, low=0.0, low_open=True)] * dims
    if not isinstance(spacing, Sequence) or isinstance(spacing, str):
        raise TypeError(f"spacing must be None, a positive number or a sequence of {dims} "
                        f"positive numbers; got {type(spacing).__name__}")
    if len(spacing) != dims:
        raise ValueError(f"spacing must have one value per spatial dimension ({dims}); got "
                         f"{len(spacing)}")
    return [check_real("spacing", s, low=0.0, low_open=True) for s in spacing]


# ---------------------------------------------------------------------------------------------
# Distance transform
# ---------------------------------------------------------------------------------------------


def distance_transform(mask: Tensor, *, spacing: float | Sequence[float] | None = None,
                       dtype: torch.dtype = torch.float32) -> Tensor:
    r"""Exact Euclidean distance transform of each image of a batch of boolean masks.

    .. math::
        d(x) = \min_{y \,:\, \neg\,\mathrm{mask}(y)} \Big(\sum_k s_k^2 (x_k - y_k)^2\Big)^{1/2}

    for every True element :math:`x` (0 on False elements): the value of
    ``scipy.ndimage.distance_transform_edt(mask[n], sampling=spacing)`` for each image
    :math:`n`, computed on the mask's device. An image without any False element has no
    nearest False element: its distances are ``inf`` (SciPy measures them to a virtual
    element before the first, which depends on the image's orientation).

    The transform is separable: one pass along the first axis finds the 1-D distances, and
    each further axis takes the exact lower envelope of parabolas
    :math:`\min_y f(y) + s^2 (x - y)^2` along its lines, by a monotone divide and conquer
    that is a dozen whole-tensor operations per level (:math:`O(L \log L)` per line,
    vectorised over every line of every image, in blocks that bound the memory). On CUDA
    the envelopes come from a Triton kernel (one line per lane) when the ``"triton"``
    backend is available. No data is read back to the host: it runs on ``meta`` tensors and
    under ``torch.compile``.

    Args:
        mask: bool tensor of shape :math:`(N, *)` with 1 to 3 spatial dimensions.
        spacing: the distance between neighbouring elements along each spatial dimension
            (SciPy's ``sampling``): None (1), a positive number for all dimensions, or one
            positive number per dimension. Default: None.
        dtype: floating-point dtype of the result. The distances are computed in float64;
            with unit spacing the squared distances are exact integers, so float64 results
            equal SciPy's up to the rounding of the square root. Default: ``torch.float32``.

    Shape:
        - mask: :math:`(N, *)`; output: the same.

    Returns:
        Tensor: the distances, in ``dtype``, on the mask's device.

    Raises:
        TypeError: if ``mask`` is not a bool tensor, ``dtype`` not a floating-point dtype,
            or ``spacing`` not a number or a sequence of numbers.
        ValueError: if ``mask`` does not have 1 to 3 spatial dimensions, or ``spacing`` has
            a non-positive value or the wrong length.

    References:
        T. Saito, J.-I. Toriwaki. New algorithms for Euclidean distance transformation of an
        n-dimensional digitized picture with applications. Pattern Recognition 27(11), 1994.

        P. F. Felzenszwalb, D. P. Huttenlocher. Distance Transforms of Sampled Functions.
        Theory of Computing 8, 2012. https://doi.org/10.4086/toc.2012.v008a019

    Example:
        With a single False element, the distances are its Euclidean norms:

        >>> import torch
        >>> from focalkit.functional import distance_transform
        >>> mask = torch.ones(1, 5, 5, dtype=torch.bool)
        >>> mask[0, 1, 2] = False
        >>> d = distance_transform(mask, dtype=torch.float64)
        >>> i, j = torch.meshgrid(torch.arange(5.0), torch.arange(5.0), indexing="ij")
        >>> torch.allclose(d[0], torch.hypot(i - 1, j - 2).double())
        True
        >>> distance_transform(torch.tensor([[True, True, False, True]]), spacing=0.5)
        tensor([[1.0000, 0.5000, 0.0000, 0.5000]])
    """
    if not isinstance(mask, Tensor):
        raise TypeError(f"mask must be a torch.Tensor; got {type(mask).__name__}")
    if mask.dtype != torch.bool:
        raise TypeError(f"mask must be a bool tensor (compare a label map or probabilities "
                        f"first, e.g. mask > 0.5); got dtype {mask.dtype}")
    _check_spatial("mask", mask, 1, "(N, *spatial)")
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating-point torch.dtype; got {dtype!r}")
    options = DistanceTransformOptions(tuple(_spacing(spacing, mask.dim() - 1)), dtype)
    return _dispatch.run(plain.distance_transform, mask, None, options)


# ---------------------------------------------------------------------------------------------
# Losses
# ---------------------------------------------------------------------------------------------


def hausdorff_dt_loss(input: Tensor, target: Tensor, *, alpha: float = 2.0,
                      include_background: bool = False, ignore_index: int | None = None,
                      reduction: str = "mean") -> Tensor:
    r"""Hausdorff distance-transform loss (Karimi and Salcudean, 2019).

    .. math::
        \ell_{nc} = \frac{1}{|\Omega|} \sum_{i \in \Omega} (p_{nci} - q_{nci})^2
            \left(d_{p,nci}^{\,\alpha} + d_{q,nci}^{\,\alpha}\right)

    with :math:`p` the softmax probabilities, :math:`q` the one-hot target, and
    :math:`d_p`, :math:`d_q` the distances from each position to the nearest position of
    the other kind (foreground or background of class :math:`c`) in the thresholded
    prediction :math:`p > 1/2` and in the target: ``edt(mask) + edt(~mask)``, computed by
    one two-sided transform. A map is 0 for an image and class that hold only one kind
    (the distance is undefined there). Errors far from both boundaries weigh most, which
    is what lowers the Hausdorff distance. The maps are constants: the gradient is that of
    the weighted squared error. The value and gradient equal MONAI's
    ``HausdorffDTLoss(softmax=True, to_onehot_y=True, include_background=False, alpha=alpha)``
    with the target given as ``(N, 1, *spatial)`` (MONAI's maps are float32 and SciPy's).

    Args:
        input: logits of shape :math:`(N, C, *)`, :math:`C \ge 2`, 1 to 3 spatial
            dimensions.
        target: class indices of shape :math:`(N, *)`.
        alpha: exponent of the distances, ``> 0``. Default: 2.0.
        include_background: keep class 0. Default: False.
        ignore_index: target value of positions to leave out. They add no term, are not
            counted in :math:`|\Omega|`, get exactly zero gradient (their logits never reach
            the softmax), and belong to neither kind in the distance maps: the distance is
            to the nearest *valid* position of the other kind, as if ignored positions lay
            outside the image. Default: None.
        reduction: over images and classes: ``"none"`` | ``"mean"`` | ``"sum"``.
            Default: ``"mean"``.

    Shape:
        - input: :math:`(N, C, *)`; target: :math:`(N, *)`; output: scalar, or
          :math:`(N, C')` with ``reduction="none"`` (:math:`C' = C - 1` without the
          background; MONAI keeps trailing singleton dimensions).

    Returns:
        Tensor: the loss, in the dtype of ``input`` (half inputs are computed in float32).

    Raises:
        TypeError: if ``input`` is not floating point, ``target`` does not hold integer class
            indices, or an option has the wrong type.
        ValueError: on a shape mismatch, fewer than 2 classes, no spatial dimension or more
            than 3, class indices out of range, ``alpha <= 0`` or an unknown ``reduction``.

    References:
        D. Karimi, S. E. Salcudean. Reducing the Hausdorff Distance in Medical Image
        Segmentation with Convolutional Neural Networks. IEEE TMI 39(2), 2020.
        https://arxiv.org/abs/1904.10030

    Example:
        A confident, right prediction costs nothing; a stray pixel costs its squared
        distances to the object (:math:`1 + 1` next to it, :math:`32 + 1` in the far
        corner), over the 64 positions:

        >>> import torch
        >>> from focalkit.functional import hausdorff_dt_loss
        >>> t = torch.zeros(1, 8, 8, dtype=torch.long)
        >>> t[0, 1:4, 1:4] = 1
        >>> def logits(labels):
        ...     return 100.0 * torch.nn.functional.one_hot(labels, 2).movedim(-1, 1).float()
        >>> near, far = t.clone(), t.clone()
        >>> near[0, 2, 4] = 1
        >>> far[0, 7, 7] = 1
        >>> hausdorff_dt_loss(logits(t), t), hausdorff_dt_loss(logits(near), t)
        (tensor(0.), tensor(0.0312))
        >>> hausdorff_dt_loss(logits(far), t)
        tensor(0.5156)
    """
    target, ignore_index = _check_inputs(input, target, ignore_index)
    options = HausdorffDTOptions(check_real("alpha", alpha, low=0.0, low_open=True),
                                 check_bool("include_background", include_background),
                                 ignore_index, check_reduction(reduction))
    return _dispatch.run(plain.hausdorff_dt_loss, input, target, options)


def boundary_loss(input: Tensor, target: Tensor, *, include_background: bool = False,
                  ignore_index: int | None = None, reduction: str = "mean") -> Tensor:
    r"""Boundary loss (Kervadec et al., 2019): the probabilities integrated against the
    signed distance to the target's boundary.

    .. math::
        \ell_{nc} = \frac{1}{|\Omega|} \sum_{i \in \Omega} p_{nci}\,\phi_{nci}, \qquad
        \phi = \begin{cases} 1 - d_\text{bg} & \text{inside the target} \\
                             d_\text{fg} & \text{outside} \end{cases}

    with :math:`d_\text{bg}` the distance to the nearest background position and
    :math:`d_\text{fg}` the distance to the nearest target position (so :math:`\phi = 0`
    on the inner boundary and negative deeper inside); :math:`\phi = 0` for an image and
    class whose target holds only one kind. The loss is linear in :math:`p`: every pixel
    predicted outside the target costs its distance to it, every pixel inside earns its
    depth, so it is minimal for the target itself and, unlike an overlap loss, tells a
    near miss from a far one. It is usually added to a region loss (see
    :class:`~focalkit.ComboLoss`), with a weight raised during training. The value and
    gradient equal MONAI's ``BoundaryLoss(softmax=True, to_onehot_y=True,
    include_background=False)``.

    Args:
        input: logits of shape :math:`(N, C, *)`, :math:`C \ge 2`, 1 to 3 spatial
            dimensions.
        target: class indices of shape :math:`(N, *)`.
        include_background: keep class 0. Default: False.
        ignore_index: target value of positions to leave out, with the rule of
            :func:`hausdorff_dt_loss` (no term, not counted, zero gradient, and neither
            kind in the distance maps). Default: None.
        reduction: over images and classes: ``"none"`` | ``"mean"`` | ``"sum"``.
            Default: ``"mean"``.

    Shape:
        - input: :math:`(N, C, *)`; target: :math:`(N, *)`; output: scalar, or
          :math:`(N, C')` with ``reduction="none"``.

    Returns:
        Tensor: the loss, in the dtype of ``input`` (half inputs are computed in float32).

    Raises:
        TypeError: if ``input`` is not floating point, ``target`` does not hold integer class
            indices, or an option has the wrong type.
        ValueError: on a shape mismatch, fewer than 2 classes, no spatial dimension or more
            than 3, class indices out of range or an unknown ``reduction``.

    References:
        H. Kervadec, J. Bouchtiba, C. Desrosiers, E. Granger, J. Dolz, I. Ben Ayed.
        Boundary loss for highly unbalanced segmentation. MIDL 2019 (Medical Image Analysis
        67, 2021). https://arxiv.org/abs/1812.07032

    Example:
        On a line, the target itself scores the minimum; one pixel too many costs its
        distance:

        >>> import torch
        >>> from focalkit.functional import boundary_loss
        >>> t = torch.tensor([[0, 0, 1, 1, 1, 0, 0]])
        >>> def logits(fg):
        ...     return torch.stack([-fg, fg], 1) * 100.0
        >>> boundary_loss(logits(torch.tensor([[0., 0, 1, 1, 1, 0, 0]]) * 2 - 1), t)
        tensor(-0.1429)
        >>> boundary_loss(logits(torch.tensor([[0., 1, 1, 1, 1, 0, 0]]) * 2 - 1), t)
        tensor(0.)
    """
    target, ignore_index = _check_inputs(input, target, ignore_index)
    options = BoundaryOptions(check_bool("include_background", include_background),
                              ignore_index, check_reduction(reduction))
    return _dispatch.run(plain.boundary_loss, input, target, options)


def soft_cldice_loss(input: Tensor, target: Tensor, *, iterations: int = 3,
                     smooth: float = 1.0, eps: float = 1e-4, include_background: bool = True,
                     ignore_index: int | None = None, reduction: str = "mean") -> Tensor:
    r"""Soft-clDice loss (Shit et al., 2021): the harmonic mean of topology precision and
    sensitivity of soft skeletons.

    .. math::
        T_\text{prec} = \frac{\sum S_p\, q + s}{\sum S_p + s}, \qquad
        T_\text{sens} = \frac{\sum S_q\, p + s}{\sum S_q + s}, \qquad
        \ell_n = 1 - \frac{2\,T_\text{prec}\,T_\text{sens}}
                          {T_\text{prec} + T_\text{sens} + \varepsilon}

    with the sums over the classes and positions of image :math:`n`, and :math:`S_p`,
    :math:`S_q` the soft skeletons of the softmax probabilities and of the one-hot target:
    ``iterations`` rounds of soft erosion (minimum over the cross of neighbours) and soft
    opening (erosion, then the maximum over the :math:`3^d` box), accumulated as in the
    paper. :math:`T_\text{prec}` asks the predicted skeleton to lie inside the target,
    :math:`T_\text{sens}` the true skeleton inside the prediction, so a gap in a thin
    vessel costs as much as a missing vessel. It is usually combined with a Dice loss (see
    :class:`~focalkit.ComboLoss`). The value and gradient equal MONAI's
    ``SoftclDiceLoss(softmax=True, to_onehot_y=True, iter_=iterations)`` (whose
    ``smooth_nr = smooth_dr`` is ``smooth`` and whose ``smooth`` is ``eps``).

    On the CPU the skeleton of the prediction is an autograd Function that keeps only its
    input and recomputes the erosions in the backward pass, sending each gradient to the
    position its minimum or maximum came from; where two distinct positions hold exactly
    the same extreme value it picks one of them (MONAI's pooling picks the first in scan
    order), both being valid subgradients. The ``"plain"`` backend and ``torch.compile``
    run the composition of minima and maxima.

    Args:
        input: logits of shape :math:`(N, C, *)`, :math:`C \ge 2`, 1 to 3 spatial
            dimensions.
        target: class indices of shape :math:`(N, *)`.
        iterations: rounds of erosion of the skeleton, a positive int; the skeleton sees
            structures up to about twice as many pixels thick. Default: 3.
        smooth: :math:`s > 0`, added to the numerators and denominators. Default: 1.0.
        eps: :math:`\varepsilon > 0` in the harmonic mean. Default: 1e-4.
        include_background: keep class 0. Default: True.
        ignore_index: target value of positions to leave out: they add nothing to any sum,
            get exactly zero gradient, and never win an erosion's minimum or a dilation's
            maximum (they behave as positions outside the image). Default: None.
        reduction: over images: ``"none"`` | ``"mean"`` | ``"sum"``. Default: ``"mean"``.

    Shape:
        - input: :math:`(N, C, *)`; target: :math:`(N, *)`; output: scalar, or
          :math:`(N,)` with ``reduction="none"``.

    Returns:
        Tensor: the loss, in the dtype of ``input`` (half inputs are computed in float32).

    Raises:
        TypeError: if ``input`` is not floating point, ``target`` does not hold integer class
            indices, ``iterations`` is not an int, or an option has the wrong type.
        ValueError: on a shape mismatch, fewer than 2 classes, no spatial dimension or more
            than 3, class indices out of range, ``iterations < 1``, ``smooth <= 0``,
            ``eps <= 0`` or an unknown ``reduction``.

    References:
        S. Shit, J. C. Paetzold, A. Sekuboyina, I. Ezhov, A. Unger, A. Zhylka, J. P. W.
        Pluim, U. Bauer, B. H. Menze. clDice - a Novel Topology-Preserving Loss Function for
        Tubular Structure Segmentation. CVPR 2021. https://arxiv.org/abs/2003.07311

    Example:
        A confident, right prediction scores (almost) 0; the :math:`\varepsilon` of the
        harmonic mean keeps it from 0 exactly:

        >>> import torch
        >>> from focalkit.functional import soft_cldice_loss
        >>> t = torch.zeros(1, 8, 8, dtype=torch.long)
        >>> t[0, 4, 1:7] = 1  # a line
        >>> x = 100.0 * torch.nn.functional.one_hot(t, 2).movedim(-1, 1).float()
        >>> float(soft_cldice_loss(x, t)) < 1e-4
        True
        >>> broken = x.clone()
        >>> broken[0, :, 4, 3] = broken[0, :, 4, 3].flip(0)  # a gap in the line
        >>> float(soft_cldice_loss(broken, t)) > 0.01
        True
    """
    target, ignore_index = _check_inputs(input, target, ignore_index)
    options = SoftclDiceOptions(check_positive_int("iterations", iterations),
                                check_real("smooth", smooth, low=0.0, low_open=True),
                                check_real("eps", eps, low=0.0, low_open=True),
                                check_bool("include_background", include_background),
                                ignore_index, check_reduction(reduction))
    return _dispatch.run(plain.soft_cldice_loss, input, target, options)
