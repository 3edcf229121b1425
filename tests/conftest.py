"""Fixtures shared by the tests."""

from __future__ import annotations

import pytest
import torch

from focalkit import backends


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture
def force_plain():
    """Route the functional losses through their plain autograd composition."""
    with backends.use("plain"):
        yield


@pytest.fixture(params=["fast", "plain"])
def path(request):
    """Run a test once on the closed-form Function (eager default) and once on the plain path."""
    if request.param == "plain":
        request.getfixturevalue("force_plain")
    return request.param
