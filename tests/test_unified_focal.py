"""The asymmetric unified focal loss: reference, identities, gradients, ignored positions,
MONAI."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from region_helpers import binary_data, check_ignored_positions_and_half, multiclass_data

from focalkit import UnifiedFocalLoss
from focalkit import reference as R
from focalkit.functional import (
    dice_loss,
    tversky_loss,
    unified_focal_loss,
)

UF_OPTIONS = [{}, {"per_image": True}, {"background": [0, 2]}, {"background": None},
              {"ignore_index": 255}, {"reduction": "none", "smooth": 1.0},
              {"gamma": 1.0, "delta": 0.3, "weight": 0.2}, {"gamma": 0.0, "reduction": "sum"}]


@pytest.mark.parametrize("options", UF_OPTIONS)
def test_unified_matches_reference(options):
    x, t = multiclass_data()
    t[0, 0, :2] = 255 if "ignore_index" in options else 0
    got = unified_focal_loss(x, t, **options)
    want = R.unified_focal_loss(x, t, **options)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("options", [{}, {"from_logits": False}, {"ignore_index": -1},
                                     {"per_image": True, "reduction": "none"}])
def test_unified_binary_matches_reference(options):
    x, y = binary_data()
    if options.get("from_logits") is False:
        x = x.sigmoid()
    if "ignore_index" in options:
        y[0, 0, 0, :2] = -1
    got = unified_focal_loss(x, y, mode="binary", **options)
    want = R.unified_focal_loss(x, y, mode="binary", **options)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-12)


def test_unified_identities():
    x, t = multiclass_data()
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
    xb, yb = binary_data()
    two = torch.cat((torch.zeros_like(xb), xb), dim=1)
    assert torch.allclose(unified_focal_loss(xb, yb, mode="binary"),
                          unified_focal_loss(two, yb[:, 0].long()))


@pytest.mark.parametrize("loss_fn", [
    lambda x, t: unified_focal_loss(x, t, ignore_index=0, gamma=0.3, delta=0.7),
    lambda x, t: unified_focal_loss(x, t, per_image=True, smooth=1.0),
])
def test_gradcheck(loss_fn):
    x, t = multiclass_data(c=3, shape=(2, 3, 3))
    x.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda v: loss_fn(v, t), (x,))


def test_binary_gradcheck():
    x, y = binary_data()
    x.requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda v: unified_focal_loss(v, y, mode="binary", smooth=1e-3), (x,))


def test_ignored_positions_and_half():
    check_ignored_positions_and_half(unified_focal_loss)


def test_module_equals_functional():
    x, t = multiclass_data(dtype=torch.float32)
    module = UnifiedFocalLoss(delta=0.7, background=[0, 1])
    assert torch.equal(module(x, t), unified_focal_loss(x, t, delta=0.7, background=[0, 1]))
    module.gamma = 0.25
    assert torch.equal(module(x, t), unified_focal_loss(x, t, delta=0.7, background=[0, 1],
                                                        gamma=0.25))


def test_unified_equals_monai_on_binary_inputs():
    losses = pytest.importorskip("monai.losses")
    x, y = binary_data()
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
