"""The blocked backend: autograd Functions with closed-form gradients for the CPU.

Written with eager PyTorch operations that walk the input in cache-sized blocks
(:mod:`~focalkit._kernels.blocked.blocks`); element-wise losses share one blocked loop
(:mod:`~focalkit._kernels.blocked._elementwise`). Each kernel saves at most one input-sized
buffer besides the inputs; the loss over a linear layer
(:mod:`~focalkit._kernels.blocked.linear`) saves the gradients it forms in its forward pass,
or three floats per row. The Lovasz Functions are plain device code (batched sorts, no
host synchronisation), so the Triton backend serves them too; so is the soft skeleton of
clDice (:mod:`~focalkit._kernels.blocked.boundary`); the Triton loss over a linear layer
reuses the blocked one's chunking.
"""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor

from .. import KernelSet
from . import asymmetric, boundary, detection, focal, linear, lovasz, region


def takes(name: str, input: Tensor, options: NamedTuple) -> bool:
    """Whether the blocked kernel ``name`` takes these options (else the plain form runs)."""
    if name == "sigmoid_focal_loss":
        return options.from_logits and options.epsilon == 0.0
    if name == "softmax_focal_loss":
        return options.is_index and options.label_smoothing == 0.0 and options.epsilon == 0.0
    if name == "region_stats":
        return options.is_index and options.from_logits
    return True


KERNELS = KernelSet(
    name="blocked",
    sigmoid_focal_loss=focal.sigmoid_focal_loss,
    softmax_focal_loss=focal.softmax_focal_loss,
    linear_softmax_focal_loss=linear.linear_softmax_focal_loss,
    asymmetric_loss=asymmetric.asymmetric_loss,
    varifocal_loss=detection.varifocal_loss,
    region_stats=region.region_stats,
    lovasz_softmax_loss=lovasz.lovasz_softmax_loss,
    lovasz_hinge_loss=lovasz.lovasz_hinge_loss,
    soft_cldice_loss=boundary.soft_cldice_loss,
    takes=takes,
)

__all__ = ["KERNELS", "takes"]
