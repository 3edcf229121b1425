"""Which implementation computes the losses: ``"auto"``, ``"blocked"``, ``"plain"``, ``"triton"``.

Every loss has a plain implementation, a composition of PyTorch operations that autograd
differentiates, and most have faster kernels beside it. The backend setting says which one
runs; the decision itself, which also looks at the device, ``torch.compile`` tracing,
``torch.func`` transforms and which tensors need a gradient, is made in one place for every
loss. See the *Backends and devices* page of the documentation.

* ``"auto"`` (the default): the cache-blocked kernels for CPU tensors, the fused Triton
  kernels for CUDA tensors when Triton imports, the plain composition otherwise.
* ``"blocked"``: the cache-blocked autograd Functions with closed-form gradients, written
  with eager PyTorch operations for the CPU.
* ``"plain"``: the autograd composition, everywhere.
* ``"triton"``: the fused Triton kernels; a ``RuntimeError`` says why when they cannot run
  (Triton missing, or a CPU tensor without ``TRITON_INTERPRET=1``).

The environment variable ``FOCALKIT_BACKEND`` sets the default when focalkit is imported.

Example:
    >>> import torch
    >>> import focalkit
    >>> from focalkit import backends
    >>> backends.get()
    'auto'
    >>> x, y = torch.randn(4, 3), torch.rand(4, 3)
    >>> with backends.use("plain"):
    ...     plain = focalkit.functional.sigmoid_focal_loss(x, y)
    >>> torch.allclose(plain, focalkit.functional.sigmoid_focal_loss(x, y))
    True
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Iterator

__all__ = ["NAMES", "get", "set", "use"]

#: The valid backend names.
NAMES = ("auto", "blocked", "plain", "triton")

_ENVIRONMENT = "FOCALKIT_BACKEND"


def _check(name: object, source: str = "backend") -> str:
    if not isinstance(name, str) or name not in NAMES:
        valid = ", ".join(repr(n) for n in NAMES)
        raise ValueError(f"{source} must be one of {valid}; got {name!r}")
    return name


_default = _check(os.environ.get(_ENVIRONMENT, "auto"), f"the environment variable {_ENVIRONMENT}")
# Set by use() for the current thread or task only; None falls back to the process default.
_override: contextvars.ContextVar[str | None] = contextvars.ContextVar("focalkit_backend",
                                                                      default=None)


def get() -> str:
    """The backend in force: the innermost :func:`use`, else the last :func:`set`."""
    override = _override.get()
    return _default if override is None else override


def set(name: str) -> None:
    """Set the process-wide default backend (every thread, outside any :func:`use`).

    Raises:
        ValueError: if ``name`` is not one of :data:`NAMES`.
    """
    global _default
    _default = _check(name)


@contextlib.contextmanager
def use(name: str) -> Iterator[None]:
    """Use ``name`` inside the ``with`` block (this thread or task only), then restore.

    Raises:
        ValueError: if ``name`` is not one of :data:`NAMES`.
    """
    token = _override.set(_check(name))
    try:
        yield
    finally:
        _override.reset(token)
