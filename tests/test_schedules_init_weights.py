"""GammaScheduler, prior-bias initialisation and class weights."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from focalkit import (
    FocalLoss,
    FocalWrapper,
    GammaScheduler,
    SigmoidFocalLoss,
    SoftmaxFocalLoss,
    binary_alpha,
    class_weights,
    prior_bias,
    prior_bias_,
)

# ---------------------------------------------------------------------------------------------
# GammaScheduler
# ---------------------------------------------------------------------------------------------


def run(scheduler, steps):
    values = [scheduler.loss.gamma]
    for _ in range(steps):
        scheduler.step()
        values.append(scheduler.loss.gamma)
    return values


def test_constant_schedule():
    loss = SigmoidFocalLoss(gamma=0.5)
    scheduler = GammaScheduler(loss, schedule="constant", gamma_end=2.0)
    assert run(scheduler, 3) == [2.0] * 4
    assert GammaScheduler(SigmoidFocalLoss(gamma=1.5), schedule="constant").get_gamma() == 1.5


def test_linear_schedule():
    loss = SoftmaxFocalLoss(gamma=0.0)
    scheduler = GammaScheduler(loss, schedule="linear", gamma_start=1.0, gamma_end=3.0,
                               total_steps=4)
    assert run(scheduler, 6) == pytest.approx([1.0, 1.5, 2.0, 2.5, 3.0, 3.0, 3.0])


def test_linear_schedule_can_decrease():
    scheduler = GammaScheduler(SoftmaxFocalLoss(), schedule="linear", gamma_start=2.0,
                               gamma_end=0.0, total_steps=2)
    assert run(scheduler, 3) == pytest.approx([2.0, 1.0, 0.0, 0.0])


def test_cosine_schedule():
    scheduler = GammaScheduler(FocalLoss("multiclass"), schedule="cosine", gamma_start=0.0,
                               gamma_end=2.0, total_steps=4)
    expected = [2.0 * (1 - math.cos(math.pi * min(s / 4, 1))) / 2 for s in range(7)]
    assert run(scheduler, 6) == pytest.approx(expected)
    assert expected[2] == pytest.approx(1.0)


def test_step_schedule():
    scheduler = GammaScheduler(FocalWrapper(nn.BCEWithLogitsLoss()), schedule="step",
                               gamma_start=0.0, gamma_end=3.0, milestones=[2, 4, 5])
    assert run(scheduler, 6) == pytest.approx([0.0, 0.0, 1.0, 1.0, 2.0, 3.0, 3.0])


def test_gamma_end_defaults_to_the_loss_gamma():
    scheduler = GammaScheduler(SigmoidFocalLoss(gamma=2.5), total_steps=5)
    assert scheduler.gamma_end == 2.5 and scheduler.loss.gamma == 0.0
    assert scheduler.get_gamma(5) == 2.5 and scheduler.get_gamma(100) == 2.5


def test_state_dict_round_trip():
    loss = SoftmaxFocalLoss(gamma=2.0)
    scheduler = GammaScheduler(loss, schedule="step", gamma_end=2.0, milestones=[1, 3])
    for _ in range(2):
        scheduler.step()
    state = scheduler.state_dict()
    assert "loss" not in state and state["last_step"] == 2

    fresh_loss = SoftmaxFocalLoss(gamma=0.0)
    fresh = GammaScheduler(fresh_loss, schedule="linear", total_steps=10)
    fresh.load_state_dict(state)
    assert fresh_loss.gamma == loss.gamma == 1.0
    assert fresh.schedule == "step" and fresh.loss is fresh_loss
    fresh.step()
    scheduler.step()
    assert fresh_loss.gamma == loss.gamma == 2.0
    assert "last_step=3" in repr(fresh)


def test_state_dict_is_a_copy():
    scheduler = GammaScheduler(SoftmaxFocalLoss(), schedule="step", milestones=[1, 2])
    state = scheduler.state_dict()
    scheduler.step()
    assert state["last_step"] == 0


def test_scheduler_drives_any_object_with_a_gamma():
    class Holder:
        gamma = 5.0

    holder = Holder()
    run(GammaScheduler(holder, total_steps=2), 1)
    assert holder.gamma == 2.5


# ---------------------------------------------------------------------------------------------
# prior_bias / prior_bias_
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("prior", [0.01, 0.2, 0.5, 0.99, 1e-6])
def test_prior_bias_inverts_the_sigmoid(prior):
    b = prior_bias(prior)
    assert isinstance(b, float)
    assert 1 / (1 + math.exp(-b)) == pytest.approx(prior, rel=1e-12)
    assert b == pytest.approx(-math.log((1 - prior) / prior), rel=1e-15)


def test_prior_bias_default_is_the_retinanet_value():
    assert prior_bias() == pytest.approx(-4.59511985013459)


@pytest.mark.parametrize("make", [lambda: nn.Linear(4, 6), lambda: nn.Conv2d(3, 6, 1)])
def test_prior_bias_on_modules(make):
    module = make()
    weight = module.weight.detach().clone()
    assert prior_bias_(module, 0.05) is module
    torch.testing.assert_close(torch.sigmoid(module.bias), torch.full((6,), 0.05))
    assert torch.equal(module.weight, weight)
    assert module.bias.requires_grad and module.bias.grad is None


def test_prior_bias_on_a_tensor_and_per_class_sequences_tile():
    bias = torch.zeros(6, dtype=torch.float64)
    assert prior_bias_(bias, [0.1, 0.2, 0.3]) is bias
    expected = torch.tensor([0.1, 0.2, 0.3] * 2, dtype=torch.float64)
    torch.testing.assert_close(torch.sigmoid(bias), expected, rtol=1e-12, atol=0)
    bias = torch.zeros(2, 3)
    prior_bias_(bias, (0.5, 0.25, 0.125, 0.5, 0.25, 0.125))
    torch.testing.assert_close(torch.sigmoid(bias), torch.tensor([[0.5, 0.25, 0.125]] * 2))


def test_prior_bias_on_a_parameter_outside_no_grad():
    param = nn.Parameter(torch.zeros(3))
    prior_bias_(param, 0.5)
    assert param.requires_grad and torch.equal(param.detach(), torch.zeros(3))


def test_prior_bias_head_starts_at_the_prior_focal_loss():
    head = prior_bias_(nn.Conv2d(4, 2, 1), 0.01)
    nn.init.zeros_(head.weight)
    out = head(torch.randn(1, 4, 3, 3))
    torch.testing.assert_close(torch.sigmoid(out), torch.full_like(out, 0.01))


# ---------------------------------------------------------------------------------------------
# class_weights / binary_alpha
# ---------------------------------------------------------------------------------------------


COUNTS = [100, 10, 1, 50]


@pytest.mark.parametrize("method,formula", [
    ("inverse", lambda n, beta: 1 / n),
    ("sqrt_inverse", lambda n, beta: 1 / np.sqrt(n)),
    ("effective_number", lambda n, beta: (1 - beta) / (1 - beta ** n)),
])
@pytest.mark.parametrize("normalize", [False, True])
def test_class_weight_methods(method, formula, normalize):
    counts = np.array(COUNTS, dtype=np.float64)
    expected = formula(counts, 0.99)
    if normalize:
        expected = expected * len(counts) / expected.sum()
    w = class_weights(counts=COUNTS, method=method, beta=0.99, normalize=normalize)
    assert w.dtype == torch.float32 and w.shape == (4,)
    np.testing.assert_allclose(w.numpy(), expected, rtol=1e-6)
    assert w[2] == w.max() and w[0] == w.min()


def test_class_weights_accept_arrays_and_tensors():
    expected = class_weights(counts=COUNTS)
    assert torch.equal(class_weights(counts=np.array(COUNTS)), expected)
    assert torch.equal(class_weights(counts=torch.tensor(COUNTS)), expected)
    assert torch.equal(class_weights(counts=torch.tensor(COUNTS, dtype=torch.float64)), expected)
    assert float(expected.sum()) == pytest.approx(4.0)


def test_class_weights_from_labels():
    labels = torch.tensor([0, 0, 0, 1, 2, 2])
    w = class_weights(labels=labels, num_classes=3, normalize=False)
    torch.testing.assert_close(w, torch.tensor([1 / 3, 1.0, 0.5]))
    assert torch.equal(class_weights(labels=[0, 0, 0, 1, 2, 2], num_classes=3),
                       class_weights(counts=[3, 1, 2]))
    assert torch.equal(class_weights(labels=np.array([0, 0, 0, 1, 2, 2]), num_classes=3),
                       class_weights(counts=[3, 1, 2]))
    assert torch.equal(class_weights(counts=[3, 1, 2], num_classes=3),
                       class_weights(counts=[3, 1, 2]))
    empty = class_weights(labels=[], num_classes=2, method="effective_number")
    assert torch.equal(empty, torch.ones(2))


def test_effective_number_limits_and_missing_classes():
    flat = class_weights(counts=COUNTS, method="effective_number", beta=0.0)
    torch.testing.assert_close(flat, torch.ones(4))
    near_inverse = class_weights(counts=COUNTS, method="effective_number", beta=1 - 1e-9)
    torch.testing.assert_close(near_inverse, class_weights(counts=COUNTS), rtol=1e-4, atol=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        w = class_weights(counts=[0, 5, 10], method="effective_number", beta=0.9)
        assert torch.isfinite(w).all() and w[0] == w.max()
        w = class_weights(counts=[3, 0], method="effective_number", beta=0.0,
                          normalize=False)
        assert torch.equal(w, torch.ones(2))
        w = class_weights(labels=[0, 2, 0], num_classes=3, method="effective_number")
        assert torch.isfinite(w).all()


def test_zero_count_error_points_to_the_alternative():
    with pytest.raises(ValueError, match=r"class\(es\) \[0\] have none \(use 'effective_number'"):
        class_weights(counts=[0, 3], method="inverse")
    with pytest.raises(ValueError, match=r"class\(es\) \[2\] have none"):
        class_weights(labels=torch.tensor([0, 1, 1]), num_classes=3)


def test_class_weights_work_as_alpha_and_weight():
    from focalkit.functional import softmax_focal_loss

    w = class_weights(counts=[50, 5, 1])
    x = torch.randn(6, 3)
    t = torch.tensor([0, 1, 2, 0, 1, 2])
    assert torch.isfinite(softmax_focal_loss(x, t, alpha=w))
    assert torch.isfinite(torch.nn.functional.cross_entropy(x, t, weight=w))
    module = SoftmaxFocalLoss(alpha=w)
    assert torch.equal(module.alpha, w)


@pytest.mark.parametrize("fraction", [0.01, 0.1, 0.5, 0.9])
def test_binary_alpha_balances_the_two_classes(fraction):
    alpha = binary_alpha(fraction)
    assert alpha == pytest.approx(1 - fraction)
    assert alpha * fraction == pytest.approx((1 - alpha) * (1 - fraction))


def test_alpha_from_class_weights_turns_class_weights_into_the_sigmoid_alpha():
    from focalkit.weights import alpha_from_class_weights

    counts = [950, 50]
    balanced = alpha_from_class_weights(class_weights(counts=counts))
    assert balanced == pytest.approx(binary_alpha(0.05))
    cb = class_weights(counts=counts, method="effective_number", beta=0.99)
    assert alpha_from_class_weights(cb) == pytest.approx(float(cb[1] / cb.sum()))
    assert 0.5 < alpha_from_class_weights(cb) < binary_alpha(0.05)
    # the positives' weight is alpha, the negatives' 1 - alpha, as in the sigmoid loss
    x, y = torch.randn(64), (torch.rand(64) < 0.2).float()
    w = torch.tensor([1.0, 3.0])
    weighted = nn.functional.binary_cross_entropy_with_logits(
        x, y, weight=torch.where(y == 1, w[1], w[0]), reduction="sum")
    ours = SigmoidFocalLoss(alpha=alpha_from_class_weights(w), gamma=0.0, reduction="sum")(x, y)
    assert torch.allclose(ours * w.sum(), weighted)


@pytest.mark.parametrize("weights", [[1.0], [1.0, 2.0, 3.0], [0.0, 0.0], [-1.0, 2.0],
                                     [1.0, float("inf")]])
def test_alpha_from_class_weights_rejects(weights):
    from focalkit.weights import alpha_from_class_weights

    with pytest.raises(ValueError, match="weights must be two finite weights"):
        alpha_from_class_weights(weights)
