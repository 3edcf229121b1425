"""Poly-1 cross-entropy: reference, cross-entropy identities and gradients."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from focal_helpers import assert_matches, class_target, logits, prob_target
from torch.autograd import gradcheck, gradgradcheck

from focalkit import Poly1CrossEntropyLoss
from focalkit import reference as R
from focalkit.functional import poly1_cross_entropy

REDUCTIONS = ["none", "mean", "sum"]


@pytest.mark.parametrize("epsilon", [-1.0, 0.0, 1.0, 2.5])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_index_targets_match_reference(epsilon, weighted, label_smoothing, reduction):
    x = logits(3, 4, 5)
    t = class_target(3, 4, 5, ignore_index=-100, ignore_fraction=0.2)
    kwargs = dict(epsilon=epsilon, label_smoothing=label_smoothing, reduction=reduction,
                  weight=torch.rand(4, dtype=torch.float64) if weighted else None)
    assert_matches(poly1_cross_entropy(x, t, **kwargs), R.poly1_cross_entropy(x, t, **kwargs))


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_probability_targets_match_reference(weighted, reduction):
    x, q = logits(3, 4, 2), prob_target(3, 4, 2)
    kwargs = dict(epsilon=0.5, label_smoothing=0.1, reduction=reduction,
                  weight=torch.rand(4, dtype=torch.float64) if weighted else None)
    assert_matches(poly1_cross_entropy(x, q, **kwargs), R.poly1_cross_entropy(x, q, **kwargs))


@pytest.mark.parametrize("kwargs", [dict(), dict(label_smoothing=0.3), dict(ignore_index=1),
                                    dict(weight="w"), dict(weight="w", label_smoothing=0.1)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_epsilon_zero_is_cross_entropy(kwargs, reduction):
    x = logits(4, 3, 2)
    t = class_target(4, 3, 2)
    if kwargs.get("weight") == "w":
        kwargs = {**kwargs, "weight": torch.tensor([0.2, 1.0, 3.0], dtype=torch.float64)}
    torch.testing.assert_close(poly1_cross_entropy(x, t, epsilon=0.0, reduction=reduction,
                                                   **kwargs),
                               F.cross_entropy(x, t, reduction=reduction, **kwargs))


def test_adds_epsilon_times_one_minus_pt():
    x, t = logits(6, 5), class_target(6, 5)
    p_t = torch.softmax(x, 1).gather(1, t[:, None]).squeeze(1)
    extra = poly1_cross_entropy(x, t, epsilon=2.0, reduction="none") - F.cross_entropy(
        x, t, reduction="none")
    torch.testing.assert_close(extra, 2.0 * (1 - p_t))


def test_matches_the_paper_formula_with_smoothed_labels():
    # The paper's code: pt = sum(labels * softmax), with the smoothed labels.
    x, t = logits(5, 4), class_target(5, 4)
    labels = F.one_hot(t, 4).double() * 0.9 + 0.1 / 4
    pt = (labels * torch.softmax(x, 1)).sum(1)
    expected = F.cross_entropy(x, labels, reduction="none") + 1.0 * (1 - pt)
    torch.testing.assert_close(poly1_cross_entropy(x, t, label_smoothing=0.1, reduction="none"),
                               expected)


def test_ignore_index_is_exact_and_empty_mean_is_zero():
    x = torch.tensor([[2.0, 0.1, 0.5], [float("nan"), 0.0, float("inf")]], requires_grad=True)
    t = torch.tensor([0, -100])
    loss = poly1_cross_entropy(x, t, weight=torch.tensor([0.5, 1.0, 2.0]))
    loss.backward()
    assert torch.isfinite(loss) and (x.grad[1] == 0).all()
    all_ignored = poly1_cross_entropy(x, torch.tensor([-100, -100]))
    assert all_ignored.item() == 0.0


@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_gradcheck(label_smoothing):
    x = logits(3, 4, 2, requires_grad=True)
    t = class_target(3, 4, 2, ignore_index=-100, ignore_fraction=0.2)
    w = torch.rand(4, dtype=torch.float64)

    def fn(x):
        return poly1_cross_entropy(x, t, weight=w, label_smoothing=label_smoothing)

    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))
    q = prob_target(3, 4, 2).requires_grad_()
    assert gradcheck(lambda x, q: poly1_cross_entropy(x, q, epsilon=-0.5), (x, q))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision(dtype):
    x = logits(8, 5, scale=5.0)
    t = class_target(8, 5)
    xh = x.to(dtype).requires_grad_()
    loss = poly1_cross_entropy(xh, t)
    loss.backward()
    assert loss.dtype == dtype and torch.isfinite(xh.grad).all()
    assert_matches(loss, R.poly1_cross_entropy(xh.detach().double(), t), rtol=1e-2, atol=1e-3)


def test_module_equals_functional():
    x, t = logits(5, 3), class_target(5, 3)
    module = Poly1CrossEntropyLoss(epsilon=0.5, weight=[1.0, 2.0, 0.5], label_smoothing=0.1)
    w = torch.tensor([1.0, 2.0, 0.5])
    assert torch.equal(module(x, t), poly1_cross_entropy(x, t, epsilon=0.5, weight=w,
                                                         label_smoothing=0.1))
    assert "weight" in dict(module.named_buffers())


@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated")
@pytest.mark.usefixtures("fresh_dynamo")
def test_compiles_without_graph_breaks():
    x, t = logits(4, 3, dtype=torch.float32), class_target(4, 3)
    compiled = torch.compile(poly1_cross_entropy, backend="aot_eager", fullgraph=True)
    torch.testing.assert_close(compiled(x, t, label_smoothing=0.1),
                               poly1_cross_entropy(x, t, label_smoothing=0.1))
