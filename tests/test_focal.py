"""Sigmoid and softmax focal loss: references, gradients and identities."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from focal_helpers import (
    assert_matches,
    binary_target,
    class_target,
    grad_of,
    is_custom_function,
    logits,
    prob_target,
)
from torch.autograd import gradcheck, gradgradcheck

from focalkit import FocalLoss, backends
from focalkit import reference as R
from focalkit.functional import focal_modulation, sigmoid_focal_loss, softmax_focal_loss

GAMMAS = [0.0, 0.5, 1.0, 2.0, 3.7]
REDUCTIONS = ["none", "mean", "sum"]


def check_grads(fn, inputs, *, second_order=True, full=False):
    """gradcheck (and gradgradcheck) in float64; ``full`` compares whole Jacobians."""
    assert gradcheck(fn, inputs, fast_mode=not full)
    if second_order:
        assert gradgradcheck(fn, inputs, fast_mode=not full)


def sigmoid_alpha(kind, c, ndim):
    """None, a float, or a per-class tensor along dimension 1 of an ``ndim``-D input."""
    if kind == "tensor":
        return torch.rand(c, *([1] * (ndim - 2)), dtype=torch.float64)
    return kind


def softmax_alpha(kind, c):
    if kind == "list":
        return [0.5 + i for i in range(c)]  # per-class weights, larger than 1 allowed
    if kind == "tensor":
        return torch.rand(c, dtype=torch.float64) * 3
    return kind


# ---------------------------------------------------------------------------------------------
# Sigmoid focal loss against the reference
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("alpha", [None, 0.25, "tensor"])
@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_sigmoid_matches_reference(path, alpha, gamma, reduction):
    x = logits(2, 3, 4, 5)
    y = binary_target(2, 3, 4, 5)
    y[0] = torch.rand(3, 4, 5, dtype=torch.float64)  # some soft labels
    a = sigmoid_alpha(alpha, 3, 4)
    loss = sigmoid_focal_loss(x, y, alpha=a, gamma=gamma, reduction=reduction)
    assert_matches(loss, R.sigmoid_focal_loss(x, y, alpha=a, gamma=gamma, reduction=reduction))
    assert loss.shape == (x.shape if reduction == "none" else ())


@pytest.mark.parametrize("pos_weight", [None, 3.0, "tensor"])
@pytest.mark.parametrize("weight", [None, "tensor"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_sigmoid_pos_weight_and_weight_match_reference(path, pos_weight, weight, reduction):
    x = logits(3, 4, 6)
    y = binary_target(3, 4, 6, soft=True)
    pw = torch.rand(4, 1, dtype=torch.float64) * 4 if pos_weight == "tensor" else pos_weight
    w = torch.rand(3, 1, 6, dtype=torch.float64) if weight == "tensor" else None
    kwargs = dict(alpha=0.3, gamma=1.5, pos_weight=pw, weight=w, reduction=reduction)
    assert_matches(sigmoid_focal_loss(x, y, **kwargs), R.sigmoid_focal_loss(x, y, **kwargs))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("ignore_index", [-1, 2])
@pytest.mark.parametrize("weights", [False, True])
def test_sigmoid_ignore_index_matches_reference(path, reduction, ignore_index, weights):
    x = logits(4, 3, 5)
    y = binary_target(4, 3, 5, soft=True)
    y[torch.rand(y.shape) < 0.3] = ignore_index
    kwargs = dict(alpha=0.25, gamma=2.0, reduction=reduction, ignore_index=ignore_index)
    if weights:
        kwargs.update(alpha=torch.rand(3, 1, dtype=torch.float64),
                      pos_weight=torch.rand(3, 1, dtype=torch.float64) * 3,
                      weight=torch.rand(4, 1, 5, dtype=torch.float64))
    assert_matches(sigmoid_focal_loss(x, y, **kwargs), R.sigmoid_focal_loss(x, y, **kwargs))


@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_sigmoid_from_probabilities_matches_reference(gamma, reduction):
    p = torch.rand(3, 4, 5, dtype=torch.float64)
    p[0, 0, :4] = torch.tensor([0.0, 1.0, 0.0, 1.0], dtype=torch.float64)
    y = binary_target(3, 4, 5, soft=True)
    y[0, 0, :4] = torch.tensor([1.0, 0.0, 0.0, 1.0], dtype=torch.float64)
    kwargs = dict(alpha=0.4, gamma=gamma, pos_weight=torch.tensor(2.0, dtype=torch.float64),
                  reduction=reduction)
    loss = sigmoid_focal_loss(p, y, from_logits=False, **kwargs)
    assert_matches(loss, R.sigmoid_focal_loss(p, y, from_logits=False, **kwargs))
    assert torch.isfinite(loss).all()


def test_sigmoid_probabilities_agree_with_logits():
    x = logits(4, 6, scale=2.0)
    y = binary_target(4, 6, soft=True)
    from_p = sigmoid_focal_loss(torch.sigmoid(x), y, from_logits=False, reduction="none")
    assert_matches(from_p, sigmoid_focal_loss(x, y, reduction="none").numpy(), rtol=1e-9)


@pytest.mark.parametrize("shape", [(7,), (5, 3), (2, 3, 4, 5), (2, 3, 2, 3, 4)])
def test_sigmoid_any_shape(path, shape):
    x = logits(*shape)
    y = binary_target(*shape)
    assert_matches(sigmoid_focal_loss(x, y, reduction="none"),
                   R.sigmoid_focal_loss(x, y, reduction="none"))


def test_sigmoid_fast_path_is_the_eager_default(path):
    x = logits(4, 3, requires_grad=True)
    loss = sigmoid_focal_loss(x, binary_target(4, 3))
    assert is_custom_function(loss) == (path == "fast")


def test_focal_modulation_matches_formula():
    x = logits(4, 5)
    y = binary_target(4, 5, soft=True)
    p = torch.sigmoid(x)
    p_t = p * y + (1 - p) * (1 - y)
    expected = (1 - p_t) ** 1.5 * (0.3 * y + 0.7 * (1 - y))
    torch.testing.assert_close(focal_modulation(x, y, gamma=1.5, alpha=0.3), expected,
                               rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(focal_modulation(x, y, gamma=0.0, alpha=None),
                               torch.ones_like(x))


# ---------------------------------------------------------------------------------------------
# Softmax focal loss against the reference
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("alpha", [None, 0.5, 2.0, "list", "tensor"])
@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_softmax_matches_reference(path, alpha, gamma, reduction):
    x = logits(2, 4, 3, 5)
    t = class_target(2, 4, 3, 5, ignore_index=-100, ignore_fraction=0.2)
    a = softmax_alpha(alpha, 4)
    loss = softmax_focal_loss(x, t, alpha=a, gamma=gamma, reduction=reduction)
    assert_matches(loss, R.softmax_focal_loss(x, t, alpha=a, gamma=gamma, reduction=reduction))
    assert loss.shape == (t.shape if reduction == "none" else ())


@pytest.mark.parametrize("spatial", [(), (6,), (3, 4), (2, 3, 4)])
@pytest.mark.parametrize("ignore_index", [-100, 0, 2])
def test_softmax_shapes_and_ignore_index(path, spatial, ignore_index):
    x = logits(3, 4, *spatial)
    t = class_target(3, 4, *spatial, ignore_index=ignore_index, ignore_fraction=0.3)
    for reduction in REDUCTIONS:
        kwargs = dict(alpha="list", gamma=2.0, reduction=reduction, ignore_index=ignore_index)
        kwargs["alpha"] = softmax_alpha("list", 4)
        assert_matches(softmax_focal_loss(x, t, **kwargs), R.softmax_focal_loss(x, t, **kwargs))


@pytest.mark.parametrize("label_smoothing", [0.1, 0.5, 1.0])
@pytest.mark.parametrize("alpha", [None, "tensor"])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_softmax_label_smoothing_matches_reference(label_smoothing, alpha, gamma, reduction):
    x = logits(3, 5, 4)
    t = class_target(3, 5, 4, ignore_index=-100, ignore_fraction=0.2)
    kwargs = dict(alpha=softmax_alpha(alpha, 5), gamma=gamma, reduction=reduction,
                  label_smoothing=label_smoothing)
    assert_matches(softmax_focal_loss(x, t, **kwargs), R.softmax_focal_loss(x, t, **kwargs))


@pytest.mark.parametrize("spatial", [(), (3, 4), (2, 2, 3)])
@pytest.mark.parametrize("alpha", [None, 0.7, "tensor"])
@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_softmax_probability_targets_match_reference(spatial, alpha, gamma, label_smoothing):
    x = logits(2, 3, *spatial)
    q = prob_target(2, 3, *spatial)
    for reduction in REDUCTIONS:
        kwargs = dict(alpha=softmax_alpha(alpha, 3), gamma=gamma, reduction=reduction,
                      label_smoothing=label_smoothing)
        loss = softmax_focal_loss(x, q, **kwargs)
        assert_matches(loss, R.softmax_focal_loss(x, q, **kwargs))
        if reduction == "none":
            assert loss.shape == (2, *spatial)


def test_softmax_fast_path_is_the_eager_default(path):
    x = logits(4, 3, requires_grad=True)
    loss = softmax_focal_loss(x, class_target(4, 3))
    assert is_custom_function(loss) == (path == "fast")


# ---------------------------------------------------------------------------------------------
# gradcheck and gradgradcheck
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", ["plain", "alpha_tensor", "weights", "ignore", "soft"])
def test_sigmoid_gradcheck(path, reduction, case):
    x = logits(2, 3, 4, scale=2.0, requires_grad=True)
    y = binary_target(2, 3, 4, soft=case == "soft")
    kwargs = dict(alpha=0.25, gamma=1.5, reduction=reduction)
    if case == "alpha_tensor":
        kwargs.update(alpha=torch.rand(3, 1, dtype=torch.float64), gamma=0.5)
    elif case == "weights":
        kwargs.update(pos_weight=torch.rand(3, 1, dtype=torch.float64) * 3,
                      weight=torch.rand(2, 1, 4, dtype=torch.float64), gamma=2.0)
    elif case == "ignore":
        y[0, 0] = -1.0
        kwargs.update(ignore_index=-1, gamma=3.7)

    def fn(inp):
        return sigmoid_focal_loss(inp, y, **kwargs)

    check_grads(fn, (x,), full=reduction == "none" and case == "ignore")


@pytest.mark.parametrize("gamma", [0.5, 2.0])
def test_sigmoid_gradcheck_with_respect_to_target_and_weights(gamma):
    x = logits(3, 4, scale=2.0, requires_grad=True)
    y = binary_target(3, 4, soft=True).clamp(0.05, 0.95).requires_grad_()
    alpha = torch.rand(4, dtype=torch.float64, requires_grad=True)
    weight = torch.rand(3, 1, dtype=torch.float64, requires_grad=True)
    pos_weight = (torch.rand(4, dtype=torch.float64) + 0.5).requires_grad_()

    def fn(inp, tgt, a, w, pw):
        return sigmoid_focal_loss(inp, tgt, alpha=a, gamma=gamma, weight=w, pos_weight=pw)

    check_grads(fn, (x, y, alpha, weight, pos_weight), second_order=gamma == 2.0)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_sigmoid_from_probabilities_gradcheck(reduction):
    p = (torch.rand(3, 4, dtype=torch.float64) * 0.9 + 0.05).requires_grad_()
    y = binary_target(3, 4, soft=True)

    def fn(inp):
        return sigmoid_focal_loss(inp, y, from_logits=False, gamma=2.0, reduction=reduction)

    check_grads(fn, (p,), second_order=False, full=reduction == "none")


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", ["plain", "alpha", "ignore", "gamma_fraction", "spatial"])
def test_softmax_gradcheck(path, reduction, case):
    shape = (2, 4, 3) if case == "spatial" else (5, 4)
    x = logits(*shape, scale=2.0, requires_grad=True)
    t = class_target(shape[0], 4, *shape[2:])
    kwargs = dict(gamma=2.0, reduction=reduction)
    if case == "alpha":
        kwargs.update(alpha=[0.5, 1.0, 2.0, 0.25])
    elif case == "ignore":
        t.view(-1)[:2] = -100
        kwargs.update(gamma=3.7)
    elif case == "gamma_fraction":
        kwargs.update(gamma=0.5)

    def fn(inp):
        return softmax_focal_loss(inp, t, **kwargs)

    check_grads(fn, (x,), full=reduction == "none" and case == "ignore")


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("label_smoothing", [0.0, 0.3])
def test_softmax_probability_target_gradcheck(reduction, label_smoothing):
    x = logits(3, 4, 2, scale=2.0, requires_grad=True)
    q = prob_target(3, 4, 2).requires_grad_()
    alpha = (torch.rand(4, dtype=torch.float64) + 0.5).requires_grad_()

    def fn(inp, tgt, a):
        return softmax_focal_loss(inp, tgt, alpha=a, gamma=1.5, reduction=reduction,
                                  label_smoothing=label_smoothing)

    check_grads(fn, (x, q, alpha))


def test_softmax_label_smoothing_gradcheck():
    x = logits(4, 3, 2, scale=2.0, requires_grad=True)
    t = class_target(4, 3, 2, ignore_index=-100, ignore_fraction=0.2)

    def fn(inp):
        return softmax_focal_loss(inp, t, alpha=[1.0, 2.0, 0.5], label_smoothing=0.2)

    check_grads(fn, (x,), full=True)


@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_fast_and_plain_gradients_agree(gamma, reduction):
    """The closed-form gradient equals autograd's gradient of the plain formula."""
    x = logits(3, 4, 5)
    y = binary_target(3, 4, 5, soft=True)
    t = class_target(3, 4, 5, ignore_index=-100, ignore_fraction=0.2)
    alpha_c = torch.rand(4, 1, dtype=torch.float64)

    def sig(inp):
        return sigmoid_focal_loss(inp, y, alpha=alpha_c, gamma=gamma, reduction=reduction,
                                  pos_weight=torch.tensor(2.0, dtype=torch.float64))

    def soft(inp):
        return softmax_focal_loss(inp, t, alpha=[1.0, 2.0, 0.5, 0.1], gamma=gamma,
                                  reduction=reduction)

    fast = [grad_of(sig, x), grad_of(soft, x)]
    with backends.use("plain"):
        plain = [grad_of(sig, x), grad_of(soft, x)]
    for (loss_f, grad_f), (loss_p, grad_p) in zip(fast, plain, strict=True):
        torch.testing.assert_close(loss_f, loss_p, rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(grad_f, grad_p, rtol=1e-10, atol=1e-14)


# ---------------------------------------------------------------------------------------------
# Identities, with gradients
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("with_weights", [False, True])
@pytest.mark.parametrize("soft", [False, True])
def test_sigmoid_gamma0_is_bce_with_logits(path, reduction, with_weights, soft):
    x = logits(3, 4, 5)
    y = binary_target(3, 4, 5, soft=soft)
    extra = {}
    if with_weights:
        extra = dict(pos_weight=torch.rand(4, 1, dtype=torch.float64) * 3,
                     weight=torch.rand(3, 1, 5, dtype=torch.float64))
    loss, grad = grad_of(lambda i: sigmoid_focal_loss(i, y, alpha=None, gamma=0.0,
                                                      reduction=reduction, **extra), x)
    loss_ref, grad_ref = grad_of(lambda i: F.binary_cross_entropy_with_logits(
        i, y, reduction=reduction, **extra), x)
    torch.testing.assert_close(loss, loss_ref, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(grad, grad_ref, rtol=1e-12, atol=1e-14)


def test_sigmoid_gamma0_from_probabilities_is_bce():
    p = torch.rand(4, 5, dtype=torch.float64) * 0.98 + 0.01
    y = binary_target(4, 5, soft=True)
    loss, grad = grad_of(lambda i: sigmoid_focal_loss(i, y, alpha=None, gamma=0.0,
                                                      from_logits=False), p)
    loss_ref, grad_ref = grad_of(lambda i: F.binary_cross_entropy(i, y), p)
    torch.testing.assert_close(loss, loss_ref, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(grad, grad_ref, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("ignore_index", [-100, 1])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.25])
@pytest.mark.parametrize("spatial", [(), (3, 4)])
def test_softmax_gamma0_is_cross_entropy(path, reduction, ignore_index, label_smoothing,
                                         spatial):
    x = logits(3, 4, *spatial)
    t = class_target(3, 4, *spatial, ignore_index=ignore_index, ignore_fraction=0.3)
    kwargs = dict(reduction=reduction, ignore_index=ignore_index,
                  label_smoothing=label_smoothing)
    loss, grad = grad_of(lambda i: softmax_focal_loss(i, t, gamma=0.0, **kwargs), x)
    loss_ref, grad_ref = grad_of(lambda i: F.cross_entropy(i, t, **kwargs), x)
    torch.testing.assert_close(loss, loss_ref, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(grad, grad_ref, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("label_smoothing", [0.0, 0.25])
def test_softmax_gamma0_probability_target_is_cross_entropy(reduction, label_smoothing):
    x = logits(3, 4, 2, 2)
    q = prob_target(3, 4, 2, 2)
    kwargs = dict(reduction=reduction, label_smoothing=label_smoothing)
    loss, grad = grad_of(lambda i: softmax_focal_loss(i, q, gamma=0.0, **kwargs), x)
    loss_ref, grad_ref = grad_of(lambda i: F.cross_entropy(i, q, **kwargs), x)
    torch.testing.assert_close(loss, loss_ref, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(grad, grad_ref, rtol=1e-12, atol=1e-14)


def test_softmax_constant_alpha_scales_the_loss(path):
    x = logits(4, 3, 5)
    t = class_target(4, 3, 5)
    torch.testing.assert_close(softmax_focal_loss(x, t, alpha=2.5),
                               2.5 * softmax_focal_loss(x, t), rtol=1e-12, atol=0)


@pytest.mark.parametrize("alpha", [None, 0.5, "tensor"])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_one_hot_probability_target_equals_index_target(path, alpha, gamma, reduction):
    x = logits(3, 4, 2, 3)
    t = class_target(3, 4, 2, 3)
    q = F.one_hot(t, 4).movedim(-1, 1).double()
    a = softmax_alpha(alpha, 4)
    kwargs = dict(alpha=a, gamma=gamma, reduction=reduction)
    loss_i, grad_i = grad_of(lambda i: softmax_focal_loss(i, t, **kwargs), x)
    loss_q, grad_q = grad_of(lambda i: softmax_focal_loss(i, q, **kwargs), x)
    torch.testing.assert_close(loss_q, loss_i, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(grad_q, grad_i, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_sigmoid_ignore_index_equals_dropping(path, reduction):
    x = logits(40)
    y = binary_target(40, soft=True)
    ignored = torch.rand(40) < 0.4
    y_ignored = torch.where(ignored, torch.tensor(-1.0, dtype=torch.float64), y)
    kwargs = dict(alpha=0.25, gamma=2.0, reduction=reduction)
    loss, grad = grad_of(lambda i: sigmoid_focal_loss(i, y_ignored, ignore_index=-1, **kwargs),
                         x)
    kept = ~ignored
    loss_kept, grad_kept = grad_of(lambda i: sigmoid_focal_loss(i, y[kept], **kwargs), x[kept])
    torch.testing.assert_close(loss, loss_kept, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(grad[kept], grad_kept, rtol=1e-12, atol=1e-14)
    assert (grad[ignored] == 0).all()


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_softmax_ignore_index_equals_dropping(path, reduction, label_smoothing):
    x = logits(30, 5)
    t = class_target(30, 5)
    ignored = torch.rand(30) < 0.4
    kwargs = dict(alpha=[1.0, 2.0, 0.5, 1.5, 3.0], gamma=2.0, reduction=reduction,
                  label_smoothing=label_smoothing)
    t_ignored = torch.where(ignored, torch.tensor(-100), t)
    loss, grad = grad_of(lambda i: softmax_focal_loss(i, t_ignored, **kwargs), x)
    kept = ~ignored
    loss_kept, grad_kept = grad_of(lambda i: softmax_focal_loss(i, t[kept], **kwargs), x[kept])
    torch.testing.assert_close(loss, loss_kept, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(grad[kept], grad_kept, rtol=1e-12, atol=1e-14)
    assert (grad[ignored] == 0).all()


def test_sum_is_a_true_sum_and_mean_divides_by_count(path):
    x = logits(3, 4, 5)
    y = binary_target(3, 4, 5)
    none = sigmoid_focal_loss(x, y, reduction="none")
    torch.testing.assert_close(sigmoid_focal_loss(x, y, reduction="sum"), none.sum())
    torch.testing.assert_close(sigmoid_focal_loss(x, y, reduction="mean"), none.mean())
    t = class_target(3, 4, 5, ignore_index=-100, ignore_fraction=0.3)
    none = softmax_focal_loss(x, t, reduction="none")
    torch.testing.assert_close(softmax_focal_loss(x, t, reduction="sum"), none.sum())
    torch.testing.assert_close(softmax_focal_loss(x, t, reduction="mean"),
                               none.sum() / (t != -100).sum())


def test_confident_predictions_keep_full_relative_accuracy(path):
    """Tiny losses of confident, correct predictions are accurate relative to their size.

    ``x_t - logsumexp(x)`` would carry the rounding error of the largest logit (about 4e-15
    here); the losses form :math:`\\log p_t` the way ``log_softmax`` does, whose error is that
    of rounding a number near 1 (about 1e-22 on a loss of 1e-13).
    """
    margins = torch.tensor([5.0, 12.0, 20.0, 28.0, 33.0], dtype=torch.float64)
    x = torch.stack([margins + 7.0, torch.full_like(margins, 7.0), torch.full_like(margins, 4.0)],
                    dim=1)
    t = torch.zeros(5, dtype=torch.long)
    for gamma in (0.0, 0.5, 2.0):
        loss = softmax_focal_loss(x, t, gamma=gamma, reduction="none")
        assert_matches(loss, R.softmax_focal_loss(x, t, gamma=gamma, reduction="none"),
                       atol=1e-20)
    xs = torch.cat([margins, -margins]) + 0.0
    y = torch.cat([torch.ones(5), torch.zeros(5)]).double()
    for gamma in (0.0, 0.5, 2.0):
        loss = sigmoid_focal_loss(xs, y, gamma=gamma, reduction="none")
        assert_matches(loss, R.sigmoid_focal_loss(xs, y, gamma=gamma, reduction="none"), atol=0)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int8, torch.int16, torch.int32])
def test_softmax_accepts_any_integer_index_dtype(path, dtype):
    x = logits(3, 4, 5)
    t = class_target(3, 4, 5)
    t[0, 0] = 3
    expected = grad_of(lambda i: softmax_focal_loss(i, t, alpha=[1.0, 2.0, 3.0, 4.0]), x)
    actual = grad_of(lambda i: softmax_focal_loss(i, t.to(dtype), alpha=[1.0, 2.0, 3.0, 4.0]),
                     x)
    for a, e in zip(actual, expected, strict=True):
        torch.testing.assert_close(a, e, rtol=0, atol=0)
    if dtype == torch.uint8:  # segmentation masks marking "void" with 255
        t255 = torch.where(torch.rand(3, 5) < 0.3, 255, t).to(dtype)
        torch.testing.assert_close(
            softmax_focal_loss(x, t255, ignore_index=255),
            softmax_focal_loss(x, torch.where(t255 == 255, -100, t255.long())))


def test_losses_under_no_grad_and_inference_mode(path):
    x = logits(3, 4, 5, requires_grad=True)
    y = binary_target(3, 4, 5)
    t = class_target(3, 4, 5)
    expected = [sigmoid_focal_loss(x, y).detach(), softmax_focal_loss(x, t).detach()]
    for context in (torch.no_grad, torch.inference_mode):
        with context():
            actual = [sigmoid_focal_loss(x, y), softmax_focal_loss(x, t)]
        for a, e in zip(actual, expected, strict=True):
            assert not a.requires_grad
            torch.testing.assert_close(a, e, rtol=0, atol=0)


def _extra_saved_elements(loss_fn, x, *inputs):
    """Elements saved for backward by ``loss_fn`` beyond ``x`` and ``inputs`` themselves."""
    known = {t.data_ptr() for t in (x, *inputs)}
    saved = []

    def pack(t):
        saved.append(t)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss_fn(x, *inputs)
    return sum(t.numel() for t in saved if t.data_ptr() not in known)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_closed_form_paths_save_little_for_backward(reduction):
    """Sigmoid: at most one input-sized buffer; softmax: at most a quarter of the input."""
    x = logits(2, 19, 8, 8, dtype=torch.float32, requires_grad=True)
    y = binary_target(2, 19, 8, 8, dtype=torch.float32)
    extra = _extra_saved_elements(lambda i, tt: sigmoid_focal_loss(i, tt, reduction=reduction),
                                  x, y)
    assert extra <= x.numel() + 1
    t = class_target(2, 19, 8, 8)
    extra = _extra_saved_elements(lambda i, tt: softmax_focal_loss(i, tt, reduction=reduction),
                                  x, t)
    assert extra <= x.numel() // 4


@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_softmax_gradcheck_with_respect_to_alpha(label_smoothing):
    x = logits(4, 3, 2, scale=2.0, requires_grad=True)
    t = class_target(4, 3, 2, ignore_index=-100, ignore_fraction=0.2)
    alpha = (torch.rand(3, dtype=torch.float64) + 0.5).requires_grad_()

    def fn(inp, a):
        return softmax_focal_loss(inp, t, alpha=a, gamma=2.0, label_smoothing=label_smoothing)

    check_grads(fn, (x, alpha), full=True)


# ---------------------------------------------------------------------------------------------
# What the argument checks accept
# ---------------------------------------------------------------------------------------------


def test_softmax_alpha_above_one_is_a_valid_class_weight():
    loss = softmax_focal_loss(torch.randn(4, 3), torch.zeros(4, dtype=torch.long),
                              alpha=[0.5, 1.0, 7.0])
    assert torch.isfinite(loss)


def test_ignore_index_values_pass_the_range_checks():
    x, classes = torch.zeros(4, 3), torch.zeros(4, dtype=torch.long)
    assert torch.isfinite(sigmoid_focal_loss(torch.zeros(2, 3), torch.full((2, 3), -1.0),
                                             ignore_index=-1))
    assert torch.isfinite(softmax_focal_loss(x, classes - 100))
    assert torch.isfinite(softmax_focal_loss(x, classes + 255, ignore_index=255))
    assert FocalLoss("multiclass", ignore_index=255)(x, classes + 255) == 0


def test_probability_targets_with_the_default_ignore_index():
    x, q = torch.randn(4, 3), torch.softmax(torch.randn(4, 3), dim=1)
    expected = softmax_focal_loss(x, q)
    torch.testing.assert_close(softmax_focal_loss(x, q, ignore_index=None), expected)
    torch.testing.assert_close(FocalLoss("multiclass")(x, q), expected)


def test_ignore_values_outside_the_unit_interval_still_work():
    x, y = torch.randn(2, 3), torch.tensor([[0.0, 1.0, -1.0], [2.0, 1.0, 0.0]])
    kept = torch.tensor([[True, True, False], [False, True, True]])
    loss = sigmoid_focal_loss(x, y.clamp(0, 1), reduction="none") * kept
    torch.testing.assert_close(sigmoid_focal_loss(x, torch.where(kept, y, -1.0),
                                                  ignore_index=-1, reduction="sum"), loss.sum())
    assert torch.isfinite(sigmoid_focal_loss(x, torch.where(kept, y, 2.0), ignore_index=2))
