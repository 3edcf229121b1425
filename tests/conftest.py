"""Fixtures shared by the focal-loss tests."""

from __future__ import annotations

import pytest
import torch

import focalkit.functional.focal as focal_impl


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture
def force_plain(monkeypatch):
    """Route the functional losses through their plain autograd composition.

    The losses take the plain path whenever ``torch.compile`` traces them; pretending to trace
    selects it in eager mode while every argument check still runs.
    """
    monkeypatch.setattr(focal_impl, "is_compiling", lambda: True)


@pytest.fixture(params=["fast", "plain"])
def path(request):
    """Run a test once on the closed-form Function (eager default) and once on the plain path."""
    if request.param == "plain":
        request.getfixturevalue("force_plain")
    return request.param
