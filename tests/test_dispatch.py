"""Backends, the dispatch decision, meta tensors and torch.func for every loss."""

from __future__ import annotations

import pytest
import torch
from loss_cases import CASES, class_index, dense_binary

import focalkit
from focalkit import _dispatch, backends
from focalkit import functional as F
from focalkit._kernels import plain
from focalkit._kernels.plain.focal import SigmoidFocalOptions


def test_backend_names_and_default():
    assert backends.NAMES == ("auto", "blocked", "plain", "triton")
    assert backends.get() == "auto"


def test_unknown_backend_lists_the_valid_ones():
    with pytest.raises(ValueError, match="backend must be one of 'auto', 'blocked', 'plain'"):
        backends.set("fast")
    with pytest.raises(ValueError, match="got 'cuda'"), backends.use("cuda"):
        pass


def test_set_and_use_restore():
    backends.set("plain")
    try:
        assert backends.get() == "plain"
        with backends.use("blocked"):
            assert backends.get() == "blocked"
        assert backends.get() == "plain"
    finally:
        backends.set("auto")
    assert backends.get() == "auto"


def test_environment_variable_sets_the_default(tmp_path):
    import subprocess
    import sys

    code = "from focalkit import backends; print(backends.get())"
    env = {"FOCALKIT_BACKEND": "plain", "PATH": ""}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "plain", out.stderr
    env["FOCALKIT_BACKEND"] = "gpu"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode != 0
    assert "FOCALKIT_BACKEND must be one of" in out.stderr


def _choice(x, *others):
    return _dispatch.choose(x, *others)


def test_auto_decides_by_device_and_grad():
    x = torch.randn(3)
    y = torch.rand(3)
    assert _choice(x, y) == "blocked"
    assert _choice(x, y.requires_grad_()) == "plain"
    probabilities = SigmoidFocalOptions(None, 2.0, None, None, None, "mean", False, 0.0)
    assert _dispatch.decide(plain.focal.sigmoid_focal_loss, x, y.detach(),
                            probabilities) == "plain"
    assert _dispatch.decide(plain.poly.poly1_cross_entropy, x, y.detach(), ()) == "plain"
    assert _choice(torch.empty(3, device="meta")) == "plain"
    with backends.use("plain"):
        assert _choice(x) == "plain"
    with backends.use("blocked"):
        assert _choice(torch.empty(3, device="meta")) == "blocked"


def test_torch_func_and_forward_ad_take_the_plain_path():
    seen = []

    def record(x):
        seen.append(_dispatch.choose(x))
        return x.sum()

    torch.func.grad(record)(torch.randn(3))
    torch.func.vmap(record)(torch.randn(2, 3))
    with torch.autograd.forward_ad.dual_level():
        record(torch.randn(3))
    assert seen == ["plain", "plain", "plain"]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_triton_backend_off_cuda_says_why_for_every_loss(case):
    """One rule for every loss, with or without a Triton kernel of its own: an explicit
    ``"triton"`` that cannot run on the input's device raises."""
    x, t = case.inputs(torch.float32)
    kwargs = {k: v.to("meta") if isinstance(v, torch.Tensor) else v
              for k, v in case.kwargs.items()}
    with backends.use("triton"), pytest.raises(RuntimeError, match="runs on CUDA|triton"):
        case.function(x.to("meta"), t.to("meta"), **kwargs)


def test_every_backend_offers_its_kernels_through_one_interface():
    """Every kernel is registered under a plain form, the plain form of every routed loss."""
    import inspect
    import re

    forms = _dispatch.BACKENDS["plain"].forms()
    assert all(_dispatch.BACKENDS["plain"][form] is form for form in forms)
    for backend in ("blocked", "triton", "operator"):
        assert set(_dispatch.BACKENDS[backend].forms()) <= set(forms), backend
    assert set(_dispatch.BACKENDS) == {"plain", "blocked", "triton", "operator"}
    routed = set()
    for module in vars(F).values():
        if inspect.ismodule(module) and module.__name__.startswith("focalkit.functional."):
            source = inspect.getsource(module)
            routed |= set(re.findall(r"_dispatch\.run\(plain\.(\w+)", source))
    assert routed == {form.__name__ for form in forms}


def test_a_backend_has_one_kernel_of_a_form():
    from focalkit._kernels import Backend

    backend = Backend("test")
    backend.implements(plain.poly.poly1_cross_entropy)(lambda x, t, o: x)
    with pytest.raises(RuntimeError, match="two kernels of poly1_cross_entropy"):
        backend.implements(plain.poly.poly1_cross_entropy)(lambda x, t, o: x)


# ---------------------------------------------------------------------------------------------
# Every loss on meta tensors (no data can reach the host) and under torch.func
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["auto", "blocked", "plain"])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_meta_forward_and_backward(case, backend):
    x, t = case.inputs(torch.float32)
    x = x.to("meta").requires_grad_()
    t = t.to("meta")
    kwargs = {k: v.to("meta") if isinstance(v, torch.Tensor) else v
              for k, v in case.kwargs.items()}
    with backends.use(backend):
        loss = case.function(x, t, **kwargs)
        module_loss = case.make_module().to("meta")(x, t)
    assert loss.device.type == "meta" and module_loss.device.type == "meta"
    loss.sum().backward()
    assert x.grad.shape == x.shape


def _plain(case, x, t):
    with backends.use("plain"):
        return case(x, t)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_func_grad_matches_plain(case):
    x, t = case.inputs()
    got = torch.func.grad(lambda a: case(a, t).sum())(x)
    want = torch.autograd.grad(_plain(case, x.requires_grad_(), t).sum(), x)[0]
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_func_jvp_matches_plain(case):
    x, t = case.inputs()
    v = torch.randn_like(x)
    value, tangent = torch.func.jvp(lambda a: case(a, t).sum(),
                                    (x,), (v,))
    x = x.requires_grad_()
    plain = _plain(case, x, t).sum()
    want = (torch.autograd.grad(plain, x)[0] * v).sum()
    torch.testing.assert_close(value, plain.detach(), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(tangent, want, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_func_vmap_over_a_batch_of_inputs(case):
    pairs = [case.inputs() for _ in range(3)]
    xs = torch.stack([p[0] for p in pairs])
    ts = torch.stack([p[1] for p in pairs])
    got = torch.func.vmap(lambda a, b: case(a, b).sum())(xs, ts)
    want = torch.stack([_plain(case, a, b).sum() for a, b in pairs])
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_func_functional_call_of_the_module(case):
    module = case.make_module().double()
    x, t = case.inputs()
    state = {**dict(module.named_parameters()), **dict(module.named_buffers())}

    def loss(a):
        return torch.func.functional_call(module, state, (a, t)).sum()

    got = torch.func.grad(loss)(x)
    want = torch.autograd.grad(_plain(case, x.requires_grad_(), t).sum(), x)[0]
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


def test_value_checks_on_another_device_do_not_read_data(monkeypatch):
    """Off the CPU the value checks become device-side assertions (no host read)."""
    from focalkit import _checks

    calls = []
    monkeypatch.setattr(_checks, "value_checks", lambda t: calls.append(t.device) or "device")
    with pytest.raises(RuntimeError, match=r"target values must lie in \[0, 1\]"):
        F.sigmoid_focal_loss(torch.randn(3), torch.tensor([0.0, 2.0, 1.0]))
    with pytest.raises(RuntimeError, match=r"target class indices must lie in \[0, 2\]"):
        F.softmax_focal_loss(torch.randn(2, 3), torch.tensor([0, 3]))
    assert calls
    assert focalkit.functional.sigmoid_focal_loss(torch.randn(3), torch.rand(3)).isfinite()


def _meta_modules():
    dice_ce = focalkit.ComboLoss({"dice": (focalkit.DiceLoss(), 1.0),
                                  "focal": (focalkit.SoftmaxFocalLoss(), 0.5)})
    return [
        ("binary", focalkit.FocalLoss("binary"), dense_binary()),
        ("multilabel", focalkit.FocalLoss("multilabel", alpha=[0.2, 0.5, 0.8]), dense_binary()),
        ("multiclass", focalkit.FocalLoss("multiclass"), class_index),
        ("wrapper", focalkit.FocalWrapper(torch.nn.BCEWithLogitsLoss(reduction="none")),
         dense_binary()),
        ("combo", dice_ce, class_index),
    ]


@pytest.mark.parametrize("name, module, sample", _meta_modules(), ids=lambda v: v
                         if isinstance(v, str) else "")
def test_meta_modules(name, module, sample):
    x, t = sample((2, 3, 4), torch.float32, "meta")
    x.requires_grad_()
    module.to("meta")(x, t).sum().backward()
    assert x.grad.shape == x.shape


def test_the_backends_page_lists_the_kernels_of_every_backend():
    """docs/backends.md's table is built from the registrations: one row per plain form."""
    import pathlib

    page = (pathlib.Path(__file__).parents[1] / "docs" / "backends.md").read_text()
    assert "<!-- focalkit-kernels -->" in page
    rows = _dispatch.kernel_table().splitlines()[2:]
    assert len(rows) == len(_dispatch.BACKENDS["plain"].forms())
    assert "| `sigmoid_focal_loss` | yes | yes | yes | plain form |" in rows
    assert "| `poly1_cross_entropy` | yes | plain form | plain form | plain form |" in rows
    assert "| `asymmetric_loss` | yes | yes | plain form | plain form |" in rows
    assert "| `linear_softmax_focal_loss` | yes | yes | yes | custom operator |" in rows
