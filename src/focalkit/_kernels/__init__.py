"""The implementations of the losses, apart from the documented API in :mod:`focalkit.functional`.

Three backends, one package each:

* :mod:`~focalkit._kernels.plain`: the one differentiable statement of every formula,
  written with PyTorch operations and differentiated by autograd, each beside the options
  tuple it takes. It implements every loss; it is the path of ``torch.compile``,
  ``torch.func`` and forward-mode AD, and the reference the kernels are tested against.
* :mod:`~focalkit._kernels.blocked`: autograd Functions with closed-form gradients that walk
  the input in cache-sized blocks, written with eager PyTorch operations for the CPU.
* :mod:`~focalkit._kernels.triton`: fused Triton kernels for CUDA tensors.

and, apart from them, :mod:`~focalkit._kernels.operators`: kernels wrapped as PyTorch custom
operators, which ``torch.compile`` calls instead of tracing a plain form that would defeat
the kernel's purpose (the logits of the loss over a linear layer).

The interface is one function type, :class:`Kernel`: ``kernel(input, target, options)``
with the loss's options tuple, already checked. A plain form is marked with
:func:`plain_form`, and it is also the key by which the other backends offer a kernel for
the same loss: ``@BLOCKED.implements(plain.focal.sigmoid_focal_loss, takes=...)`` above the
blocked function. :mod:`focalkit._dispatch` picks the backend and asks it for its kernel of
the plain form; a backend without one, or whose ``takes`` declines the call's options, leaves
the call to the plain form. The layers import downward only: ``_tracing`` and ``_tensor``
below everything, then these packages, then ``_checks`` and ``_dispatch``, then
:mod:`focalkit.functional`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, NamedTuple, Protocol, TypeVar

from torch import Tensor

OptionsT = TypeVar("OptionsT", bound=NamedTuple, contravariant=True)
KernelT = TypeVar("KernelT", bound=Callable[..., Any])


class Kernel(Protocol, Generic[OptionsT]):
    """One loss of one backend: ``(input, target, options) -> loss`` (or statistics)."""

    def __call__(self, input: Tensor, target: Tensor, options: OptionsT, /) -> Any: ...


#: ``takes(input, options)``: whether a kernel computes this call (else the plain form runs).
Takes = Callable[[Tensor, Any], bool]


class Backend:
    """The kernels of one backend, each registered under the plain form it computes."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._kernels: dict[Kernel, tuple[Kernel, Takes | None]] = {}

    def implements(self, form: Kernel[OptionsT], *, takes: Takes | None = None
                   ) -> Callable[[KernelT], KernelT]:
        """Register the decorated function as this backend's kernel of the plain ``form``.

        ``takes(input, options)``, when given, says which calls the kernel computes; the
        others run the plain form.
        """
        def register(kernel: KernelT) -> KernelT:
            if form in self._kernels:
                raise RuntimeError(f"the {self.name} backend has two kernels of "
                                   f"{form.__qualname__}")
            self._kernels[form] = (kernel, takes)
            return kernel

        return register

    def has(self, form: Kernel) -> bool:
        """Whether this backend has a kernel of the plain ``form``."""
        return form in self._kernels

    def takes(self, form: Kernel, input: Tensor, options: NamedTuple) -> bool:
        """Whether this backend has a kernel of ``form`` that computes this call."""
        entry = self._kernels.get(form)
        return entry is not None and (entry[1] is None or entry[1](input, options))

    def __getitem__(self, form: Kernel) -> Kernel:
        """This backend's kernel of the plain ``form``."""
        return self._kernels[form][0]

    def forms(self) -> list[Kernel]:
        """The plain forms this backend has a kernel of, in registration order."""
        return list(self._kernels)


PLAIN, BLOCKED, TRITON = Backend("plain"), Backend("blocked"), Backend("triton")
#: The kernels ``torch.compile`` calls as custom operators (:mod:`.operators`).
OPERATOR = Backend("operator")


def plain_form(form: KernelT) -> KernelT:
    """Mark ``form`` as the plain form of a loss: the plain backend's kernel of it, and the
    key under which the other backends register theirs."""
    return PLAIN.implements(form)(form)
