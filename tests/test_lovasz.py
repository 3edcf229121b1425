"""Lovasz-Softmax and Lovasz hinge: the authors' algorithm, gradients and edge cases."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from region_helpers import load_smp_losses
from torch.autograd import gradcheck, gradgradcheck

import focalkit
from focalkit import backends
from focalkit import functional as F
from focalkit import reference as R


def softmax_case(n=2, c=4, spatial=(5, 6), ignore_index=None, dtype=torch.float64):
    x = torch.randn(n, c, *spatial, dtype=torch.float64).to(dtype) * 2
    t = torch.randint(0, c, (n, *spatial))
    if ignore_index is not None:
        t = torch.where(torch.rand(t.shape) < 0.3, torch.full_like(t, ignore_index), t)
    return x, t


def hinge_case(n=3, spatial=(5, 6), ignore_index=None, dtype=torch.float64):
    x = torch.randn(n, *spatial, dtype=torch.float64).to(dtype) * 2
    y = torch.randint(0, 2, (n, *spatial))
    if ignore_index is not None:
        y = torch.where(torch.rand(y.shape) < 0.3, torch.full_like(y, ignore_index), y)
    return x, y


SOFTMAX_OPTIONS = [
    {},
    {"per_image": True},
    {"classes": "all"},
    {"classes": "all", "per_image": True},
    {"classes": [1, 3]},
    {"classes": [0, 2], "per_image": True, "ignore_index": 255},
    {"ignore_index": 255},
    {"ignore_index": 0, "per_image": True},
]


@pytest.mark.parametrize("spatial", [(5, 6), (3, 2, 4)], ids=["2d", "3d"])
@pytest.mark.parametrize("opts", SOFTMAX_OPTIONS)
def test_softmax_matches_reference(spatial, opts):
    x, t = softmax_case(spatial=spatial, ignore_index=opts.get("ignore_index"))
    got = F.lovasz_softmax_loss(x, t, **opts)
    np.testing.assert_allclose(got.item(), R.lovasz_softmax_loss(x, t, **opts), rtol=1e-12,
                               atol=1e-14)


@pytest.mark.parametrize("opts", SOFTMAX_OPTIONS)
def test_float32_radix_path_matches_reference(opts):
    x, t = softmax_case(n=3, c=5, spatial=(24, 20), ignore_index=opts.get("ignore_index"),
                        dtype=torch.float32)
    want = R.lovasz_softmax_loss(x, t, **opts)
    np.testing.assert_allclose(F.lovasz_softmax_loss(x, t, **opts).item(), want, rtol=1e-5)
    with torch.no_grad():
        np.testing.assert_allclose(F.lovasz_softmax_loss(x, t, **opts).item(), want, rtol=1e-5)
    xg = x.double().requires_grad_()
    (g64,) = torch.autograd.grad(F.lovasz_softmax_loss(xg, t, **opts), xg)
    xg = x.clone().requires_grad_()
    (g32,) = torch.autograd.grad(F.lovasz_softmax_loss(xg, t, **opts), xg)
    torch.testing.assert_close(g32, g64.float(), rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("opts", SOFTMAX_OPTIONS)
def test_float32_grouped_radix_path_matches_reference(opts):
    """Rows of 9216 (per image) and 18432 (per batch) positions: sorted a few at a time."""
    x, t = softmax_case(n=2, c=4, spatial=(96, 96), ignore_index=opts.get("ignore_index"),
                        dtype=torch.float32)
    threads = torch.get_num_threads()
    want = R.lovasz_softmax_loss(x, t, **opts)
    xg = x.clone().requires_grad_()
    loss = F.lovasz_softmax_loss(xg, t, **opts)
    np.testing.assert_allclose(loss.item(), want, rtol=1e-6)
    assert torch.get_num_threads() == threads
    (g32,) = torch.autograd.grad(loss, xg)
    x64 = x.double().requires_grad_()
    (g64,) = torch.autograd.grad(F.lovasz_softmax_loss(x64, t, **opts), x64)
    torch.testing.assert_close(g32, g64.float(), rtol=1e-4, atol=1e-8)


@pytest.mark.parametrize("shape", [(8, 8192), (2, 100000), (3, 40000), (5, 300)],
                         ids=["groups of 4", "groups of 2", "one row", "flat"])
def test_float32_sort_keys_order_like_a_stable_sort(shape):
    """Ties keep their order, NaN comes first and the ignored marker -1 last, whatever path."""
    from focalkit._kernels.blocked.lovasz import _sort_descending

    gen = torch.Generator().manual_seed(0)
    rows = torch.randint(0, 40, shape, generator=gen).float() / 39
    rows[torch.rand(shape, generator=gen) < 0.1] = -1.0
    rows[torch.rand(shape, generator=gen) < 0.01] = float("nan")
    want, want_perm = torch.sort(rows, dim=1, descending=True, stable=True)
    values, perm, _ = _sort_descending(rows.clone())
    torch.testing.assert_close(values, want, rtol=0, atol=0, equal_nan=True)
    assert torch.equal(perm.reshape(shape) % shape[1], want_perm)


@pytest.mark.parametrize("per_image", [False, True])
def test_softmax_probabilities_match_reference(per_image):
    x, t = softmax_case()
    p = torch.softmax(x, 1)
    got = F.lovasz_softmax_loss(p, t, from_logits=False, per_image=per_image)
    want = R.lovasz_softmax_loss(p, t, from_logits=False, per_image=per_image)
    np.testing.assert_allclose(got.item(), want, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(got, F.lovasz_softmax_loss(x, t, per_image=per_image))


def test_errors_are_sorted_and_labels_follow_the_same_permutation():
    """Sorting the probabilities instead of the errors (or permuting the labels by another
    order) gives a different number here; the loss must be the literal algorithm's."""
    p = np.array([[0.9, 0.6, 0.2, 0.4, 0.7], [0.1, 0.4, 0.8, 0.6, 0.3]])
    t = np.array([1, 0, 1, 0, 1])
    right, wrong = [], []
    for c in range(2):
        fg = (t == c).astype(float)
        errors = np.abs(fg - p[c])
        order = np.argsort(-errors)
        right.append(errors[order] @ R.lovasz_grad(fg[order]))
        by_prob = np.argsort(-p[c])
        wrong.append(errors[order] @ R.lovasz_grad(fg[by_prob]))
    assert abs(np.mean(right) - np.mean(wrong)) > 1e-3
    got = F.lovasz_softmax_loss(torch.tensor(p[None]), torch.tensor(t[None]), from_logits=False)
    assert got.item() == pytest.approx(np.mean(right), abs=1e-12)


def test_lovasz_grad_matches_reference():
    fg = torch.rand(3, 17) < 0.4
    fg[2] = False
    got = F.lovasz_grad(fg, dtype=torch.float64)
    for row, want in zip(got, fg, strict=True):
        np.testing.assert_allclose(row.numpy(), R.lovasz_grad(want.numpy()), rtol=1e-12,
                                   atol=1e-15)


@pytest.mark.parametrize("opts", SOFTMAX_OPTIONS + [{"from_logits": False}])
def test_softmax_gradcheck(opts):
    x, t = softmax_case(spatial=(3, 4), ignore_index=opts.get("ignore_index"))
    if opts.get("from_logits") is False:
        x = torch.softmax(x, 1)
    x.requires_grad_()
    assert gradcheck(lambda a: F.lovasz_softmax_loss(a, t, **opts), (x,))


def test_softmax_gradcheck_3d():
    x, t = softmax_case(c=3, spatial=(2, 2, 3), ignore_index=9)
    x.requires_grad_()
    assert gradcheck(lambda a: F.lovasz_softmax_loss(a, t, per_image=True, ignore_index=9),
                     (x,))


def test_double_backward():
    x, t = softmax_case(c=3, spatial=(2, 3))
    x.requires_grad_()
    assert gradgradcheck(lambda a: F.lovasz_softmax_loss(a, t), (x,))
    xh, y = hinge_case(spatial=(4,))
    xh.requires_grad_()
    assert gradgradcheck(lambda a: F.lovasz_hinge_loss(a, y), (xh,))


@pytest.mark.parametrize("opts", SOFTMAX_OPTIONS)
def test_closed_form_equals_autograd_composition(opts):
    x, t = softmax_case(ignore_index=opts.get("ignore_index"))
    x.requires_grad_()
    loss = F.lovasz_softmax_loss(x, t, **opts)
    assert isinstance(loss.grad_fn, torch.autograd.function.BackwardCFunction)
    (g,) = torch.autograd.grad(loss, x)
    with backends.use("plain"):
        plain = F.lovasz_softmax_loss(x, t, **opts)
    (g_plain,) = torch.autograd.grad(plain, x)
    torch.testing.assert_close(loss, plain, rtol=1e-13, atol=1e-15)
    torch.testing.assert_close(g, g_plain, rtol=1e-13, atol=1e-15)


def test_ignored_positions_get_exactly_zero_gradient():
    x, t = softmax_case(ignore_index=255)
    t[0, 0, 0] = t[1, 1, 1] = 255
    x[0, :, 0, 0] = float("nan")
    x[1, 0, 1, 1] = float("inf")
    for per_image in (False, True):
        xg = x.clone().requires_grad_()
        loss = F.lovasz_softmax_loss(xg, t, ignore_index=255, per_image=per_image)
        loss.backward()
        assert torch.isfinite(loss) and torch.isfinite(xg.grad).all()
        assert (xg.grad.movedim(1, -1)[t == 255] == 0).all()
        want = R.lovasz_softmax_loss(torch.nan_to_num(x, posinf=0.0), t, ignore_index=255,
                                     per_image=per_image)
        np.testing.assert_allclose(loss.item(), want, rtol=1e-12)
    xh, y = hinge_case(ignore_index=255)
    y[0, 0, 0] = 255
    xh[0, 0, 0] = float("nan")
    xh.requires_grad_()
    loss = F.lovasz_hinge_loss(xh, y, ignore_index=255)
    loss.backward()
    assert torch.isfinite(loss) and xh.grad[0, 0, 0] == 0 and torch.isfinite(xh.grad).all()


@pytest.mark.parametrize("per_image", [False, True])
def test_edge_cases_are_defined(per_image):
    x = torch.randn(0, 3, 4, 4, requires_grad=True)
    loss = F.lovasz_softmax_loss(x, torch.zeros(0, 4, 4, dtype=torch.long), per_image=per_image)
    assert loss.item() == 0.0
    loss.backward()
    x = torch.randn(2, 3, 4, 4, requires_grad=True)
    loss = F.lovasz_softmax_loss(x, torch.full((2, 4, 4), 7), ignore_index=7,
                                 per_image=per_image)
    assert loss.item() == 0.0
    loss.backward()
    assert (x.grad == 0).all()
    x.grad = None
    background = torch.zeros(2, 4, 4, dtype=torch.long)
    loss = F.lovasz_softmax_loss(x, background, per_image=per_image)
    np.testing.assert_allclose(loss.item(),
                               R.lovasz_softmax_loss(x, background, per_image=per_image),
                               rtol=1e-6)
    loss.backward()
    assert torch.isfinite(x.grad).all()
    xh = torch.randn(2, 4, 4, requires_grad=True)
    loss = F.lovasz_hinge_loss(xh, torch.full((2, 4, 4), 3), ignore_index=3,
                               per_image=per_image)
    assert loss.item() == 0.0
    loss.backward()
    assert (xh.grad == 0).all()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_precisions(dtype):
    x, t = softmax_case(dtype=dtype)
    x = x.requires_grad_()
    loss = F.lovasz_softmax_loss(x, t, per_image=True)
    assert loss.dtype == dtype
    loss.backward()
    assert x.grad.dtype == dtype and torch.isfinite(x.grad).all()
    want = R.lovasz_softmax_loss(x.float(), t, per_image=True)
    np.testing.assert_allclose(loss.item(), want, rtol=1e-2)
    xh, y = hinge_case(dtype=dtype)
    loss = F.lovasz_hinge_loss(xh, y)
    assert loss.dtype == dtype
    np.testing.assert_allclose(loss.item(), R.lovasz_hinge_loss(xh.float(), y), rtol=1e-2)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int16, torch.int32])
def test_any_integer_target_dtype(dtype):
    x, t = softmax_case(ignore_index=200)
    torch.testing.assert_close(F.lovasz_softmax_loss(x, t.to(dtype), ignore_index=200),
                               F.lovasz_softmax_loss(x, t, ignore_index=200))
    xh, y = hinge_case()
    torch.testing.assert_close(F.lovasz_hinge_loss(xh, y.to(dtype)), F.lovasz_hinge_loss(xh, y))


def test_channels_last_input():
    x, t = softmax_case(dtype=torch.float32)
    xc = x.to(memory_format=torch.channels_last).requires_grad_()
    loss = F.lovasz_softmax_loss(xc, t, per_image=True)
    loss.backward()
    xg = x.clone().requires_grad_()
    want = F.lovasz_softmax_loss(xg, t, per_image=True)
    want.backward()
    torch.testing.assert_close(loss, want)
    torch.testing.assert_close(xc.grad, xg.grad)


def test_large_logits_stay_finite():
    x, t = softmax_case(dtype=torch.float32)
    x = (x.sign() * 1e4).requires_grad_()
    loss = F.lovasz_softmax_loss(x, t)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(x.grad).all()


# ---------------------------------------------------------------------------------------------
# Lovasz hinge
# ---------------------------------------------------------------------------------------------


HINGE_OPTIONS = [{}, {"per_image": False}, {"ignore_index": 255},
                 {"ignore_index": -1, "per_image": False}]


@pytest.mark.parametrize("spatial", [(5, 6), (1, 3, 2, 4)], ids=["2d", "3d"])
@pytest.mark.parametrize("opts", HINGE_OPTIONS)
def test_hinge_matches_reference(spatial, opts):
    x, y = hinge_case(spatial=spatial, ignore_index=opts.get("ignore_index"))
    np.testing.assert_allclose(F.lovasz_hinge_loss(x, y, **opts).item(),
                               R.lovasz_hinge_loss(x, y, **opts), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("spatial", [(3, 4), (2, 2, 3)], ids=["2d", "3d"])
@pytest.mark.parametrize("opts", HINGE_OPTIONS)
def test_hinge_gradcheck(spatial, opts):
    x, y = hinge_case(spatial=spatial, ignore_index=opts.get("ignore_index"))
    x.requires_grad_()
    assert gradcheck(lambda a: F.lovasz_hinge_loss(a, y, **opts), (x,))


def test_hinge_accepts_float_and_bool_targets():
    x, y = hinge_case()
    want = F.lovasz_hinge_loss(x, y)
    torch.testing.assert_close(F.lovasz_hinge_loss(x, y.double()), want)
    torch.testing.assert_close(F.lovasz_hinge_loss(x, y.bool()), want)


def test_hinge_closed_form_equals_autograd_composition():
    x, y = hinge_case(ignore_index=255)
    x.requires_grad_()
    loss = F.lovasz_hinge_loss(x, y, ignore_index=255)
    (g,) = torch.autograd.grad(loss, x)
    with backends.use("plain"):
        plain = F.lovasz_hinge_loss(x, y, ignore_index=255)
    (g_plain,) = torch.autograd.grad(plain, x)
    torch.testing.assert_close(loss, plain, rtol=1e-13, atol=1e-15)
    torch.testing.assert_close(g, g_plain, rtol=1e-13, atol=1e-15)


# ---------------------------------------------------------------------------------------------
# Peers and modules
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("per_image", [False, True])
@pytest.mark.parametrize("ignore_index", [None, 255])
def test_matches_smp(per_image, ignore_index):
    losses = load_smp_losses()
    x, t = softmax_case(dtype=torch.float32, ignore_index=ignore_index)
    x.requires_grad_()
    peer = losses.LovaszLoss("multiclass", per_image=per_image, ignore_index=ignore_index)
    want = peer(x, t)
    (g_want,) = torch.autograd.grad(want, x)
    got = F.lovasz_softmax_loss(x, t, per_image=per_image, ignore_index=ignore_index)
    (g_got,) = torch.autograd.grad(got, x)
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(g_got, g_want, rtol=1e-5, atol=1e-7)
    xh, y = hinge_case(dtype=torch.float32)
    peer = losses.LovaszLoss("binary", per_image=per_image)
    torch.testing.assert_close(F.lovasz_hinge_loss(xh, y, per_image=per_image), peer(xh, y),
                               rtol=1e-6, atol=1e-6)


def test_modules_equal_functional():
    x, t = softmax_case(ignore_index=9)
    module = focalkit.LovaszSoftmaxLoss(classes=[0, 1], per_image=True, ignore_index=9)
    assert torch.equal(module(x, t), F.lovasz_softmax_loss(x, t, classes=[0, 1],
                                                           per_image=True, ignore_index=9))
    assert "per_image=True" in repr(module)
    xh, y = hinge_case()
    assert torch.equal(focalkit.LovaszHingeLoss(per_image=False)(xh, y),
                       F.lovasz_hinge_loss(xh, y, per_image=False))
