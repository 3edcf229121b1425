r"""Lovasz losses: the Lovasz extension of the Jaccard loss (Berman et al., 2018).

For one class (or the binary problem) with errors :math:`e_i \ge 0` sorted in decreasing
order, :math:`e_{\pi_1} \ge e_{\pi_2} \ge \dots`, and foreground indicators :math:`g_i`
permuted by the *same* order, the Lovasz extension of the Jaccard loss is

.. math::
    \bar\Delta(e) = \sum_k e_{\pi_k}\,\left(J_k - J_{k-1}\right), \qquad
    J_k = 1 - \frac{G - \sum_{j \le k} g_{\pi_j}}{G + \sum_{j \le k} (1 - g_{\pi_j})},
    \quad J_0 = 0,

with :math:`G = \sum_i g_i`: :math:`J_k` is the Jaccard loss of predicting the :math:`k`
largest errors wrong. Every class of every image is one row of a batched sort (on the CPU,
a few rows per radix sort); the weights :math:`J_k - J_{k-1}` come from a cumulative sum over
the sorted labels. The
forward pass also evaluates the closed-form gradient (the weights scattered back to the
unsorted positions, through the softmax Jacobian), so that the only tensor kept for the
backward pass is the input gradient itself.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from .. import _dispatch
from .._checks import (
    check_binary_ignore_index,
    check_binary_values,
    check_bool,
    check_choice,
    check_class_indices,
    check_classes,
    check_float_tensor,
    check_ignore_index,
    check_index_target,
    check_same_shape,
    check_unit_interval,
)
from .._kernels.plain import lovasz as plain
from .._kernels.plain.lovasz import LovaszHingeOptions, LovaszSoftmaxOptions, sorted_weights

__all__ = ["lovasz_softmax_loss", "lovasz_hinge_loss", "lovasz_grad"]

ClassesLike = str | Sequence[int] | Tensor


# ---------------------------------------------------------------------------------------------
# Shared pieces
# ---------------------------------------------------------------------------------------------


def lovasz_grad(fg_sorted: Tensor, valid_sorted: Tensor | None = None, *,
                dtype: torch.dtype = torch.float32) -> Tensor:
    r"""Weights :math:`J_k - J_{k-1}` of the Lovasz extension, for each row of sorted labels.

    .. math::
        J_k = \frac{n_k}{G + n_k - F_k}, \qquad F_k = \sum_{j \le k} g_{\pi_j}, \quad
        n_k = \#\{j \le k \text{ valid}\},

    which is :math:`1 - (G - F_k) / (G + n_k - F_k)` written without the cancellation, and 0
    while no valid position has been seen. Positions with ``valid_sorted`` False (which must
    come last in each row) get weight 0.

    Args:
        fg_sorted: boolean foreground indicators of shape :math:`(R, L)`, permuted in the
            order of decreasing errors.
        valid_sorted: boolean mask of the positions that count, same shape and order, or None
            when all count. Default: None.
        dtype: floating dtype of the result (counts are exact in it up to :math:`2^{24}`
            positions for float32; longer rows count in float64). Default: ``torch.float32``.

    Shape:
        - output: :math:`(R, L)`.

    Returns:
        Tensor: the weights; in each row they are non-negative and add up to the Jaccard loss
        of predicting everything wrong (1 when the row has a foreground position).

    Example:
        >>> import torch
        >>> from focalkit.functional import lovasz_grad
        >>> lovasz_grad(torch.tensor([[True, False, True, False]]))
        tensor([[0.5000, 0.1667, 0.3333, 0.0000]])
    """
    return sorted_weights(fg_sorted, valid_sorted, dtype)


# ---------------------------------------------------------------------------------------------
# Lovasz-Softmax
# ---------------------------------------------------------------------------------------------


def _check_lovasz_classes(classes: object, num_classes: int) -> str | list[int]:
    if isinstance(classes, str):
        return check_choice("classes", classes, ("present", "all"))
    return check_classes(classes, num_classes)


def lovasz_softmax_loss(input: Tensor, target: Tensor, *, classes: ClassesLike = "present",
                        per_image: bool = False, ignore_index: int | None = None,
                        from_logits: bool = True) -> Tensor:
    r"""Lovasz-Softmax loss (Berman et al., 2018): a convex surrogate of the mean IoU.

    For each class :math:`c`, the errors :math:`e_i = |[t_i = c] - p_{ic}|` of the softmax
    probabilities are sorted in decreasing order and weighted by the increments of the
    Jaccard loss along that order (see :func:`lovasz_grad`):

    .. math::
        \ell_c = \sum_k e_{\pi_k}\,\left(J_k - J_{k-1}\right), \qquad
        \ell = \frac{1}{|K|} \sum_{c \in K} \ell_c,

    with :math:`K` the classes present in the target (``"present"``), all classes
    (``"all"``) or the given list. With ``per_image`` each image gets its own sorts and its
    own :math:`K`, and the loss is the mean over images. The result equals the authors'
    per-class, per-image algorithm, computed by one batched sort of every (image, class) row
    (a few rows per sort on the CPU); the gradient is the closed form, evaluated in the forward
    pass.

    Args:
        input: logits of shape :math:`(N, C, *)` (probabilities with ``from_logits=False``).
        target: class indices of shape :math:`(N, *)`.
        classes: ``"present"`` | ``"all"`` | a sequence of distinct class indices. An image
            (or batch) without any valid position contributes 0. Default: ``"present"``.
        per_image: one loss per image, averaged over images. Default: False.
        ignore_index: target value of positions to leave out; they get exactly zero gradient,
            even where their logits are NaN or infinite. Default: None.
        from_logits: whether ``input`` holds logits (True) or probabilities. Default: True.

    Shape:
        - input: :math:`(N, C, *)`; target: :math:`(N, *)`; output: scalar.

    Returns:
        Tensor: the loss, in the dtype of ``input`` (half inputs are computed in float32).

    Raises:
        TypeError: if ``input`` is not floating point, ``target`` is not an integer tensor or
            ``from_logits`` is not a bool.
        ValueError: on a shape mismatch, fewer than 2 classes, class indices out of range,
            probabilities outside [0, 1], or bad ``classes``.

    References:
        M. Berman, A. Rannen Triki, M. B. Blaschko. The Lovasz-Softmax loss: A tractable
        surrogate for the optimization of the intersection-over-union measure in neural
        networks. CVPR 2018. https://arxiv.org/abs/1705.08790

    Example:
        The loss of a hard prediction is its Jaccard loss, averaged over present classes:

        >>> import torch
        >>> from focalkit.functional import lovasz_softmax_loss
        >>> t = torch.tensor([[0, 0, 1, 1]])
        >>> p = torch.tensor([[[1.0, 1.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]]])
        >>> lovasz_softmax_loss(p, t, from_logits=False)  # IoU 2/3 and 1/2
        tensor(0.4167)
    """
    check_float_tensor("input", input)
    if input.dim() < 2 or input.shape[1] < 2:
        raise ValueError(f"input must have shape (N, C, *) with C >= 2 classes; got shape "
                         f"{tuple(input.shape)}")
    check_index_target(input, target)
    ignore_index = check_ignore_index(ignore_index)
    c = input.shape[1]
    classes = _check_lovasz_classes(classes, c)
    check_class_indices(target, c, ignore_index)
    if not check_bool("from_logits", from_logits):
        check_unit_interval("input (probabilities, from_logits=False)", input)
    per_image = check_bool("per_image", per_image)
    options = LovaszSoftmaxOptions(ignore_index, from_logits, per_image, classes)
    return _dispatch.run(plain.lovasz_softmax_loss, input, target, options)


# ---------------------------------------------------------------------------------------------
# Lovasz hinge
# ---------------------------------------------------------------------------------------------


def lovasz_hinge_loss(input: Tensor, target: Tensor, *, per_image: bool = True,
                      ignore_index: int | None = None) -> Tensor:
    r"""Lovasz hinge loss (Berman et al., 2018): a convex surrogate of the binary IoU.

    With hinge errors :math:`e_i = 1 - x_i s_i` of the logits, :math:`s_i = 2 y_i - 1`,
    sorted in decreasing order:

    .. math::
        \ell = \sum_k \max(e_{\pi_k}, 0)\,\left(J_k - J_{k-1}\right)

    (see :func:`lovasz_grad`), per image and averaged over images with ``per_image``
    (the default, as in the paper), or over the whole batch. An image without valid positions
    contributes 0.

    Args:
        input: logits of shape :math:`(N, *)` (e.g. :math:`(N, H, W)` or :math:`(N, 1, H, W)`).
        target: the shape of ``input``, values 0 or 1 (integer, bool or float), or
            ``ignore_index``.
        per_image: one loss per image, averaged. Default: True.
        ignore_index: target value of positions to leave out, neither 0 nor 1; they get
            exactly zero gradient, even where their logits are NaN or infinite. Default: None.

    Shape:
        - input: :math:`(N, *)`; target: same; output: scalar.

    Returns:
        Tensor: the loss, in the dtype of ``input`` (half inputs are computed in float32).

    Raises:
        TypeError: if ``input`` is not floating point or ``target`` is not a tensor.
        ValueError: on a shape mismatch, target values other than 0, 1 and
            ``ignore_index``, or an ``ignore_index`` of 0 or 1 (a valid target).

    References:
        M. Berman, A. Rannen Triki, M. B. Blaschko. The Lovasz-Softmax loss: A tractable
        surrogate for the optimization of the intersection-over-union measure in neural
        networks. CVPR 2018. https://arxiv.org/abs/1705.08790

    Example:
        Logits beyond the margin on the right side cost nothing:

        >>> import torch
        >>> from focalkit.functional import lovasz_hinge_loss
        >>> y = torch.tensor([[1, 0, 1, 0]])
        >>> lovasz_hinge_loss(torch.tensor([[2.0, -3.0, 1.5, -1.0]]), y)
        tensor(0.)
        >>> lovasz_hinge_loss(torch.tensor([[2.0, -3.0, 1.5, 0.0]]), y) > 0
        tensor(True)
    """
    check_float_tensor("input", input)
    if input.dim() < 1:
        raise ValueError(f"input must have shape (N, *); got shape {tuple(input.shape)}")
    if not isinstance(target, Tensor):
        raise TypeError(f"target must be a torch.Tensor; got {type(target).__name__}")
    if target.is_complex():
        raise TypeError(f"target must hold 0/1 labels; got dtype {target.dtype}")
    check_same_shape(input, target)
    ignore_index = check_binary_ignore_index(ignore_index)
    check_binary_values("target", target, ignore_index)
    per_image = check_bool("per_image", per_image)
    options = LovaszHingeOptions(ignore_index, per_image)
    return _dispatch.run(plain.lovasz_hinge_loss, input, target, options)
