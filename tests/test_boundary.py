"""Distance and topology losses: the distance transform against SciPy, the losses against
MONAI, the skeleton's autograd Function, ignored positions, and ComboLoss Dice + clDice.

The generic checks (float64 references, gradcheck, module == functional, compile, half
precision, every backend, the error table) are the rows of tests/loss_cases.py.
"""

from __future__ import annotations

import math
import warnings

import pytest
import torch
import torch.nn.functional as TF

import focalkit
from focalkit import backends
from focalkit import functional as F
from focalkit import reference as R
from focalkit._kernels.blocked import boundary as blocked
from focalkit._kernels.plain import boundary as plain

ndimage = pytest.importorskip("scipy.ndimage")

LOSSES = {
    "hausdorff_dt": F.hausdorff_dt_loss,
    "boundary": F.boundary_loss,
    "soft_cldice": F.soft_cldice_loss,
}


def blobs(n, c, spatial, dtype=torch.float64, seed=0):
    """Logits and class indices with smooth regions (realistic distances), and logits that
    are a noisy version of the target."""
    gen = torch.Generator().manual_seed(seed)
    field = torch.randn(n, c, *spatial, generator=gen, dtype=torch.float64)
    pool = {1: TF.avg_pool1d, 2: TF.avg_pool2d, 3: TF.avg_pool3d}[len(spatial)]
    target = pool(field, 5, 1, 2, count_include_pad=False).argmax(1)
    one_hot = TF.one_hot(target, c).movedim(-1, 1).to(torch.float64)
    x = 3.0 * one_hot + 1.5 * torch.randn(one_hot.shape, generator=gen, dtype=torch.float64)
    return x.to(dtype), target


# ---------------------------------------------------------------------------------------------
# Distance transform
# ---------------------------------------------------------------------------------------------

SHAPES = [(3, 17), (3, 1), (2, 9, 13), (2, 1, 7), (3, 32, 33), (2, 5, 6, 7), (2, 1, 4, 1)]


def _scipy(mask, spacing=None):
    return torch.stack([torch.from_numpy(ndimage.distance_transform_edt(m.numpy(),
                                                                        sampling=spacing))
                        for m in mask])


@pytest.mark.parametrize("density", [0.05, 0.5, 0.97])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_distance_transform_equals_scipy(shape, density):
    mask = torch.rand(shape) < density
    mask.view(shape[0], -1)[:, 0] = False  # every image holds a False element
    want = _scipy(mask)
    got = F.distance_transform(mask, dtype=torch.float64)
    # float64 with unit spacing: exact squared distances, equal up to the square root's rounding
    torch.testing.assert_close(got, want, rtol=1e-15, atol=0)
    torch.testing.assert_close(F.distance_transform(mask), want.float(), rtol=1e-6, atol=0)


@pytest.mark.parametrize("spacing", [0.5, (2.0, 0.7), (1.0, 3.0, 0.25)], ids=str)
def test_distance_transform_with_spacing_equals_scipy(spacing):
    dims = 2 if isinstance(spacing, float) else len(spacing)
    mask = torch.rand(2, *[9, 11, 6][:dims]) < 0.8
    mask.view(2, -1)[:, 3] = False
    got = F.distance_transform(mask, spacing=spacing, dtype=torch.float64)
    sampling = [spacing] * dims if isinstance(spacing, float) else list(spacing)
    torch.testing.assert_close(got, _scipy(mask, sampling), rtol=1e-12, atol=0)


def test_an_image_without_false_elements_is_infinitely_far():
    mask = torch.ones(3, 4, 5, dtype=torch.bool)
    mask[1, 2, 3] = False
    mask[2] = False
    d = F.distance_transform(mask)
    assert torch.isinf(d[0]).all()
    torch.testing.assert_close(d[1], _scipy(mask[1:2])[0].float())
    assert torch.equal(d[2], torch.zeros(4, 5))
    assert torch.equal(torch.as_tensor(R.distance_transform(mask)).float(), d)


def test_two_sided_transform_is_the_sum_of_both_transforms():
    mask = torch.rand(3, 12, 10, 7) < 0.6
    got = plain.squared_distances(mask, [1.0, 2.0, 0.5], True).sqrt()
    want = _scipy(mask, [1.0, 2.0, 0.5]) + _scipy(~mask, [1.0, 2.0, 0.5])
    torch.testing.assert_close(got, want, rtol=1e-12, atol=0)


@pytest.mark.parametrize("length", [1, 2, 3, 7, 8, 9, 64, 100])
def test_lower_envelope_equals_brute_force(length):
    f = torch.randint(0, 3 * length, (40, length)).double()
    f[torch.rand(f.shape) < 0.4] = math.inf
    f[0] = math.inf
    y = torch.arange(length, dtype=torch.float64)
    for spacing in (1.0, 0.3):
        want = (f[:, None, :] + spacing ** 2 * (y[:, None] - y[None, :]) ** 2).amin(-1)
        torch.testing.assert_close(plain.lower_envelope(f, spacing), want, rtol=1e-12, atol=0)


def test_lower_envelope_in_several_blocks(monkeypatch):
    f = torch.randint(0, 50, (37, 11)).double()
    whole = plain.lower_envelope(f, 1.0)
    monkeypatch.setattr(plain, "CHUNK", 30)
    assert torch.equal(plain.lower_envelope(f, 1.0), whole)


def test_distance_transform_on_meta_tensors():
    mask = torch.empty(2, 6, 5, 4, dtype=torch.bool, device="meta")
    d = F.distance_transform(mask, spacing=(1.0, 2.0, 3.0))
    assert d.device.type == "meta" and d.shape == mask.shape and d.dtype == torch.float32


@pytest.mark.usefixtures("fresh_dynamo")
def test_distance_transform_compiles_without_graph_breaks():
    mask = torch.rand(2, 9, 10) < 0.7
    compiled = torch.compile(lambda m: F.distance_transform(m, dtype=torch.float64),
                             backend="aot_eager", fullgraph=True)
    torch.testing.assert_close(compiled(mask), F.distance_transform(mask, dtype=torch.float64))


def test_distance_transform_of_an_empty_batch():
    assert F.distance_transform(torch.zeros(0, 4, 4, dtype=torch.bool)).shape == (0, 4, 4)


@pytest.mark.parametrize("args, error, match", [
    ((torch.ones(2, 3),), TypeError, "mask must be a bool tensor"),
    (([[True]],), TypeError, "mask must be a torch.Tensor"),
    ((torch.ones(3, dtype=torch.bool),), ValueError,
     r"mask must have shape \(N, \*spatial\) with 1 to 3 spatial dimensions; got shape \(3,\)"),
    ((torch.ones(1, 2, 2, 2, 2, dtype=torch.bool),), ValueError, "1 to 3 spatial dimensions"),
])
def test_distance_transform_errors(args, error, match):
    with pytest.raises(error, match=match):
        F.distance_transform(*args)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(spacing=0.0), ValueError, r"spacing must be in \(0, inf\); got 0"),
    (dict(spacing=(1.0,)), ValueError, r"spacing must have one value per spatial dimension "
                                        r"\(2\); got 1"),
    (dict(spacing=(1.0, -2.0)), ValueError, r"spacing must be in \(0, inf\); got -2"),
    (dict(spacing="1"), TypeError, "spacing must be None, a positive number or a sequence"),
    (dict(spacing=(1.0, "a")), TypeError, "spacing must be a real number"),
    (dict(dtype=torch.int64), TypeError, "dtype must be a floating-point torch.dtype"),
])
def test_distance_transform_option_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        F.distance_transform(torch.ones(2, 3, 4, dtype=torch.bool), **kwargs)


# ---------------------------------------------------------------------------------------------
# The losses against MONAI
# ---------------------------------------------------------------------------------------------


def _monai(name, **kwargs):
    losses = pytest.importorskip("monai.losses")
    if name == "hausdorff_dt":
        return losses.HausdorffDTLoss(softmax=True, to_onehot_y=True, include_background=False,
                                      alpha=kwargs.get("alpha", 2.0))
    if name == "boundary":
        return losses.BoundaryLoss(softmax=True, to_onehot_y=True, include_background=False)
    return losses.SoftclDiceLoss(softmax=True, to_onehot_y=True,
                                 iter_=kwargs.get("iterations", 3))


MONAI_CASES = [("hausdorff_dt", {}), ("hausdorff_dt", {"alpha": 1.5}), ("boundary", {}),
               ("soft_cldice", {}), ("soft_cldice", {"iterations": 1})]


@pytest.mark.parametrize("backend", ["auto", "plain"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("spatial", [(20, 23), (9, 8, 10)], ids=["2d", "3d"])
@pytest.mark.parametrize("name, kwargs", MONAI_CASES, ids=[f"{n}{k}" for n, k in MONAI_CASES])
def test_equals_monai_in_value_and_gradient(name, kwargs, spatial, dtype, backend):
    peer = _monai(name, **kwargs)
    x, t = blobs(2, 4, spatial, dtype)
    ours, theirs = x.clone().requires_grad_(), x.clone().requires_grad_()
    with backends.use(backend):
        loss = LOSSES[name](ours, t, **kwargs)
    loss.backward()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = peer(theirs, t.unsqueeze(1))
    want.backward()
    # MONAI's distance maps are float32: a float64 loss matches to float32 rounding.
    rtol = 1e-6 if dtype == torch.float32 or name == "soft_cldice" else 1e-7
    torch.testing.assert_close(loss, want, rtol=rtol, atol=1e-7)
    scale = theirs.grad.abs().max()
    torch.testing.assert_close(ours.grad / scale, theirs.grad / scale, rtol=0, atol=1e-5)


def test_reduction_none_shapes():
    x, t = blobs(2, 3, (6, 7))
    assert F.hausdorff_dt_loss(x, t, reduction="none").shape == (2, 2)
    assert F.boundary_loss(x, t, include_background=True, reduction="none").shape == (2, 3)
    assert F.soft_cldice_loss(x, t, reduction="none").shape == (2,)


def test_single_kind_images_have_no_distance_map():
    """An image and class holding only one kind contribute 0 to the boundary loss, and only
    the prediction's map to the Hausdorff-DT loss (MONAI's convention)."""
    t = torch.zeros(1, 6, 6, dtype=torch.long)
    x = torch.randn(1, 2, 6, 6, dtype=torch.float64)
    assert F.boundary_loss(x, t) == 0
    p = torch.softmax(x, 1)[:, 1]
    d_p = torch.as_tensor(ndimage.distance_transform_edt((p > 0.5).numpy()[0])
                          + ndimage.distance_transform_edt((p <= 0.5).numpy()[0]))
    torch.testing.assert_close(F.hausdorff_dt_loss(x, t), (p[0] ** 2 * d_p ** 2).mean())


# ---------------------------------------------------------------------------------------------
# Ignored positions
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(LOSSES))
@pytest.mark.parametrize("spatial", [(9,), (8, 9), (5, 6, 7)], ids=["1d", "2d", "3d"])
def test_an_ignored_frame_is_outside_the_image(name, spatial):
    """Ignored positions behave as if they lay outside the image: ignoring a frame one
    position wide gives the loss of the interior, cropped."""
    x, t = blobs(2, 3, spatial)
    inner = tuple(slice(1, -1) for _ in spatial)
    framed = torch.full_like(t, 7)
    framed[(slice(None), *inner)] = t[(slice(None), *inner)]
    got = LOSSES[name](x, framed, ignore_index=7, reduction="none")
    want = LOSSES[name](x[(slice(None), slice(None), *inner)].contiguous(),
                        t[(slice(None), *inner)].contiguous(), reduction="none")
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("backend", ["auto", "plain"])
@pytest.mark.parametrize("name", list(LOSSES))
def test_ignored_positions_get_exactly_zero_gradient(name, backend):
    x, t = blobs(2, 3, (7, 8))
    ignored = torch.rand(t.shape) < 0.3
    t = t.masked_fill(ignored, 255)
    x = x.clone()
    x[:, 0][ignored] = math.nan
    x[:, 1][ignored] = math.inf
    x.requires_grad_()
    with backends.use(backend):
        loss = LOSSES[name](x, t, ignore_index=255)
    loss.backward()
    assert loss.isfinite() and x.grad.isfinite().all()
    assert (x.grad.movedim(1, -1)[ignored] == 0).all()


# ---------------------------------------------------------------------------------------------
# The soft skeleton's Function
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("masked", [False, True], ids=["all", "valid"])
@pytest.mark.parametrize("spatial", [(13,), (9, 11), (5, 6, 7)], ids=["1d", "2d", "3d"])
def test_skeleton_function_equals_the_plain_composition(spatial, masked, monkeypatch):
    monkeypatch.setattr(blocked, "BLOCK", 2 * math.prod(spatial))  # blocks of one image
    x = torch.rand(3, 2, *spatial, dtype=torch.float64, requires_grad=True)
    valid = (torch.rand(3, 1, *spatial) > 0.2) if masked else None
    g = torch.randn(x.shape, dtype=torch.float64)
    for iterations in (1, 3):
        want = plain.soft_skeleton(x, iterations, valid)
        got = blocked.soft_skeleton(x, iterations, valid)
        assert torch.equal(got, want)
        (g_want,) = torch.autograd.grad(want, x, g)
        (g_got,) = torch.autograd.grad(got, x, g)
        torch.testing.assert_close(g_got, g_want, rtol=0, atol=1e-14)


def test_skeleton_function_second_derivatives():
    x = torch.rand(2, 2, 5, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(lambda a: blocked.soft_skeleton(a, 2, None), (x,))


def test_skeleton_of_a_binary_mask_is_binary_and_inside_it():
    t = torch.zeros(1, 1, 12, 12, dtype=torch.float64)
    t[0, 0, 3:9, 2:10] = 1.0
    skeleton = plain.soft_skeleton(t, 3)
    assert set(skeleton.unique().tolist()) <= {0.0, 1.0}
    assert (skeleton <= t).all() and skeleton.sum() > 0


# ---------------------------------------------------------------------------------------------
# Dice + clDice
# ---------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("fresh_dynamo")
def test_combo_dice_and_cldice():
    x, t = blobs(2, 3, (10, 12))
    combo = focalkit.ComboLoss({"dice": (focalkit.DiceLoss(), 0.7),
                                "cldice": (focalkit.SoftclDiceLoss(), 0.3)})
    xa = x.clone().requires_grad_()
    total = combo(xa, t)
    (g,) = torch.autograd.grad(total, xa)
    xb = x.clone().requires_grad_()
    want = 0.7 * F.dice_loss(xb, t) + 0.3 * F.soft_cldice_loss(xb, t)
    (g_want,) = torch.autograd.grad(want, xb)
    torch.testing.assert_close(total, want)
    torch.testing.assert_close(g, g_want)
    compiled = torch.compile(combo, backend="aot_eager", fullgraph=True)
    torch.testing.assert_close(compiled(x, t), combo(x, t), rtol=1e-10, atol=1e-12)


def test_cldice_punishes_a_broken_line_more_than_dice():
    t = torch.zeros(1, 16, 16, dtype=torch.long)
    t[0, 8, 2:14] = 1
    x = 8.0 * TF.one_hot(t, 2).movedim(-1, 1).double()
    broken = x.clone()
    broken[0, :, 8, 7] = broken[0, :, 8, 7].flip(0)
    dice_rise = F.dice_loss(broken, t) - F.dice_loss(x, t)
    cldice_rise = F.soft_cldice_loss(broken, t) - F.soft_cldice_loss(x, t)
    assert cldice_rise > dice_rise > 0
