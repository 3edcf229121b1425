"""Fused Triton kernels for CUDA tensors (the ``"triton"`` backend).

On CPU tensors they run through Triton's interpreter when ``TRITON_INTERPRET=1`` is set before
focalkit is imported; the test suite uses it. The Lovasz losses need a sort, which stays
``torch.sort``: their autograd Functions, PyTorch operations with no host synchronisation and
no Python loop over images or classes, serve this backend as they are.
"""

from __future__ import annotations

import os

from ..cpu.lovasz import lovasz_hinge, lovasz_softmax

__all__ = ["IMPORT_ERROR", "INTERPRETED", "lovasz_hinge", "lovasz_softmax"]

IMPORT_ERROR: str | None
try:
    import triton  # noqa: F401
except ImportError as error:  # pragma: no cover - depends on the installation
    IMPORT_ERROR = str(error)
else:
    IMPORT_ERROR = None

#: Whether the kernels run through Triton's interpreter (on CPU tensors).
INTERPRETED = os.environ.get("TRITON_INTERPRET") == "1"
