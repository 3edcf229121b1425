"""The one place that decides which implementation of a loss runs.

Every public loss, after checking its arguments, calls :func:`run` once with its plain form
(the function in :mod:`focalkit._kernels.plain` that states its formula), its input, its
target and its options tuple; :func:`run` calls the implementation :func:`route` picks with
the same three arguments.
:func:`choose` picks the backend (``"plain"``, ``"blocked"`` or ``"triton"``) from

* the backend setting (:mod:`focalkit.backends`);
* the device of the input: the blocked kernels are the default on the CPU only, the Triton
  kernels on CUDA (or on the CPU under Triton's interpreter when asked for explicitly);
* tracing: ``torch.compile`` traces the plain composition, and ``torch.func`` transforms
  (``grad``, ``vmap``, ``jvp``, ``functional_call`` under them) and forward-mode AD need it,
  since the kernels' autograd Functions define only a first-order reverse-mode rule of their
  own;
* which tensors need a gradient: the kernels differentiate the input alone (and the fields an
  options tuple names in its ``differentiated`` attribute: a linear layer's weight and bias),
  so a target or a hyper-parameter tensor that requires grad takes the plain path.

While ``torch.compile`` traces, :func:`decide` looks no further than
:mod:`focalkit._kernels.operators`: a kernel there is a custom operator that the compiled graph
calls (the loss over a linear layer, whose plain form would hold the logits); every other loss
is traced in its plain form.

Otherwise the chosen :class:`~focalkit._kernels.Backend` says whether it has a kernel of that
plain form that takes this call's options; where it does not, the plain form runs, on the same
device. The rule is the same for every loss: an explicit ``"triton"`` that cannot
run on the input's device raises, whether or not the loss has a Triton kernel.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import torch
from torch import Tensor

from . import _kernels, backends
from ._kernels import Backend, Kernel
from ._kernels import blocked as _blocked  # noqa: F401 (importing it registers its kernels)
from ._kernels import operators as _operators  # noqa: F401 (the same)
from ._kernels import triton as triton_kernels
from ._tracing import forward_ad_active, func_transform_active, is_compiling, is_traced

PLAIN, BLOCKED, TRITON, OPERATOR = "plain", "blocked", "triton", "operator"

#: The kernels of every backend.
BACKENDS: dict[str, Backend] = {PLAIN: _kernels.PLAIN, BLOCKED: _kernels.BLOCKED,
                                TRITON: _kernels.TRITON, OPERATOR: _kernels.OPERATOR}


def triton_status(device: torch.device) -> str | None:
    """None when the Triton kernels can run on ``device``, else the reason they cannot."""
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


def choose(input: Tensor, *others: object, differentiated: Sequence[object] = ()) -> str:
    """Which backend computes this call: ``"plain"``, ``"blocked"`` or ``"triton"``.

    Args:
        input: the tensor the kernels differentiate.
        others: every other tensor argument (target, weights, hyper-parameter tensors) or
            anything else (ignored); a kernel runs only when no tensor among them needs a
            gradient.
        differentiated: tensors the kernels differentiate besides the input (a linear
            layer's weight and bias; None entries are ignored); like the input they may
            need a gradient, and a transform that wraps them takes the plain path.

    Raises:
        RuntimeError: if the backend is ``"triton"`` and the Triton kernels cannot run on
            ``input``'s device.
    """
    if is_compiling():
        # Checked first: the tracer reads no backend setting. (decide() asks the operators
        # before it comes here.)
        return PLAIN
    backend = backends.get()
    if backend == PLAIN:
        return PLAIN
    if backend == TRITON:
        reason = triton_status(input.device)
        if reason is not None:
            raise RuntimeError(reason)
    if is_traced(input, *others, *differentiated) or forward_ad_active():
        return PLAIN
    if any(isinstance(t, Tensor) and t.requires_grad for t in others):
        return PLAIN
    if backend == "auto":
        if input.device.type == "cpu":
            return BLOCKED
        if input.device.type == "cuda" and triton_kernels.IMPORT_ERROR is None:
            return TRITON
        return PLAIN
    return backend


def decide(form: Kernel, input: Tensor, target: object, options: NamedTuple) -> str:
    """The backend whose kernel of the plain ``form`` computes ``(input, target, options)``.

    The backend comes from :func:`choose`, which sees the target and every tensor among the
    options; the fields the options tuple names in its ``differentiated`` class attribute
    (if any) go to ``choose`` as tensors the kernel differentiates, like the input. A backend
    without a kernel of ``form``, or whose kernel does not take these options, leaves the call
    to the plain form.
    """
    if is_compiling():
        # The compiled graph holds the plain form, or calls a kernel that is a custom
        # operator (the loss over a linear layer: its plain form holds the logits).
        # A torch.func transform or forward-mode AD inside the compiled function needs the
        # plain form: the operator has only a reverse-mode rule.
        if func_transform_active() or forward_ad_active():
            return PLAIN
        return OPERATOR if BACKENDS[OPERATOR].takes(form, input, options) else PLAIN
    differentiated = getattr(options, "differentiated", ())
    others = [value for field, value in zip(options._fields, options, strict=True)
              if field not in differentiated] if differentiated else list(options)
    backend = choose(input, target, *others,
                     differentiated=[getattr(options, field) for field in differentiated])
    if backend != PLAIN and not BACKENDS[backend].takes(form, input, options):
        return PLAIN
    return backend


def route(form: Kernel, input: Tensor, target: object, options: NamedTuple) -> Kernel:
    """The implementation of the loss whose plain form is ``form`` that :func:`decide` picks
    for this call."""
    backend = decide(form, input, target, options)
    if backend == PLAIN:
        return form
    kernel = BACKENDS[backend][form]
    if not torch.is_grad_enabled():
        # Without grad mode (evaluation) the kernels skip the gradient pass.
        return _detached(kernel)
    return kernel


def run(form: Kernel, input: Tensor, target: object, options: NamedTuple) -> Any:
    """The loss whose plain form is ``form`` of ``(input, target, options)``, computed by the
    implementation :func:`route` picks."""
    return route(form, input, target, options)(input, target, options)


def _detached(kernel: Kernel) -> Kernel:
    def run(input: Tensor, target: Tensor, options: NamedTuple):
        return kernel(input.detach(), target, options)

    return run


def kernel_table() -> str:
    """The Markdown table of which backend has a kernel of which plain form (docs/backends.md)."""
    rows = ["| kernel | plain | blocked | triton | under `torch.compile` |",
            "| --- | :---: | :---: | :---: | :---: |"]
    forms = sorted(BACKENDS[PLAIN].forms(), key=lambda f: (f.__module__, f.__name__))
    for form in forms:
        cells = ["yes" if BACKENDS[b].has(form) else "plain form" for b in (PLAIN, BLOCKED, TRITON)]
        cells.append("custom operator" if BACKENDS[OPERATOR].has(form) else "plain form")
        rows.append(f"| `{form.__name__}` | {' | '.join(cells)} |")
    return "\n".join(rows)
