"""Logit-adjusted cross-entropy (balanced softmax), LDAM and the class-balanced recipe."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from focalkit import LDAMLoss, LogitAdjustedCrossEntropyLoss, class_weights
from focalkit import reference as R
from focalkit.functional import (
    ldam_loss,
    ldam_margins,
    logit_adjusted_cross_entropy,
    softmax_focal_loss,
)

COUNTS = [50, 20, 5, 1]


def data(shape=(3, 4, 2, 3), dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g, dtype=dtype)
    t = torch.randint(0, shape[1], (shape[0], *shape[2:]), generator=g)
    return x, t


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("options", [{}, {"tau": 0.5}, {"weight": [1.0, 2.0, 0.5, 3.0]},
                                     {"label_smoothing": 0.1}, {"ignore_index": 2}])
def test_logit_adjusted_matches_reference(reduction, options):
    x, t = data()
    got = logit_adjusted_cross_entropy(x, t, class_counts=COUNTS, reduction=reduction,
                                       **options)
    want = R.logit_adjusted_cross_entropy(x, t, class_counts=COUNTS, reduction=reduction,
                                          **options)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-12)


def test_logit_adjusted_identities():
    x, t = data()
    uniform = logit_adjusted_cross_entropy(x, t, prior=[0.3] * 4)
    assert torch.allclose(uniform, F.cross_entropy(x, t))
    assert torch.allclose(logit_adjusted_cross_entropy(x, t, class_counts=COUNTS, tau=0.0),
                          F.cross_entropy(x, t))
    # counts and the normalised prior give the same loss; only ratios matter
    prior = torch.tensor(COUNTS, dtype=torch.float64) / sum(COUNTS)
    assert torch.allclose(logit_adjusted_cross_entropy(x, t, class_counts=COUNTS),
                          logit_adjusted_cross_entropy(x, t, prior=7 * prior))
    # balanced softmax: the adjusted logits are x + log n
    shifted = x + torch.log(torch.tensor(COUNTS, dtype=torch.float64)).reshape(1, -1, 1, 1)
    assert torch.allclose(logit_adjusted_cross_entropy(x, t, class_counts=COUNTS),
                          F.cross_entropy(shifted, t))
    soft = torch.softmax(torch.randn(3, 4, 2, 3, dtype=torch.float64), dim=1)
    np.testing.assert_allclose(
        logit_adjusted_cross_entropy(x, soft, class_counts=COUNTS).numpy(),
        R.logit_adjusted_cross_entropy(x, soft, class_counts=COUNTS), rtol=1e-10)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("options", [{}, {"max_margin": 0.3, "scale": 5.0},
                                     {"weight": [1.0, 2.0, 0.5, 3.0]}, {"ignore_index": 1}])
def test_ldam_matches_reference(reduction, options):
    x, t = data()
    got = ldam_loss(x, t, class_counts=COUNTS, reduction=reduction, **options)
    want = R.ldam_loss(x, t, class_counts=COUNTS, reduction=reduction, **options)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-12)


def test_ldam_margins():
    m = ldam_margins(COUNTS, max_margin=0.5)
    assert m.max() == pytest.approx(0.5) and m.argmax() == 3
    assert torch.allclose(m, 0.5 * (1.0 / torch.tensor(COUNTS, dtype=torch.float64)) ** 0.25)
    # the margin is subtracted from the true-class logit only
    x = torch.zeros(1, 4, dtype=torch.float64)
    t = torch.tensor([3])
    loss = ldam_loss(x, t, class_counts=COUNTS, scale=1.0, reduction="none")
    assert torch.allclose(loss, F.cross_entropy(torch.tensor([[0.0, 0.0, 0.0, -0.5]],
                                                             dtype=torch.float64), t,
                                                reduction="none"))


@pytest.mark.parametrize("loss_fn", [
    lambda x, t: logit_adjusted_cross_entropy(x, t, class_counts=COUNTS, tau=0.7,
                                              ignore_index=0),
    lambda x, t: ldam_loss(x, t, class_counts=COUNTS, scale=3.0, ignore_index=0),
])
def test_gradcheck(loss_fn):
    x, t = data((2, 4, 3))
    x.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda v: loss_fn(v, t), (x,))


@pytest.mark.parametrize("loss_fn", [
    lambda x, t, **k: logit_adjusted_cross_entropy(x, t, class_counts=COUNTS, **k),
    lambda x, t, **k: ldam_loss(x, t, class_counts=COUNTS, **k),
])
def test_ignored_positions_are_exact(loss_fn):
    x, t = data((2, 4, 5), dtype=torch.float32)
    x[0, :, 0] = float("nan")
    t[0, 0] = 255
    x.requires_grad_(True)
    loss = loss_fn(x, t, ignore_index=255)
    loss.backward()
    assert torch.isfinite(loss) and (x.grad[0, :, 0] == 0).all()
    # everything ignored: 0, not NaN, still attached
    empty = loss_fn(x, torch.full_like(t, 255), ignore_index=255)
    assert empty.item() == 0.0 and empty.requires_grad


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_inputs(dtype):
    x, t = data((4, 4, 3), dtype=torch.float32)
    for fn in (lambda v: logit_adjusted_cross_entropy(v, t, class_counts=COUNTS),
               lambda v: ldam_loss(v, t, class_counts=COUNTS)):
        half = fn(x.to(dtype))
        assert half.dtype == dtype
        torch.testing.assert_close(half.float(), fn(x.to(dtype).float()), rtol=1e-2, atol=1e-2)


def test_modules_equal_functional_and_keep_buffers():
    x, t = data(dtype=torch.float32)
    la = LogitAdjustedCrossEntropyLoss(class_counts=COUNTS, tau=0.5, ignore_index=1)
    assert torch.equal(la(x, t), logit_adjusted_cross_entropy(x, t, class_counts=COUNTS,
                                                              tau=0.5, ignore_index=1))
    assert "class_counts" in la.state_dict() and la.prior is None
    prior = LogitAdjustedCrossEntropyLoss(prior=torch.tensor([0.5, 0.3, 0.1, 0.1]))
    assert "prior" in prior.state_dict()
    ldam = LDAMLoss(class_counts=COUNTS, weight=[1.0, 1.0, 2.0, 4.0])
    assert set(ldam.state_dict()) == {"class_counts", "weight"}
    assert torch.equal(ldam(x, t), ldam_loss(x, t, class_counts=COUNTS,
                                             weight=[1.0, 1.0, 2.0, 4.0]))
    assert "max_margin=0.5" in repr(ldam)


def test_class_balanced_recipe():
    """Cui et al. (2019): weights 1 / effective number, fed to the focal loss's alpha."""
    counts = [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]   # CIFAR-10-LT, ratio 100
    beta = 0.9999
    effective = (1 - beta ** np.array(counts)) / (1 - beta)
    w = class_weights(counts=counts, method="effective_number", beta=beta)
    expected = (1 / effective) * len(counts) / (1 / effective).sum()
    np.testing.assert_allclose(w.numpy(), expected, rtol=1e-6)
    x, t = data((16, 10), dtype=torch.float32)
    cb_focal = softmax_focal_loss(x, t, alpha=w, gamma=0.0, reduction="sum")
    assert torch.allclose(cb_focal, F.cross_entropy(x, t, weight=w, reduction="sum"))


# ---------------------------------------------------------------------------------------------
# Class counts: integer tensors, and exact under module dtype casts
# ---------------------------------------------------------------------------------------------

LONG_TAIL_MODULES = [LogitAdjustedCrossEntropyLoss, LDAMLoss]


@pytest.mark.parametrize("cast", ["half", "bfloat16", "float", "double"])
@pytest.mark.parametrize("make", LONG_TAIL_MODULES)
def test_module_dtype_casts_keep_the_counts_exact(make, cast):
    counts = [100000, 5003, 10, 1]
    module = getattr(make(class_counts=counts), cast)()
    assert module.class_counts.dtype == torch.float64
    assert module.class_counts.tolist() == counts
    dtype = {"half": torch.float16, "bfloat16": torch.bfloat16, "float": torch.float32,
             "double": torch.float64}[cast]
    x, t = data(dtype=dtype)
    function = logit_adjusted_cross_entropy if make is LogitAdjustedCrossEntropyLoss \
        else ldam_loss
    assert torch.equal(module(x, t), function(x, t, class_counts=counts))
    assert module.to(torch.bfloat16).state_dict()["class_counts"].tolist() == counts


def test_module_dtype_casts_keep_the_prior_exact():
    prior = [0.7, 0.2999, 1e-4, 1e-8]
    module = LogitAdjustedCrossEntropyLoss(prior=prior).bfloat16()
    assert module.prior.dtype == torch.float64 and module.prior.tolist() == prior


@pytest.mark.parametrize("make", LONG_TAIL_MODULES)
def test_infinite_counts_are_named_without_a_contradiction(make):
    with pytest.raises(ValueError, match=r"class_counts values must be finite and lie in "
                                         r"\[0, inf\); got inf for class 1"):
        make(class_counts=[10.0, float("inf"), 1.0])


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.uint8])
def test_integer_counts_are_accepted_everywhere(dtype):
    x, t = data()
    counts = torch.bincount(t.flatten(), minlength=4) + 1
    assert not counts.is_floating_point()
    integer, real = counts.to(dtype), counts.double()
    for function in (logit_adjusted_cross_entropy, ldam_loss):
        assert torch.equal(function(x, t, class_counts=integer),
                           function(x, t, class_counts=real))
    assert torch.equal(logit_adjusted_cross_entropy(x, t, prior=integer),
                       logit_adjusted_cross_entropy(x, t, prior=real))
    assert torch.equal(ldam_margins(integer), ldam_margins(real))
    for make in LONG_TAIL_MODULES:
        assert torch.equal(make(class_counts=integer)(x, t), make(class_counts=real)(x, t))
