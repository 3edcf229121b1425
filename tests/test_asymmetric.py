"""Asymmetric loss (ASL): reference, gradients, kernel and plain paths and timm."""

from __future__ import annotations

import importlib.util
import sys

import pytest
import torch
import torch.nn.functional as F
from focal_helpers import assert_matches, binary_target, is_custom_function, logits
from torch.autograd import gradcheck, gradgradcheck

from focalkit import AsymmetricLoss
from focalkit import reference as R
from focalkit.functional import asymmetric_loss

REDUCTIONS = ["none", "mean", "sum"]
SETTINGS = [
    dict(),
    dict(gamma_pos=1.0, gamma_neg=4.0, clip=0.05),
    dict(gamma_pos=0.5, gamma_neg=0.5, clip=0.2),
    dict(gamma_pos=2.0, gamma_neg=2.0, clip=0.0),
    dict(gamma_pos=0.0, gamma_neg=0.0, clip=0.1),
    dict(gamma_pos=1.5, gamma_neg=3.0, clip=0.0),
]


@pytest.fixture(params=["kernel", "plain"])
def path(request):
    """Run a test on the closed-form Function (eager default) and on the plain composition."""
    if request.param == "plain":
        request.getfixturevalue("force_plain")
    return request.param


@pytest.mark.parametrize("settings", SETTINGS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_matches_reference(path, settings, reduction):
    x = logits(4, 7, 3)
    y = binary_target(4, 7, 3, soft=reduction == "sum")
    loss = asymmetric_loss(x, y, reduction=reduction, **settings)
    assert_matches(loss, R.asymmetric_loss(x, y, reduction=reduction, **settings))
    assert loss.shape == (x.shape if reduction == "none" else ())


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_weight_and_ignore_index_match_reference(path, reduction):
    x = logits(5, 6)
    y = binary_target(5, 6, soft=True)
    y[torch.rand(y.shape) < 0.3] = -1
    kwargs = dict(gamma_pos=1.0, clip=0.1, weight=torch.rand(6, dtype=torch.float64),
                  ignore_index=-1, reduction=reduction)
    assert_matches(asymmetric_loss(x, y, **kwargs), R.asymmetric_loss(x, y, **kwargs))


def test_without_focusing_or_clip_it_is_bce(path):
    x, y = logits(6, 5), binary_target(6, 5, soft=True)
    torch.testing.assert_close(asymmetric_loss(x, y, gamma_neg=0.0, clip=0.0),
                               F.binary_cross_entropy_with_logits(x, y))


def test_negatives_below_the_margin_add_nothing(path):
    x = torch.tensor([-4.0, -3.0, -2.9, 3.0], dtype=torch.float64, requires_grad=True)
    y = torch.zeros(4, dtype=torch.float64)
    loss = asymmetric_loss(x, y, gamma_neg=0.0, clip=0.05, reduction="none")
    loss.sum().backward()
    assert (loss[:2] == 0).all() and (x.grad[:2] == 0).all()
    assert (loss[2:] > 0).all() and (x.grad[2:] > 0).all()


def test_equals_focal_for_symmetric_settings(path):
    from focalkit.functional import sigmoid_focal_loss

    x, y = logits(4, 5), binary_target(4, 5)
    torch.testing.assert_close(
        asymmetric_loss(x, y, gamma_pos=2.0, gamma_neg=2.0, clip=0.0),
        sigmoid_focal_loss(x, y, alpha=None, gamma=2.0))


@pytest.mark.parametrize("settings", SETTINGS)
def test_gradcheck(path, settings):
    x = logits(3, 4, scale=2.0, requires_grad=True)
    y = binary_target(3, 4, soft=True)
    y[0, 0] = -1
    weight = torch.rand(4, dtype=torch.float64)

    def fn(x):
        return asymmetric_loss(x, y, weight=weight, ignore_index=-1, **settings)

    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


def test_gradcheck_target_and_weight():
    x = logits(3, 4, scale=2.0, requires_grad=True)
    y = torch.rand(3, 4, dtype=torch.float64, requires_grad=True)
    w = torch.rand(4, dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda x, y, w: asymmetric_loss(x, y, weight=w, gamma_pos=1.0), (x, y, w))


def test_kernel_is_the_eager_default_and_saves_one_buffer(path):
    x = logits(64, 40, requires_grad=True)
    y = binary_target(64, 40)
    saved = []

    def pack(t):
        saved.append(t)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = asymmetric_loss(x, y)
    assert is_custom_function(loss) == (path == "kernel")
    if path == "kernel":
        extra = [t for t in saved if t.numel() == x.numel() and t.data_ptr() not in
                 (x.data_ptr(), y.data_ptr())]
        assert len(extra) == 1


def test_ignored_entries_are_exact(path):
    nan, inf = float("nan"), float("inf")
    x = torch.tensor([[1.0, nan, -2.0], [inf, 0.5, -inf]], requires_grad=True)
    y = torch.tensor([[1.0, -1.0, 0.0], [-1.0, 0.0, -1.0]])
    loss = asymmetric_loss(x, y, ignore_index=-1)
    loss.backward()
    kept = torch.tensor([[True, False, True], [False, True, False]])
    assert torch.isfinite(loss) and (x.grad[~kept] == 0).all()
    expected = asymmetric_loss(x.detach()[kept], y[kept])
    torch.testing.assert_close(loss, expected)


def test_all_ignored_or_empty_mean_is_zero(path):
    x = logits(2, 3, requires_grad=True)
    loss = asymmetric_loss(x, torch.full((2, 3), -1.0, dtype=torch.float64), ignore_index=-1)
    loss.backward()
    assert loss.item() == 0.0 and (x.grad == 0).all()
    empty = torch.zeros(0, 5, requires_grad=True)
    assert asymmetric_loss(empty, torch.zeros(0, 5)).item() == 0.0


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision(path, dtype):
    x = logits(8, 6, scale=6.0)
    y = binary_target(8, 6)
    xh = x.to(dtype).requires_grad_()
    loss = asymmetric_loss(xh, y.to(dtype), gamma_pos=1.0)
    loss.backward()
    assert loss.dtype == dtype and xh.grad.dtype == dtype
    assert torch.isfinite(xh.grad).all()
    expected = R.asymmetric_loss(xh.detach().double(), y, gamma_pos=1.0)
    assert_matches(loss, expected, rtol=1e-2, atol=1e-3)


def test_saturated_logits_stay_finite(path):
    x = torch.tensor([-120.0, -30.0, 30.0, 120.0], requires_grad=True)
    for y in (torch.zeros(4), torch.ones(4)):
        x.grad = None
        loss = asymmetric_loss(x, y, gamma_pos=1.0, reduction="none")
        loss.sum().backward()
        assert torch.isfinite(loss).all() and torch.isfinite(x.grad).all()
    # log p from the logits: a confident wrong positive costs |x|, not -log(eps)
    assert asymmetric_loss(x[:1], torch.ones(1)).item() == pytest.approx(120.0)


def test_module_equals_functional():
    x, y = logits(4, 6), binary_target(4, 6)
    w = torch.rand(6, dtype=torch.float64)
    module = AsymmetricLoss(gamma_pos=1.0, gamma_neg=3.0, clip=0.1, weight=w, reduction="sum")
    assert torch.equal(module(x, y), asymmetric_loss(x, y, gamma_pos=1.0, gamma_neg=3.0,
                                                     clip=0.1, weight=w, reduction="sum"))
    assert "weight" in dict(module.named_buffers())
    assert "gamma_neg=3.0" in repr(module)


# ---------------------------------------------------------------------------------------------
# timm
# ---------------------------------------------------------------------------------------------


def load_timm_asl():
    """timm's ``loss/asymmetric_loss.py`` by file path (timm's package import needs torchvision)."""
    spec = importlib.util.find_spec("timm")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("timm is not installed")
    path = next(iter(spec.submodule_search_locations)) + "/loss/asymmetric_loss.py"
    module_spec = importlib.util.spec_from_file_location("_timm_asymmetric_loss", path)
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
    except (FileNotFoundError, ImportError) as error:
        pytest.skip(f"timm's asymmetric loss cannot be loaded: {error}")
    sys.modules.setdefault("_timm_asymmetric_loss", module)
    return module


@pytest.mark.parametrize("settings", [dict(gamma_pos=1.0, gamma_neg=4.0, clip=0.05),
                                      dict(gamma_pos=0.0, gamma_neg=2.0, clip=0.0)])
def test_equals_timm_sum(settings):
    timm = load_timm_asl()
    x = (torch.randn(6, 10) * 3).requires_grad_()
    y = (torch.rand(6, 10) < 0.3).float()
    peer = timm.AsymmetricLossMultiLabel(reduction="sum", **settings)
    if "reduction" not in peer.__dict__:
        pytest.skip("this timm version has no reduction argument")
    ours = asymmetric_loss(x, y, reduction="sum", **settings)
    torch.testing.assert_close(ours, peer(x, y), rtol=1e-5, atol=1e-5)
    (g_ours,) = torch.autograd.grad(ours, x)
    (g_peer,) = torch.autograd.grad(peer(x, y), x)
    torch.testing.assert_close(g_ours, g_peer, rtol=1e-4, atol=1e-5)
    # timm's default "batchmean" is the sum over the batch size: focalkit's mean times C.
    batchmean = timm.AsymmetricLossMultiLabel(**settings)(x, y)
    torch.testing.assert_close(asymmetric_loss(x, y, **settings) * 10, batchmean,
                               rtol=1e-5, atol=1e-5)


@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated")
def test_compiles_without_graph_breaks():
    torch._dynamo.reset()
    x, y = logits(3, 5, dtype=torch.float32), binary_target(3, 5, dtype=torch.float32)
    compiled = torch.compile(asymmetric_loss, backend="aot_eager", fullgraph=True)
    x_comp = x.clone().requires_grad_()
    torch.testing.assert_close(compiled(x_comp, y, gamma_pos=1.0),
                               asymmetric_loss(x, y, gamma_pos=1.0))
    torch._dynamo.reset()
