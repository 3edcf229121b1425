"""Peer loading and seeded inputs shared by the region-loss tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

_NAME = "_focalkit_tests_smp_losses"


def load_smp_losses():
    """``segmentation_models_pytorch.losses`` without the package ``__init__``.

    The top-level package imports its model zoo (timm, huggingface_hub, ...); the losses need
    none of it. The sub-package is loaded under a private name, so the real package name
    stays untouched for anything else in the session. Skips the test when smp is missing.
    """
    if _NAME in sys.modules:
        return sys.modules[_NAME]
    spec = importlib.util.find_spec("segmentation_models_pytorch")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("segmentation_models_pytorch is not installed")
    folder = Path(next(iter(spec.submodule_search_locations))) / "losses"
    losses_spec = importlib.util.spec_from_file_location(
        _NAME, folder / "__init__.py", submodule_search_locations=[str(folder)])
    if losses_spec is None or losses_spec.loader is None:
        pytest.skip(f"cannot load {folder}")
    module = importlib.util.module_from_spec(losses_spec)
    sys.modules[_NAME] = module
    try:
        losses_spec.loader.exec_module(module)
    except ImportError as error:
        del sys.modules[_NAME]
        pytest.skip(f"segmentation_models_pytorch.losses cannot be imported: {error}")
    return module


def multiclass_data(c=4, dtype=torch.float64, seed=0, shape=(2, 5, 5)):
    """Seeded logits ``(N, C, *)`` and class indices (the generalized Dice and unified tests)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape[0], c, *shape[1:], generator=g, dtype=dtype)
    t = torch.randint(0, c, shape, generator=g)
    return x, t


def binary_data(dtype=torch.float64, seed=1):
    """Seeded ``(2, 1, 4, 4)`` logits and 0/1 targets of the same shape."""
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(2, 1, 4, 4, generator=g, dtype=dtype),
            torch.randint(0, 2, (2, 1, 4, 4), generator=g).to(dtype))


def check_ignored_positions_and_half(loss_fn):
    """An ignored position with NaN logits adds nothing and gets zero gradient, and half
    inputs keep their dtype and agree with float32 (class-index targets, ``ignore_index=255``)."""
    x, t = multiclass_data(dtype=torch.float32)
    x[0, :, 0, 0] = float("nan")
    t[0, 0, 0] = 255
    x.requires_grad_(True)
    loss = loss_fn(x, t, ignore_index=255)
    loss.backward()
    assert torch.isfinite(loss) and (x.grad[0, :, 0, 0] == 0).all()
    for dtype in (torch.float16, torch.bfloat16):
        xh = x.detach().to(dtype)
        half = loss_fn(xh, t, ignore_index=255)
        assert half.dtype == dtype
        torch.testing.assert_close(half.float(), loss_fn(xh.float(), t, ignore_index=255),
                                   rtol=1e-2, atol=1e-2)
