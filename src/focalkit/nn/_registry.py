"""Losses by name, for configuration files: :func:`get_loss` and :func:`list_losses`.

Every loss module registers itself (:func:`register`) as one row of :data:`LOSSES`: its name
(the name of its function without ``_loss``), its module, the kind of target it takes and the
other names it answers to. A
configuration file can then name a loss and its options in plain data, e.g. YAML::

    loss:
      name: focal
      mode: multiclass
      gamma: 2.0

and ``get_loss(**config["loss"])`` builds it.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import NamedTuple, TypeVar

from torch import nn

__all__ = ["LOSSES", "LossEntry", "get_loss", "list_losses", "register"]

TARGETS = ("multiclass", "multilabel", "binary", "distribution", "linear", "mode")


class LossEntry(NamedTuple):
    """One row of :data:`LOSSES`.

    Attributes:
        module: the loss module class; ``get_loss`` calls it with the keyword arguments.
        target: the target the loss takes: ``"multiclass"`` (class indices :math:`(N, *)`
            for :math:`(N, C, *)` logits), ``"multilabel"`` (0/1 per class, the input's
            shape), ``"binary"`` (0/1 per element of an :math:`(N, *)` input),
            ``"distribution"`` (a continuous bin position per row of :math:`(*, B)` bin
            logits), ``"linear"`` (class indices :math:`(*)` for :math:`(*, H)` features
            and a :math:`(C, H)` weight: the module is called as ``loss(input,
            linear_weight, target, linear_bias)``), or ``"mode"`` (chosen by the loss's
            ``mode`` argument).
        aliases: other names the loss is found by.
    """

    module: type[nn.Module]
    target: str
    aliases: tuple[str, ...] = ()


LOSSES: dict[str, LossEntry] = {}
"""The registered losses, by name: each loss module registers itself with :func:`register`."""

LossModuleT = TypeVar("LossModuleT", bound=type[nn.Module])


def register(name: str, target: str, aliases: tuple[str, ...] = ()
             ) -> Callable[[LossModuleT], LossModuleT]:
    """Class decorator: add the loss module to :data:`LOSSES` under ``name``."""
    if target not in TARGETS:
        raise ValueError(f"target must be one of {', '.join(map(repr, TARGETS))}; got {target!r}")

    def add(module: LossModuleT) -> LossModuleT:
        if name in LOSSES:
            raise ValueError(f"a loss named {name!r} is registered already")
        LOSSES[name] = LossEntry(module, target, aliases)
        return module

    return add


register("cross_entropy", "multiclass", ("ce",))(nn.CrossEntropyLoss)
register("binary_cross_entropy", "multilabel", ("bce", "bce_with_logits"))(nn.BCEWithLogitsLoss)



def _key(name: str) -> str:
    """``"Dice"``, ``"dice_loss"``, ``"DiceLoss"`` and ``"dice-loss"`` all give ``"dice"``."""
    key = name.lower().replace("_", "").replace("-", "").replace(" ", "")
    return key[:-4] if key.endswith("loss") and len(key) > 4 else key


def _lookup() -> dict[str, str]:
    """Every name and alias, by :func:`_key`, to the name of its row."""
    found = {}
    for name, entry in LOSSES.items():
        for label in (name, *entry.aliases):
            found[_key(label)] = name
    return found


def list_losses() -> list[str]:
    """The names of the registered losses, sorted (aliases in :data:`LOSSES`).

    Example:
        >>> from focalkit import list_losses
        >>> {"dice", "focal", "lovasz_softmax", "sigmoid_focal"} <= set(list_losses())
        True
    """
    return sorted(LOSSES)


def get_loss(name: str, **kwargs: object) -> nn.Module:
    """Build a registered loss module by name.

    Names are matched without regard to case, ``_``, ``-`` or a ``loss`` suffix, so
    ``"softmax_focal"``, ``"SoftmaxFocalLoss"`` and ``"softmax-focal-loss"`` are the same loss;
    aliases (``"focal"`` with ``mode=``, ``"iou"``, ``"ce"``, ...) are listed in
    :data:`LOSSES`.

    Args:
        name: a name or alias from :data:`LOSSES`.
        **kwargs: the loss's constructor arguments.

    Returns:
        nn.Module: a new loss module.

    Raises:
        TypeError: if ``name`` is not a string, or the loss does not take ``kwargs``.
        ValueError: for an unknown name (the message lists the close matches), or arguments
            the loss rejects.

    Example:
        >>> import torch
        >>> from focalkit import FocalLoss, get_loss
        >>> loss = get_loss("focal", mode="multiclass", gamma=1.0)
        >>> x, t = torch.randn(4, 3), torch.randint(0, 3, (4,))
        >>> torch.equal(loss(x, t), FocalLoss("multiclass", gamma=1.0)(x, t))
        True
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string; got {type(name).__name__}")
    lookup = _lookup()
    key = _key(name)
    if key not in lookup:
        labels = {_key(label): label for row, entry in LOSSES.items()
                  for label in (row, *entry.aliases)}
        close = [labels[k] for k in difflib.get_close_matches(key, list(labels), n=3)]
        hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
        raise ValueError(f"unknown loss {name!r}; {hint}registered losses: "
                         f"{', '.join(list_losses())}")
    return LOSSES[lookup[key]].module(**kwargs)
