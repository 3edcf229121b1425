"""The Triton softmax focal kernel against the plain composition (interpreter without a GPU)."""

from __future__ import annotations

import pytest
import torch

from focalkit import backends
from focalkit._kernels import triton as triton_kernels
from focalkit.functional import softmax_focal_loss

if triton_kernels.IMPORT_ERROR is not None:
    pytest.skip(triton_kernels.IMPORT_ERROR, allow_module_level=True)
if not torch.cuda.is_available() and not triton_kernels.INTERPRETED:
    pytest.skip("no GPU and TRITON_INTERPRET is not set", allow_module_level=True)

from focalkit._kernels.triton import softmax as kernel  # noqa: E402

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
TOL = {torch.float32: (1e-5, 1e-6), torch.float64: (1e-12, 1e-14),
       torch.float16: (2e-3, 1e-3), torch.bfloat16: (1.6e-2, 8e-3)}


def _loss_and_grad(backend, x, target, seed=1, **kwargs):
    x = x.detach().clone().requires_grad_()
    with backends.use(backend):
        loss = softmax_focal_loss(x, target, **kwargs)
    weights = torch.randn(loss.shape, generator=torch.Generator().manual_seed(seed))
    loss.backward(weights.to(device=loss.device, dtype=loss.dtype))
    return loss.detach(), x.grad


def _check(x, target, **kwargs):
    """Loss and gradient of the kernel equal the plain path's; returns the kernel's pair."""
    rtol, atol = TOL[x.dtype]
    plain = _loss_and_grad("plain", x, target, **kwargs)
    fused = _loss_and_grad("triton", x, target, **kwargs)
    assert fused[0].dtype == x.dtype and fused[1].dtype == x.dtype
    if x.is_contiguous() or x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last):
        assert fused[1].stride() == x.stride()
    torch.testing.assert_close(fused[0], plain[0], rtol=rtol, atol=atol)
    torch.testing.assert_close(fused[1], plain[1], rtol=rtol, atol=atol)
    return fused


def _targets(n, c, *spatial, ignore=0.0):
    target = torch.randint(0, c, (n, *spatial), device=DEVICE)
    if ignore:
        target[torch.rand(target.shape, device=DEVICE) < ignore] = -100
    return target


@pytest.mark.parametrize("c", [2, 3, 5, 17, 33, 257])
@pytest.mark.parametrize("layout", ["nc", "nchw", "channels_last"])
def test_class_counts_and_layouts(c, layout):
    n, spatial = (6, ()) if layout == "nc" else (2, (3, 5))
    x = torch.randn(n, c, *spatial, device=DEVICE) * 3
    if layout == "channels_last":
        x = x.to(memory_format=torch.channels_last)
    alpha = torch.rand(c).tolist()
    _check(x, _targets(n, c, *spatial, ignore=0.3), alpha=alpha, gamma=2.0, reduction="none")
    _check(x, _targets(n, c, *spatial), gamma=1.5, reduction="mean")


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 1.0, 2.0, 2.5])
def test_gamma_and_reductions(reduction, gamma):
    x = torch.randn(3, 6, 7, device=DEVICE) * 2
    _check(x, _targets(3, 6, 7, ignore=0.2), gamma=gamma, alpha=0.25, reduction=reduction)


@pytest.mark.parametrize("c", [7, 8, 9])
@pytest.mark.parametrize("positions", [1, 7, 8, 9])
@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
def test_tile_boundaries(monkeypatch, c, positions, layout):
    # 4 x 8 tiles over the flattened positions when the classes are contiguous; 8 x 4 tiles
    # over the positions of one sample when the positions are.
    monkeypatch.setattr(kernel, "TILE", 32)
    monkeypatch.setattr(kernel, "CLASS_TILE", 8)
    monkeypatch.setattr(kernel, "NARROW_CLASS_TILE", 4)
    x = torch.randn(2, c, positions, 1, device=DEVICE)
    if layout == "channels_last":
        x = x.to(memory_format=torch.channels_last)
    target = _targets(2, c, positions, 1, ignore=0.2)
    _check(x, target, alpha=torch.rand(c).tolist(), reduction="none")
    _check(x, target, reduction="mean")


def test_many_classes():
    x = torch.randn(2, 32768, device=DEVICE) * 4
    target = torch.tensor([5, 32767], device=DEVICE)
    _check(x, target, gamma=2.0, reduction="mean")


def test_many_class_tiles(monkeypatch):
    monkeypatch.setattr(kernel, "CLASS_TILE", 64)
    monkeypatch.setattr(kernel, "NARROW_CLASS_TILE", 16)
    x = torch.randn(2, 4099, 3, device=DEVICE)
    _check(x, _targets(2, 4099, 3), reduction="sum")
    _check(x.transpose(1, 2).contiguous().transpose(1, 2), _targets(2, 4099, 3),
           reduction="none")


def test_strided_inputs_are_read_in_place(monkeypatch):
    calls = []
    original = kernel._view

    def spy(x):
        view = original(x)
        calls.append(view.data_ptr() == x.data_ptr())
        return view

    monkeypatch.setattr(kernel, "_view", spy)
    base = torch.randn(2, 10, 4, 6, device=DEVICE)
    for x in (base[:, ::2], base.to(memory_format=torch.channels_last)[:, 1:6],
              base.permute(0, 1, 3, 2)[:, :, :, :2].contiguous()):
        _check(x, _targets(2, x.shape[1], *x.shape[2:], ignore=0.2), reduction="none")
    assert calls and all(calls)
    # Gaps between the spatial dimensions: one copy, same numbers.
    x = base[:, :, :, ::2]
    _check(x, _targets(2, 10, 4, 3), reduction="mean")


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("layout", ["nc", "channels_last"])
def test_half_precision(dtype, layout):
    shape = (9, 13) if layout == "nc" else (2, 13, 3, 3)
    x = (torch.randn(shape, device=DEVICE) * 4).to(dtype)
    if layout == "channels_last":
        x = x.to(memory_format=torch.channels_last)
    target = _targets(shape[0], 13, *shape[2:], ignore=0.2)
    _check(x, target, alpha=torch.rand(13).tolist(), reduction="none")
    _check(x, target, reduction="mean")


def test_float64_is_computed_in_float64():
    x = torch.randn(4, 11, 5, dtype=torch.float64, device=DEVICE) * 3
    target = _targets(4, 11, 5, ignore=0.2)
    _check(x, target, gamma=0.3, alpha=torch.rand(11).tolist(), reduction="none")
    _check(x, target, gamma=2.7, reduction="mean")


def test_gradcheck_and_second_order():
    x = torch.randn(3, 4, 2, dtype=torch.float64, device=DEVICE, requires_grad=True)
    target = torch.tensor([[0, 3], [-100, 1], [2, 2]], device=DEVICE)

    def loss(z):
        return softmax_focal_loss(z, target, gamma=1.5, alpha=[0.2, 0.4, 0.6, 0.8])

    with backends.use("triton"):
        assert torch.autograd.gradcheck(loss, (x,))
        (grad,) = torch.autograd.grad(loss(x), x, create_graph=True)
        (second,) = torch.autograd.grad(grad.square().sum(), x)
    with backends.use("plain"):
        (grad_p,) = torch.autograd.grad(loss(x), x, create_graph=True)
        (second_p,) = torch.autograd.grad(grad_p.square().sum(), x)
    torch.testing.assert_close(grad, grad_p)
    torch.testing.assert_close(second, second_p)


def test_all_ignored_and_empty():
    x = torch.randn(2, 5, 3, device=DEVICE)
    target = torch.full((2, 3), -100, device=DEVICE)
    loss, grad = _check(x, target, reduction="mean")
    assert loss.item() == 0.0 and torch.count_nonzero(grad) == 0
    for reduction in ("none", "mean", "sum"):
        _check(torch.randn(0, 5, 3, device=DEVICE), torch.zeros(0, 3, dtype=torch.long,
                                                                 device=DEVICE),
               reduction=reduction)
        _check(torch.randn(2, 5, 0, device=DEVICE), torch.zeros(2, 0, dtype=torch.long,
                                                                device=DEVICE),
               reduction=reduction)


def test_one_element():
    _check(torch.randn(1, 2, device=DEVICE), torch.tensor([1], device=DEVICE), reduction="sum")


def test_extreme_logits():
    x = torch.randn(4, 6, 5, device=DEVICE).sign() * 1e4
    x[0, :, 0] = torch.tensor([1e4, 1e4 - 5, -1e4, 1e4 - 0.5, 0.0, 3.0])
    x[1, :, 1] = torch.tensor([-1e4, 1e4, -1e4, 1e4 - 20, 1e4 - 1, -3.0])
    target = _targets(4, 6, 5)
    target[0, 0], target[1, 1] = 3, 0
    for reduction in ("none", "sum"):
        loss, grad = _check(x, target, reduction=reduction)
        assert torch.isfinite(loss).all() and torch.isfinite(grad).all()


def test_nan_and_inf_logits_at_ignored_positions():
    x = torch.randn(2, 5, 4, device=DEVICE)
    x[0, :, 1] = float("nan")
    x[1, 2, 3] = float("inf")
    x[1, 0, 0] = float("-inf")
    target = _targets(2, 5, 4)
    target[0, 1] = target[1, 3] = target[1, 0] = -100
    for reduction in ("none", "mean", "sum"):
        loss, grad = _check(x, target, reduction=reduction)
        assert torch.isfinite(loss).all() and torch.isfinite(grad).all()
        assert torch.count_nonzero(grad[0, :, 1]) == 0 and torch.count_nonzero(grad[1, :, 3]) == 0
    # A NaN logit at a kept position propagates.
    x[0, 0, 0] = float("nan")
    with backends.use("triton"):
        assert torch.isnan(softmax_focal_loss(x, target))


def test_without_grad_mode():
    x = torch.randn(3, 4, 5, device=DEVICE)
    target = _targets(3, 4, 5)
    with backends.use("plain"):
        expected = softmax_focal_loss(x, target)
    with torch.no_grad(), backends.use("triton"):
        torch.testing.assert_close(softmax_focal_loss(x, target), expected)


@pytest.mark.skipif(DEVICE != "cpu", reason="counts launches of Triton's interpreter")
def test_kernels_launch(monkeypatch):
    from triton.runtime import interpreter

    launches = []
    original = interpreter.GridExecutor.__call__

    def counted(self, *args, **kwargs):
        launches.append(self.fn.__name__ if hasattr(self.fn, "__name__") else self.fn)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(interpreter.GridExecutor, "__call__", counted)
    x = torch.randn(2, 3, 4, requires_grad=True)
    with backends.use("triton"):
        softmax_focal_loss(x, _targets(2, 3, 4)).backward()
    assert len(launches) == 2


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_cuda_large(dtype):
    x = (torch.randn(8, 19, 64, 64, device="cuda") * 3).to(dtype)
    target = _targets(8, 19, 64, 64, ignore=0.1)
    _check(x, target, alpha=torch.rand(19).tolist(), reduction="mean")
    _check(x.to(memory_format=torch.channels_last), target, reduction="none")
    wide = (torch.randn(64, 50257, device="cuda") * 3).to(dtype)
    _check(wide, torch.randint(0, 50257, (64,), device="cuda"), reduction="mean")


def _soft_check(x, target, alpha, gamma, ignore_index, label_smoothing, is_index, reduction):
    """The soft-target kernel against the plain composition, value and gradient."""
    from focalkit._kernels.plain.focal import SoftmaxFocalOptions, softmax_focal_loss

    def _softmax_focal_plain(z, t, *options):
        return softmax_focal_loss(z, t, SoftmaxFocalOptions(*options, 0.0))

    args = (alpha, gamma, ignore_index, label_smoothing, is_index, reduction)
    rtol, atol = TOL[x.dtype]
    results = []
    for fn in (_softmax_focal_plain, kernel.softmax_focal_loss_soft):
        z = x.detach().clone().requires_grad_()
        loss = fn(z, target, *args)
        weights = torch.randn(loss.shape, generator=torch.Generator().manual_seed(2))
        loss.backward(weights.to(device=loss.device, dtype=loss.dtype))
        results.append((loss.detach(), z.grad))
    for plain, fused in zip(*results, strict=True):
        assert fused.dtype == x.dtype
        torch.testing.assert_close(fused, plain, rtol=rtol, atol=atol)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("layout", ["nc", "nchw", "channels_last"])
def test_soft_targets(monkeypatch, reduction, layout):
    monkeypatch.setattr(kernel, "CLASS_TILE", 8)
    monkeypatch.setattr(kernel, "NARROW_CLASS_TILE", 4)
    c = 11
    shape = (5, c) if layout == "nc" else (2, c, 3, 3)
    x = torch.randn(shape, device=DEVICE) * 3
    if layout == "channels_last":
        x = x.to(memory_format=torch.channels_last)
    alpha = torch.rand(c, device=DEVICE)
    index = _targets(shape[0], c, *shape[2:], ignore=0.3)
    probs = torch.softmax(torch.randn(shape, device=DEVICE) * 2, dim=1)
    _soft_check(x, index, alpha, 2.0, -100, 0.1, True, reduction)
    _soft_check(x, index.clamp_min(0), None, 0.7, None, 1.0, True, reduction)
    _soft_check(x, probs, alpha, 1.5, None, 0.0, False, reduction)
    _soft_check(x, probs.transpose(0, 1).contiguous().transpose(0, 1), None, 0.0, None, 0.2,
                False, reduction)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_soft_targets_dtypes(dtype):
    x = (torch.randn(2, 7, 5, device=DEVICE) * 3).to(dtype)
    index = _targets(2, 7, 5, ignore=0.2)
    probs = torch.softmax(torch.randn(2, 7, 5, device=DEVICE), dim=1).to(dtype)
    _soft_check(x, index, torch.rand(7, device=DEVICE, dtype=torch.promote_types(
        dtype, torch.float32)), 2.5, -100, 0.15, True, "mean")
    _soft_check(x, probs, None, 2.0, None, 0.05, False, "none")


def test_soft_targets_second_order_and_edges():
    x = torch.randn(3, 4, 2, dtype=torch.float64, device=DEVICE, requires_grad=True)
    target = torch.tensor([[0, 3], [-100, 1], [2, 2]], device=DEVICE)

    def loss(fn, z):
        return fn(z, target, None, 1.5, -100, 0.1, True, "mean")

    from focalkit._kernels.plain.focal import SoftmaxFocalOptions, softmax_focal_loss

    def _softmax_focal_plain(z, t, *options):
        return softmax_focal_loss(z, t, SoftmaxFocalOptions(*options, 0.0))

    assert torch.autograd.gradcheck(lambda z: loss(kernel.softmax_focal_loss_soft, z), (x,))
    grads = []
    for fn in (kernel.softmax_focal_loss_soft, _softmax_focal_plain):
        (grad,) = torch.autograd.grad(loss(fn, x), x, create_graph=True)
        grads.append(torch.autograd.grad(grad.square().sum(), x)[0])
    torch.testing.assert_close(*grads)
    # NaN logits at ignored positions, every position ignored, and no positions.
    z = torch.randn(2, 5, 3, device=DEVICE)
    z[0, :, 1] = float("nan")
    t = torch.full((2, 3), -100, device=DEVICE)
    _soft_check(z, t, None, 2.0, -100, 0.1, True, "mean")
    t[1] = 2
    _soft_check(z, t, None, 2.0, -100, 0.1, True, "sum")
    _soft_check(torch.randn(0, 5, device=DEVICE), torch.zeros(0, dtype=torch.long,
                                                               device=DEVICE),
                None, 2.0, -100, 0.1, True, "mean")
