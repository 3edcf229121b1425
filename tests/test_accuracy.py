"""Float32 accuracy of the reducing kernels: within 1e-6 relative of the float64 value.

The kernels add many float32 terms; a float32 running sum over a few hundred thousand of
them (``torch.dot``) is off by some 1e-6, where a pairwise sum and float64 partial sums are
within a few roundings.
"""

from __future__ import annotations

import pytest
import torch

from focalkit import backends
from focalkit.functional import (
    asymmetric_loss,
    sigmoid_focal_loss,
    softmax_focal_loss,
    varifocal_loss,
)

BOUND = 1e-6


def relative_error(fn, backend, *inputs, **kwargs):
    with backends.use("plain"):
        exact = fn(*(t.double() if t.is_floating_point() else t for t in inputs), **kwargs)
    with backends.use(backend):
        value = fn(*inputs, **kwargs)
    assert value.dtype == torch.float32
    return float((value.double() - exact).abs() / exact.abs())


def detection_data(shape):
    """RetinaNet-like logits (mostly confident background) and sparse positives."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=gen) * 2.0 - 4.0
    y = (torch.rand(shape, generator=gen) < 0.02).float()
    return x, y


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_blocked_sigmoid_focal_sum_over_many_blocks(reduction):
    x, y = detection_data((5, 1000, 80))  # 4e5 elements, two blocks
    assert relative_error(sigmoid_focal_loss, "blocked", x, y, alpha=0.25,
                          reduction=reduction) < BOUND


def test_blocked_sigmoid_focal_with_weights_and_ignored_entries():
    x, y = detection_data((5, 1000, 80))
    y[:, :50] = -1.0
    weight = torch.rand(80) + 0.5
    assert relative_error(sigmoid_focal_loss, "blocked", x, y, weight=weight,
                          ignore_index=-1) < BOUND


@pytest.mark.parametrize("backend", ["blocked", "triton"])
def test_softmax_focal_mean(backend):
    gen = torch.Generator().manual_seed(1)
    size = (2, 19, 128, 128) if backend == "blocked" else (2, 19, 32, 32)
    x = torch.randn(size, generator=gen) * 2.0
    t = torch.randint(0, 19, (size[0], *size[2:]), generator=gen)
    assert relative_error(softmax_focal_loss, backend, x, t) < BOUND


def test_triton_sigmoid_focal_mean():
    x, y = detection_data((2, 100, 80))
    assert relative_error(sigmoid_focal_loss, "triton", x, y, alpha=0.25) < BOUND


@pytest.mark.parametrize("loss", ["asymmetric", "varifocal"])
def test_blocked_elementwise_losses(loss):
    x, y = detection_data((5, 1000, 80))
    if loss == "asymmetric":
        assert relative_error(asymmetric_loss, "blocked", x, y, gamma_neg=4.0, clip=0.05) \
            < BOUND
    else:
        quality = y * torch.rand(y.shape, generator=torch.Generator().manual_seed(2))
        assert relative_error(varifocal_loss, "blocked", x, quality) < BOUND


@pytest.mark.parametrize("backend", ["blocked", "triton"])
@pytest.mark.parametrize("per_image", [False, True])
def test_lovasz_softmax(backend, per_image):
    """Long sorted rows: the loss from the sorted errors, not from the gradient's terms."""
    from focalkit.functional import lovasz_softmax_loss

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 19, 128, 128, generator=gen) * 2.0
    t = torch.randint(0, 19, (2, 128, 128), generator=gen)
    t[:, :8] = 255
    assert relative_error(lovasz_softmax_loss, backend, x, t, per_image=per_image,
                          ignore_index=255) < BOUND
