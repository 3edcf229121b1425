"""The Triton backend: fused Triton kernels for CUDA tensors.

Each kernel reads its inputs in their own dtype (float32, float16 or bfloat16), computes in
float32, and writes the loss and the gradient in the input's dtype; reductions accumulate one
float32 partial sum per program and add the partials in float64. On CPU tensors the kernels
run through Triton's interpreter when ``TRITON_INTERPRET=1`` is set before focalkit is
imported; the test suite uses it. The kernel modules are imported on first use, so that
importing focalkit never compiles or even imports Triton.

The Lovasz losses need a sort, which stays ``torch.sort``: the blocked backend's autograd
Functions, PyTorch operations with no host synchronisation and no Python loop over images or
classes, serve this backend as they are; so does the soft skeleton of clDice. The distance
transform of the Hausdorff-DT and boundary losses takes its lower envelopes of parabolas
from :mod:`.boundary`.
"""

from __future__ import annotations

import importlib.util
import os
from typing import NamedTuple

from torch import Tensor

from .. import KernelSet
from .. import options as O
from ..blocked import boundary as blocked_boundary
from ..blocked import lovasz
from ..plain import boundary as plain_boundary
from ..plain.region import activation, as_stats, flat_dense, flat_index

__all__ = ["IMPORT_ERROR", "INTERPRETED", "KERNELS", "takes"]

#: Why Triton cannot be used, or None when it is installed.
IMPORT_ERROR: str | None = (None if importlib.util.find_spec("triton") is not None
                            else "No module named 'triton'")

#: Whether the kernels run through Triton's interpreter (on CPU tensors).
INTERPRETED = os.environ.get("TRITON_INTERPRET") == "1"


def takes(name: str, input: Tensor, options: NamedTuple) -> bool:
    """Whether the Triton kernel ``name`` takes these options (else the plain form runs)."""
    if name == "sigmoid_focal_loss":
        from .focal import eligible

        return (options.from_logits and options.epsilon == 0.0
                and eligible(input, options.alpha, options.pos_weight, options.weight))
    if name == "softmax_focal_loss":
        return options.epsilon == 0.0
    if name == "region_stats":
        return options.from_logits if options.is_index else options.intersection == "product"
    return True


def sigmoid_focal_loss(x: Tensor, y: Tensor, options: O.SigmoidFocalOptions) -> Tensor:
    """See :func:`focalkit._kernels.triton.focal.sigmoid_focal_loss`."""
    from .focal import sigmoid_focal_loss

    alpha, gamma, pos_weight, weight, ignore_index, reduction, _, _ = options
    return sigmoid_focal_loss(x, y, alpha, gamma, pos_weight, weight, ignore_index, reduction)


def softmax_focal_loss(x: Tensor, target: Tensor, options: O.SoftmaxFocalOptions) -> Tensor:
    """See :mod:`focalkit._kernels.triton.softmax`: one kernel pair for class indices, one for
    label smoothing and class probabilities."""
    from .softmax import softmax_focal_loss, softmax_focal_loss_soft

    alpha, gamma, ignore_index, label_smoothing, is_index, reduction, _ = options
    if is_index and label_smoothing == 0.0:
        return softmax_focal_loss(x, target, alpha, gamma, ignore_index, reduction)
    return softmax_focal_loss_soft(x, target, alpha, gamma, ignore_index, label_smoothing,
                                   is_index, reduction)


def linear_softmax_focal_loss(x: Tensor, target: Tensor,
                              options: O.LinearSoftmaxFocalOptions) -> Tensor:
    """See :mod:`focalkit._kernels.triton.linear`: the blocked chunking, Triton passes."""
    from .linear import linear_softmax_focal_loss

    return linear_softmax_focal_loss(x, target, options)


def region_stats(input: Tensor, target: Tensor,
                 options: O.RegionStatsOptions) -> tuple[Tensor, Tensor, Tensor]:
    """See :func:`focalkit._kernels.triton.region.index_stats` and ``dense_stats``."""
    from .region import dense_stats, index_stats

    if options.is_index:
        return as_stats(*index_stats(*flat_index(input, target, options.ignore_index)))
    x, y = flat_dense(input, target, options.mode)
    valid = None if options.ignore_index is None else y != options.ignore_index
    return as_stats(*dense_stats(x, y, valid, activation(options)))


def _envelope(f: Tensor, spacing: float) -> Tensor:
    """See :func:`focalkit._kernels.triton.boundary.lower_envelope`."""
    from .boundary import lower_envelope

    return lower_envelope(f, spacing)


def distance_transform(mask: Tensor, target: None, options: O.DistanceTransformOptions
                       ) -> Tensor:
    """The plain transform with the Triton lower envelopes."""
    return plain_boundary.distance_transform(mask, target, options, _envelope)


def hausdorff_dt_loss(input: Tensor, target: Tensor, options: O.HausdorffDTOptions) -> Tensor:
    """The plain loss with the Triton lower envelopes in its distance maps."""
    return plain_boundary.hausdorff_dt_loss(input, target, options, _envelope)


def boundary_loss(input: Tensor, target: Tensor, options: O.BoundaryOptions) -> Tensor:
    """The plain loss with the Triton lower envelopes in its distance map."""
    return plain_boundary.boundary_loss(input, target, options, _envelope)


KERNELS = KernelSet(
    name="triton",
    sigmoid_focal_loss=sigmoid_focal_loss,
    softmax_focal_loss=softmax_focal_loss,
    linear_softmax_focal_loss=linear_softmax_focal_loss,
    region_stats=region_stats,
    lovasz_softmax_loss=lovasz.lovasz_softmax_loss,
    lovasz_hinge_loss=lovasz.lovasz_hinge_loss,
    distance_transform=distance_transform,
    hausdorff_dt_loss=hausdorff_dt_loss,
    boundary_loss=boundary_loss,
    soft_cldice_loss=blocked_boundary.soft_cldice_loss,
    takes=takes,
)
