"""Triton region statistics (Dice, Jaccard, Tversky) against the plain composition.

Without a GPU the kernels run through Triton's interpreter on CPU tensors (see conftest.py).
"""

from __future__ import annotations

import functools

import pytest
import torch

pytest.importorskip("triton")

from focalkit import backends  # noqa: E402
from focalkit import functional as F  # noqa: E402
from focalkit._kernels import triton as triton_kernels  # noqa: E402
from focalkit._kernels.triton import region as kernels  # noqa: E402

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"

if DEVICE == "cpu" and not triton_kernels.INTERPRETED:
    pytest.skip("no GPU and Triton's interpreter is off", allow_module_level=True)

LOSSES = {
    "dice": F.dice_loss,
    "jaccard": F.jaccard_loss,
    "tversky": functools.partial(F.tversky_loss, alpha=0.3, beta=0.7),
    "focal_tversky": functools.partial(F.tversky_loss, alpha=0.7, beta=0.3, gamma=0.75),
}


@pytest.fixture
def small_tiles(monkeypatch):
    """Tiles of at most 16 elements, 4 classes and 8 positions: every boundary is near."""
    monkeypatch.setattr(kernels, "TILE", 16)
    monkeypatch.setattr(kernels, "BLOCK_C_MAX", 4)
    monkeypatch.setattr(kernels, "BLOCK_M_MAX", 8)


def run(loss_fn, backend, x, target, grad_out=None, **kwargs):
    """(loss, gradient of the input) on ``backend``."""
    x = x.detach().clone().requires_grad_()
    with backends.use(backend):
        loss = loss_fn(x, target, **kwargs)
    loss.backward(torch.ones_like(loss) if grad_out is None else grad_out)
    return loss.detach(), x.grad


def compare(loss_fn, x, target, launches=None, rtol=1e-5, atol=1e-6, **kwargs):
    """Loss and gradient of the Triton backend equal the plain ones; returns them."""
    with backends.use("plain"), torch.no_grad():
        shape = loss_fn(x, target, **kwargs).shape
    grad_out = torch.linspace(0.5, 1.5, shape.numel(), device=DEVICE).reshape(shape)
    before = None if launches is None else launches[0]
    loss, grad = run(loss_fn, "triton", x, target, grad_out=grad_out.to(x.dtype), **kwargs)
    if before is not None and triton_kernels.INTERPRETED:
        assert launches[0] == before + 2  # the sums, then the gradient
    plain_loss, plain_grad = run(loss_fn, "plain", x, target, grad_out=grad_out.to(x.dtype),
                                 **kwargs)
    assert loss.dtype == plain_loss.dtype and grad.dtype == x.dtype
    torch.testing.assert_close(loss, plain_loss, rtol=rtol, atol=atol)
    torch.testing.assert_close(grad, plain_grad, rtol=rtol, atol=atol)
    return loss, grad


def labels(n, c, *spatial, ignore=None, fraction=0.3):
    t = torch.randint(0, c, (n, *spatial), device=DEVICE)
    if ignore is not None:
        t[torch.rand(t.shape, device=DEVICE) < fraction] = ignore
    return t


def logits(*shape, dtype=torch.float32, scale=3.0):
    return scale * torch.randn(shape, device=DEVICE, dtype=dtype)


# ---------------------------------------------------------------------------------------------
# Class-index targets
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize(("per_image", "ignore_index"), [(False, None), (True, 255)])
def test_index_targets_match_plain(name, per_image, ignore_index, launches):
    x = logits(3, 5, 7, 3)
    t = labels(3, 5, 7, 3, ignore=ignore_index)
    compare(LOSSES[name], x, t, launches, per_image=per_image, ignore_index=ignore_index,
            smooth=0.5)


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("log_loss", [False, True])
def test_reductions_classes_and_log_loss(reduction, log_loss):
    x, t = logits(2, 6, 5, 5), labels(2, 6, 5, 5, ignore=-1)
    compare(F.dice_loss, x, t, reduction=reduction, log_loss=log_loss, classes=[0, 2, 5],
            ignore_index=-1)
    compare(F.jaccard_loss, x, t, reduction=reduction, log_loss=log_loss, per_image=True,
            classes=[4, 1], ignore_index=-1)


@pytest.mark.parametrize("c", [2, 4, 5, 9])
@pytest.mark.parametrize("m", [1, 4, 5, 9])
def test_index_tile_boundaries(small_tiles, c, m):
    # At most 4 classes per tile (then 4 positions): 5 and 9 classes take the online softmax
    # over class tiles; 2 classes get tiles of 8 positions.
    x, t = logits(2, c, m), labels(2, c, m, ignore=-100)
    compare(F.dice_loss, x, t, ignore_index=-100, smooth=0.1)


@pytest.mark.parametrize("c", [130, 2051])
def test_many_classes(c):
    # More than BLOCK_C_MAX classes at default tiles: several class tiles per program.
    x, t = logits(2, c, 3), labels(2, c, 3, ignore=-1)
    compare(F.jaccard_loss, x, t, ignore_index=-1, per_image=True, reduction="sum")
    compare(F.tversky_loss, x, t, ignore_index=-1, alpha=0.2, beta=0.8, reduction="sum")


def test_region_stats_match_plain():
    x, t = logits(2, 4, 6), labels(2, 4, 6, ignore=9)
    with backends.use("triton"):
        stats = F.region_stats(x, t, per_image=True, ignore_index=9)
    with backends.use("plain"):
        expected = F.region_stats(x, t, per_image=True, ignore_index=9)
    for value, plain in zip(stats, expected, strict=True):
        assert value.shape == (2, 4)
        torch.testing.assert_close(value, plain)


# ---------------------------------------------------------------------------------------------
# Targets of the input's shape
# ---------------------------------------------------------------------------------------------

DENSE_TARGETS = ["float", "bool", "int64"]


def dense_target(shape, kind, ignore=None):
    q = torch.rand(shape, device=DEVICE)
    q = {"float": q, "bool": q > 0.5, "int64": (q > 0.5).long()}[kind]
    if ignore is not None:
        q = q.long() if kind == "bool" else q
        q[torch.rand(shape, device=DEVICE) < 0.3] = ignore
    return q


@pytest.mark.parametrize("kind", DENSE_TARGETS)
@pytest.mark.parametrize("ignore_index", [None, 2])
@pytest.mark.parametrize("per_image", [False, True])
def test_binary_and_multilabel_match_plain(kind, ignore_index, per_image, launches):
    x = logits(2, 3, 5, 3)
    q = dense_target(x.shape, kind, ignore_index)
    for name, loss_fn in LOSSES.items():
        compare(loss_fn, x, q, launches if name == "dice" else None, mode="multilabel",
                ignore_index=ignore_index, per_image=per_image)
    compare(F.dice_loss, x[:, 0], q[:, 0], launches, mode="binary",
            ignore_index=ignore_index, per_image=per_image)
    compare(F.dice_loss, x[:, :1], q[:, :1], mode="binary", ignore_index=ignore_index)


@pytest.mark.parametrize("mode", ["binary", "multilabel", "multiclass"])
def test_probability_inputs(mode):
    x = torch.rand(2, 3, 11, device=DEVICE)
    if mode == "multiclass":
        x = x / x.sum(dim=1, keepdim=True)
        q = torch.softmax(logits(2, 3, 11), dim=1)
    else:
        q = dense_target(x.shape, "float")
    for loss_fn in LOSSES.values():
        compare(loss_fn, x, q, mode=mode, from_logits=False)
    if mode != "multiclass":
        compare(F.dice_loss, x, (q > 0.5).long().masked_fill(q < 0.2, -1), mode=mode,
                from_logits=False, ignore_index=-1)


def test_probability_targets_multiclass(launches):
    x = logits(3, 5, 4, 3)
    q = torch.softmax(logits(3, 5, 4, 3), dim=1)
    for loss_fn in LOSSES.values():
        compare(loss_fn, x, q, launches, per_image=True)
        compare(loss_fn, x, q, smooth=1.0, log_loss=True)


@pytest.mark.parametrize("c", [1, 4, 5])
@pytest.mark.parametrize("m", [1, 4, 5, 9])
def test_dense_tile_boundaries(small_tiles, c, m):
    x, q = logits(2, c, m), dense_target((2, c, m), "float")
    compare(F.dice_loss, x, q, mode="multilabel", per_image=True)
    if c > 1:
        compare(F.dice_loss, x, torch.softmax(logits(2, c, m), dim=1), per_image=True)


def test_min_intersection_stays_plain(launches):
    x, q = logits(2, 3, 6), dense_target((2, 3, 6), "float")
    compare(F.dice_loss, x, q, mode="multilabel", intersection="min")
    assert launches[0] == 0


# ---------------------------------------------------------------------------------------------
# Dtypes, layouts, edge cases
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision(dtype):
    x, t = logits(2, 5, 6, 5, dtype=dtype), labels(2, 5, 6, 5, ignore=255)
    tol = {"rtol": 1e-2, "atol": 1e-3}
    compare(F.dice_loss, x, t, ignore_index=255, **tol)
    compare(F.tversky_loss, x, dense_target(x.shape, "float"), mode="multilabel", **tol)
    compare(F.jaccard_loss, x, torch.softmax(logits(2, 5, 6, 5), dim=1), **tol)


def test_float64_gradcheck():
    x = torch.randn(2, 3, 4, device=DEVICE, dtype=torch.float64, requires_grad=True)
    t = torch.tensor([[0, 2, 255, 1], [1, 255, 1, 2]], device=DEVICE)
    q = torch.rand(2, 3, 4, device=DEVICE, dtype=torch.float64)
    with backends.use("triton"):
        assert torch.autograd.gradcheck(
            lambda x: F.dice_loss(x, t, ignore_index=255, smooth=0.5, reduction="none"), (x,))
        assert torch.autograd.gradcheck(
            lambda x: F.jaccard_loss(x, q, mode="multilabel", per_image=True), (x,))
        assert torch.autograd.gradcheck(
            lambda x: F.tversky_loss(x, q.softmax(dim=1), alpha=0.2, beta=0.8), (x,))
        assert torch.autograd.gradcheck(
            lambda x: F.dice_loss(x.sigmoid(), q, mode="multilabel", from_logits=False),
            (x,))
        # Second order: the backward differentiates the plain composition.
        assert torch.autograd.gradgradcheck(
            lambda x: F.dice_loss(x, t, ignore_index=255, smooth=0.5), (x,))


def test_nan_logits_at_ignored_positions_get_zero_gradient():
    x, t = logits(2, 4, 5, 3), labels(2, 4, 5, 3, ignore=255)
    t[0, 0] = 255
    x = x.masked_fill((t == 255).unsqueeze(1), float("nan"))
    loss, grad = compare(F.dice_loss, x, t, ignore_index=255, per_image=True)
    assert torch.isfinite(loss).all() and torch.isfinite(grad).all()
    assert (grad.masked_select((t == 255).unsqueeze(1)) == 0).all()
    q = dense_target(x.shape, "int64", ignore=-1)
    x = logits(*x.shape).masked_fill(q == -1, float("nan"))
    loss, grad = compare(F.jaccard_loss, x, q, mode="multilabel", ignore_index=-1)
    assert torch.isfinite(loss) and (grad[q == -1] == 0).all()


def test_all_positions_ignored():
    x, t = logits(2, 3, 4), torch.full((2, 4), 7, device=DEVICE)
    loss, grad = compare(F.dice_loss, x, t, ignore_index=7, reduction="none")
    assert (loss == 0).all() and (grad == 0).all()
    q = torch.full((2, 3, 4), 7, device=DEVICE)
    compare(F.dice_loss, x, q, mode="multilabel", ignore_index=7, smooth=1.0)


def test_extreme_logits():
    x = logits(2, 4, 9) * 1e4
    compare(F.dice_loss, x, labels(2, 4, 9), smooth=1e-3)
    compare(F.dice_loss, x, dense_target(x.shape, "float"), mode="multilabel", smooth=1e-3)
    compare(F.dice_loss, x, torch.softmax(logits(2, 4, 9), dim=1), smooth=1e-3)


@pytest.mark.parametrize("shape", [(0, 3, 4, 4), (2, 3, 0), (1, 2, 1)])
def test_empty_and_tiny(shape):
    x = logits(*shape)
    compare(F.dice_loss, x, labels(shape[0], shape[1], *shape[2:]), smooth=1.0)
    compare(F.dice_loss, x, dense_target(shape, "float"), mode="multilabel", smooth=1.0)


def test_strided_and_channels_last_inputs():
    base = logits(2, 4, 6, 5)
    t = labels(2, 4, 6, 5, ignore=-1)
    q = dense_target(base.shape, "float")
    for x in (base.contiguous(memory_format=torch.channels_last),
              logits(2, 4, 12, 5)[:, :, ::2], logits(2, 5, 6, 5)[:, 1:]):
        _, grad = compare(F.dice_loss, x, t, ignore_index=-1)
        assert grad.shape == x.shape
        compare(F.jaccard_loss, x, q.transpose(2, 3).contiguous().transpose(2, 3),
                mode="multilabel")
    _, grad = compare(F.dice_loss, base.contiguous(memory_format=torch.channels_last), t,
                      ignore_index=-1)
    assert grad.is_contiguous(memory_format=torch.channels_last)


def test_sums_are_deterministic(small_tiles):
    x, t = logits(2, 5, 13), labels(2, 5, 13, ignore=-1)
    first = run(F.dice_loss, "triton", x, t, ignore_index=-1)
    second = run(F.dice_loss, "triton", x, t, ignore_index=-1)
    for a, b in zip(first, second, strict=True):
        assert torch.equal(a, b)


def test_sync_dist_in_a_one_process_group(tmp_path):
    dist = pytest.importorskip("torch.distributed")
    if not dist.is_available() or dist.is_initialized():
        pytest.skip("needs torch.distributed and no process group yet")
    store = dist.FileStore(str(tmp_path / "store"), 1)
    dist.init_process_group("gloo", store=store, rank=0, world_size=1)
    try:
        x, t = logits(2, 3, 5, 4), labels(2, 3, 5, 4, ignore=255)
        compare(F.dice_loss, x, t, ignore_index=255, sync_dist=True)
        compare(F.jaccard_loss, x, dense_target(x.shape, "float"), mode="multilabel",
                sync_dist=True)
    finally:
        dist.destroy_process_group()
