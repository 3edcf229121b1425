"""class_weights, binary_alpha and alpha_from_class_weights."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch import nn

from focalkit import (
    SigmoidFocalLoss,
    SoftmaxFocalLoss,
    binary_alpha,
    class_weights,
)

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


ERRORS = [
    (lambda: class_weights(counts=[10, 5], method="inv"), ValueError,
     r"method must be one of 'inverse', 'sqrt_inverse', 'effective_number'; got 'inv'"),
    (lambda: class_weights(counts=[10, 0, 5, 0]), ValueError,
     r"every class needs at least one sample for method 'inverse'; class\(es\) \[1, 3\] "
     r"have none"),
    (lambda: class_weights(counts=[10, 0], method="sqrt_inverse"), ValueError,
     r"at least one sample for method 'sqrt_inverse'; class\(es\) \[1\] have none"),
    (lambda: class_weights(counts=[10, -1]), ValueError,
     r"counts must be a non-empty list of non-negative numbers; got \[10\.0, -1\.0\]"),
    (lambda: class_weights(counts=[]), ValueError,
     r"counts must be a non-empty list of non-negative numbers; got \[\]"),
    (lambda: class_weights(counts=[[1, 2], [3, 4]]), TypeError,
     r"counts must be a 1-D sequence, array or tensor of numbers; .*2 dimension"),
    (lambda: class_weights(counts=["a", "b"]), TypeError,
     r"counts must be a 1-D sequence, array or tensor of numbers; got dtype <U1"),
    (lambda: class_weights(counts=[10, 5], method="effective_number", beta=1.0), ValueError,
     r"beta must be in \[0, 1\); got 1"),
    (lambda: class_weights(labels=[0.5, 1.0], num_classes=2), TypeError,
     r"labels must be integers; got dtype float64"),
    (lambda: class_weights(labels=torch.tensor([0, 1, 5]), num_classes=3), ValueError,
     r"labels must lie in \[0, 2\]; got values in \[0, 5\]"),
    (lambda: class_weights(labels=[0, 1], num_classes=0), ValueError,
     r"num_classes must be a positive int; got 0"),
    # counts and labels are never confused
    (lambda: class_weights([10, 5]), TypeError, r"takes 0 positional arguments"),
    (lambda: class_weights(), TypeError,
     r"class_weights needs counts=\.\.\. \(one count per class\) or labels=\.\.\., "
     r"num_classes=\.\.\. \(labels to count\); got neither"),
    (lambda: class_weights(counts=[3, 1], labels=[0, 1], num_classes=2), TypeError,
     r"class_weights needs counts=.* or labels=.*; got both"),
    (lambda: class_weights(labels=torch.randint(0, 50, (1000,))), ValueError,
     r"labels need num_classes \(a class may never occur in them\); got num_classes=None"),
    (lambda: class_weights(counts=torch.randint(0, 50, (1000,)), num_classes=50), ValueError,
     r"num_classes must equal the number of counts \(one per class\); got num_classes=50 "
     r"for 1000 counts \(to count labels, pass labels=\.\.\. instead\)"),
    (lambda: class_weights(counts=[0] * 900 + [1]), ValueError,
     r"class\(es\) \[0, 1, 2, 3, 4, 5, 6, 7, \.\.\.\] \(900 values\) have none"),
    # non-finite counts
    (lambda: class_weights(counts=[5.0, float("nan")]), ValueError,
     r"counts must be finite; got \[5\.0, nan\]"),
    (lambda: class_weights(counts=[5.0, float("inf")]), ValueError,
     r"counts must be finite; got \[5\.0, inf\]"),
    (lambda: class_weights(counts=[5.0, float("inf")], method="effective_number"), ValueError,
     r"counts must be finite; got \[5\.0, inf\]"),
    (lambda: binary_alpha(0.0), ValueError, r"pos_fraction must be in \(0, 1\); got 0"),
    (lambda: binary_alpha(1.2), ValueError, r"pos_fraction must be in \(0, 1\); got 1\.2"),
]


@pytest.mark.parametrize("call,error,match", ERRORS)
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()
