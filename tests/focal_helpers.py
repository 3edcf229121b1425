"""Input makers and comparisons shared by the focal-loss tests."""

from __future__ import annotations

import numpy as np
import torch

RTOL = 1e-10
ATOL = 1e-12

#: Mixed (input, target) dtypes, promoted as torch's own losses promote them.
MIXED = [(torch.float16, torch.float32), (torch.bfloat16, torch.float32),
         (torch.float32, torch.float64), (torch.float16, torch.float64)]


def is_custom_function(loss: torch.Tensor) -> bool:
    """Whether ``loss`` comes out of a ``torch.autograd.Function`` (the closed-form path)."""
    return isinstance(loss.grad_fn, torch.autograd.function.BackwardCFunction)


def logits(*shape, dtype=torch.float64, scale=3.0, requires_grad=False) -> torch.Tensor:
    x = (torch.randn(*shape, dtype=torch.float64) * scale).to(dtype)
    return x.requires_grad_(requires_grad)


def binary_target(*shape, dtype=torch.float64, soft=False) -> torch.Tensor:
    if soft:
        return torch.rand(*shape, dtype=torch.float64).to(dtype)
    return torch.randint(0, 2, shape).to(dtype)


def class_target(n, c, *spatial, ignore_index=None, ignore_fraction=0.0) -> torch.Tensor:
    """Class indices; with ``ignore_fraction``, the first is ignored and the last is not."""
    t = torch.randint(0, c, (n, *spatial))
    if ignore_index is not None and ignore_fraction:
        mask = torch.rand(t.shape) < ignore_fraction
        mask.view(-1)[0] = True
        t = torch.where(mask, torch.full_like(t, ignore_index), t)
        t.view(-1)[-1] = 1 if ignore_index == 0 else 0  # keep one position counted
    return t


def prob_target(n, c, *spatial, dtype=torch.float64) -> torch.Tensor:
    return torch.softmax(torch.randn(n, c, *spatial, dtype=torch.float64), dim=1).to(dtype)


def assert_matches(actual, expected, rtol=RTOL, atol=ATOL):
    """Compare a tensor with a NumPy reference value."""
    actual = actual.detach().cpu().double().numpy()
    np.testing.assert_allclose(actual, np.asarray(expected, dtype=np.float64), rtol=rtol,
                               atol=atol)


def grad_of(loss_fn, *inputs):
    """Gradient of ``loss_fn(*inputs).sum()`` with respect to the first input."""
    x = inputs[0].detach().clone().requires_grad_()
    loss = loss_fn(x, *inputs[1:])
    (g,) = torch.autograd.grad(loss.sum(), x)
    return loss.detach(), g
