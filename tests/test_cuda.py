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
