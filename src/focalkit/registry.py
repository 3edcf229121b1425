"""Losses by name, for configuration files: :func:`get_loss` and :func:`list_losses`.

Every loss is one row of :data:`LOSSES`: its name (the name of its function without
``_loss``), its module, the kind of target it takes and the other names it answers to. A
configuration file can then name a loss and its options in plain data, e.g. YAML::

    loss:
      name: focal
      mode: multiclass
      gamma: 2.0

and ``get_loss(**config["loss"])`` builds it.
"""

from __future__ import annotations

import difflib
from typing import NamedTuple

from torch import nn

from .nn.asymmetric import AsymmetricLoss
from .nn.detection import DistributionFocalLoss, QualityFocalLoss, VarifocalLoss
from .nn.focal import FocalLoss, SigmoidFocalLoss, SoftmaxFocalLoss
from .nn.long_tail import LDAMLoss, LogitAdjustedCrossEntropyLoss
from .nn.lovasz import LovaszHingeLoss, LovaszSoftmaxLoss
from .nn.poly import Poly1CrossEntropyLoss
from .nn.region import DiceLoss, JaccardLoss, TverskyLoss
from .nn.region_more import GeneralizedDiceLoss, UnifiedFocalLoss

__all__ = ["LOSSES", "LossEntry", "get_loss", "list_losses"]

TARGETS = ("multiclass", "multilabel", "binary", "distribution", "mode")


class LossEntry(NamedTuple):
    """One row of :data:`LOSSES`.

    Attributes:
        module: the loss module class; ``get_loss`` calls it with the keyword arguments.
        target: the target the loss takes: ``"multiclass"`` (class indices :math:`(N, *)`
            for :math:`(N, C, *)` logits), ``"multilabel"`` (0/1 per class, the input's
            shape), ``"binary"`` (0/1 per element of an :math:`(N, *)` input),
            ``"distribution"`` (a continuous bin position per row of :math:`(*, B)` bin
            logits), or ``"mode"`` (chosen by the loss's ``mode`` argument).
        aliases: other names the loss is found by.
    """

    module: type[nn.Module]
    target: str
    aliases: tuple[str, ...] = ()


LOSSES: dict[str, LossEntry] = {
    "sigmoid_focal": LossEntry(SigmoidFocalLoss, "multilabel", ("binary_focal",)),
    "softmax_focal": LossEntry(SoftmaxFocalLoss, "multiclass", ("multiclass_focal",)),
    "focal": LossEntry(FocalLoss, "mode"),
    "dice": LossEntry(DiceLoss, "mode"),
    "jaccard": LossEntry(JaccardLoss, "mode", ("iou",)),
    "tversky": LossEntry(TverskyLoss, "mode", ("focal_tversky",)),
    "lovasz_softmax": LossEntry(LovaszSoftmaxLoss, "multiclass"),
    "lovasz_hinge": LossEntry(LovaszHingeLoss, "binary"),
    "generalized_dice": LossEntry(GeneralizedDiceLoss, "mode"),
    "unified_focal": LossEntry(UnifiedFocalLoss, "multiclass"),
    "logit_adjusted_cross_entropy": LossEntry(LogitAdjustedCrossEntropyLoss, "multiclass",
                                              ("logit_adjusted", "balanced_softmax")),
    "ldam": LossEntry(LDAMLoss, "multiclass"),
    "poly1_cross_entropy": LossEntry(Poly1CrossEntropyLoss, "multiclass", ("poly1",)),
    "asymmetric": LossEntry(AsymmetricLoss, "multilabel", ("asl",)),
    "quality_focal": LossEntry(QualityFocalLoss, "multilabel", ("qfl",)),
    "varifocal": LossEntry(VarifocalLoss, "multilabel", ("vfl",)),
    "distribution_focal": LossEntry(DistributionFocalLoss, "distribution", ("dfl",)),
    "cross_entropy": LossEntry(nn.CrossEntropyLoss, "multiclass", ("ce",)),
    "binary_cross_entropy": LossEntry(nn.BCEWithLogitsLoss, "multilabel",
                                      ("bce", "bce_with_logits")),
}
"""The registered losses, by name. A new loss is one more row."""


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
