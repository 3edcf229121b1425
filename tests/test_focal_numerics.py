"""Numerical edge cases, precisions and memory layouts of the focal losses."""

from __future__ import annotations

import math

import pytest
import torch
from focal_helpers import MIXED, binary_target, class_target, grad_of, logits, prob_target

from focalkit.functional import focal_modulation, sigmoid_focal_loss, softmax_focal_loss

REDUCTIONS = ["none", "mean", "sum"]
HALF = [torch.float16, torch.bfloat16]


def sig(x, y, **kwargs):
    return sigmoid_focal_loss(x, y, **kwargs)


def soft(x, t, **kwargs):
    return softmax_focal_loss(x, t, **kwargs)


def finite(*tensors):
    return all(bool(torch.isfinite(t).all()) for t in tensors)


def finite_or_overflowing_sum(loss, reference_fn):
    """A float16 sum of losses near 1e4 can exceed 65504; then it must be the rounded result."""
    if torch.isfinite(loss).all():
        return True
    return bool(torch.isinf(reference_fn().to(loss.dtype)).all())


# ---------------------------------------------------------------------------------------------
# Extreme logits
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype,scale", [(torch.float32, 100.0), (torch.float16, 1e4),
                                         (torch.bfloat16, 1e4), (torch.float32, 1e4),
                                         (torch.float64, 1e4)])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 3.7])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_extreme_logits_give_finite_loss_and_grad(path, dtype, scale, gamma, reduction):
    signs = torch.tensor([-1.0, 1.0, -1.0, 1.0, 0.5, -0.5])
    x = (signs * scale).repeat(4, 1).to(dtype)
    y = torch.tensor([0.0, 1.0, 1.0, 0.0, 0.3, 1.0]).repeat(4, 1).to(dtype)
    pos_weight = torch.tensor(3.0, dtype=dtype)
    loss, grad = grad_of(lambda i: sig(i, y, gamma=gamma, pos_weight=pos_weight,
                                       reduction=reduction), x)
    assert finite(grad)
    assert finite_or_overflowing_sum(loss, lambda: sig(
        x.double(), y.double(), gamma=gamma, pos_weight=pos_weight.double(),
        reduction=reduction))
    assert loss.dtype == dtype and grad.dtype == dtype

    xs = torch.stack([signs * scale, -signs * scale, torch.zeros(6)], dim=1).to(dtype)  # (6, 3)
    t = torch.tensor([0, 0, 1, 2, 1, 0])
    kwargs = dict(gamma=gamma, alpha=[1.0, 2.0, 0.5], reduction=reduction)
    for target in (t, prob_target(6, 3).to(dtype)):
        loss, grad = grad_of(lambda i, tt=target: soft(i, tt, **kwargs), xs)
        assert finite(grad)
        assert finite_or_overflowing_sum(
            loss, lambda tt=target: soft(xs.double(), tt if tt.dtype == torch.long
                                         else tt.double(), **kwargs))
        assert loss.dtype == dtype


def test_confident_wrong_prediction_costs_its_logit():
    x = torch.tensor([1e4, -1e4], dtype=torch.float32)
    y = torch.tensor([0.0, 1.0])
    loss = sig(x, y, alpha=None, gamma=2.0, reduction="none")
    torch.testing.assert_close(loss, torch.tensor([1e4, 1e4]))
    xs = torch.tensor([[1e4, -1e4]])
    torch.testing.assert_close(soft(xs, torch.tensor([1]), reduction="sum"), torch.tensor(2e4))


@pytest.mark.parametrize("gamma", [0.01, 0.1, 0.5, 0.9])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_fractional_gamma_has_zero_gradient_at_certainty(path, gamma, dtype):
    """``(1 - p_t)**gamma`` has an infinite slope at p_t = 1; the loss's gradient is 0 there."""
    big = torch.cat([torch.arange(10.0, 120.0, 3.0), torch.tensor([700.0, 745.0, 800.0, 1e4])])
    x = torch.cat([big, -big]).to(dtype)
    y = torch.cat([torch.ones_like(big), torch.zeros_like(big)]).to(dtype)
    loss, grad = grad_of(lambda i: sig(i, y, gamma=gamma, reduction="sum"), x)
    assert finite(loss, grad)
    assert grad[-1] == 0 and grad[len(big) - 1] == 0

    xs = torch.zeros(len(big), 3, dtype=dtype)
    xs[:, 0] = big.to(dtype)
    t = torch.zeros(len(big), dtype=torch.long)
    loss, grad = grad_of(lambda i: soft(i, t, gamma=gamma, reduction="sum"), xs)
    assert finite(loss, grad)
    assert (grad[-1] == 0).all()


def test_fractional_gamma_gradient_matches_limit_at_exact_certainty():
    """Probabilities of exactly 0 and 1 (from_logits=False) give finite gradients too."""
    p = torch.tensor([1.0, 0.0, 0.5], dtype=torch.float64)
    y = torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64)
    loss, grad = grad_of(lambda i: sig(i, y, gamma=0.5, from_logits=False, reduction="sum"), p)
    assert finite(loss, grad)


# ---------------------------------------------------------------------------------------------
# Half precision and autocast
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_half_inputs_are_computed_in_float32(path, dtype, reduction):
    """The loss of a half input is the float32 loss of the same values, rounded once.

    Hyper-parameters that half precision cannot hold exactly (0.1, 1/3) are not rounded to it.
    """
    x = logits(4, 3, 8, dtype=dtype)
    y = binary_target(4, 3, 8, dtype=dtype)
    x32, y32 = x.float(), y.float()
    alpha = torch.tensor([0.1, 1 / 3, 0.7]).reshape(3, 1)
    kwargs = dict(alpha=alpha, pos_weight=torch.tensor(1 / 3), reduction=reduction)
    loss, grad = grad_of(lambda i: sig(i, y, **kwargs), x)
    loss32, grad32 = grad_of(lambda i: sig(i, y32, **kwargs), x32)
    assert loss.dtype == dtype and grad.dtype == dtype
    torch.testing.assert_close(loss, loss32.to(dtype), rtol=0, atol=0)
    torch.testing.assert_close(grad.float(), grad32, rtol=1e-2, atol=1e-4)

    t = class_target(4, 3, 8, ignore_index=-100, ignore_fraction=0.2)
    for alpha in (0.1, [0.1, 1 / 3, 0.7]):
        loss, grad = grad_of(lambda i, a=alpha: soft(i, t, reduction=reduction, alpha=a), x)
        loss32, grad32 = grad_of(lambda i, a=alpha: soft(i, t, reduction=reduction, alpha=a),
                                 x32)
        assert loss.dtype == dtype and grad.dtype == dtype
        torch.testing.assert_close(loss, loss32.to(dtype), rtol=0, atol=0)
        torch.testing.assert_close(grad.float(), grad32, rtol=1e-2, atol=1e-4)


@pytest.mark.parametrize("dtype", HALF)
def test_half_probability_targets_and_label_smoothing(dtype):
    x = logits(4, 3, 5, dtype=dtype)
    q = prob_target(4, 3, 5, dtype=dtype)
    kwargs = dict(label_smoothing=0.1, alpha=[0.1, 1 / 3, 0.7], reduction="none")
    loss = soft(x, q, **kwargs)
    assert loss.dtype == dtype
    torch.testing.assert_close(loss, soft(x.float(), q.float(), **kwargs).to(dtype), rtol=0,
                               atol=0)


def test_float64_is_never_downcast():
    x = logits(3, 4, requires_grad=True)
    for loss in (sig(x, binary_target(3, 4)), soft(x, class_target(3, 4))):
        assert loss.dtype == torch.float64
        (g,) = torch.autograd.grad(loss, x)
        assert g.dtype == torch.float64


@pytest.mark.parametrize("dtype", HALF)
def test_float32_inputs_inside_autocast_are_not_downcast(path, dtype):
    x = logits(3, 4, 50, dtype=torch.float32)
    y = binary_target(3, 4, 50, dtype=torch.float32)
    t = class_target(3, 4, 50)
    outside = [grad_of(lambda i: sig(i, y), x), grad_of(lambda i: soft(i, t), x)]
    with torch.autocast("cpu", dtype=dtype):
        inside = [grad_of(lambda i: sig(i, y), x), grad_of(lambda i: soft(i, t), x)]
    for (loss_in, grad_in), (loss_out, grad_out) in zip(inside, outside, strict=True):
        assert loss_in.dtype == torch.float32
        torch.testing.assert_close(loss_in, loss_out, rtol=1e-6, atol=0)
        torch.testing.assert_close(grad_in, grad_out, rtol=1e-6, atol=1e-9)


def test_autocast_bfloat16():
    torch.manual_seed(0)
    head = torch.nn.Linear(8, 3)
    features = torch.randn(16, 8)
    y = binary_target(16, 3, dtype=torch.float32)
    t = class_target(16, 3)
    losses = [lambda o: sig(o, y), lambda o: soft(o, t),
              lambda o: soft(o, t, label_smoothing=0.1)]
    for loss_fn in losses:
        head.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = head(features)
            assert out.dtype == torch.bfloat16
            loss = loss_fn(out)
        assert loss.dtype == torch.bfloat16
        loss.backward()
        assert torch.isfinite(head.weight.grad).all()
        torch.testing.assert_close(loss.float(), loss_fn(out.detach().float()),
                                   rtol=1e-2, atol=1e-3)


# ---------------------------------------------------------------------------------------------
# Empty inputs, all-ignored inputs, ignored NaN/inf logits
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_empty_batch(path, reduction):
    x = logits(0, 3, 4)
    loss, grad = grad_of(lambda i: sig(i, binary_target(0, 3, 4), reduction=reduction), x)
    assert loss.shape == ((0, 3, 4) if reduction == "none" else ())
    assert grad.shape == x.shape
    if reduction != "none":
        assert loss == 0

    t = class_target(0, 3, 4)
    loss, grad = grad_of(lambda i: soft(i, t, reduction=reduction), x)
    assert loss.shape == ((0, 4) if reduction == "none" else ())
    assert grad.shape == x.shape
    if reduction != "none":
        assert loss == 0
    q = prob_target(0, 3, 4)
    loss, grad = grad_of(lambda i: soft(i, q, reduction=reduction), x)
    assert loss.shape == ((0, 4) if reduction == "none" else ())


def test_empty_spatial_dimension(path):
    x = logits(2, 3, 0, requires_grad=True)
    t = torch.zeros(2, 0, dtype=torch.long)
    loss = soft(x, t)
    loss.backward()
    assert loss == 0 and x.grad.shape == x.shape


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_all_ignored_gives_zero_with_zero_gradient(path, reduction):
    x = logits(3, 4, 5, requires_grad=True)
    y = torch.full((3, 4, 5), -1.0, dtype=torch.float64)
    loss = sig(x, y, ignore_index=-1, reduction=reduction)
    (g,) = torch.autograd.grad(loss, x)
    assert loss == 0 and not torch.isnan(loss)
    assert (g == 0).all()

    t = torch.full((3, 5), -100)
    for ls in (0.0, 0.2):
        loss = soft(x, t, reduction=reduction, label_smoothing=ls)
        (g,) = torch.autograd.grad(loss, x)
        assert loss == 0 and (g == 0).all()


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_ignored_positions_get_exactly_zero_gradient_whatever_their_logits(path, bad,
                                                                            reduction):
    x = logits(4, 3, 5)
    y = binary_target(4, 3, 5)
    y[1] = -1.0
    x[1] = bad
    loss, grad = grad_of(lambda i: sig(i, y, ignore_index=-1, reduction=reduction), x)
    assert finite(loss, grad)
    assert (grad[1] == 0).all()
    assert (grad[0] != 0).any()

    t = class_target(4, 3, 5)
    t[1, 2:] = -100
    x[:] = logits(4, 3, 5)
    x[1, :, 2:] = bad
    for ls in (0.0, 0.1):
        loss, grad = grad_of(lambda i, ls=ls: soft(i, t, reduction=reduction, label_smoothing=ls),
                             x)
        assert finite(loss, grad)
        assert (grad[1, :, 2:] == 0).all()
        if reduction == "none":
            assert (loss[1, 2:] == 0).all()


def test_nan_input_propagates(path):
    x = logits(2, 3)
    x[0, 0] = math.nan
    assert torch.isnan(sig(x, binary_target(2, 3)))
    assert torch.isnan(soft(x, class_target(2, 3)))


# ---------------------------------------------------------------------------------------------
# Memory layouts and N-D shapes
# ---------------------------------------------------------------------------------------------


def _layout_variants(x):
    """Non-contiguous and channels-last copies of a contiguous 4-D tensor ``x``."""
    transposed = x.transpose(2, 3).contiguous().transpose(2, 3)
    strided = torch.empty(*x.shape[:-1], 2 * x.shape[-1], dtype=x.dtype)[..., ::2]
    strided.copy_(x)
    channels_last = x.contiguous(memory_format=torch.channels_last)
    return {"transposed": transposed, "strided": strided, "channels_last": channels_last}


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_layouts_give_the_same_result(path, reduction):
    x = logits(2, 3, 4, 5)
    y = binary_target(2, 3, 4, 5, soft=True)
    t = class_target(2, 3, 4, 5, ignore_index=-100, ignore_fraction=0.2)
    alpha_c = torch.rand(3, 1, 1, dtype=torch.float64)
    sig_loss, sig_grad = grad_of(lambda i: sig(i, y, alpha=alpha_c, reduction=reduction), x)
    soft_loss, soft_grad = grad_of(lambda i: soft(i, t, reduction=reduction), x)
    for name, variant in _layout_variants(x).items():
        assert not variant.is_contiguous(), name
        loss, grad = grad_of(lambda i: sig(i, y, alpha=alpha_c, reduction=reduction), variant)
        torch.testing.assert_close(loss, sig_loss, rtol=1e-12, atol=1e-15, msg=name)
        torch.testing.assert_close(grad, sig_grad, rtol=1e-12, atol=1e-15, msg=name)
        loss, grad = grad_of(lambda i: soft(i, t, reduction=reduction), variant)
        torch.testing.assert_close(loss, soft_loss, rtol=1e-12, atol=1e-15, msg=name)
        torch.testing.assert_close(grad, soft_grad, rtol=1e-12, atol=1e-15, msg=name)
    # Non-contiguous targets too.
    y_nc = _layout_variants(y)["channels_last"]
    torch.testing.assert_close(sig(x, y_nc, alpha=alpha_c, reduction=reduction), sig_loss)
    t_nc = t.transpose(1, 2).contiguous().transpose(1, 2)
    torch.testing.assert_close(soft(x, t_nc, reduction=reduction), soft_loss)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_five_dimensional_input_equals_flattened(path, reduction):
    """(N, C, D, H, W) gives the same numbers as the same positions laid out as (N, C, D*H*W)."""
    x = logits(2, 3, 2, 3, 4)
    t = class_target(2, 3, 2, 3, 4, ignore_index=-100, ignore_fraction=0.2)
    y = binary_target(2, 3, 2, 3, 4)
    loss5, grad5 = grad_of(lambda i: soft(i, t, reduction=reduction, gamma=1.5), x)
    loss3, grad3 = grad_of(lambda i: soft(i, t.reshape(2, -1), reduction=reduction, gamma=1.5),
                           x.reshape(2, 3, -1))
    torch.testing.assert_close(loss5.reshape(loss3.shape), loss3, rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(grad5.reshape(grad3.shape), grad3, rtol=1e-12, atol=1e-15)
    channels_last = x.contiguous(memory_format=torch.channels_last_3d)
    loss_cl, grad_cl = grad_of(lambda i: soft(i, t, reduction=reduction, gamma=1.5),
                               channels_last)
    torch.testing.assert_close(loss_cl, loss5, rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(grad_cl, grad5, rtol=1e-12, atol=1e-15)
    loss_cl, grad_cl = grad_of(lambda i: sig(i, y, reduction=reduction), channels_last)
    loss5, grad5 = grad_of(lambda i: sig(i, y, reduction=reduction), x)
    torch.testing.assert_close(loss_cl, loss5, rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(grad_cl, grad5, rtol=1e-12, atol=1e-15)


def test_blocked_path_on_inputs_larger_than_one_block(path):
    """Inputs spanning several cache blocks give the same numbers as small slices of them."""
    x = logits(3, 5, 90, 100, dtype=torch.float32)  # 135,000 elements, several blocks
    y = binary_target(3, 5, 90, 100, dtype=torch.float32)
    y[0, 0, :10] = -1.0
    none = sig(x, y, ignore_index=-1, reduction="none")
    part = sig(x[1:2], y[1:2], reduction="none")
    torch.testing.assert_close(none[1:2], part)
    valid = (y != -1).sum()
    torch.testing.assert_close(sig(x, y, ignore_index=-1), none.double().sum().float() / valid,
                               rtol=1e-5, atol=0)

    t = class_target(3, 5, 90, 100)
    none = soft(x, t, reduction="none")
    torch.testing.assert_close(none[:, :7], soft(x[:, :, :7], t[:, :7], reduction="none"))
    torch.testing.assert_close(soft(x, t, reduction="sum"), none.double().sum().float(),
                               rtol=1e-5, atol=0)


@pytest.mark.parametrize("dtype", HALF)
def test_half_mean_gradient_over_more_elements_than_float16_can_count(dtype):
    """The mean's 1/count is applied in float32: 70,000 does not fit in float16."""
    x = logits(70_000, dtype=dtype, scale=1.0)
    y = binary_target(70_000, dtype=dtype)
    _, grad = grad_of(lambda i: sig(i, y), x)
    _, grad32 = grad_of(lambda i: sig(i, y.float()), x.float())
    torch.testing.assert_close(grad.float(), grad32, rtol=2e-2, atol=1e-7)

    xs = logits(2, 3, 40_000, dtype=dtype, scale=1.0)
    t = class_target(2, 3, 40_000)
    _, grad = grad_of(lambda i: soft(i, t), xs)
    _, grad32 = grad_of(lambda i: soft(i, t), xs.float())
    torch.testing.assert_close(grad.float(), grad32, rtol=2e-2, atol=1e-7)


# ---------------------------------------------------------------------------------------------
# Mixed input/target dtypes: promoted as torch's own losses promote them
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("input_dtype,target_dtype", MIXED)
def test_focal_modulation_promotes_mixed_dtypes(input_dtype, target_dtype):
    gen = torch.Generator().manual_seed(0)
    x = (torch.randn(6, 5, generator=gen) * 3).to(input_dtype)
    y = torch.rand(6, 5, generator=gen).to(target_dtype)
    factor = focal_modulation(x, y, gamma=1.5, alpha=0.25)
    promoted = torch.promote_types(input_dtype, target_dtype)
    assert factor.dtype == promoted
    expected = focal_modulation(x.to(promoted), y.to(promoted), gamma=1.5, alpha=0.25)
    torch.testing.assert_close(factor, expected)
