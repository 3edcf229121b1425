"""ComboLoss: a weighted sum whose terms are available for logging."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import focalkit
from focalkit import ComboLoss
from focalkit import functional as F


def data():
    return torch.randn(2, 3, 5, 5, dtype=torch.float64), torch.randint(0, 3, (2, 5, 5))


def test_total_is_the_weighted_sum_with_gradients():
    x, t = data()
    combo = ComboLoss({
        "dice": (focalkit.DiceLoss(), 1.0),
        "focal": (focalkit.SoftmaxFocalLoss(gamma=2.0), 0.5),
        "lovasz": (lambda a, b: F.lovasz_softmax_loss(a, b, per_image=True), 2.0),
    })
    xa = x.clone().requires_grad_()
    total = combo(xa, t)
    (g,) = torch.autograd.grad(total, xa)
    xb = x.clone().requires_grad_()
    want = (F.dice_loss(xb, t) + 0.5 * F.softmax_focal_loss(xb, t)
            + 2.0 * F.lovasz_softmax_loss(xb, t, per_image=True))
    (g_want,) = torch.autograd.grad(want, xb)
    torch.testing.assert_close(total, want)
    torch.testing.assert_close(g, g_want)


def test_components_for_logging_and_total():
    x, t = data()
    combo = ComboLoss({"dice": (focalkit.DiceLoss(), 1.0), "ce": (nn.CrossEntropyLoss(), 0.25)})
    x.requires_grad_()
    parts = combo.components(x, t)
    assert list(parts) == ["dice", "ce"]
    torch.testing.assert_close(parts["dice"], F.dice_loss(x, t))
    torch.testing.assert_close(parts["ce"], nn.functional.cross_entropy(x, t))
    total = combo.total(parts)
    torch.testing.assert_close(total, parts["dice"] + 0.25 * parts["ce"])
    total.backward()  # the parts are attached to the graph
    assert x.grad is not None
    torch.testing.assert_close(combo(x, t), total)


def test_forward_keeps_no_state():
    combo = ComboLoss({"dice": (focalkit.DiceLoss(), 1.0)})
    before = dict(vars(combo))
    x, t = data()
    combo(x, t)
    assert dict(vars(combo)) == before


def test_modules_are_registered():
    dice = focalkit.DiceLoss()
    combo = ComboLoss({"dice": (dice, 1.0), "fn": (F.jaccard_loss, 1.0)})
    assert dict(combo.named_children())["losses"]["dice"] is dice
    assert "weights={'dice': 1.0, 'fn': 1.0}" in repr(combo)
    weighted = ComboLoss({"ce": (nn.CrossEntropyLoss(weight=torch.ones(3)), 1.0)})
    assert "losses.ce.weight" in weighted.state_dict()
    assert weighted.double().losses["ce"].weight.dtype == torch.float64


def test_mixed_precision_terms_add_up():
    x, t = data()
    combo = ComboLoss({"a": (lambda a, b: F.dice_loss(a, b).float(), 1.0),
                       "b": (F.jaccard_loss, 1.0)})
    assert torch.isfinite(combo(x, t))


@pytest.mark.parametrize("losses,error,match", [
    ([("dice", (F.dice_loss, 1.0))], TypeError, "losses must be a mapping"),
    ({}, ValueError, "at least one loss"),
    ({1: (F.dice_loss, 1.0)}, TypeError, "loss names must be strings"),
    ({"": (F.dice_loss, 1.0)}, ValueError, "non-empty and contain no '.'"),
    ({"a.b": (F.dice_loss, 1.0)}, ValueError, "non-empty and contain no '.'"),
    ({"dice": F.dice_loss}, TypeError, r"losses\['dice'\] must be a \(loss, weight\) pair"),
    ({"dice": ("dice", 1.0)}, TypeError, "callable loss"),
    ({"dice": (F.dice_loss, float("inf"))}, ValueError, "weight of 'dice' must be finite"),
    ({"dice": (F.dice_loss, "1")}, TypeError, "weight of 'dice' must be a real number"),
    ({"dice": (focalkit.DiceLoss(reduction="none"), 1.0)}, ValueError,
     r"losses\['dice'\] must return a scalar; got a loss with reduction='none'"),
])
def test_errors(losses, error, match):
    with pytest.raises(error, match=match):
        ComboLoss(losses)
