"""The Triton backend: fused Triton kernels for CUDA tensors.

Each kernel reads its inputs in their own dtype (float32, float16 or bfloat16), computes in
float32, and writes the loss and the gradient in the input's dtype; reductions accumulate one
float32 partial sum per program and add the partials in float64. On CPU tensors the kernels
run through Triton's interpreter when ``TRITON_INTERPRET=1`` is set before focalkit is
imported; the test suite uses it. The kernel modules are imported on first use, so that
importing focalkit never compiles or even imports Triton.

The Lovasz losses need a sort, which stays ``torch.sort``: the blocked backend's autograd
Functions, PyTorch operations with no host synchronisation and no Python loop over images or
classes, serve this backend as they are (they register with both); so does the soft skeleton of
clDice. The distance
transform of the Hausdorff-DT and boundary losses takes its lower envelopes of parabolas
from :mod:`.boundary`.
"""

from __future__ import annotations

import importlib.util
import os

from torch import Tensor

from .. import TRITON
from ..plain import boundary as plain_boundary
from ..plain import focal as plain_focal
from ..plain import linear as plain_linear
from ..plain import region as plain_region

__all__ = ["IMPORT_ERROR", "INTERPRETED"]

#: Why Triton cannot be used, or None when it is installed.
IMPORT_ERROR: str | None = (None if importlib.util.find_spec("triton") is not None
                            else "No module named 'triton'")

#: Whether the kernels run through Triton's interpreter (on CPU tensors).
INTERPRETED = os.environ.get("TRITON_INTERPRET") == "1"


def _sigmoid_takes(x: Tensor, options: plain_focal.SigmoidFocalOptions) -> bool:
    """Logits, no Poly-1 term, and hyper-parameter tensors the kernels can read."""
    from .focal import eligible

    return (options.from_logits and options.epsilon == 0.0
            and eligible(x, options.alpha, options.pos_weight, options.weight))


@TRITON.implements(plain_focal.sigmoid_focal_loss, takes=_sigmoid_takes)
def sigmoid_focal_loss(x: Tensor, y: Tensor, options: plain_focal.SigmoidFocalOptions) -> Tensor:
    """See :func:`focalkit._kernels.triton.focal.sigmoid_focal_loss`."""
    from .focal import sigmoid_focal_loss

    alpha, gamma, pos_weight, weight, ignore_index, reduction, _, _ = options
    return sigmoid_focal_loss(x, y, alpha, gamma, pos_weight, weight, ignore_index, reduction)


@TRITON.implements(plain_focal.softmax_focal_loss,
                   takes=lambda x, options: options.epsilon == 0.0)
def softmax_focal_loss(x: Tensor, target: Tensor,
                       options: plain_focal.SoftmaxFocalOptions) -> Tensor:
    """See :mod:`focalkit._kernels.triton.softmax`: one kernel pair for class indices, one for
    label smoothing and class probabilities."""
    from .softmax import softmax_focal_loss, softmax_focal_loss_soft

    alpha, gamma, ignore_index, label_smoothing, is_index, reduction, _ = options
    if is_index and label_smoothing == 0.0:
        return softmax_focal_loss(x, target, alpha, gamma, ignore_index, reduction)
    return softmax_focal_loss_soft(x, target, alpha, gamma, ignore_index, label_smoothing,
                                   is_index, reduction)


@TRITON.implements(plain_linear.linear_softmax_focal_loss)
def linear_softmax_focal_loss(x: Tensor, target: Tensor,
                              options: plain_linear.LinearSoftmaxFocalOptions) -> Tensor:
    """See :mod:`focalkit._kernels.triton.linear`: the blocked chunking, Triton passes."""
    from .linear import linear_softmax_focal_loss

    return linear_softmax_focal_loss(x, target, options)


@TRITON.implements(plain_region.region_stats, takes=lambda x, options: (
    options.from_logits if options.is_index else options.intersection == "product"))
def region_stats(input: Tensor, target: Tensor,
                 options: plain_region.RegionStatsOptions) -> tuple[Tensor, Tensor, Tensor]:
    """See :func:`focalkit._kernels.triton.region.index_stats` and ``dense_stats``."""
    from .region import dense_stats, index_stats

    if options.is_index:
        return plain_region.as_stats(*index_stats(*plain_region.flat_index(
            input, target, options.ignore_index)))
    x, y = plain_region.flat_dense(input, target, options.mode)
    valid = None if options.ignore_index is None else y != options.ignore_index
    return plain_region.as_stats(*dense_stats(x, y, valid, plain_region.activation(options)))


def _envelope(f: Tensor, spacing: float) -> Tensor:
    """See :func:`focalkit._kernels.triton.boundary.lower_envelope`."""
    from .boundary import lower_envelope

    return lower_envelope(f, spacing)


@TRITON.implements(plain_boundary.distance_transform)
def distance_transform(mask: Tensor, target: None,
                       options: plain_boundary.DistanceTransformOptions
                       ) -> Tensor:
    """The plain transform with the Triton lower envelopes."""
    return plain_boundary.distance_transform(mask, target, options, _envelope)


@TRITON.implements(plain_boundary.hausdorff_dt_loss)
def hausdorff_dt_loss(input: Tensor, target: Tensor,
                      options: plain_boundary.HausdorffDTOptions) -> Tensor:
    """The plain loss with the Triton lower envelopes in its distance maps."""
    return plain_boundary.hausdorff_dt_loss(input, target, options, _envelope)


@TRITON.implements(plain_boundary.boundary_loss)
def boundary_loss(input: Tensor, target: Tensor, options: plain_boundary.BoundaryOptions) -> Tensor:
    """The plain loss with the Triton lower envelopes in its distance map."""
    return plain_boundary.boundary_loss(input, target, options, _envelope)

