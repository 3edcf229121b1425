"""Fixtures shared by the tests."""

from __future__ import annotations

import os

import torch

# Without a GPU the Triton kernels run through Triton's interpreter on CPU tensors; it must be
# switched on before any kernel is defined.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

# The suite runs in one pytest-xdist worker per core: each worker gets its share of the cores,
# so that torch's intra-op threads do not oversubscribe them.
if "PYTEST_XDIST_WORKER_COUNT" in os.environ:
    workers = int(os.environ["PYTEST_XDIST_WORKER_COUNT"])
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))

import pytest  # noqa: E402

from focalkit import _dispatch, backends


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


@pytest.fixture
def launches(monkeypatch):
    """The number of Triton kernel launches so far (counted under the interpreter only)."""
    from focalkit._kernels import triton as triton_kernels

    count = [0]
    if triton_kernels.INTERPRETED:
        from triton.runtime.interpreter import GridExecutor

        call = GridExecutor.__call__

        def counted(self, *args, **kwargs):
            count[0] += 1
            return call(self, *args, **kwargs)

        monkeypatch.setattr(GridExecutor, "__call__", counted)
    return count


@pytest.fixture
def fresh_dynamo():
    """Dynamo's caches emptied before and after the test: compile counts start from zero,
    and no compiled graph outlives it."""
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


@pytest.fixture
def decisions(monkeypatch):
    """The backends whose kernels ``_dispatch.decide`` picked during the test."""
    seen = []
    decide = _dispatch.decide

    def record(*args, **kwargs):
        seen.append(decide(*args, **kwargs))
        return seen[-1]

    monkeypatch.setattr(_dispatch, "decide", record)
    return seen
