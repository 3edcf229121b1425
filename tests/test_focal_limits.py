"""Infinite logits (what a float16 overflow produces): the focal losses take torch's limits.

Wherever :func:`torch.nn.functional.binary_cross_entropy_with_logits` or
:func:`torch.nn.functional.cross_entropy` is finite at an infinite logit, so are the focal
losses and their gradients, on every backend.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from focalkit import backends
from focalkit.functional import sigmoid_focal_loss, softmax_focal_loss

BACKENDS = ["plain", "blocked", "triton"]
GAMMAS = [0.0, 0.5, 2.0, 3.0]
INF = float("inf")


def loss_and_grad(fn, x, *args, **kwargs):
    x = x.detach().clone().requires_grad_()
    loss = fn(x, *args, **kwargs)
    loss.sum().backward()
    return loss.detach(), x.grad


# ---------------------------------------------------------------------------------------------
# Sigmoid focal loss
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("alpha", [None, 0.25])
def test_sigmoid_infinite_logits_take_the_limits_of_bce(backend, gamma, alpha):
    # Right and infinitely confident: loss and gradient 0. Wrong: loss inf, gradient that of
    # BCE (the focal factor tends to 1 and its derivative times the BCE term to 0).
    x = torch.tensor([INF, -INF, INF, -INF, 1.5, -0.5])
    y = torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0, 0.0])
    with backends.use(backend):
        loss, grad = loss_and_grad(sigmoid_focal_loss, x, y, gamma=gamma, alpha=alpha,
                                   reduction="none")
    # torch's BCE is NaN at a right infinite logit (inf - inf), its gradient is finite
    _, bce_grad = loss_and_grad(F.binary_cross_entropy_with_logits, x, y, reduction="none")
    alpha_t = torch.ones(4) if alpha is None else alpha * y[:4] + (1 - alpha) * (1 - y[:4])
    assert torch.equal(loss[:4], torch.tensor([0.0, 0.0, INF, INF]))
    assert torch.equal(grad[:4], alpha_t * bce_grad[:4])
    assert torch.isfinite(loss[4:]).all() and torch.isfinite(grad).all()
    with backends.use("plain"):
        finite_loss, finite_grad = loss_and_grad(sigmoid_focal_loss, x[4:], y[4:],
                                                 gamma=gamma, alpha=alpha, reduction="none")
    torch.testing.assert_close(loss[4:], finite_loss)
    torch.testing.assert_close(grad[4:], finite_grad)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("gamma", [0.5, 2.0])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_sigmoid_right_infinite_logits_leave_a_finite_reduction(backend, gamma, reduction):
    x = torch.tensor([[INF, -INF, 0.3], [2.0, -1.0, INF]])
    y = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    with backends.use(backend):
        loss, grad = loss_and_grad(sigmoid_focal_loss, x, y, gamma=gamma,
                                   pos_weight=torch.tensor(2.0),
                                   reduction=reduction)
    with backends.use("plain"):
        # the limits: exactly the loss of the finite entries, whose count stays in the mean
        finite = torch.isfinite(x)
        parts = sigmoid_focal_loss(x[finite], y[finite], gamma=gamma,
                                   pos_weight=torch.tensor(2.0), reduction="sum")
    expected = parts / (x.numel() if reduction == "mean" else 1)
    torch.testing.assert_close(loss, expected)
    assert torch.isfinite(grad).all()
    assert torch.equal(grad[~torch.isfinite(x)], torch.zeros(3))


# ---------------------------------------------------------------------------------------------
# Softmax focal loss
# ---------------------------------------------------------------------------------------------


def _softmax_cases():
    x = torch.tensor([[-INF, 1.0, 2.0, 0.5], [0.0, -INF, 1.0, -INF], [0.3, -0.2, 0.1, 2.0]])
    index_at_inf = torch.tensor([0, 1, 3])  # the target logit is -inf
    index_beside_inf = torch.tensor([2, 0, 3])  # a masked -inf class beside the target
    probs = torch.tensor([[0.0, 0.5, 0.25, 0.25], [0.5, 0.0, 0.5, 0.0],
                          [0.1, 0.2, 0.3, 0.4]])
    return x, [("index at -inf", index_at_inf, 0.0), ("index at -inf, smoothed", index_at_inf, 0.1),
               ("masked class, smoothed", index_beside_inf, 0.1),
               ("probabilities", probs, 0.0), ("probabilities, smoothed", probs, 0.2)]


CASES = [name for name, _, _ in _softmax_cases()[1]]


def _case(name):
    x, cases = _softmax_cases()
    return (x,) + next((t, ls) for n, t, ls in cases if n == name)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("case", CASES)
def test_softmax_infinite_logits_keep_gradients_finite_where_cross_entropy_does(backend,
                                                                                gamma, case):
    x, target, smoothing = _case(case)
    alpha = torch.tensor([0.5, 1.0, 2.0, 0.25])
    with backends.use(backend):
        loss, grad = loss_and_grad(softmax_focal_loss, x, target, gamma=gamma, alpha=alpha,
                                   label_smoothing=smoothing, reduction="none")
    ce, ce_grad = loss_and_grad(F.cross_entropy, x, target, label_smoothing=smoothing,
                                reduction="none")
    assert torch.isfinite(ce_grad).all()
    assert torch.isfinite(grad).all()
    # infinite exactly where cross-entropy is; finite where it is finite or undefined (NaN,
    # from a zero target probability times log 0)
    assert torch.equal(torch.isinf(loss), torch.isinf(ce))
    assert not torch.isnan(loss).any()
    # the limit: the same loss and gradient as a logit too small for exp, in float64
    stand_in = torch.where(torch.isinf(x), -1e4, x).double()
    with backends.use("plain"):
        limit, limit_grad = loss_and_grad(softmax_focal_loss, stand_in, target,
                                          gamma=gamma, alpha=alpha.double(),
                                          label_smoothing=smoothing, reduction="none")
    finite = torch.isfinite(loss)
    torch.testing.assert_close(loss[finite], limit[finite].float())
    torch.testing.assert_close(grad, limit_grad.float())


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("gamma", [0.5, 2.0])
def test_softmax_minus_inf_target_logit_has_the_cross_entropy_gradient(backend, gamma):
    # p_t = 0: the focal factor is 1 and gamma's term vanishes, so the gradient is
    # cross-entropy's, softmax(x) - onehot(t).
    x = torch.tensor([[-INF, 1.0, 2.0], [0.5, -INF, -1.0]])
    t = torch.tensor([0, 1])
    with backends.use(backend):
        loss, grad = loss_and_grad(softmax_focal_loss, x, t, gamma=gamma, reduction="sum")
    ce, ce_grad = loss_and_grad(F.cross_entropy, x, t, reduction="sum")
    assert loss == ce == INF
    torch.testing.assert_close(grad, ce_grad)


@pytest.mark.parametrize("backend", BACKENDS)
def test_softmax_masked_classes_in_larger_blocks(backend):
    # A -inf column in every position (a masked class) and some -inf target logits, over
    # more positions than one block of the blocked kernel's class loop.
    x = torch.randn(2, 5, 40, 30)
    x[:, 3] = -INF
    t = torch.randint(0, 5, (2, 40, 30))
    t[0, 0, :4] = 3
    with backends.use(backend):
        loss, grad = loss_and_grad(softmax_focal_loss, x, t, gamma=2.0, reduction="none")
    assert torch.isinf(loss[0, 0, :4]).all()
    assert torch.isfinite(grad).all()
    # the masked class gets no gradient, but where it is the target: -1, cross-entropy's
    assert torch.equal(grad[:, 3], -(t == 3).float())
