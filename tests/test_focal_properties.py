"""Invariants of the focal losses, checked on inputs drawn by hypothesis."""

from __future__ import annotations

import contextlib
from unittest import mock

import hypothesis.strategies as st
import torch
from hypothesis import given, settings
from hypothesis.extra.numpy import arrays

from focalkit import reference as R
from focalkit._kernels.blocked import blocks as _blocks
from focalkit.functional import sigmoid_focal_loss, softmax_focal_loss

FEW = settings(max_examples=25, deadline=None, derandomize=True)


@contextlib.contextmanager
def tiny_blocks(size=3):
    """Blocks of ``size`` elements, so that a permutation moves elements between blocks (the
    drawn problems would otherwise fit in one block of the blocked kernels)."""
    with (mock.patch.object(_blocks, "BLOCK", size),
          mock.patch.object(_blocks, "CLASS_BLOCK", size)):
        yield

finite_logits = st.floats(-30.0, 30.0, allow_nan=False, width=64)
unit = st.floats(0.0, 1.0, allow_nan=False, width=64)
gammas = st.floats(0.0, 5.0, allow_nan=False, width=64)


@st.composite
def binary_problems(draw):
    n = draw(st.integers(1, 12))
    x = torch.from_numpy(draw(arrays("float64", (n,), elements=finite_logits)))
    y = torch.from_numpy(draw(arrays("float64", (n,), elements=unit)))
    return x, y


@st.composite
def class_problems(draw):
    n = draw(st.integers(1, 6))
    c = draw(st.integers(2, 5))
    x = torch.from_numpy(draw(arrays("float64", (n, c), elements=finite_logits)))
    t = torch.tensor(draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))
    return x, t


@FEW
@given(binary_problems(), gammas, st.one_of(st.none(), unit))
def test_sigmoid_loss_is_non_negative_and_at_most_weighted_bce(problem, gamma, alpha):
    """(1 - p_t)**gamma <= 1, so focal loss never exceeds the (alpha-weighted) BCE."""
    x, y = problem
    loss = sigmoid_focal_loss(x, y, alpha=alpha, gamma=gamma, reduction="none")
    assert (loss >= 0).all()
    bce = sigmoid_focal_loss(x, y, alpha=alpha, gamma=0.0, reduction="none")
    assert (loss <= bce).all()
    reference = R.binary_cross_entropy_with_logits(x, y, reduction="none")
    if alpha is not None:
        reference = reference * (alpha * y + (1 - alpha) * (1 - y)).numpy()
    torch.testing.assert_close(bce, torch.from_numpy(reference), rtol=1e-12, atol=1e-300)


@FEW
@given(binary_problems(), gammas, gammas)
def test_sigmoid_loss_decreases_as_gamma_grows(problem, g1, g2):
    x, y = problem
    low, high = min(g1, g2), max(g1, g2)
    loss_low = sigmoid_focal_loss(x, y, gamma=low, reduction="none")
    loss_high = sigmoid_focal_loss(x, y, gamma=high, reduction="none")
    assert (loss_high <= loss_low).all()


@FEW
@given(class_problems(), gammas)
def test_softmax_loss_is_non_negative_and_at_most_cross_entropy(problem, gamma):
    x, t = problem
    loss = softmax_focal_loss(x, t, gamma=gamma, reduction="none")
    assert (loss >= 0).all()
    ce = softmax_focal_loss(x, t, gamma=0.0, reduction="none")
    assert (loss <= ce).all()
    reference = torch.from_numpy(R.cross_entropy(x, t, reduction="none"))
    torch.testing.assert_close(ce, reference, rtol=1e-12, atol=1e-15)


@FEW
@given(class_problems(), gammas, gammas)
def test_softmax_loss_decreases_as_gamma_grows(problem, g1, g2):
    x, t = problem
    low, high = min(g1, g2), max(g1, g2)
    loss_low = softmax_focal_loss(x, t, gamma=low, reduction="none")
    loss_high = softmax_focal_loss(x, t, gamma=high, reduction="none")
    assert (loss_high <= loss_low).all()


@FEW
@given(class_problems(), gammas, st.randoms(use_true_random=False))
def test_softmax_loss_is_invariant_to_permutations(problem, gamma, rng):
    """Permuting samples permutes the per-sample losses; relabelling classes (logits, targets
    and per-class alpha alike) changes nothing."""
    x, t = problem
    n, c = x.shape
    alpha = torch.linspace(0.5, 2.0, c, dtype=torch.float64)
    with tiny_blocks():
        loss = softmax_focal_loss(x, t, alpha=alpha, gamma=gamma, reduction="none")
        rows = torch.tensor(rng.sample(range(n), n))
        torch.testing.assert_close(
            softmax_focal_loss(x[rows], t[rows], alpha=alpha, gamma=gamma, reduction="none"),
            loss[rows], rtol=1e-12, atol=0)
        perm = torch.tensor(rng.sample(range(c), c))
        inverse = torch.argsort(perm)
        # Relabelling reorders the sum inside the log-sum-exp, whose rounding (a few ulps of
        # the largest logit) is the only difference an exact computation can show: for a
        # confident row such as [14, 0, 0] it is all of a loss of 1e-6.
        rounding = 4 * torch.finfo(x.dtype).eps * float(x.abs().max().clamp_min(1.0))
        torch.testing.assert_close(
            softmax_focal_loss(x[:, perm], inverse[t], alpha=alpha[perm], gamma=gamma,
                               reduction="none"), loss, rtol=1e-12, atol=rounding)


@FEW
@given(binary_problems(), gammas, st.randoms(use_true_random=False))
def test_sigmoid_mean_and_sum_are_permutation_invariant(problem, gamma, rng):
    x, y = problem
    perm = torch.tensor(rng.sample(range(len(x)), len(x)))
    with tiny_blocks():
        for reduction in ("mean", "sum"):
            torch.testing.assert_close(
                sigmoid_focal_loss(x[perm], y[perm], gamma=gamma, reduction=reduction),
                sigmoid_focal_loss(x, y, gamma=gamma, reduction=reduction),
                rtol=1e-12, atol=1e-300)


@FEW
@given(binary_problems(), gammas)
def test_sigmoid_label_flip_symmetry(problem, gamma):
    """Negating the logits and flipping the labels swaps the roles of alpha and 1 - alpha."""
    x, y = problem
    # The flip of a target is only exact when 1 - (1 - y) == y: a soft target of 1e-17 has
    # no float64 flip. Flip the flipped target back instead, so both sides see exact labels.
    flipped = 1 - y
    torch.testing.assert_close(
        sigmoid_focal_loss(-x, flipped, alpha=0.3, gamma=gamma, reduction="none"),
        sigmoid_focal_loss(x, 1 - flipped, alpha=0.7, gamma=gamma, reduction="none"),
        rtol=1e-9, atol=1e-300)


@FEW
@given(class_problems(), st.floats(-50.0, 50.0, allow_nan=False))
def test_softmax_loss_is_shift_invariant(problem, shift):
    x, t = problem
    torch.testing.assert_close(softmax_focal_loss(x + shift, t, reduction="none"),
                               softmax_focal_loss(x, t, reduction="none"),
                               rtol=1e-9, atol=1e-12)
