"""Checks that need a CUDA device (``python -m pytest -m cuda`` on a GPU machine).

Every loss of the table runs forward and backward on CUDA under every backend without a host
synchronisation, and the Triton kernels equal the plain composition there.
"""

from __future__ import annotations

import pytest
import torch
from loss_cases import CASES

from focalkit import backends

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def _cuda_inputs(case, dtype=torch.float32):
    x, t = case.inputs(dtype, "cuda")
    return x.requires_grad_(), t


def _cuda_kwargs(case):
    """The case's options with per-class lists as CUDA tensors: copying a Python list to the
    device is a synchronising copy that belongs to the caller, not to the loss."""
    return {k: torch.tensor(v, device="cuda") if isinstance(v, list) else v
            for k, v in case.kwargs.items()}


@pytest.mark.parametrize("backend", ["auto", "plain", "triton"])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_no_host_synchronisation(case, backend):
    x, t = _cuda_inputs(case)
    kwargs = _cuda_kwargs(case)
    with backends.use(backend):
        case.function(x, t, **kwargs)  # compile and cache outside the checked region
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
        try:
            case.function(x, t, **kwargs).sum().backward()
        finally:
            torch.cuda.set_sync_debug_mode("default")


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_triton_equals_plain_on_cuda(case, dtype):
    x, t = _cuda_inputs(case, dtype)
    results = []
    for backend in ("triton", "plain"):
        xi = x.detach().clone().requires_grad_()
        with backends.use(backend):
            loss = case.function(xi, t, **case.kwargs)
        (grad,) = torch.autograd.grad(loss.sum(), xi)
        results.append((loss.float(), grad.float()))
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == torch.float32 else dict(rtol=2e-2, atol=2e-3)
    torch.testing.assert_close(results[0][0], results[1][0], **tol)
    torch.testing.assert_close(results[0][1], results[1][1], **tol)


def _linear_inputs(dtype=torch.float32, rows=300, features=64, classes=5000):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(rows, features, generator=gen).to("cuda", dtype).requires_grad_()
    w = (torch.randn(classes, features, generator=gen) / features ** 0.5).to("cuda", dtype)
    t = torch.randint(0, classes, (rows,), generator=gen).to("cuda")
    t[::7] = -100
    return x, w.requires_grad_(), t


@pytest.mark.parametrize("backend", ["auto", "triton"])
def test_linear_head_without_host_synchronisation(backend):
    from focalkit.functional import linear_softmax_focal_loss

    x, w, t = _linear_inputs()
    alpha = torch.rand(w.shape[0], device="cuda")
    with backends.use(backend):
        linear_softmax_focal_loss(x, w, t, alpha=alpha, z_loss=1e-4).backward()
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
        try:
            linear_softmax_focal_loss(x, w, t, alpha=alpha, z_loss=1e-4).backward()
        finally:
            torch.cuda.set_sync_debug_mode("default")


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("kwargs", [dict(gamma=2.0), dict(gamma=0.0, label_smoothing=0.1),
                                    dict(gamma=1.5, epsilon=1.0, reduction="none")])
def test_linear_head_triton_equals_plain_on_cuda(dtype, kwargs):
    from focalkit.functional import linear_softmax_focal_loss

    x, w, t = _linear_inputs(dtype)
    results = []
    for backend in ("triton", "plain"):
        xi, wi = x.detach().clone().requires_grad_(), w.detach().clone().requires_grad_()
        with backends.use(backend):
            loss = linear_softmax_focal_loss(xi, wi, t, chunk_size=64, **kwargs)
        grads = torch.autograd.grad(loss.sum(), (xi, wi))
        results.append([loss.float()] + [g.float() for g in grads])
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == torch.float32 else dict(rtol=2e-2, atol=2e-3)
    for got, want in zip(*results, strict=True):
        torch.testing.assert_close(got, want, **tol)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_linear_head_compiles_to_the_operator_on_cuda(reduction):
    """Under torch.compile the CUDA kernel runs as the custom operator, equal to eager."""
    from focalkit.functional import linear_softmax_focal_loss

    x, w, t = _linear_inputs()

    def loss(a, v):
        return linear_softmax_focal_loss(a, v, t, gamma=2.0, chunk_size=64, reduction=reduction)

    results = []
    for fn in (loss, torch.compile(loss, fullgraph=True)):
        xi, wi = x.detach().clone().requires_grad_(), w.detach().clone().requires_grad_()
        value = fn(xi, wi)
        results.append([value, *torch.autograd.grad(value, (xi, wi))])
    for got, want in zip(*results, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
