"""Quality focal, distribution focal and varifocal losses: references, gradients and peers."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from focal_helpers import assert_matches, is_custom_function, logits
from torch.autograd import gradcheck, gradgradcheck

from focalkit import DistributionFocalLoss, QualityFocalLoss, VarifocalLoss
from focalkit import reference as R
from focalkit.functional import (
    distribution_focal_loss,
    quality_focal_loss,
    sigmoid_focal_loss,
    varifocal_loss,
)

REDUCTIONS = ["none", "mean", "sum"]


@pytest.fixture(params=["kernel", "plain"])
def path(request):
    """Run a test on the closed-form Function (eager default) and on the plain composition."""
    if request.param == "plain":
        request.getfixturevalue("force_plain")
    return request.param


def quality_target(*shape, positives=0.2, dtype=torch.float64):
    """IoU-like scores in (0, 1] at about ``positives`` of the entries, 0 elsewhere."""
    score = torch.rand(*shape, dtype=torch.float64) * 0.9 + 0.1
    score[..., 0] = 1.0
    return torch.where(torch.rand(*shape) < positives, score, 0.0).to(dtype)


# ---------------------------------------------------------------------------------------------
# Quality focal loss
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("beta", [0.0, 1.0, 2.0, 2.5])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_qfl_matches_reference(beta, reduction):
    x, y = logits(5, 4, 3), quality_target(5, 4, 3, positives=0.5)
    y[0, 0, 0] = -1
    w = torch.rand(4, 3, dtype=torch.float64)
    kwargs = dict(beta=beta, reduction=reduction, weight=w, ignore_index=-1)
    assert_matches(quality_focal_loss(x, y, **kwargs), R.quality_focal_loss(x, y, **kwargs))


def test_qfl_identities():
    x = logits(6, 5)
    y = (torch.rand(6, 5) < 0.3).double()
    torch.testing.assert_close(quality_focal_loss(x, y),
                               sigmoid_focal_loss(x, y, alpha=None, gamma=2.0))
    soft = torch.rand(6, 5, dtype=torch.float64)
    torch.testing.assert_close(quality_focal_loss(x, soft, beta=0.0),
                               F.binary_cross_entropy_with_logits(x, soft))


def test_qfl_equals_yolov5_qfocal_without_alpha():
    # YOLOv5's QFocalLoss around BCEWithLogitsLoss, with its alpha factor set to 1
    x, y = logits(4, 6), quality_target(4, 6, positives=0.4)
    bce = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    expected = (bce * torch.abs(y - torch.sigmoid(x)) ** 1.5).mean()
    torch.testing.assert_close(quality_focal_loss(x, y, beta=1.5), expected)


@pytest.mark.parametrize("beta", [1.0, 2.0])
def test_qfl_gradcheck(beta):
    x = logits(3, 4, scale=2.0, requires_grad=True)
    y = torch.rand(3, 4, dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda x, y: quality_focal_loss(x, y, beta=beta), (x, y))
    assert gradgradcheck(lambda x: quality_focal_loss(x, y.detach(), beta=beta), (x,))


# ---------------------------------------------------------------------------------------------
# Varifocal loss
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("settings", [dict(), dict(alpha=0.25, gamma=1.5),
                                      dict(iou_weighted=False, gamma=0.5), dict(gamma=0.0)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_vfl_matches_reference(path, settings, reduction):
    x, t = logits(6, 5, 2), quality_target(6, 5, 2)
    loss = varifocal_loss(x, t, reduction=reduction, **settings)
    assert_matches(loss, R.varifocal_loss(x, t, reduction=reduction, **settings))
    assert loss.shape == (x.shape if reduction == "none" else ())


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_vfl_weight_and_ignore_index(path, reduction):
    x, t = logits(6, 5), quality_target(6, 5)
    t[torch.rand(t.shape) < 0.3] = -1
    kwargs = dict(weight=torch.rand(6, 1, dtype=torch.float64), ignore_index=-1,
                  reduction=reduction)
    assert_matches(varifocal_loss(x, t, **kwargs), R.varifocal_loss(x, t, **kwargs))


def mmdet_varifocal(pred, target, alpha=0.75, gamma=2.0, iou_weighted=True):
    """The formula as mmdetection's ``varifocal_loss`` writes it (reduction "none")."""
    pred_sigmoid = pred.sigmoid()
    positive = (target > 0.0).float()
    scale = target * positive if iou_weighted else positive
    focal_weight = scale + alpha * (pred_sigmoid - target).abs().pow(gamma) * (1 - positive)
    return F.binary_cross_entropy_with_logits(pred, target, reduction="none") * focal_weight


def ultralytics_varifocal(pred_score, gt_score, label, alpha=0.75, gamma=2.0):
    """The formula as ultralytics' ``VarifocalLoss`` writes it, before its reduction."""
    weight = alpha * pred_score.sigmoid().pow(gamma) * (1 - label) + gt_score * label
    return F.binary_cross_entropy_with_logits(pred_score, gt_score, reduction="none") * weight


@pytest.mark.parametrize("iou_weighted", [True, False])
def test_vfl_equals_the_peer_formulas(path, iou_weighted):
    x = logits(8, 4, requires_grad=True)
    t = quality_target(8, 4)
    ours = varifocal_loss(x, t, iou_weighted=iou_weighted, reduction="none")
    peer = mmdet_varifocal(x, t, iou_weighted=iou_weighted)
    torch.testing.assert_close(ours, peer)
    grads = [torch.autograd.grad(v.sum(), x)[0] for v in (ours, peer)]
    torch.testing.assert_close(*grads)
    if iou_weighted:
        label = (t > 0).double()
        torch.testing.assert_close(ours, ultralytics_varifocal(x, t, label))


@pytest.mark.parametrize("settings", [dict(), dict(gamma=0.5, iou_weighted=False),
                                      dict(gamma=1.0, alpha=0.3)])
def test_vfl_gradcheck(path, settings):
    x = logits(4, 3, scale=2.0, requires_grad=True)
    t = quality_target(4, 3, positives=0.4)
    t[0, 1] = -1
    w = torch.rand(3, dtype=torch.float64)

    def fn(x):
        return varifocal_loss(x, t, weight=w, ignore_index=-1, **settings)

    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


def test_vfl_gradcheck_weight():
    x = logits(4, 3, scale=2.0, requires_grad=True)
    w = torch.rand(4, 1, dtype=torch.float64, requires_grad=True)
    t = quality_target(4, 3, positives=0.4)
    assert gradcheck(lambda x, w: varifocal_loss(x, t, weight=w), (x, w))


def test_vfl_kernel_is_the_eager_default(path):
    x = logits(5, 3, requires_grad=True)
    assert is_custom_function(varifocal_loss(x, quality_target(5, 3))) == (path == "kernel")


def test_vfl_ignored_entries_are_exact(path):
    nan, inf = float("nan"), float("inf")
    x = torch.tensor([[1.0, nan], [inf, -2.0]], requires_grad=True)
    t = torch.tensor([[0.7, -1.0], [-1.0, 0.0]])
    loss = varifocal_loss(x, t, ignore_index=-1, reduction="sum")
    loss.backward()
    assert torch.isfinite(loss) and x.grad[0, 1] == 0 and x.grad[1, 0] == 0
    kept = t != -1
    torch.testing.assert_close(loss, varifocal_loss(x.detach()[kept], t[kept], reduction="sum"))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_vfl_and_qfl_half_precision(path, dtype):
    x, t = logits(8, 6, scale=6.0), quality_target(8, 6)
    for fn, ref in ((varifocal_loss, R.varifocal_loss),
                    (quality_focal_loss, R.quality_focal_loss)):
        xh = x.to(dtype).requires_grad_()
        th = t.to(dtype)
        loss = fn(xh, th)
        loss.backward()
        assert loss.dtype == dtype and torch.isfinite(xh.grad).all()
        assert_matches(loss, ref(xh.detach().double(), th.double()), rtol=1e-2, atol=1e-3)


# ---------------------------------------------------------------------------------------------
# Distribution focal loss
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(6,), (3, 4), (2, 3, 4)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_dfl_matches_reference(shape, reduction):
    bins = 5
    x = logits(*shape, bins)
    y = torch.rand(shape, dtype=torch.float64) * (bins - 1)
    y.view(-1)[0] = bins - 1          # the last bin exactly
    y.view(-1)[1] = 2.0               # an integer
    w = torch.rand(shape[-1:], dtype=torch.float64)
    kwargs = dict(reduction=reduction, weight=w)
    assert_matches(distribution_focal_loss(x, y, **kwargs),
                   R.distribution_focal_loss(x, y, **kwargs))


def test_dfl_ignore_index_is_exact():
    x = torch.randn(4, 6, dtype=torch.float64)
    x[1] = float("nan")
    x = x.requires_grad_()
    y = torch.tensor([0.5, -1.0, 5.0, 3.25], dtype=torch.float64)
    loss = distribution_focal_loss(x, y, ignore_index=-1)
    loss.backward()
    assert torch.isfinite(loss) and (x.grad[1] == 0).all()
    assert_matches(loss, R.distribution_focal_loss(x, y, ignore_index=-1))
    keep = torch.tensor([0, 2, 3])
    torch.testing.assert_close(loss, distribution_focal_loss(x.detach()[keep], y[keep]))


def test_dfl_is_the_cross_entropy_of_the_split_target():
    x = logits(5, 7)
    y = torch.tensor([0.0, 0.3, 2.5, 5.9, 6.0], dtype=torch.float64)
    soft = torch.zeros(5, 7, dtype=torch.float64)
    left = y.floor().long().clamp_max(5)
    soft[torch.arange(5), left] = left + 1 - y
    soft[torch.arange(5), left + 1] += y - left
    torch.testing.assert_close(distribution_focal_loss(x, y), F.cross_entropy(x, soft))


def test_dfl_equals_ultralytics_formula_below_the_last_bin():
    # ultralytics' DFLoss on targets it does not clamp: mean over the four edges
    x = logits(3, 4, 16)
    y = torch.rand(3, 4, dtype=torch.float64) * 14.9
    tl = y.long()
    wl = tl + 1 - y
    ce = [F.cross_entropy(x.reshape(-1, 16), t.reshape(-1), reduction="none").view(t.shape)
          for t in (tl, tl + 1)]
    expected = (ce[0] * wl + ce[1] * (1 - wl)).mean(-1)
    torch.testing.assert_close(distribution_focal_loss(x, y, reduction="none").mean(-1),
                               expected)


def test_dfl_gradcheck():
    x = logits(3, 2, 5, requires_grad=True)
    y = (torch.rand(3, 2, dtype=torch.float64) * 4).requires_grad_()
    w = torch.rand(3, 1, dtype=torch.float64)
    assert gradcheck(lambda x, y: distribution_focal_loss(x, y, weight=w), (x, y))
    assert gradgradcheck(lambda x: distribution_focal_loss(x, y.detach()), (x,))


def test_dfl_half_precision():
    x = logits(4, 8, scale=2.0).to(torch.bfloat16).requires_grad_()
    y = torch.tensor([0.0, 1.5, 6.2, 7.0])
    loss = distribution_focal_loss(x, y.to(torch.bfloat16))
    loss.backward()
    assert loss.dtype == torch.bfloat16 and torch.isfinite(x.grad).all()


# ---------------------------------------------------------------------------------------------
# Modules
# ---------------------------------------------------------------------------------------------


def test_modules_equal_functionals():
    x, t = logits(4, 3), quality_target(4, 3)
    w = torch.rand(3, dtype=torch.float64)
    assert torch.equal(QualityFocalLoss(beta=1.5, weight=w)(x, t),
                       quality_focal_loss(x, t, beta=1.5, weight=w))
    vfl = VarifocalLoss(alpha=0.5, gamma=1.0, iou_weighted=False, reduction="sum")
    assert torch.equal(vfl(x, t), varifocal_loss(x, t, alpha=0.5, gamma=1.0,
                                                 iou_weighted=False, reduction="sum"))
    vfl.gamma = 3.0
    assert torch.equal(vfl(x, t), varifocal_loss(x, t, alpha=0.5, gamma=3.0,
                                                 iou_weighted=False, reduction="sum"))
    xd, yd = logits(2, 4, 8), torch.rand(2, 4, dtype=torch.float64) * 7
    dfl = DistributionFocalLoss(weight=torch.ones(4), ignore_index=-1)
    assert torch.equal(dfl(xd, yd), distribution_focal_loss(xd, yd, weight=torch.ones(4),
                                                            ignore_index=-1))
    assert "weight" in dict(dfl.named_buffers())


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated")
def test_compile_without_graph_breaks():
    torch._dynamo.reset()
    x, t = logits(4, 3, dtype=torch.float32), quality_target(4, 3, dtype=torch.float32)
    for fn in (varifocal_loss, quality_focal_loss):
        compiled = torch.compile(fn, backend="aot_eager", fullgraph=True)
        torch.testing.assert_close(compiled(x.clone().requires_grad_(), t), fn(x, t))
    xd, yd = logits(2, 4, 6, dtype=torch.float32), torch.rand(2, 4) * 5
    compiled = torch.compile(distribution_focal_loss, backend="aot_eager", fullgraph=True)
    torch.testing.assert_close(compiled(xd, yd), distribution_focal_loss(xd, yd))
    torch._dynamo.reset()


def test_benchmark_variants_agree(monkeypatch):
    """benchmarks/detection.py runs its peer formulas on tiny inputs and they agree."""
    import importlib.util
    from pathlib import Path

    folder = Path(__file__).resolve().parents[1] / "benchmarks"
    monkeypatch.syspath_prepend(str(folder))
    spec = importlib.util.spec_from_file_location("_detection_benchmark",
                                                  folder / "detection.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    harness = bench.harness
    asl = {k: v for k, v in bench.ASL_VARIANTS.items() if k != "timm"}
    assert harness.agree((2, 6, 5), asl)["timm formula"][0] < 1e-4
    assert harness.agree((2, 6, 5), bench.VFL_VARIANTS)["mmdet formula"][0] < 1e-4
