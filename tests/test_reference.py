"""The NumPy references agree with torch.nn.functional (float64, rtol 1e-10)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from focal_helpers import assert_matches, class_target, logits, prob_target

from focalkit import reference as R

REDUCTIONS = ["none", "mean", "sum"]
SHAPES = [(5, 4), (2, 3, 4), (2, 3, 2, 3), (1, 2, 2, 2, 3)]


@pytest.mark.parametrize("shape", SHAPES)
def test_sigmoid_and_log_sigmoid(shape):
    x = logits(*shape, scale=20.0)
    assert_matches(torch.sigmoid(x), R.sigmoid(x))
    assert_matches(F.logsigmoid(x), R.log_sigmoid(x))


def test_log_sigmoid_extreme_logits_are_finite():
    x = torch.tensor([-1e4, -100.0, 0.0, 100.0, 1e4], dtype=torch.float64)
    assert np.isfinite(R.log_sigmoid(x)).all()
    assert_matches(F.logsigmoid(x), R.log_sigmoid(x))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("axis", [1, -1])
def test_softmax_and_log_softmax(shape, axis):
    x = logits(*shape, scale=30.0)
    assert_matches(torch.softmax(x, dim=axis), R.softmax(x, axis=axis))
    assert_matches(torch.log_softmax(x, dim=axis), R.log_softmax(x, axis=axis))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("with_weight", [False, True])
def test_binary_cross_entropy(reduction, with_weight):
    p = torch.rand(4, 3, 5, dtype=torch.float64)
    p[0, 0, :3] = torch.tensor([0.0, 1.0, 1e-60], dtype=torch.float64)  # clamped logs
    y = torch.rand(4, 3, 5, dtype=torch.float64)
    y[0, 0, :3] = torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64)
    weight = torch.rand(3, 1, dtype=torch.float64) if with_weight else None
    expected = R.binary_cross_entropy(p, y, weight=weight, reduction=reduction)
    assert_matches(F.binary_cross_entropy(p, y, weight=weight, reduction=reduction), expected)
    assert np.isfinite(expected).all()


def test_binary_cross_entropy_clamps_each_log_at_minus_100():
    p = torch.tensor([0.0, 1.0, 0.0, 1.0], dtype=torch.float64)
    y = torch.tensor([1.0, 0.0, 0.0, 1.0], dtype=torch.float64)
    assert_matches(torch.tensor(R.binary_cross_entropy(p, y, reduction="none")),
                   [100.0, 100.0, 0.0, 0.0])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("pos_weight_shape", [None, (), (3, 1)])
@pytest.mark.parametrize("weight_shape", [None, (4, 1, 1), (3, 5)])
@pytest.mark.parametrize("soft", [False, True])
def test_binary_cross_entropy_with_logits(reduction, pos_weight_shape, weight_shape, soft):
    x = logits(4, 3, 5, scale=10.0)
    y = torch.rand_like(x) if soft else torch.randint(0, 2, x.shape).double()
    pos_weight = None if pos_weight_shape is None else \
        torch.rand(pos_weight_shape, dtype=torch.float64) * 3
    weight = None if weight_shape is None else torch.rand(weight_shape, dtype=torch.float64)
    expected = R.binary_cross_entropy_with_logits(x, y, weight=weight, reduction=reduction,
                                                  pos_weight=pos_weight)
    actual = F.binary_cross_entropy_with_logits(x, y, weight=weight, reduction=reduction,
                                                pos_weight=pos_weight)
    assert_matches(actual, expected)


def test_binary_cross_entropy_with_logits_extreme_logits():
    x = torch.tensor([-1e4, -100.0, 100.0, 1e4], dtype=torch.float64)
    y = torch.tensor([1.0, 0.0, 1.0, 0.0], dtype=torch.float64)
    expected = R.binary_cross_entropy_with_logits(x, y, reduction="none")
    assert_matches(F.binary_cross_entropy_with_logits(x, y, reduction="none"), expected)
    assert_matches(torch.tensor(expected), [1e4, 0.0, 0.0, 1e4], atol=1e-40)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("with_weight", [False, True])
@pytest.mark.parametrize("ignore_index", [-100, 1])
@pytest.mark.parametrize("spatial", [(), (3,), (2, 3), (2, 2, 2)])
def test_nll_loss(reduction, with_weight, ignore_index, spatial):
    c = 4
    log_p = torch.log_softmax(logits(3, c, *spatial), dim=1)
    t = class_target(3, c, *spatial, ignore_index=ignore_index, ignore_fraction=0.3)
    weight = torch.rand(c, dtype=torch.float64) + 0.1 if with_weight else None
    expected = R.nll_loss(log_p, t, weight=weight, ignore_index=ignore_index, reduction=reduction)
    actual = F.nll_loss(log_p, t, weight=weight, ignore_index=ignore_index, reduction=reduction)
    assert_matches(actual, expected)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("with_weight", [False, True])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1, 1.0])
@pytest.mark.parametrize("spatial", [(), (3,), (2, 3), (1, 2, 3)])
def test_cross_entropy_index_target(reduction, with_weight, label_smoothing, spatial):
    c = 5
    x = logits(3, c, *spatial, scale=5.0)
    t = class_target(3, c, *spatial, ignore_index=-100, ignore_fraction=0.25)
    weight = torch.rand(c, dtype=torch.float64) + 0.1 if with_weight else None
    kwargs = dict(weight=weight, reduction=reduction, label_smoothing=label_smoothing)
    assert_matches(F.cross_entropy(x, t, **kwargs), R.cross_entropy(x, t, **kwargs))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("with_weight", [False, True])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.3])
@pytest.mark.parametrize("spatial", [(), (2, 3), (1, 2, 3)])
def test_cross_entropy_probability_target(reduction, with_weight, label_smoothing, spatial):
    c = 4
    x = logits(2, c, *spatial, scale=5.0)
    q = prob_target(2, c, *spatial)
    weight = torch.rand(c, dtype=torch.float64) + 0.1 if with_weight else None
    kwargs = dict(weight=weight, reduction=reduction, label_smoothing=label_smoothing)
    assert_matches(F.cross_entropy(x, q, **kwargs), R.cross_entropy(x, q, **kwargs))


def test_cross_entropy_ignore_index_inside_class_range():
    x = logits(6, 3)
    t = torch.tensor([0, 1, 2, 1, 1, 0])
    assert_matches(F.cross_entropy(x, t, ignore_index=1), R.cross_entropy(x, t, ignore_index=1))


def test_cross_entropy_all_ignored_mean_is_zero():
    x = logits(3, 4)
    t = torch.full((3,), -100)
    assert R.cross_entropy(x, t) == 0.0
    assert R.nll_loss(torch.log_softmax(x, 1), t) == 0.0


def test_references_accept_numpy_arrays():
    x = np.array([[1.0, -2.0, 0.5]])
    assert np.isclose(R.cross_entropy(x, np.array([2])), -R.log_softmax(x)[0, 2])
    assert np.isclose(R.binary_cross_entropy_with_logits(np.array([0.0]), np.array([1.0])),
                      np.log(2.0))
