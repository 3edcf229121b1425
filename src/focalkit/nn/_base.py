"""What every loss module shares: validated hyper-parameters and tensor buffers."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .._checks import check_gamma, check_reduction


class LossModule(nn.Module):
    """Base class: hyper-parameter tensors live in buffers, ``forward`` is one functional call.

    A tensor hyper-parameter (per-class ``alpha``, ``pos_weight``, ``weight``) is registered
    as a buffer, so ``.to(device)``, ``.half()`` and ``state_dict()`` carry it; a float or
    None is a plain attribute.
    """

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = check_reduction(reduction)

    def _set_hyper(self, name: str, value: object) -> None:
        if isinstance(value, Tensor):
            self.register_buffer(name, value.detach().clone())
        else:
            setattr(self, name, value)

    def extra_repr(self) -> str:
        parts = []
        for name in self._repr_fields:
            value = getattr(self, name)
            text = f"tensor(shape={tuple(value.shape)})" if isinstance(value, Tensor) \
                else repr(value)
            parts.append(f"{name}={text}")
        return ", ".join(parts)

    _repr_fields: tuple[str, ...] = ("reduction",)


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
