"""The one place that decides which implementation of a loss runs.

Every public loss asks :func:`choose` once per call and gets ``"plain"``, ``"blocked"`` or
``"triton"``. The answer depends on

* the backend setting (:mod:`focalkit.backends`);
* the device of the input: the blocked kernels are the default on the CPU only, the Triton
  kernels on CUDA (or on the CPU under Triton's interpreter when asked for explicitly);
* tracing: ``torch.compile`` traces the plain composition, and ``torch.func`` transforms
  (``grad``, ``vmap``, ``jvp``, ``functional_call`` under them) and forward-mode AD need it,
  since the kernels' autograd Functions define only a first-order reverse-mode rule of their
  own;
* which tensors need a gradient: the kernels differentiate the input alone, so a target or a
  hyper-parameter tensor that requires grad takes the plain path;
* whether the kernel takes this call at all (``eligible``), e.g. probability inputs.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd import forward_ad

from . import backends

PLAIN, BLOCKED, TRITON = "plain", "blocked", "triton"
#: The kernel backends a loss with both kinds of kernel offers.
KERNELS = (BLOCKED, TRITON)


def is_compiling() -> bool:
    """Whether ``torch.compile`` is tracing the current call."""
    return torch.compiler.is_compiling()


def is_transformed(tensor: Tensor) -> bool:
    """Whether ``tensor`` is wrapped by a ``torch.func`` transform (grad, vmap, jvp)."""
    return torch._C._functorch.is_functorch_wrapped_tensor(tensor)


def is_traced(*tensors: object) -> bool:
    """Whether a tracer or transform sees these tensors: then no data may reach Python."""
    return is_compiling() or any(isinstance(t, Tensor) and is_transformed(t) for t in tensors)


def triton_status(device: torch.device) -> str | None:
    """None when the Triton kernels can run on ``device``, else the reason they cannot."""
    from ._kernels import triton as triton_kernels

    if triton_kernels.IMPORT_ERROR is not None:
        return (f"the 'triton' backend needs the triton package, which failed to import "
                f"({triton_kernels.IMPORT_ERROR}); install it with pip install "
                f"'focalkit[gpu]'")
    if device.type == "cuda":
        return None
    if device.type == "cpu" and triton_kernels.INTERPRETED:
        return None
    if device.type == "cpu":
        return ("the 'triton' backend runs on CUDA tensors; CPU tensors need Triton's "
                "interpreter (set TRITON_INTERPRET=1 before focalkit is imported)")
    return f"the 'triton' backend runs on CUDA tensors; got a tensor on {device.type}"


def _triton_importable() -> bool:
    from ._kernels import triton as triton_kernels

    return triton_kernels.IMPORT_ERROR is None


def choose(input: Tensor, *others: object, eligible: bool = True,
           kernels: tuple[str, ...] = KERNELS) -> str:
    """Which implementation computes this call: ``"plain"``, ``"blocked"`` or ``"triton"``.

    Args:
        input: the tensor the kernels differentiate.
        others: every other tensor argument (target, weights, hyper-parameter tensors) or
            None; a kernel runs only when none of them needs a gradient.
        eligible: False when the kernels do not take this call's options; then the plain
            composition runs (the loss's docstring says when).
        kernels: the kernels this loss has.

    Raises:
        RuntimeError: if the backend is ``"triton"`` and the Triton kernels cannot run on
            ``input``'s device.
    """
    if is_compiling():
        return PLAIN  # checked first: the tracer reads no backend setting
    backend = backends.get()
    if backend == PLAIN:
        return PLAIN
    if backend == TRITON:
        reason = triton_status(input.device)
        if reason is not None:
            raise RuntimeError(reason)
    if is_traced(input, *others) or forward_ad._current_level >= 0:
        return PLAIN
    if not eligible or any(isinstance(t, Tensor) and t.requires_grad for t in others):
        return PLAIN
    if backend == "auto":
        if input.device.type == "cpu":
            backend = BLOCKED
        elif input.device.type == "cuda" and _triton_importable():
            backend = TRITON
        else:
            return PLAIN
    return backend if backend in kernels else PLAIN


def kernels(path: str):
    """The kernel package (:mod:`focalkit._kernels`) of a decision, None for ``"plain"``."""
    if path == PLAIN:
        return None
    if path == TRITON:
        from ._kernels import triton

        return triton
    from ._kernels import cpu

    return cpu
