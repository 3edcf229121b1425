"""A weighted sum of losses, with each term available for logging."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from torch import Tensor, nn

from .._checks import check_real
from ._registry import get_loss

__all__ = ["ComboLoss"]

LossFn = Callable[[Tensor, Tensor], Tensor]


class ComboLoss(nn.Module):
    r"""Weighted sum of losses on the same input and target, e.g. Dice + cross-entropy.

    .. math::
        \ell = \sum_k w_k\,\ell_k(\text{input}, \text{target})

    ``forward`` returns the total. To log the terms, call :meth:`components` for the
    unweighted terms (still attached to the graph) and :meth:`total` to combine them; this
    computes every term once and keeps the module free of per-call state, so it is safe
    under ``torch.compile``, DDP and concurrent calls. Every focalkit loss, the Lovasz
    losses included, traces without a graph break, so a combo of them compiles with
    ``fullgraph=True``::

        parts = combo.components(logits, target)
        loss = combo.total(parts)
        loss.backward()
        log({name: value.detach() for name, value in parts.items()})

    Loss modules are registered as submodules (``.to()``, ``state_dict()`` and the
    modules' buffers follow the combo); plain functions are called as they are.

    A term may also be given as ``(kwargs, weight)`` (a two-item list in YAML or JSON): the
    loss is then built by :func:`focalkit.registry.get_loss` from the term's name, or from
    ``kwargs["name"]`` when present (the key :func:`~focalkit.registry.get_loss` itself
    takes), with the other ``kwargs``. A whole combo thus comes from a configuration file::

        ComboLoss({"focal": ({"mode": "multiclass", "gamma": 2.0}, 1.0),
                   "dice": ({"mode": "multiclass"}, 1.0)})

    Args:
        losses: a mapping ``{name: (loss, weight)}`` with ``loss`` a module, a function of
            ``(input, target)`` returning a scalar, or a mapping of keyword arguments for
            :func:`focalkit.registry.get_loss`, and ``weight`` a finite real number.

    Shape:
        - input, target: whatever every term accepts; output: scalar.

    Raises:
        TypeError: if ``losses`` is not a mapping of ``(callable, weight)`` pairs with string
            names.
        ValueError: if ``losses`` is empty, a name is empty or contains a dot, a weight is
            not finite, a loss has ``reduction="none"``, or a loss given by keyword arguments
            names no registered loss.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> from focalkit import ComboLoss, DiceLoss
        >>> combo = ComboLoss({"dice": (DiceLoss(), 1.0), "ce": (nn.CrossEntropyLoss(), 0.5)})
        >>> x, t = torch.randn(2, 3, 4, 4), torch.randint(0, 3, (2, 4, 4))
        >>> parts = combo.components(x, t)
        >>> sorted(parts)
        ['ce', 'dice']
        >>> torch.allclose(combo(x, t), parts["dice"] + 0.5 * parts["ce"])
        True
    """

    def __init__(self, losses: Mapping[str, tuple[LossFn, float]]) -> None:
        super().__init__()
        if not isinstance(losses, Mapping):
            raise TypeError(f"losses must be a mapping {{name: (loss, weight)}}; got "
                            f"{type(losses).__name__}")
        if not losses:
            raise ValueError("losses must name at least one loss; got an empty mapping")
        self.losses = nn.ModuleDict()
        self.functions: dict[str, LossFn] = {}
        self.weights: dict[str, float] = {}
        for name, entry in losses.items():
            if not isinstance(name, str):
                raise TypeError(f"loss names must be strings; got {name!r}")
            if not name or "." in name:
                raise ValueError(f"loss names must be non-empty and contain no '.'; got "
                                 f"{name!r}")
            entry = _from_config(name, entry)
            if not (isinstance(entry, tuple) and len(entry) == 2 and callable(entry[0])):
                raise TypeError(f"losses[{name!r}] must be a (loss, weight) pair with a callable "
                                f"loss or a mapping of get_loss arguments; got {entry!r}")
            loss, weight = entry
            if getattr(loss, "reduction", None) == "none":
                raise ValueError(f"losses[{name!r}] must return a scalar; got a loss with "
                                 f"reduction='none' (use 'mean' or 'sum')")
            self.weights[name] = check_real(f"weight of {name!r}", weight)
            if isinstance(loss, nn.Module):
                self.losses[name] = loss
            else:
                self.functions[name] = loss
        self.names = tuple(losses)

    def extra_repr(self) -> str:
        return "weights=" + repr(self.weights)

    def _loss(self, name: str) -> LossFn:
        if name in self.losses:
            return self.losses[name]
        return self.functions[name]

    def components(self, input: Tensor, target: Tensor) -> dict[str, Tensor]:
        """The unweighted value of every term, by name, attached to the graph."""
        return {name: self._loss(name)(input, target) for name in self.names}

    def total(self, components: Mapping[str, Tensor]) -> Tensor:
        """The weighted sum of the terms returned by :meth:`components`."""
        terms = [self.weights[name] * components[name] for name in self.names]
        return sum(terms[1:], terms[0])

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return self.total(self.components(input, target))


def _from_config(name: str, entry: object) -> object:
    """A ``(kwargs, weight)`` pair, as a tuple or list, becomes ``(get_loss(...), weight)``."""
    if isinstance(entry, Sequence) and not isinstance(entry, str) and len(entry) == 2 \
            and isinstance(entry[0], Mapping):
        kwargs = dict(entry[0])
        if "loss" in kwargs:
            raise ValueError(f"losses[{name!r}] names its loss with the key 'name' (as "
                             f"get_loss takes it); got the key 'loss'")
        return get_loss(kwargs.pop("name", name), **kwargs), entry[1]
    return entry
