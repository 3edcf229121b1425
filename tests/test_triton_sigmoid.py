"""The Triton sigmoid focal kernels against the plain composition (interpreter without a GPU)."""

from __future__ import annotations

import pytest
import torch

from focalkit import backends
from focalkit import functional as F

triton = pytest.importorskip("triton")
from focalkit._kernels.triton import focal as kernel  # noqa: E402

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(kernel, "BLOCK", 16)


def _both(x, y, **kwargs):
    """(loss, grad) under the triton and the plain backends."""
    out = []
    for backend in ("triton", "plain"):
        xi = x.detach().clone().requires_grad_()
        with backends.use(backend):
            loss = F.sigmoid_focal_loss(xi, y, **kwargs)
        (grad,) = torch.autograd.grad(loss.sum(), xi)
        out.append((loss.detach(), grad))
    return out


def _tol(dtype):
    return {torch.float16: dict(rtol=2e-3, atol=2e-4), torch.bfloat16: dict(rtol=2e-2, atol=2e-3)
            }.get(dtype, dict(rtol=1e-5, atol=1e-6))


OPTIONS = [
    {},
    dict(alpha=None, gamma=0.0),
    dict(gamma=0.5, reduction="sum"),
    dict(gamma=3.0, alpha=0.75, reduction="none"),
    dict(ignore_index=-1, gamma=1.0),
    dict(pos_weight=torch.tensor([2.0, 0.5, 1.0]), weight=torch.tensor([[0.7, 0.1, 0.6]])),
    dict(alpha=torch.tensor([0.1, 0.5, 0.9]), reduction="none", ignore_index=-1),
]


@pytest.mark.parametrize("n", [1, 15, 16, 17, 50])
@pytest.mark.parametrize("options", OPTIONS, ids=str)
def test_matches_plain_across_block_boundaries(small_blocks, n, options):
    x = torch.randn(n, 3, device=DEVICE) * 4
    y = torch.rand(n, 3, device=DEVICE)
    if "ignore_index" in options:
        y[torch.rand(n, 3) < 0.3] = -1
    options = {k: v.to(DEVICE) if isinstance(v, torch.Tensor) else v for k, v in options.items()}
    (loss, grad), (want, want_grad) = _both(x, y, **options)
    torch.testing.assert_close(loss, want, **_tol(torch.float32))
    torch.testing.assert_close(grad, want_grad, **_tol(torch.float32))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_dtypes(dtype):
    x = (torch.randn(4, 33, device=DEVICE) * 3).to(dtype)
    y = torch.randint(0, 2, (4, 33), device=DEVICE).to(dtype)
    for reduction in ("mean", "none"):
        (loss, grad), (want, want_grad) = _both(x, y, reduction=reduction)
        assert loss.dtype == dtype and grad.dtype == dtype
        torch.testing.assert_close(loss, want, **_tol(dtype))
        torch.testing.assert_close(grad, want_grad, **_tol(dtype))


def test_extreme_and_ignored_logits():
    x = torch.tensor([1e4, -1e4, 1e4, -1e4, float("nan"), float("inf"), 3.0], device=DEVICE)
    y = torch.tensor([1.0, 0.0, 0.0, 1.0, -1.0, -1.0, 1.0], device=DEVICE)
    (loss, grad), (want, want_grad) = _both(x, y, ignore_index=-1, reduction="none")
    assert torch.isfinite(loss).all() and torch.isfinite(grad).all()
    assert grad[4] == 0 and grad[5] == 0
    torch.testing.assert_close(loss, want, **_tol(torch.float32))
    torch.testing.assert_close(grad, want_grad, **_tol(torch.float32))


def test_empty_and_all_ignored():
    for x, y in [(torch.empty(0, 3), torch.empty(0, 3)),
                 (torch.randn(4, 3), torch.full((4, 3), -1.0))]:
        (loss, grad), (want, want_grad) = _both(x.to(DEVICE), y.to(DEVICE), ignore_index=-1)
        assert loss == 0 and want == 0
        assert (grad == 0).all()


def test_non_contiguous_and_channels_last():
    x = torch.randn(2, 3, 4, 5, device=DEVICE).to(memory_format=torch.channels_last)
    y = torch.rand(2, 3, 4, 5, device=DEVICE)
    alpha = torch.rand(1, 3, 1, 1, device=DEVICE)
    (loss, grad), (want, want_grad) = _both(x, y, alpha=alpha)
    torch.testing.assert_close(loss, want, **_tol(torch.float32))
    torch.testing.assert_close(grad, want_grad, **_tol(torch.float32))
    xt = torch.randn(5, 4, device=DEVICE).t()
    (loss, grad), (want, want_grad) = _both(xt, torch.rand(4, 5, device=DEVICE))
    torch.testing.assert_close(grad, want_grad, **_tol(torch.float32))


def test_unsupported_broadcast_takes_the_plain_path():
    x = torch.randn(2, 3, 4, device=DEVICE)
    weight = torch.rand(2, 1, 4, device=DEVICE)  # two separate runs of dimensions
    assert not kernel.eligible(x, None, None, weight)
    (loss, _), (want, _) = _both(x, torch.rand(2, 3, 4, device=DEVICE), weight=weight)
    torch.testing.assert_close(loss, want)


def test_a_kernel_really_launches(monkeypatch):
    if DEVICE == "cuda":
        pytest.skip("counts interpreter launches")
    from triton.runtime import interpreter

    launches = []
    original = interpreter.GridExecutor.__call__

    def counting(self, *args, **kwargs):
        launches.append(self.fn)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(interpreter.GridExecutor, "__call__", counting)
    x = torch.randn(10, requires_grad=True)
    with backends.use("triton"):
        F.sigmoid_focal_loss(x, torch.rand(10)).backward()
    assert len(launches) == 2  # one forward, one backward kernel


def test_aten_operations_do_not_grow_with_the_input(monkeypatch):
    """Structural: forward+backward dispatches the same few aten ops at 10^3 and 10^6
    elements: a dozen for the kernel path and autograd, the rest the value checks (the
    interpreter's own work inside a kernel launch is not counted)."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Count(TorchDispatchMode):
        ops = 0
        paused = False

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            Count.ops += not Count.paused
            return func(*args, **(kwargs or {}))

    if DEVICE == "cpu":
        from triton.runtime import interpreter

        monkeypatch.setattr(kernel, "BLOCK", 1 << 16)  # fewer interpreted programs, same ops

        original = interpreter.GridExecutor.__call__

        def paused(self, *args, **kwargs):
            Count.paused = True
            try:
                return original(self, *args, **kwargs)
            finally:
                Count.paused = False

        monkeypatch.setattr(interpreter.GridExecutor, "__call__", paused)
    counts = []
    for n in (10 ** 3, 10 ** 6):
        x = torch.randn(n, device=DEVICE, requires_grad=True)
        y = torch.rand(n, device=DEVICE)
        Count.ops = 0
        with backends.use("triton"), Count():
            F.sigmoid_focal_loss(x, y, ignore_index=-1).backward()
        counts.append(Count.ops)
    assert counts[0] == counts[1] <= 20, counts


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_no_host_synchronisation():
    x = torch.randn(1000, 80, device="cuda", requires_grad=True)
    y = torch.rand(1000, 80, device="cuda")
    torch.cuda.set_sync_debug_mode("error")
    try:
        for reduction in ("mean", "sum", "none"):
            F.sigmoid_focal_loss(x, y, ignore_index=-1, reduction=reduction).sum().backward()
    finally:
        torch.cuda.set_sync_debug_mode("default")
