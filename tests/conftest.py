"""Fixtures shared by the tests."""

from __future__ import annotations

import os

import torch

# Without a GPU the Triton kernels run through Triton's interpreter on CPU tensors; it must be
# switched on before any kernel is defined.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

import pytest  # noqa: E402

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
