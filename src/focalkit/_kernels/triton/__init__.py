"""Fused Triton kernels for CUDA tensors (the ``"triton"`` backend).

Each kernel reads its inputs in their own dtype (float32, float16 or bfloat16), computes in
float32, and writes the loss and the gradient in the input's dtype; reductions accumulate one
float32 partial sum per program and add the partials in float64. On CPU tensors the kernels
run through Triton's interpreter when ``TRITON_INTERPRET=1`` is set before focalkit is
imported; the test suite uses it. The kernel modules are imported on first use, so that
importing focalkit never compiles or even imports Triton.

The Lovasz losses need a sort, which stays ``torch.sort``: their autograd Functions, PyTorch
operations with no host synchronisation and no Python loop over images or classes, serve this
backend as they are.
"""

from __future__ import annotations

import importlib.util
import os

from ..cpu.lovasz import lovasz_hinge, lovasz_softmax

__all__ = ["IMPORT_ERROR", "INTERPRETED", "accepts", "dense_stats", "index_stats",
           "lovasz_hinge", "lovasz_softmax", "sigmoid_focal_loss", "softmax_focal_loss",
           "softmax_focal_loss_soft"]

#: Why Triton cannot be used, or None when it is installed.
IMPORT_ERROR: str | None = (None if importlib.util.find_spec("triton") is not None
                            else "No module named 'triton'")

#: Whether the kernels run through Triton's interpreter (on CPU tensors).
INTERPRETED = os.environ.get("TRITON_INTERPRET") == "1"


def accepts(loss: str, x, *options) -> bool:
    """Whether the kernel of ``loss`` takes this call; otherwise the plain composition runs."""
    if loss == "sigmoid_focal":
        from .focal import eligible

        return eligible(x, *options)
    return True


def sigmoid_focal_loss(*args):
    """See :func:`focalkit._kernels.triton.focal.sigmoid_focal_loss`."""
    from .focal import sigmoid_focal_loss

    return sigmoid_focal_loss(*args)


def softmax_focal_loss(*args):
    """See :func:`focalkit._kernels.triton.softmax.softmax_focal_loss`."""
    from .softmax import softmax_focal_loss

    return softmax_focal_loss(*args)


def softmax_focal_loss_soft(*args):
    """See :func:`focalkit._kernels.triton.softmax.softmax_focal_loss_soft`."""
    from .softmax import softmax_focal_loss_soft

    return softmax_focal_loss_soft(*args)


def index_stats(*args):
    """See :func:`focalkit._kernels.triton.region.index_stats`."""
    from .region import index_stats

    return index_stats(*args)


def dense_stats(*args):
    """See :func:`focalkit._kernels.triton.region.dense_stats`."""
    from .region import dense_stats

    return dense_stats(*args)
