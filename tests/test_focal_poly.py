"""The Poly-1 term of the focal losses: ``epsilon * (1 - p_t) ** (gamma + 1)``."""

from __future__ import annotations

import pytest
import torch
from focal_helpers import assert_matches, binary_target, class_target, logits, prob_target

from focalkit import FocalLoss, SigmoidFocalLoss, SoftmaxFocalLoss, backends
from focalkit.functional import poly1_cross_entropy, sigmoid_focal_loss, softmax_focal_loss
from focalkit.reference import focal as ref

EPSILONS = [-1.0, -0.4, 1.0, 2.5]


@pytest.mark.parametrize("epsilon", EPSILONS)
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
@pytest.mark.parametrize("options", [
    {},
    {"alpha": 0.25, "reduction": "none"},
    {"alpha": 0.7, "pos_weight": torch.tensor([0.5, 2.0, 1.0], dtype=torch.float64),
     "weight": torch.tensor([[1.0], [0.3], [2.0], [0.0]], dtype=torch.float64)},
    {"alpha": None, "reduction": "sum", "from_logits": False},
], ids=["default", "alpha-none", "weights", "probabilities"])
def test_sigmoid_matches_reference(epsilon, gamma, options):
    x = logits(4, 3)
    if options.get("from_logits") is False:
        x = torch.sigmoid(x)
    y = binary_target(4, 3, soft=True)
    loss = sigmoid_focal_loss(x, y, gamma=gamma, epsilon=epsilon, **options)
    assert_matches(loss, ref.sigmoid_focal_loss(x, y, gamma=gamma, epsilon=epsilon, **options))


def test_sigmoid_ignored_entries_take_no_poly_term():
    x, y = logits(3, 4), binary_target(3, 4)
    y[0, :2] = -1.0
    loss = sigmoid_focal_loss(x, y, epsilon=2.0, ignore_index=-1, reduction="none")
    assert torch.equal(loss[0, :2], torch.zeros(2, dtype=torch.float64))
    assert_matches(loss, ref.sigmoid_focal_loss(x, y, epsilon=2.0, ignore_index=-1,
                                                reduction="none"))


@pytest.mark.parametrize("epsilon", EPSILONS)
@pytest.mark.parametrize("gamma", [0.0, 1.5, 2.0])
@pytest.mark.parametrize("target_kind", ["index", "smoothed", "probabilities"])
def test_softmax_matches_reference(epsilon, gamma, target_kind):
    x = logits(3, 4, 5)
    alpha = torch.tensor([0.5, 1.0, 2.0, 0.25], dtype=torch.float64)
    smoothing = 0.1 if target_kind == "smoothed" else 0.0
    if target_kind == "probabilities":
        t = prob_target(3, 4, 5)
        kwargs = {}
    else:
        t = class_target(3, 4, 5, ignore_index=-100, ignore_fraction=0.2)
        kwargs = {"ignore_index": -100}
    loss = softmax_focal_loss(x, t, alpha=alpha, gamma=gamma, epsilon=epsilon,
                              label_smoothing=smoothing, reduction="none", **kwargs)
    expected = ref.softmax_focal_loss(x, t, alpha=alpha, gamma=gamma, epsilon=epsilon,
                                      label_smoothing=smoothing, reduction="none", **kwargs)
    assert_matches(loss, expected)


@pytest.mark.parametrize("epsilon", [-0.5, 1.0])
def test_softmax_with_gamma_zero_is_poly1_cross_entropy(epsilon):
    x, t = logits(6, 4), class_target(6, 4)
    assert_matches(softmax_focal_loss(x, t, gamma=0.0, epsilon=epsilon),
                   poly1_cross_entropy(x, t, epsilon=epsilon))


@pytest.mark.parametrize("backend", ["plain", "blocked", "triton"])
def test_epsilon_zero_leaves_every_backend_unchanged(backend):
    x, y = logits(4, 6, dtype=torch.float32), binary_target(4, 6, dtype=torch.float32)
    xc, t = logits(3, 5, 4, dtype=torch.float32), class_target(3, 5, 4)
    with backends.use(backend):
        assert torch.equal(sigmoid_focal_loss(x, y, epsilon=0.0), sigmoid_focal_loss(x, y))
        assert torch.equal(softmax_focal_loss(xc, t, epsilon=0.0), softmax_focal_loss(xc, t))


@pytest.mark.parametrize("backend", ["blocked", "triton"])
def test_nonzero_epsilon_takes_the_plain_composition(backend):
    x, y = logits(4, 6, dtype=torch.float32), binary_target(4, 6, dtype=torch.float32)
    xc, t = logits(3, 5, 4, dtype=torch.float32), class_target(3, 5, 4)
    with backends.use(backend):
        fast = (sigmoid_focal_loss(x, y, epsilon=0.5), softmax_focal_loss(xc, t, epsilon=0.5))
    with backends.use("plain"):
        plain = (sigmoid_focal_loss(x, y, epsilon=0.5), softmax_focal_loss(xc, t, epsilon=0.5))
    assert fast == plain


@pytest.mark.parametrize("gamma", [0.5, 2.0])
def test_gradcheck(gamma):
    x = logits(3, 4, requires_grad=True)
    y = binary_target(3, 4, soft=True)
    assert torch.autograd.gradcheck(
        lambda x: sigmoid_focal_loss(x, y, gamma=gamma, epsilon=1.5, reduction="none"), (x,))
    xc = logits(3, 4, 2, requires_grad=True)
    t = class_target(3, 4, 2)
    q = prob_target(3, 4, 2)
    assert torch.autograd.gradcheck(
        lambda x: softmax_focal_loss(x, t, gamma=gamma, epsilon=-0.7, label_smoothing=0.1,
                                     reduction="none"), (xc,))
    assert torch.autograd.gradcheck(
        lambda x: softmax_focal_loss(x, q, gamma=gamma, epsilon=2.0), (xc,))


def test_modules_equal_functional():
    x, y = logits(4, 3), binary_target(4, 3)
    xc, t = logits(4, 3), class_target(4, 3)
    assert torch.equal(SigmoidFocalLoss(epsilon=1.0)(x, y), sigmoid_focal_loss(x, y, epsilon=1.0))
    assert torch.equal(SoftmaxFocalLoss(epsilon=-0.5)(xc, t),
                       softmax_focal_loss(xc, t, epsilon=-0.5))
    assert torch.equal(FocalLoss("multiclass", epsilon=2.0)(xc, t),
                       softmax_focal_loss(xc, t, epsilon=2.0))
    module = FocalLoss("binary")
    module.epsilon = 1.0
    assert module.epsilon == 1.0
    assert torch.equal(module(x, y), sigmoid_focal_loss(x, y, epsilon=1.0))
