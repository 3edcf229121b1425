"""Whether a tracer or a transform sees a call: then no data may reach Python.

The lowest layer of the package: it imports nothing from focalkit, and everything that must
behave differently under ``torch.compile``, ``torch.func`` or forward-mode AD asks here.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd import forward_ad


def is_compiling() -> bool:
    """Whether ``torch.compile`` is tracing the current call."""
    return torch.compiler.is_compiling()


def known_to_be(value: float, constant: float) -> bool:
    """Whether the float hyper-parameter ``value`` is known here to equal ``constant``.

    In eager mode a comparison. While ``torch.compile`` traces it is always False: the tracer
    may hold the float as a symbolic graph input, and a Python branch on it would specialise
    the graph to that value (a recompile whenever a schedule changes it). Only for shortcuts:
    the general formula must also hold at ``constant``.
    """
    return not is_compiling() and value == constant


def is_transformed(tensor: Tensor) -> bool:
    """Whether ``tensor`` is wrapped by a ``torch.func`` transform (grad, vmap, jvp)."""
    return torch._C._functorch.is_functorch_wrapped_tensor(tensor)


def func_transform_active() -> bool:
    """Whether a ``torch.func`` transform is running, readable while ``torch.compile`` traces
    (where the wrapped tensors of :func:`is_transformed` cannot be inspected)."""
    return torch._C._are_functorch_transforms_active()


def is_traced(*tensors: object) -> bool:
    """Whether a tracer or transform sees these tensors: then no data may reach Python."""
    return is_compiling() or any(isinstance(t, Tensor) and is_transformed(t) for t in tensors)


def forward_ad_active() -> bool:
    """Whether a forward-mode AD level is open (``torch.autograd.forward_ad.dual_level``)."""
    return forward_ad._current_level >= 0
