"""Dice, Jaccard and Tversky losses: references, gradients, identities and semantics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from region_helpers import load_smp_losses
from torch.autograd import gradcheck

import focalkit
from focalkit import backends
from focalkit import functional as F
from focalkit import reference as R

LOSSES = {
    "dice": (F.dice_loss, R.dice_loss, {}),
    "jaccard": (F.jaccard_loss, R.jaccard_loss, {}),
    "tversky": (F.tversky_loss, R.tversky_loss, {"alpha": 0.3, "beta": 0.7, "gamma": 1.5}),
}


def make_case(mode, spatial=(3, 4), n=2, c=3, ignore_index=None, soft=False,
              dtype=torch.float64):
    """Logits and a target for ``mode``; with ``ignore_index`` about a third is ignored."""
    if mode == "binary":
        x = torch.randn(n, 1, *spatial, dtype=dtype) * 2
        y = torch.rand(x.shape, dtype=dtype) if soft else torch.randint(0, 2, x.shape).to(dtype)
    elif mode == "multilabel":
        x = torch.randn(n, c, *spatial, dtype=dtype) * 2
        y = torch.rand(x.shape, dtype=dtype) if soft else torch.randint(0, 2, x.shape).to(dtype)
    elif soft:
        x = torch.randn(n, c, *spatial, dtype=dtype) * 2
        y = torch.softmax(torch.randn(x.shape, dtype=dtype), dim=1)
    else:
        x = torch.randn(n, c, *spatial, dtype=dtype) * 2
        y = torch.randint(0, c, (n, *spatial))
    if ignore_index is not None:
        mask = torch.rand(y.shape) < 0.3
        y = torch.where(mask, torch.full_like(y, ignore_index), y)
    return x, y


CASES = [
    ("multiclass", {}),
    ("multiclass", {"ignore_index": 255}),
    ("multiclass", {"per_image": True}),
    ("multiclass", {"classes": [0, 2], "smooth": 1.0}),
    ("multiclass", {"soft": True}),
    ("multiclass", {"soft": True, "intersection": "min", "per_image": True}),
    ("multiclass", {"log_loss": True, "ignore_index": 1, "per_image": True}),
    ("binary", {}),
    ("binary", {"ignore_index": -1, "smooth": 0.5}),
    ("binary", {"soft": True, "intersection": "min"}),
    ("multilabel", {"per_image": True, "classes": [1]}),
    ("multilabel", {"soft": True, "ignore_index": 2}),
    ("multilabel", {"from_logits": False}),
]


def split(opts):
    opts = dict(opts)
    case = {k: opts.pop(k) for k in ("soft", "ignore_index") if k in opts}
    if "ignore_index" in case:
        opts["ignore_index"] = case["ignore_index"]
    return case, opts


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("spatial", [(3, 4), (2, 3, 2)], ids=["2d", "3d"])
@pytest.mark.parametrize("mode,opts", CASES)
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_matches_reference(name, spatial, mode, opts, reduction):
    fn, ref, extra = LOSSES[name]
    case, opts = split(opts)
    x, y = make_case(mode, spatial, **case)
    if not opts.get("from_logits", True):
        x = torch.sigmoid(x)
    got = fn(x, y, mode=mode, reduction=reduction, **extra, **opts)
    want = ref(x, y, mode=mode, reduction=reduction, **extra, **opts)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-12)


def test_binary_accepts_flat_input():
    x, y = make_case("binary")
    flat = F.dice_loss(x.squeeze(1), y.squeeze(1), mode="binary", reduction="none")
    assert flat.shape == (1,)
    torch.testing.assert_close(flat, F.dice_loss(x, y, mode="binary", reduction="none"))


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("spatial", [(2, 3), (2, 1, 2)], ids=["2d", "3d"])
@pytest.mark.parametrize("mode,opts", CASES[:-1])
def test_gradcheck(name, spatial, mode, opts):
    fn, _, extra = LOSSES[name]
    case, opts = split(opts)
    x, y = make_case(mode, spatial, **case)
    x.requires_grad_()
    assert gradcheck(lambda a: fn(a, y, mode=mode, **extra, **opts), (x,))


def test_gradcheck_3d_and_probabilities():
    x, y = make_case("multiclass", (2, 2, 2), ignore_index=7)
    p = torch.softmax(x, dim=1).requires_grad_()
    assert gradcheck(lambda a: F.tversky_loss(a, y, from_logits=False, ignore_index=7,
                                              per_image=True, gamma=0.75), (p,))
    assert gradcheck(lambda a: F.dice_loss(a, y, ignore_index=7, smooth=1.0),
                     (x.requires_grad_(),))


def test_gradgradcheck():
    x, y = make_case("multiclass", (2, 2), ignore_index=5)
    x.requires_grad_()
    assert torch.autograd.gradgradcheck(lambda a: F.dice_loss(a, y, ignore_index=5), (x,))


# ---------------------------------------------------------------------------------------------
# Identities
# ---------------------------------------------------------------------------------------------


def _value_and_grad(fn, x, y, **kw):
    x = x.detach().clone().requires_grad_()
    loss = fn(x, y, **kw)
    (g,) = torch.autograd.grad(loss.sum(), x)
    return loss.detach(), g


@pytest.mark.parametrize("mode,opts", CASES[:8])
def test_tversky_half_half_is_dice(mode, opts):
    case, opts = split(opts)
    x, y = make_case(mode, **case)
    opts.pop("smooth", None)
    got = _value_and_grad(F.tversky_loss, x, y, mode=mode, alpha=0.5, beta=0.5, **opts)
    want = _value_and_grad(F.dice_loss, x, y, mode=mode, **opts)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)


def test_tversky_smooth_is_dice_with_double_smooth():
    x, y = make_case("multiclass")
    got = _value_and_grad(F.tversky_loss, x, y, smooth=0.5)
    want = _value_and_grad(F.dice_loss, x, y, smooth=1.0)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("mode,opts", CASES[:8])
def test_tversky_one_one_is_jaccard(mode, opts):
    case, opts = split(opts)
    x, y = make_case(mode, **case)
    got = _value_and_grad(F.tversky_loss, x, y, mode=mode, alpha=1.0, beta=1.0, **opts)
    want = _value_and_grad(F.jaccard_loss, x, y, mode=mode, **opts)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)


def test_index_target_equals_one_hot_probabilities():
    x, t = make_case("multiclass", (4, 5))
    q = torch.nn.functional.one_hot(t, 3).movedim(-1, 1).double()
    for fn in (F.dice_loss, F.jaccard_loss, F.tversky_loss):
        a = _value_and_grad(fn, x, t, per_image=True, reduction="none")
        b = _value_and_grad(fn, x, q, per_image=True, reduction="none")
        for u, v in zip(a, b, strict=True):
            torch.testing.assert_close(u, v, rtol=1e-12, atol=1e-14)


def test_region_stats_counts():
    x, t = make_case("multiclass", (5, 5), ignore_index=9)
    tp, fp, fn = F.region_stats(x, t, ignore_index=9, per_image=True)
    p = torch.softmax(x, 1)
    valid = (t != 9).unsqueeze(1)
    counts = torch.stack([torch.bincount(r[r != 9], minlength=3) for r in t.flatten(1)])
    torch.testing.assert_close(tp + fn, counts.double())
    torch.testing.assert_close(tp + fp, (p * valid).sum((2, 3)))


# ---------------------------------------------------------------------------------------------
# Semantics: soft labels, empty classes, ignore_index
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fn", [F.dice_loss, F.jaccard_loss, F.tversky_loss])
@pytest.mark.parametrize("q", [0.2, 0.55, 0.9])
def test_soft_label_form_is_minimised_at_target(fn, q):
    p = torch.linspace(0.0, 1.0, 201, dtype=torch.float64)
    target = torch.full((201, 1), q, dtype=torch.float64)
    losses = fn(p.reshape(201, 1), target, mode="binary", from_logits=False, per_image=True,
                intersection="min", reduction="none").squeeze(1)
    assert abs(p[losses.argmin()].item() - q) <= 0.005 + 1e-12
    assert losses.min().item() == pytest.approx(0.0, abs=1e-12)
    # The default product form rewards over-predicting a soft target instead.
    product = fn(p.reshape(201, 1), target, mode="binary", from_logits=False, per_image=True,
                 reduction="none").squeeze(1)
    assert p[product.argmin()].item() == 1.0


@pytest.mark.parametrize("fn", [F.dice_loss, F.jaccard_loss, F.tversky_loss])
@pytest.mark.parametrize("smooth", [0.0, 1e-12, 1e-3, 1.0])
def test_class_absent_from_target_and_prediction_costs_nothing(fn, smooth):
    p = torch.zeros(2, 3, 4, dtype=torch.float64)
    p[:, 0] = 1.0
    p[:, 1, :2], p[:, 0, :2] = 1.0, 0.0
    t = torch.zeros(2, 4, dtype=torch.long)
    t[:, :2] = 1
    p.requires_grad_()
    loss = fn(p, t, from_logits=False, smooth=smooth, reduction="none")
    torch.testing.assert_close(loss.detach(), torch.zeros(3, dtype=torch.float64))
    (g,) = torch.autograd.grad(loss.sum(), p)
    assert torch.isfinite(g).all()


@pytest.mark.parametrize("fn", [F.dice_loss, F.jaccard_loss, F.tversky_loss])
def test_class_absent_from_target_but_predicted_is_a_miss(fn):
    x = torch.zeros(1, 3, 8, dtype=torch.float64)
    x[:, 2] = 1.0  # class 2 is predicted everywhere with some weight but never present
    t = torch.randint(0, 2, (1, 8))
    x.requires_grad_()
    loss = fn(x, t, smooth=1.0, reduction="none")
    assert loss[2].item() > 0.6
    (g,) = torch.autograd.grad(loss[2], x)
    assert (g[:, 2] > 0).all()  # gradient descent lowers the false class's logits
    loss0 = fn(x.detach(), t, smooth=0.0, reduction="none")
    assert loss0[2].item() == 1.0


def test_ignored_positions_contribute_nothing_and_get_zero_gradient():
    x, t = make_case("multiclass", (4, 6), ignore_index=255)
    t[0, 0, 0], t[1, 2, 3] = 255, 255
    x[0, :, 0, 0] = float("nan")
    x[1, 0, 2, 3], x[1, 1, 2, 3] = float("inf"), -float("inf")
    for fn in (F.dice_loss, F.jaccard_loss, F.tversky_loss):
        loss, g = _value_and_grad(fn, x, t, ignore_index=255, per_image=True)
        assert torch.isfinite(loss) and torch.isfinite(g).all()
        assert (g.movedim(1, -1)[t == 255] == 0).all()
        clean = torch.where((t == 255).unsqueeze(1), torch.zeros_like(x), x)
        torch.testing.assert_close(loss, fn(clean, t, ignore_index=255, per_image=True))
    y = torch.randint(0, 2, (2, 1, 5)).double()
    y[0, 0, 1] = -1
    xb = torch.randn(2, 1, 5, dtype=torch.float64)
    xb[0, 0, 1] = float("nan")
    loss, g = _value_and_grad(F.dice_loss, xb, y, mode="binary", ignore_index=-1)
    assert torch.isfinite(loss) and g[0, 0, 1] == 0


@pytest.mark.parametrize("mode", ["multiclass", "binary", "multilabel"])
@pytest.mark.parametrize("fn", [F.dice_loss, F.jaccard_loss, F.tversky_loss])
def test_empty_batch(mode, fn):
    x, y = make_case(mode, n=0)
    x.requires_grad_()
    for per_image in (False, True):
        loss = fn(x, y, mode=mode, per_image=per_image)
        assert loss.item() == 0.0
        loss.backward()


@pytest.mark.parametrize("fn", [F.dice_loss, F.jaccard_loss, F.tversky_loss])
def test_all_ignored_and_all_background(fn):
    x = torch.randn(2, 3, 4, 4, requires_grad=True)
    t = torch.full((2, 4, 4), 255)
    loss = fn(x, t, ignore_index=255)
    assert loss.item() == 0.0
    loss.backward()
    assert (x.grad == 0).all()
    x.grad = None
    loss = fn(x, torch.zeros(2, 4, 4, dtype=torch.long), log_loss=True)
    assert torch.isfinite(loss)
    loss.backward()
    assert torch.isfinite(x.grad).all()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_computed_in_float32(dtype):
    x, t = make_case("multiclass", (8, 8), c=4, dtype=torch.float32)
    x = (x * 1e4 / x.abs().max()).to(dtype)  # logits up to 1e4
    for fn in (F.dice_loss, F.jaccard_loss, F.tversky_loss):
        xh = x.clone().requires_grad_()
        loss = fn(xh, t, smooth=1.0)
        assert loss.dtype == dtype and torch.isfinite(loss)
        loss.backward()
        assert torch.isfinite(xh.grad).all()
        want = fn(x.float(), t, smooth=1.0)
        torch.testing.assert_close(loss.float(), want, rtol=1e-2, atol=1e-2)


def test_large_logits_stay_finite():
    x, t = make_case("multiclass", (4, 4))
    x = x.sign() * 1e4
    for mode, y in (("multiclass", t), ("multilabel", (x > 0).double())):
        loss, g = _value_and_grad(F.dice_loss, x, y, mode=mode)
        assert torch.isfinite(loss) and torch.isfinite(g).all()


def test_channels_last_input():
    x, t = make_case("multiclass", (4, 5), dtype=torch.float32)
    got = F.dice_loss(x.to(memory_format=torch.channels_last), t, per_image=True)
    torch.testing.assert_close(got, F.dice_loss(x, t, per_image=True))


def test_index_path_saves_less_than_one_softmax():
    """The target is never expanded and the softmax is not kept: besides the inputs, the
    backward pass keeps per-position vectors (log-sum-exp, class index, validity)."""
    n, c, h, w = 2, 16, 32, 32
    x = torch.randn(n, c, h, w, requires_grad=True)
    t = torch.randint(0, c, (n, h, w))
    t[0, 0] = 255
    saved = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        saved[storage.data_ptr()] = storage.nbytes()
        return tensor

    softmax_bytes = n * c * h * w * 4
    for target, kw in ((t.clamp_max(c - 1), {}), (t, {"ignore_index": 255})):
        saved.clear()
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
            F.dice_loss(x, target, **kw)
        given = {x.untyped_storage().data_ptr(), target.untyped_storage().data_ptr()}
        extra = sum(size for ptr, size in saved.items() if ptr not in given)
        assert extra <= 0.25 * softmax_bytes


@pytest.mark.parametrize("opts", [{}, {"ignore_index": 255, "per_image": True},
                                  {"smooth": 1.0, "classes": [0, 2], "log_loss": True}])
def test_blocked_index_statistics_equal_autograd_composition(opts):
    x, t = make_case("multiclass", (6, 7), ignore_index=opts.get("ignore_index"))
    for fn in (F.dice_loss, F.tversky_loss):
        got = _value_and_grad(fn, x, t, **opts)
        with backends.use("plain"):
            want = _value_and_grad(fn, x, t, **opts)
        for a, b in zip(got, want, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------------------------------------
# Modules, compile, peers
# ---------------------------------------------------------------------------------------------


def test_modules_equal_functional():
    x, t = make_case("multiclass", ignore_index=4)
    opts = dict(smooth=0.5, per_image=True, ignore_index=4, classes=(0, 1), log_loss=True)
    assert torch.equal(focalkit.DiceLoss(**opts)(x, t), F.dice_loss(x, t, **opts))
    assert torch.equal(focalkit.JaccardLoss(**opts)(x, t), F.jaccard_loss(x, t, **opts))
    module = focalkit.TverskyLoss(alpha=0.2, beta=0.8, gamma=2.0, **opts)
    assert torch.equal(module(x, t), F.tversky_loss(x, t, alpha=0.2, beta=0.8, gamma=2.0,
                                                    **opts))
    xb, yb = make_case("binary")
    assert torch.equal(focalkit.DiceLoss("binary")(xb, yb), F.dice_loss(xb, yb, mode="binary"))
    assert "mode='multiclass'" in repr(focalkit.DiceLoss())
    assert "alpha=0.2" in repr(module)


def test_tversky_gamma_is_settable():
    module = focalkit.TverskyLoss(gamma=2.0)
    module.gamma = 0.5
    assert module.gamma == 0.5


def test_compile_matches_eager():
    x, t = make_case("multiclass", (4, 4), dtype=torch.float32)
    fn = torch.compile(lambda a, b: F.dice_loss(a, b, ignore_index=2, per_image=True),
                       backend="eager", fullgraph=True)
    torch.testing.assert_close(fn(x, t), F.dice_loss(x, t, ignore_index=2, per_image=True))


def _all_classes_present(n=2, c=3, size=6):
    t = torch.randint(0, c, (n, size, size))
    t[:, 0, :c] = torch.arange(c)
    return torch.randn(n, c, size, size), t


def test_matches_monai():
    losses = pytest.importorskip("monai.losses")
    x, t = _all_classes_present()
    for batch, per_image in ((True, False), (False, True)):
        peer = losses.DiceLoss(softmax=True, to_onehot_y=True, batch=batch, smooth_nr=0.0,
                               smooth_dr=0.0)
        torch.testing.assert_close(F.dice_loss(x, t, per_image=per_image),
                                   peer(x, t.unsqueeze(1)), rtol=1e-5, atol=1e-6)


def test_matches_kornia():
    losses = pytest.importorskip("kornia.losses")
    x, t = _all_classes_present()
    torch.testing.assert_close(F.dice_loss(x, t, per_image=True),
                               losses.dice_loss(x, t, average="macro"), rtol=1e-5, atol=1e-6)


def test_matches_smp_when_every_class_is_present():
    smp_losses = load_smp_losses()
    x, t = _all_classes_present()
    peer = smp_losses.DiceLoss("multiclass")
    torch.testing.assert_close(F.dice_loss(x, t), peer(x, t), rtol=1e-5, atol=1e-6)
    peer = smp_losses.JaccardLoss("multiclass")
    torch.testing.assert_close(F.jaccard_loss(x, t), peer(x, t), rtol=1e-5, atol=1e-6)
    peer = smp_losses.TverskyLoss("multiclass", alpha=0.3, beta=0.7, smooth=1.0)
    torch.testing.assert_close(F.tversky_loss(x, t, alpha=0.3, beta=0.7, smooth=1.0), peer(x, t),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int16, torch.int32])
def test_any_integer_target_dtype(dtype):
    x, t = make_case("multiclass", ignore_index=200)
    for fn in (F.dice_loss, F.jaccard_loss, F.tversky_loss):
        torch.testing.assert_close(fn(x, t.to(dtype), ignore_index=200),
                                   fn(x, t, ignore_index=200))
    y = torch.randint(0, 2, (2, 3, 4), dtype=dtype)
    xb = torch.randn(2, 3, 4, dtype=torch.float64)
    torch.testing.assert_close(F.dice_loss(xb, y, mode="multilabel"),
                               F.dice_loss(xb, y.double(), mode="multilabel"))


# ---------------------------------------------------------------------------------------------
# Invariants for every input (hypothesis)
# ---------------------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 3), c=st.integers(2, 4), m=st.integers(1, 6),
       smooth=st.sampled_from([0.0, 1e-5, 1.0]), per_image=st.booleans(),
       seed=st.integers(0, 2 ** 16))
def test_losses_lie_in_unit_interval_and_ignore_position_order(n, c, m, smooth, per_image,
                                                                 seed):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, m, generator=gen, dtype=torch.float64) * 3
    t = torch.randint(0, c, (n, m), generator=gen)
    perm = torch.randperm(m, generator=gen)
    for fn in (F.dice_loss, F.jaccard_loss, F.tversky_loss):
        loss = fn(x, t, smooth=smooth, per_image=per_image, reduction="none")
        assert ((loss >= 0) & (loss <= 1)).all()
        shuffled = fn(x[..., perm], t[..., perm], smooth=smooth, per_image=per_image,
                      reduction="none")
        torch.testing.assert_close(loss, shuffled)
    dice = F.dice_loss(x, t, smooth=smooth, per_image=per_image, reduction="none")
    jaccard = F.jaccard_loss(x, t, smooth=smooth, per_image=per_image, reduction="none")
    assert (jaccard >= dice - 1e-12).all()


# ---------------------------------------------------------------------------------------------
# Focal-Tversky stays attached to the graph for every gamma
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("gamma", [0.0, 0.5, 0.75, 1.0, 2.0])
@pytest.mark.parametrize("log_loss", [False, True])
def test_tversky_is_differentiable_for_every_gamma(gamma, log_loss):
    x = torch.randn(2, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    t = torch.randint(0, 3, (2, 4, 4))
    loss = F.tversky_loss(x, t, gamma=gamma, alpha=0.3, beta=0.7, log_loss=log_loss)
    assert loss.requires_grad
    (grad,) = torch.autograd.grad(loss, x)
    assert torch.isfinite(grad).all()
    if gamma == 0.0:
        assert loss.item() == 1.0 and bool((grad == 0).all())


def test_tversky_module_with_gamma_set_to_zero_backpropagates():
    x = torch.randn(2, 3, 4, 4, requires_grad=True)
    t = torch.randint(0, 3, (2, 4, 4))
    module = focalkit.TverskyLoss(gamma=2.0)
    module.gamma = 0.0
    module(x, t).backward()
    assert torch.equal(x.grad, torch.zeros_like(x))
