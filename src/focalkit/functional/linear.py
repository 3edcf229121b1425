"""Losses over a linear layer: the logits of a large class head are never materialised.

A language-model head or an extreme classifier ends in ``logits = x @ W.T + b`` with many
thousands of classes; the ``(N, C)`` logits, their softmax and their gradient then dominate
the training memory. The loss here takes the features and the layer instead and computes the
same value and gradients chunk by chunk (:mod:`focalkit._kernels`): blocked on the CPU, with a
Triton kernel on CUDA. Under ``torch.compile`` the kernel is one custom operator of the
compiled graph (``"mean"`` and ``"sum"``); the ``torch.func`` transforms trace the plain
composition, which materialises the logits.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from .. import _dispatch
from .._checks import (
    check_class_values,
    check_float_tensor,
    check_linear_head,
    check_optional_positive_int,
    check_real,
    check_softmax_focal,
    class_vector,
)
from .._kernels.plain import linear as plain
from .._kernels.plain.linear import LinearSoftmaxFocalOptions

__all__ = ["linear_softmax_focal_loss"]


def linear_softmax_focal_loss(input: Tensor, linear_weight: Tensor, target: Tensor, *,
                              linear_bias: Tensor | None = None, gamma: float = 2.0,
                              alpha: float | Sequence[float] | Tensor | None = None,
                              label_smoothing: float = 0.0, epsilon: float = 0.0,
                              z_loss: float = 0.0, ignore_index: int = -100,
                              reduction: str = "mean", chunk_size: int | None = None) -> Tensor:
    r"""Softmax focal loss of a linear layer's logits, computed without holding them.

    Exactly

    .. code-block:: python

        logits = F.linear(input, linear_weight, linear_bias)
        softmax_focal_loss(logits, target, gamma=gamma, alpha=alpha,
                           label_smoothing=label_smoothing, epsilon=epsilon,
                           ignore_index=ignore_index, reduction=reduction)

    (for a 2-D ``input``; any leading shape is flattened and restored), plus, when
    ``z_loss > 0``, the z-loss :math:`\lambda_z \log^2 Z` of each position, reduced the same
    way:

    .. math::
        z = x W^\top + b, \qquad
        \ell = -\alpha_t\,(1 - p_t)^\gamma \log p_t + \lambda_z \Bigl(\log \sum_c e^{z_c}
        \Bigr)^2, \qquad p = \mathrm{softmax}(z)

    with label smoothing and ``epsilon`` as in :func:`focalkit.functional.softmax_focal_loss`;
    ``gamma=0`` is cross-entropy (:func:`torch.nn.functional.linear_cross_entropy`).

    The kernels take the rows a chunk at a time: one matrix product gives a chunk's logits,
    their log-sum-exp gives the loss and the closed-form logit gradient
    :math:`G = a\,\mathrm{softmax}(z) - b\,\mathrm{onehot}(t)` (one row coefficient each for
    the focal, Poly-1 and z-loss terms; label smoothing adds a per-class term), and the
    gradients :math:`G W` of the input and :math:`G^\top x` of the weight are accumulated
    chunk by chunk. Besides the gradients themselves, a chunk of logits is all the memory it
    needs. With ``"mean"`` and ``"sum"`` the gradients are formed in the forward pass (three
    matrix products, as the materialised loss); with ``"none"`` the backward computes the
    logits again (four).

    Backends (see ``focalkit.backends``): the blocked kernel on the CPU, the Triton kernel on
    CUDA; under ``torch.compile``, the same kernel as one custom operator of the compiled
    graph (``fullgraph=True`` holds) for ``"mean"`` and ``"sum"``. ``reduction="none"`` under
    ``torch.compile``, the ``torch.func`` transforms, forward-mode AD and an ``alpha`` that
    requires grad take the plain composition above, which materialises the logits.

    Args:
        input: features of shape :math:`(*, H)`.
        linear_weight: the layer's weight, :math:`(C, H)`, of the input's dtype and device.
        target: class indices of shape :math:`(*)` (integer dtype).
        linear_bias: the layer's bias, :math:`(C,)`, or None. Default: None.
        gamma: focusing parameter, ``gamma >= 0``; 0 gives cross-entropy. Default: 2.0.
        alpha: class weights: None, one float for every class, or C non-negative values.
            Default: None.
        label_smoothing: in [0, 1], as in :func:`torch.nn.functional.cross_entropy`.
            Default: 0.0.
        epsilon: weight of the Poly-1 term :math:`(1 - p_t)^{\gamma + 1}`, ``>= -1``.
            Default: 0.0.
        z_loss: weight :math:`\lambda_z \ge 0` of the squared log-sum-exp of the logits (PaLM's
            auxiliary z-loss), which keeps the softmax normaliser near 1. Default: 0.0.
        ignore_index: class index to skip; ignored positions add nothing to the loss, the
            mean's denominator or any gradient, whatever their features hold. Default: -100.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``. ``"mean"`` divides by the number of
            non-ignored positions (0 when there are none). Default: ``"mean"``.
        chunk_size: rows (positions) per chunk for the kernels; None picks enough rows for
            8 Mi logits per chunk (at least 256). A chunk is split along the classes too when
            it would hold more than 8 Mi logits. Default: None.

    Shape:
        - input: :math:`(*, H)`.
        - linear_weight: :math:`(C, H)`; linear_bias: :math:`(C,)`.
        - target: :math:`(*)`.
        - output: scalar, or :math:`(*)` with ``reduction="none"``.

    Returns:
        Tensor: the loss, in the dtype of ``input`` (half inputs are computed in float32).

    Raises:
        TypeError: if ``input``, ``linear_weight`` or ``linear_bias`` is not a floating-point
            tensor or their dtypes differ, ``target`` does not hold integers, or an option has
            the wrong type (``chunk_size`` must be an int).
        ValueError: if ``linear_weight`` is not :math:`(C, H)` for the input's :math:`H`,
            ``linear_bias`` is not :math:`(C,)`, ``target`` is not :math:`(*)`, a class index
            lies outside ``[0, C)`` (other than ``ignore_index``), ``alpha`` does not have C
            non-negative values, ``gamma < 0``, ``epsilon < -1``, ``z_loss < 0``,
            ``label_smoothing`` lies outside [0, 1], ``reduction`` is unknown,
            ``chunk_size < 1``, or a tensor lives on another device than ``input``.

    References:
        T.-Y. Lin, P. Goyal, R. Girshick, K. He, P. Dollar. Focal Loss for Dense Object
        Detection. ICCV 2017. https://arxiv.org/abs/1708.02002

        A. Chowdhery et al. PaLM: Scaling Language Modeling with Pathways. JMLR 2023
        (the z-loss). https://arxiv.org/abs/2204.02311

        E. Wijmans, B. Huval, A. Hertzberg, V. Koltun, P. Krahenbuhl. Cut Your Losses in
        Large-Vocabulary Language Models. ICLR 2025. https://arxiv.org/abs/2411.09009

    Example:
        It is the softmax focal loss of the layer's logits:

        >>> import torch
        >>> import torch.nn.functional as F
        >>> from focalkit.functional import linear_softmax_focal_loss, softmax_focal_loss
        >>> x, w, t = torch.randn(6, 4), torch.randn(10, 4), torch.tensor([0, 3, 9, 9, 1, 5])
        >>> torch.allclose(linear_softmax_focal_loss(x, w, t, gamma=2.0),
        ...                softmax_focal_loss(F.linear(x, w), t, gamma=2.0))
        True

        and with ``gamma=0`` cross-entropy, torch's ``linear_cross_entropy``:

        >>> torch.allclose(linear_softmax_focal_loss(x, w, t, gamma=0.0),
        ...                F.linear_cross_entropy(x, w, t))
        True
    """
    check_float_tensor("input", input)
    classes = check_linear_head(input, linear_weight, target, linear_bias)
    gamma, ignore_index, label_smoothing, epsilon = check_softmax_focal(
        gamma, reduction, ignore_index, label_smoothing, epsilon)
    z_loss = check_real("z_loss", z_loss, low=0.0)
    chunk_size = check_optional_positive_int("chunk_size", chunk_size)
    alpha = class_vector("alpha", alpha, classes, like=input, high=None)
    target = check_class_values(target, True, classes, ignore_index)

    x = input.reshape(-1, input.shape[-1])
    t = target.reshape(-1)
    options = LinearSoftmaxFocalOptions(linear_weight, linear_bias, alpha, gamma, ignore_index,
                                        label_smoothing, epsilon, z_loss, reduction, chunk_size)
    loss = _dispatch.run(plain.linear_softmax_focal_loss, x, t, options)
    return loss.reshape(target.shape) if reduction == "none" else loss
