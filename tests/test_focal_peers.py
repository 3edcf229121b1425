"""Side-by-side checks against other implementations, where their conventions match ours.

Each peer is skipped cleanly when it is not installed. The comments say where a convention
differs and how the comparison accounts for it.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from focal_helpers import binary_target, class_target, logits

from focalkit.functional import sigmoid_focal_loss, softmax_focal_loss

REDUCTIONS = ["none", "mean", "sum"]


def plain_sigmoid_focal(x, y, alpha=0.25, gamma=2.0, reduction="none"):
    """The textbook formula as detection libraries write it (torchvision's convention)."""
    p = torch.sigmoid(x)
    ce = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    p_t = p * y + (1 - p) * (1 - y)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:  # torchvision disables alpha with a negative value
        loss = (alpha * y + (1 - alpha) * (1 - y)) * loss
    return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("alpha,gamma", [(0.25, 2.0), (-1.0, 1.5), (0.6, 0.0)])
def test_plain_formula(reduction, alpha, gamma):
    # Soft labels included: the plain formula uses the same p_t = p y + (1 - p)(1 - y).
    x = logits(3, 4, 5)
    y = binary_target(3, 4, 5, soft=True)
    ours = sigmoid_focal_loss(x, y, alpha=None if alpha < 0 else alpha, gamma=gamma,
                              reduction=reduction)
    torch.testing.assert_close(ours, plain_sigmoid_focal(x, y, alpha, gamma, reduction),
                               rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("alpha", [None, 0.25])
def test_kornia_binary_focal_loss_with_logits(reduction, alpha):
    kornia = pytest.importorskip("kornia")
    # Conventions: kornia weights soft labels t as t*alpha*(1-p)^g*(-log p) + (1-t)*...,
    # which differs from ours for 0 < t < 1, so hard labels only; its pos_weight and weight
    # are (C,) vectors along dim 1, ours broadcast like BCEWithLogitsLoss (so (C, 1, 1)).
    x = logits(2, 3, 4, 5)
    y = binary_target(2, 3, 4, 5)
    pos_weight = torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64)
    weight = torch.tensor([0.5, 1.0, 3.0], dtype=torch.float64)
    theirs = kornia.losses.binary_focal_loss_with_logits(
        x, y, alpha=alpha, gamma=2.0, reduction=reduction, pos_weight=pos_weight, weight=weight)
    ours = sigmoid_focal_loss(x, y, alpha=alpha, gamma=2.0, reduction=reduction,
                              pos_weight=pos_weight.reshape(3, 1, 1),
                              weight=weight.reshape(3, 1, 1))
    torch.testing.assert_close(ours, theirs, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
def test_kornia_focal_loss(gamma):
    kornia = pytest.importorskip("kornia")
    # Conventions: kornia's "none" is a (N, C, *) map that is non-zero only in the target
    # class, its "mean" divides by N*C*positions, and a float alpha gives 1 - alpha to class 0
    # and alpha to every other class. Its ignored positions stay in the mean's denominator.
    # So: our "none" is its map summed over classes; our "sum" is its "sum"; its float alpha is
    # our per-class alpha [1 - alpha, alpha, ...]; its weight is our per-class alpha.
    x = logits(2, 4, 3, 5)
    t = class_target(2, 4, 3, 5, ignore_index=-100, ignore_fraction=0.2)
    focal = kornia.losses.focal_loss
    torch.testing.assert_close(
        softmax_focal_loss(x, t, gamma=gamma, reduction="none"),
        focal(x, t, alpha=None, gamma=gamma, reduction="none").sum(dim=1),
        rtol=1e-10, atol=1e-14)
    torch.testing.assert_close(
        softmax_focal_loss(x, t, alpha=[0.75, 0.25, 0.25, 0.25], gamma=gamma, reduction="sum"),
        focal(x, t, alpha=0.25, gamma=gamma, reduction="sum"), rtol=1e-10, atol=1e-14)
    weight = torch.tensor([0.5, 1.0, 2.0, 4.0], dtype=torch.float64)
    torch.testing.assert_close(
        softmax_focal_loss(x, t, alpha=weight, gamma=gamma, reduction="sum"),
        focal(x, t, alpha=None, gamma=gamma, reduction="sum", weight=weight),
        rtol=1e-10, atol=1e-14)
    t_full = class_target(2, 4, 3, 5)
    torch.testing.assert_close(
        softmax_focal_loss(x, t_full, gamma=gamma) / 4,
        focal(x, t_full, alpha=None, gamma=gamma, reduction="mean"), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("reduction", ["none", "mean"])
@pytest.mark.parametrize("alpha", [None, 0.25])
def test_monai_sigmoid_focal_loss(reduction, alpha):
    monai_losses = pytest.importorskip("monai.losses")
    # Conventions: monai computes in float32 and, for a per-class alpha, weights only the
    # positives (negatives keep weight 1, ours get 1 - alpha), so a scalar alpha and hard
    # labels only. Its "sum" first averages over the spatial dimensions, so not compared.
    x = logits(2, 3, 4, 5, dtype=torch.float32)
    y = binary_target(2, 3, 4, 5, dtype=torch.float32)
    theirs = monai_losses.FocalLoss(gamma=2.0, alpha=alpha, reduction=reduction,
                                    use_softmax=False)(x, y)
    ours = sigmoid_focal_loss(x, y, alpha=alpha, gamma=2.0, reduction=reduction)
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("gamma", [0.0, 2.0])
@pytest.mark.parametrize("alpha", [None, (0.5, 1.0, 2.0)])
def test_monai_softmax_focal_loss(gamma, alpha):
    monai_losses = pytest.importorskip("monai.losses")
    # Conventions: with one-hot targets monai's "none" is a (N, C, *) map, non-zero only in the
    # target class; a scalar alpha gives 1 - alpha to class 0 (background), a sequence is a
    # per-class weight like ours. Our "none" is its map summed over classes.
    x = logits(2, 3, 4, 5, dtype=torch.float32)
    t = class_target(2, 3, 4, 5)
    loss_fn = monai_losses.FocalLoss(gamma=gamma, alpha=alpha, reduction="none",
                                     use_softmax=True, to_onehot_y=True)
    theirs = loss_fn(x, t.unsqueeze(1)).sum(dim=1)
    ours = softmax_focal_loss(x, t, alpha=alpha, gamma=gamma, reduction="none")
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-7)
