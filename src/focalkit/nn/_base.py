"""What every loss module shares: validated hyper-parameters and tensor buffers."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor, nn

from .._checks import check_gamma, check_reduction


class LossModule(nn.Module):
    """Base class: hyper-parameter tensors live in buffers, ``forward`` is one functional call.

    A tensor hyper-parameter (per-class ``alpha``, ``pos_weight``, ``weight``: the names in
    ``_buffer_fields``) is registered as a buffer, so ``.to(device)``, ``.half()`` and
    ``state_dict()`` carry it; a float or None is a plain attribute. This holds for values
    assigned after construction too: ``forward`` reads the attributes on every call.

    Buffers of statistics (class counts, priors: the names in ``_exact_fields``, a subset of
    ``_buffer_fields``) are float64 and keep that dtype under module dtype casts (``.half()``,
    ``.bfloat16()``, ``.to(dtype)``), which would round a count of 5003 to 4992 in bfloat16 or
    overflow 100000 in float16; they follow device moves. The loss computes with them in the
    input's compute dtype.
    """

    _buffer_fields: tuple[str, ...] = ()
    _exact_fields: tuple[str, ...] = ()
    #: What ``reduction="mean"`` divides by: ``"positions"`` (the non-ignored positions, or
    #: labels), ``"weights"`` (their summed class weights when ``weight`` is set, else the
    #: positions) or ``"batch"`` (the loss is a ratio or mean over the whole batch, which
    #: no sum over micro-batches reproduces). Read by the Transformers integration.
    _mean_over: ClassVar[str] = "positions"

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = check_reduction(reduction)

    def __setattr__(self, name: str, value: object) -> None:
        if name in self._buffer_fields and not isinstance(value, nn.Parameter):
            buffers = self.__dict__["_buffers"]
            if isinstance(value, Tensor):
                # The module keeps its own copy, detached from whatever computed the value.
                value = value.detach().clone()
                if name in self._exact_fields:
                    value = value.to(torch.float64)
                if name not in buffers:
                    self.__dict__.pop(name, None)
                    self.register_buffer(name, value)
                    return
            elif name in buffers:
                del buffers[name]
        super().__setattr__(name, value)

    def _apply(self, fn, recurse=True):  # noqa: ANN001, ANN202 (torch's signature)
        exact = {name: self._buffers[name] for name in self._exact_fields
                 if self._buffers.get(name) is not None}
        result = super()._apply(fn, recurse)
        for name, before in exact.items():
            after = self._buffers[name]
            if after.dtype != before.dtype:
                self._buffers[name] = before.to(device=after.device)
        return result

    def extra_repr(self) -> str:
        return describe_fields(self, self._repr_fields)

    _repr_fields: tuple[str, ...] = ("reduction",)


def describe_fields(module: nn.Module, fields: tuple[str, ...]) -> str:
    """``name=value`` for each field, tensors by their shape (the ``extra_repr`` of a loss)."""
    parts = []
    for name in fields:
        value = getattr(module, name)
        text = f"tensor(shape={tuple(value.shape)})" if isinstance(value, Tensor) \
            else repr(value)
        parts.append(f"{name}={text}")
    return ", ".join(parts)


class GammaMixin:
    """A validated, settable ``gamma`` (what :class:`focalkit.GammaScheduler` changes)."""

    _gamma: float

    @property
    def gamma(self) -> float:
        """The focusing parameter; setting it checks ``gamma >= 0``."""
        return self._gamma

    @gamma.setter
    def gamma(self, value: float) -> None:
        self._gamma = check_gamma(value)


def as_class_vector(value: object, dims: int) -> object:
    """Reshape a 1-D per-class tensor to broadcast along dimension 1 of a ``dims``-D input."""
    if isinstance(value, Tensor) and value.dim() == 1 and dims > 2:
        return value.reshape(-1, *([1] * (dims - 2)))
    return value


def float_target(target: Tensor, input: Tensor) -> Tensor:
    """Integer or boolean 0/1 targets as floats of the input's compute dtype."""
    if isinstance(target, Tensor) and not target.is_floating_point():
        return target.to(torch.promote_types(input.dtype, torch.float32))
    return target
