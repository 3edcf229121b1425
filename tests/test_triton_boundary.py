"""The Triton lower envelope of the distance transform against the plain composition.

Without a GPU the kernel runs through Triton's interpreter on CPU tensors (see conftest.py),
on tiny shapes.
"""

from __future__ import annotations

import math

import pytest
import torch

pytest.importorskip("triton")

from focalkit import backends  # noqa: E402
from focalkit import functional as F  # noqa: E402
from focalkit._kernels import triton as triton_kernels  # noqa: E402
from focalkit._kernels.plain import boundary as plain  # noqa: E402
from focalkit._kernels.triton import boundary as kernels  # noqa: E402

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"

if DEVICE == "cpu" and not triton_kernels.INTERPRETED:
    pytest.skip("no GPU and Triton's interpreter is off", allow_module_level=True)


@pytest.mark.parametrize("length", [1, 2, 5, 13])
def test_envelope_equals_the_plain_one(length, launches):
    lines = kernels.BLOCK + 3  # two programs, the second one partly empty
    f = torch.randint(0, 2 * length, (lines, length), device=DEVICE).double()
    f[torch.rand(f.shape, device=DEVICE) < 0.4] = math.inf
    f[1] = math.inf
    for spacing in (1.0, 0.7):
        got = kernels.lower_envelope(f, spacing)
        want = plain.lower_envelope(f, spacing)
        if spacing == 1.0:
            assert torch.equal(got, want)
        else:
            torch.testing.assert_close(got, want, rtol=1e-13, atol=0)
    if triton_kernels.INTERPRETED:
        assert launches[0] == 2


def test_envelope_of_no_lines():
    assert kernels.lower_envelope(torch.zeros(0, 4, dtype=torch.float64), 1.0).shape == (0, 4)


@pytest.mark.parametrize("spatial", [(6, 7), (3, 4, 5)], ids=["2d", "3d"])
def test_distance_transform_on_the_triton_backend(spatial):
    mask = torch.rand(2, *spatial, device=DEVICE) < 0.7
    with backends.use("plain"):
        want = F.distance_transform(mask, spacing=[0.5, 1.0, 2.0][:len(spatial)],
                                    dtype=torch.float64)
    with backends.use("triton"):
        got = F.distance_transform(mask, spacing=[0.5, 1.0, 2.0][:len(spatial)],
                                   dtype=torch.float64)
    torch.testing.assert_close(got, want, rtol=1e-13, atol=0)


def test_hausdorff_dt_on_the_triton_backend():
    x = torch.randn(2, 3, 5, 6, dtype=torch.float64, device=DEVICE, requires_grad=True)
    t = torch.randint(0, 3, (2, 5, 6), device=DEVICE)
    results = []
    for backend in ("triton", "plain"):
        with backends.use(backend):
            loss = F.hausdorff_dt_loss(x, t)
        results.append((loss, *torch.autograd.grad(loss, x)))
    torch.testing.assert_close(results[0][0], results[1][0], rtol=1e-13, atol=0)
    torch.testing.assert_close(results[0][1], results[1][1], rtol=1e-13, atol=0)
