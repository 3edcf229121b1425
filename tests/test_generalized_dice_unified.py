"""Generalized Dice and the asymmetric unified focal loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from focalkit import GeneralizedDiceLoss, UnifiedFocalLoss
from focalkit import reference as R
from focalkit.functional import (
    dice_loss,
    generalized_dice_loss,
    region_stats,
    tversky_loss,
    unified_focal_loss,
)


def data(c=4, dtype=torch.float64, seed=0, shape=(2, 5, 5)):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape[0], c, *shape[1:], generator=g, dtype=dtype)
    t = torch.randint(0, c, shape, generator=g)
    return x, t


def binary(dtype=torch.float64, seed=1):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(2, 1, 4, 4, generator=g, dtype=dtype),
            torch.randint(0, 2, (2, 1, 4, 4), generator=g).to(dtype))


GD_OPTIONS = [{}, {"weighting": "simple"}, {"weighting": "uniform"}, {"per_image": True},
              {"smooth": 1.0, "classes": [1, 3]}, {"ignore_index": 255},
              {"intersection": "min", "reduction": "sum", "per_image": True}]


@pytest.mark.parametrize("options", GD_OPTIONS)
def test_generalized_dice_matches_reference(options):
    x, t = data()
    t[0, 0, :2] = 255 if "ignore_index" in options else 0
    got = generalized_dice_loss(x, t, **options)
    want = R.generalized_dice_loss(x, t, **options)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10)


def test_generalized_dice_weights_and_empty_classes():
    x, t = data()
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
    x, y = binary()
    assert torch.allclose(generalized_dice_loss(x, y, mode="binary"),
                          dice_loss(x, y, mode="binary"))
    # smooth is added after the weighting: it only cancels with uniform weights
    assert torch.allclose(generalized_dice_loss(x, y, mode="binary", smooth=1.0,
                                                weighting="uniform"),
                          dice_loss(x, y, mode="binary", smooth=1.0))


UF_OPTIONS = [{}, {"per_image": True}, {"background": [0, 2]}, {"background": None},
              {"ignore_index": 255}, {"reduction": "none", "smooth": 1.0},
              {"gamma": 1.0, "delta": 0.3, "weight": 0.2}, {"gamma": 0.0, "reduction": "sum"}]


@pytest.mark.parametrize("options", UF_OPTIONS)
def test_unified_matches_reference(options):
    x, t = data()
    t[0, 0, :2] = 255 if "ignore_index" in options else 0
    got = unified_focal_loss(x, t, **options)
    want = R.unified_focal_loss(x, t, **options)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("options", [{}, {"from_logits": False}, {"ignore_index": -1},
                                     {"per_image": True, "reduction": "none"}])
def test_unified_binary_matches_reference(options):
    x, y = binary()
    if options.get("from_logits") is False:
        x = x.sigmoid()
    if "ignore_index" in options:
        y[0, 0, 0, :2] = -1
    got = unified_focal_loss(x, y, mode="binary", **options)
    want = R.unified_focal_loss(x, y, mode="binary", **options)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-12)


def test_unified_identities():
    x, t = data()
    # weight=0: the Tversky terms; delta=1/2, gamma=0 and no background: Dice
    only_tversky = unified_focal_loss(x, t, weight=0.0, delta=0.5, gamma=0.0, background=None)
    assert torch.allclose(only_tversky, dice_loss(x, t))
    # background class's Tversky term is plain Tversky with alpha = 1 - delta, beta = delta
    terms = unified_focal_loss(x, t, weight=0.0, delta=0.7, reduction="none")
    plain = tversky_loss(x, t, alpha=0.3, beta=0.7, reduction="none")
    assert torch.allclose(terms[0], plain[0])
    assert torch.allclose(terms[1:], plain[1:] ** 0.5)
    # weight=1, gamma=0, delta=1/2: a C-th of half the cross-entropy
    focal = unified_focal_loss(x, t, weight=1.0, delta=0.5, gamma=0.0)
    assert torch.allclose(focal, 0.5 * F.cross_entropy(x, t) / 4)
    # binary mode equals the two-class multiclass form
    xb, yb = binary()
    two = torch.cat((torch.zeros_like(xb), xb), dim=1)
    assert torch.allclose(unified_focal_loss(xb, yb, mode="binary"),
                          unified_focal_loss(two, yb[:, 0].long()))


@pytest.mark.parametrize("loss_fn", [
    lambda x, t: generalized_dice_loss(x, t, ignore_index=0, smooth=0.5),
    lambda x, t: unified_focal_loss(x, t, ignore_index=0, gamma=0.3, delta=0.7),
    lambda x, t: unified_focal_loss(x, t, per_image=True, smooth=1.0),
])
def test_gradcheck(loss_fn):
    x, t = data(c=3, shape=(2, 3, 3))
    x.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda v: loss_fn(v, t), (x,))


def test_binary_gradcheck():
    x, y = binary()
    x.requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda v: unified_focal_loss(v, y, mode="binary", smooth=1e-3), (x,))


@pytest.mark.parametrize("loss_fn", [generalized_dice_loss, unified_focal_loss])
def test_ignored_positions_and_half(loss_fn):
    x, t = data(dtype=torch.float32)
    x[0, :, 0, 0] = float("nan")
    t[0, 0, 0] = 255
    x.requires_grad_(True)
    loss = loss_fn(x, t, ignore_index=255)
    loss.backward()
    assert torch.isfinite(loss) and (x.grad[0, :, 0, 0] == 0).all()
    for dtype in (torch.float16, torch.bfloat16):
        xh = x.detach().to(dtype)
        half = loss_fn(xh, t, ignore_index=255)
        assert half.dtype == dtype
        torch.testing.assert_close(half.float(), loss_fn(xh.float(), t, ignore_index=255),
                                   rtol=1e-2, atol=1e-2)


def test_modules_equal_functional():
    x, t = data(dtype=torch.float32)
    assert torch.equal(GeneralizedDiceLoss(per_image=True, smooth=1e-5)(x, t),
                       generalized_dice_loss(x, t, per_image=True, smooth=1e-5))
    module = UnifiedFocalLoss(delta=0.7, background=[0, 1])
    assert torch.equal(module(x, t), unified_focal_loss(x, t, delta=0.7, background=[0, 1]))
    module.gamma = 0.25
    assert torch.equal(module(x, t), unified_focal_loss(x, t, delta=0.7, background=[0, 1],
                                                        gamma=0.25))
    assert "weighting='square'" in repr(GeneralizedDiceLoss())


def test_generalized_dice_equals_monai():
    losses = pytest.importorskip("monai.losses")
    x, t = data()
    onehot = F.one_hot(t, 4).permute(0, 3, 1, 2).double()
    for batch in (False, True):
        for w_type in ("square", "simple", "uniform"):
            theirs = losses.GeneralizedDiceLoss(softmax=True, batch=batch, w_type=w_type,
                                                include_background=False)(x, onehot)
            ours = generalized_dice_loss(x, t, weighting=w_type, per_image=not batch,
                                         smooth=1e-5, classes=[1, 2, 3])
            torch.testing.assert_close(ours, theirs.reshape(()), rtol=1e-6, atol=1e-8)


def test_unified_equals_monai_on_binary_inputs():
    losses = pytest.importorskip("monai.losses")
    x, y = binary()
    p = x.sigmoid()
    for weight, delta, gamma in ((0.5, 0.7, 0.5), (0.3, 0.6, 0.75)):
        theirs = losses.AsymmetricUnifiedFocalLoss(weight=weight, delta=delta, gamma=gamma)(p, y)
        ours = unified_focal_loss(p, y, mode="binary", from_logits=False, weight=weight,
                                  delta=delta, gamma=gamma, per_image=True, smooth=1e-7)
        torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-8)
        two = torch.cat((1 - p, p), dim=1)
        theirs = losses.AsymmetricUnifiedFocalLoss(weight=weight, delta=delta, gamma=gamma,
                                                   to_onehot_y=True)(two, y.long())
        ours = unified_focal_loss(two, y[:, 0].long(), from_logits=False, weight=weight,
                                  delta=delta, gamma=gamma, per_image=True, smooth=1e-7)
        torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-8)
