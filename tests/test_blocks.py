"""The blocked kernels give the same numbers whatever the block size.

The test tensors elsewhere fit in one block; here the blocks are made tiny so that every
boundary case (partial last block, rows split into column blocks, several samples per block)
is crossed, and the result is compared with the plain autograd path.
"""

from __future__ import annotations

import pytest
import torch

from focalkit._kernels.blocked import blocks as _blocks
from focalkit.functional import sigmoid_focal_loss, softmax_focal_loss


@pytest.fixture(params=[7, 64, 1000], ids=lambda s: f"block{s}")
def tiny_blocks(request, monkeypatch):
    monkeypatch.setattr(_blocks, "BLOCK", request.param)
    monkeypatch.setattr(_blocks, "CLASS_BLOCK", request.param)
    return request.param


def _plain_and_fast(loss, x, *args, **kwargs):
    """(value, grad) of the fast path and of the plain path (forced by a target needing grad)."""
    results = []
    for force_plain in (False, True):
        xi = x.clone().requires_grad_()
        extra = [a.clone().requires_grad_(force_plain) if a.is_floating_point() else a
                 for a in args]
        value = loss(xi, *extra, **kwargs)
        value.sum().backward()
        results.append((value.detach(), xi.grad))
    return results


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("shape", [(3, 5, 11), (37,), (2, 3, 50)])
def test_sigmoid_blocks(tiny_blocks, shape, reduction):
    torch.manual_seed(0)
    x = torch.randn(shape, dtype=torch.float64) * 3
    y = (torch.rand(shape, dtype=torch.float64) < 0.3).double()
    y.view(-1)[::5] = -1.0
    pos_weight = torch.rand(shape[-1], dtype=torch.float64) + 0.5
    (v_fast, g_fast), (v_plain, g_plain) = _plain_and_fast(
        sigmoid_focal_loss, x, y, pos_weight=pos_weight, ignore_index=-1, reduction=reduction)
    torch.testing.assert_close(v_fast, v_plain, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(g_fast, g_plain, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("shape", [(9, 4), (3, 4, 17), (2, 3, 5, 7)])
def test_softmax_blocks(tiny_blocks, shape, reduction):
    torch.manual_seed(0)
    x = torch.randn(shape, dtype=torch.float64) * 3
    t = torch.randint(0, shape[1], (shape[0],) + shape[2:])
    t.view(-1)[::4] = -100
    alpha = torch.linspace(0.2, 1.5, shape[1], dtype=torch.float64)
    x_fast = x.clone().requires_grad_()
    fast = softmax_focal_loss(x_fast, t, alpha=alpha, reduction=reduction)
    fast.sum().backward()
    x_plain = x.clone().requires_grad_()
    plain = softmax_focal_loss(x_plain, t, alpha=alpha.clone().requires_grad_(),
                               reduction=reduction)
    plain.sum().backward()
    torch.testing.assert_close(fast.detach(), plain.detach(), rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(x_fast.grad, x_plain.grad, rtol=1e-12, atol=1e-14)
