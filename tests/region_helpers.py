"""Peer loading shared by the region-loss tests."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import types

import pytest


def load_smp_losses():
    """``segmentation_models_pytorch.losses`` without the package ``__init__``.

    The top-level package imports its model zoo (timm, huggingface_hub, ...); the losses need
    none of it. A bare parent module lets the subpackage import on its own.
    """
    if "segmentation_models_pytorch.losses" in sys.modules:
        return sys.modules["segmentation_models_pytorch.losses"]
    spec = importlib.util.find_spec("segmentation_models_pytorch")
    if spec is None or spec.origin is None:
        pytest.skip("segmentation_models_pytorch is not installed")
    if "segmentation_models_pytorch" not in sys.modules:
        parent = types.ModuleType("segmentation_models_pytorch")
        parent.__path__ = [os.path.dirname(spec.origin)]
        sys.modules["segmentation_models_pytorch"] = parent
    try:
        return importlib.import_module("segmentation_models_pytorch.losses")
    except ImportError as error:
        pytest.skip(f"segmentation_models_pytorch.losses cannot be imported: {error}")
