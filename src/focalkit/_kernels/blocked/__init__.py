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

Each kernel registers itself under the plain form it computes
(``@BLOCKED.implements(...)``), with the options it takes; importing this package imports
them all.
"""

from . import asymmetric, boundary, detection, focal, linear, lovasz, region

__all__ = ["asymmetric", "boundary", "detection", "focal", "linear", "lovasz", "region"]
