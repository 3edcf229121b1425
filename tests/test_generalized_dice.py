"""Generalized Dice loss: reference, class weights, gradients, ignored positions, MONAI."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from region_helpers import binary_data, check_ignored_positions_and_half, multiclass_data

from focalkit import GeneralizedDiceLoss
from focalkit import reference as R
from focalkit.functional import (
    dice_loss,
    generalized_dice_loss,
    region_stats,
)

GD_OPTIONS = [{}, {"weighting": "simple"}, {"weighting": "uniform"}, {"per_image": True},
              {"smooth": 1.0, "classes": [1, 3]}, {"ignore_index": 255},
              {"intersection": "min", "reduction": "sum", "per_image": True}]


@pytest.mark.parametrize("options", GD_OPTIONS)
def test_generalized_dice_matches_reference(options):
    x, t = multiclass_data()
    t[0, 0, :2] = 255 if "ignore_index" in options else 0
    got = generalized_dice_loss(x, t, **options)
    want = R.generalized_dice_loss(x, t, **options)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10)


def test_generalized_dice_weights_and_empty_classes():
    x, t = multiclass_data()
    tp, fp, fn = region_stats(x, t)
    w = 1.0 / (tp + fn) ** 2
    gd = 2 * (w * tp).sum() / (w * (2 * tp + fp + fn)).sum()
    assert torch.allclose(generalized_dice_loss(x, t), 1 - gd)
    # an absent class takes the largest weight of the present ones
    t3 = t.clamp_max(2)
    tp, fp, fn = region_stats(x, t3)
    w = 1.0 / (tp + fn) ** 2
    w[3] = w[:3].max()
    gd = 2 * (w * tp).sum() / (w * (2 * tp + fp + fn)).sum()
    assert torch.allclose(generalized_dice_loss(x, t3), 1 - gd)
    # no class present: uniform weights (a false alarm still costs), nothing at all: 0
    p = torch.full((1, 1, 4), 0.5, dtype=torch.float64)
    y = torch.zeros(1, 1, 4, dtype=torch.float64)
    assert generalized_dice_loss(p, y, mode="binary", from_logits=False).item() == 1.0
    zero = generalized_dice_loss(torch.zeros_like(p), y, mode="binary", from_logits=False)
    assert zero.item() == 0.0


def test_generalized_dice_one_class_is_dice():
    x, y = binary_data()
    assert torch.allclose(generalized_dice_loss(x, y, mode="binary"),
                          dice_loss(x, y, mode="binary"))
    # smooth is added after the weighting: it only cancels with uniform weights
    assert torch.allclose(generalized_dice_loss(x, y, mode="binary", smooth=1.0,
                                                weighting="uniform"),
                          dice_loss(x, y, mode="binary", smooth=1.0))


def test_gradcheck():
    x, t = multiclass_data(c=3, shape=(2, 3, 3))
    x.requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda v: generalized_dice_loss(v, t, ignore_index=0, smooth=0.5), (x,))


def test_ignored_positions_and_half():
    check_ignored_positions_and_half(generalized_dice_loss)


def test_module_equals_functional():
    x, t = multiclass_data(dtype=torch.float32)
    assert torch.equal(GeneralizedDiceLoss(per_image=True, smooth=1e-5)(x, t),
                       generalized_dice_loss(x, t, per_image=True, smooth=1e-5))
    assert "weighting='square'" in repr(GeneralizedDiceLoss())


def test_generalized_dice_equals_monai():
    losses = pytest.importorskip("monai.losses")
    x, t = multiclass_data()
    onehot = F.one_hot(t, 4).permute(0, 3, 1, 2).double()
    for batch in (False, True):
        for w_type in ("square", "simple", "uniform"):
            theirs = losses.GeneralizedDiceLoss(softmax=True, batch=batch, w_type=w_type,
                                                include_background=False)(x, onehot)
            ours = generalized_dice_loss(x, t, weighting=w_type, per_image=not batch,
                                         smooth=1e-5, classes=[1, 2, 3])
            torch.testing.assert_close(ours, theirs.reshape(()), rtol=1e-6, atol=1e-8)
