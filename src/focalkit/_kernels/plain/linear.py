r"""The softmax focal loss over a linear layer, as the composition it is defined by.

.. math::
    z = x W^\top + b, \qquad
    \ell = \mathrm{softmax\_focal}(z, t) + \lambda_z \left(\log \sum_c e^{z_c}\right)^2

The logits :math:`z` are materialised, ``(M, C)`` of them; autograd differentiates the whole
chain. The blocked and Triton kernels compute the same loss without holding them.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ..._tensor import compute_dtype, ignore_mask, reduce
from .. import plain_form
from .focal import SoftmaxFocalOptions, softmax_focal_loss


class LinearSoftmaxFocalOptions(NamedTuple):
    """Options of the softmax focal loss over a linear layer: the layer's weight and bias
    are among them, and the kernels differentiate them with the input (``differentiated``)."""

    weight: Tensor
    bias: Tensor | None
    alpha: Tensor | None
    gamma: float
    ignore_index: int | None
    label_smoothing: float
    epsilon: float
    z_loss: float
    reduction: str
    chunk_size: int | None

    #: The fields a kernel differentiates besides the input (see ``_dispatch.decide``).
    differentiated = ("weight", "bias")

__all__ = ["linear_softmax_focal_loss"]


@plain_form
def linear_softmax_focal_loss(x: Tensor, target: Tensor,
                              options: LinearSoftmaxFocalOptions) -> Tensor:
    """The loss of features ``x`` ``(M, H)`` and class indices ``target`` ``(M,)``; see
    :func:`focalkit.functional.linear_softmax_focal_loss`.

    Ignored rows are zeroed before the product, so that whatever their features hold (NaN
    included) they add nothing to the loss or to any gradient, the weight's included.
    """
    weight, bias, alpha, gamma, ignore_index, label_smoothing, epsilon, z_loss, reduction, _ = \
        options
    dtype = compute_dtype(x)
    valid, _ = ignore_mask(target, ignore_index)
    features = x.to(dtype)
    if valid is not None:
        features = torch.where(valid.unsqueeze(1), features, 0.0)
    logits = F.linear(features, weight.to(dtype), None if bias is None else bias.to(dtype))
    loss = softmax_focal_loss(logits, target, SoftmaxFocalOptions(
        alpha, gamma, ignore_index, label_smoothing, True, "none", epsilon))
    if z_loss != 0.0:
        penalty = z_loss * torch.logsumexp(logits, dim=1).square()
        loss = loss + (penalty if valid is None else torch.where(valid, penalty, 0.0))
    count = None if valid is None else valid.sum()
    return reduce(loss, reduction, count).to(x.dtype)
