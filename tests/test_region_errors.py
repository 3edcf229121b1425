"""Bad input to the region losses: every case raises the documented error and message.

Also the invariants that hold for every input (hypothesis).
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import focalkit
from focalkit import functional as F

x4 = torch.randn(2, 3, 4, 4)
t4 = torch.randint(0, 3, (2, 4, 4))
y_bin = torch.randint(0, 2, (2, 1, 4, 4)).float()

# (description, kwargs for dice_loss, error type, match)
ERROR_CASES = [
    ("input not a tensor", dict(input=[1.0], target=t4), TypeError, "input must be a torch.Tensor"),
    ("integer input", dict(input=t4.unsqueeze(1).repeat(1, 3, 1, 1), target=t4), TypeError,
     "input must be a floating-point tensor"),
    ("unknown mode", dict(mode="multi"), ValueError, "mode must be one of"),
    ("unknown reduction", dict(reduction="avg"), ValueError, "reduction must be one of"),
    ("unknown intersection", dict(intersection="l1"), ValueError,
     "intersection must be one of"),
    ("multiclass needs a class dim", dict(input=torch.randn(4)), ValueError,
     r"shape \(N, C, \*\) in mode 'multiclass'"),
    ("multiclass with one channel", dict(input=torch.randn(2, 1, 4, 4)), ValueError,
     "at least 2 classes"),
    ("index target of the wrong shape", dict(target=t4[:, :3]), ValueError,
     r"target of class indices must have shape \(N, \*\)"),
    ("probability target of the wrong shape", dict(target=torch.rand(2, 4, 4, 4)), ValueError,
     "target must have the same shape as input"),
    ("bool multiclass target", dict(target=t4 > 0), TypeError,
     "integer class indices or float class probabilities"),
    ("class index too large", dict(target=t4 + 3), ValueError,
     r"class indices must lie in \[0, 2\]"),
    ("negative class index", dict(target=t4 - 1), ValueError, "got -1"),
    ("class index out of range with ignore_index", dict(target=t4 + 3, ignore_index=255),
     ValueError, "or equal ignore_index=255"),
    ("probability target out of range", dict(target=torch.rand(2, 3, 4, 4) * 2), ValueError,
     r"target values must lie in \[0, 1\]"),
    ("ignore_index with probability targets", dict(target=torch.rand(2, 3, 4, 4),
                                                   ignore_index=0), ValueError,
     "ignore_index applies to class-index targets"),
    ("probabilities out of range", dict(from_logits=False), ValueError,
     r"input \(probabilities, from_logits=False\) values must lie in \[0, 1\]"),
    ("binary target of another shape", dict(input=torch.randn(2, 1, 4, 4), target=t4,
                                            mode="binary"), ValueError,
     "target must have the same shape as input"),
    ("binary scalar input", dict(input=torch.tensor(0.5), target=torch.tensor(1.0),
                                 mode="binary"), ValueError, r"\(N, \*\) or \(N, 1, \*\)"),
    ("binary target out of range", dict(input=torch.randn(2, 1, 4, 4), target=y_bin * 3,
                                        mode="binary"), ValueError, r"must lie in \[0, 1\]"),
    ("complex target", dict(input=torch.randn(2, 1, 2), mode="binary",
                            target=torch.zeros(2, 1, 2, dtype=torch.complex64)), TypeError,
     "complex64"),
    ("multilabel 1-D input", dict(input=torch.randn(4), target=torch.ones(4),
                                  mode="multilabel"), ValueError, "mode 'multilabel'"),
    ("non-tensor target", dict(input=torch.randn(2, 1, 2), target=[[1.0, 0.0]],
                               mode="binary"), TypeError, "target must be a torch.Tensor"),
    ("classes out of range", dict(classes=[0, 3]), ValueError,
     r"classes must lie in \[0, 2\] for an input with 3 classes; got 3"),
    ("classes out of range in binary mode", dict(input=torch.randn(2, 1, 4), mode="binary",
                                                 target=torch.ones(2, 1, 4), classes=[1]),
     ValueError, r"classes must lie in \[0, 0\]"),
    ("empty classes", dict(classes=[]), ValueError, "at least one class"),
    ("repeated classes", dict(classes=[1, 1]), ValueError, "must not repeat"),
    ("float classes", dict(classes=[0.5]), TypeError, "integer class indices"),
    ("string classes", dict(classes="all"), TypeError, "sequence of class indices"),
    ("negative smooth", dict(smooth=-1.0), ValueError, r"smooth must be in \[0, inf\)"),
    ("zero eps", dict(eps=0.0), ValueError, r"eps must be in \(0, inf\)"),
    ("string smooth", dict(smooth="1"), TypeError, "smooth must be a real number"),
    ("float ignore_index", dict(ignore_index=1.5), TypeError, "ignore_index must be an int"),
    ("sync_dist with per_image", dict(sync_dist=True, per_image=True), ValueError,
     "sync_dist=True synchronises batch statistics and needs per_image=False"),
    ("string from_logits", dict(from_logits="False"), TypeError,
     "from_logits must be a bool; got 'False'"),
    ("binary ignore_index 1", dict(input=torch.randn(2, 1, 4, 4), target=y_bin, mode="binary",
                                   ignore_index=1), ValueError,
     r"ignore_index must lie outside \[0, 1\], the range of valid targets .*; got 1"),
    ("multilabel ignore_index 0", dict(input=torch.randn(2, 3, 4), mode="multilabel",
                                       target=torch.ones(2, 3, 4), ignore_index=0), ValueError,
     r"ignore_index must lie outside \[0, 1\]"),
]


@pytest.mark.parametrize("fn", [F.dice_loss, F.jaccard_loss, F.tversky_loss])
@pytest.mark.parametrize("case", ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_error_table(fn, case):
    _, kwargs, error, match = case
    kwargs = dict(kwargs)
    input = kwargs.pop("input", x4)
    target = kwargs.pop("target", t4)
    with pytest.raises(error, match=match):
        fn(input, target, **kwargs)


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(alpha=-0.1), ValueError, r"alpha must be in \[0, inf\)"),
    (dict(beta=float("nan")), ValueError, "beta must be finite"),
    (dict(gamma=-1.0), ValueError, r"gamma must be in \[0, inf\)"),
])
def test_tversky_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        F.tversky_loss(x4, t4, **kwargs)
    with pytest.raises(error, match=match):
        focalkit.TverskyLoss(**kwargs)


@pytest.mark.parametrize("cls", [focalkit.DiceLoss, focalkit.JaccardLoss, focalkit.TverskyLoss])
@pytest.mark.parametrize("kwargs,error,match", [
    (dict(mode="softmax"), ValueError, "mode must be one of"),
    (dict(reduction="batchmean"), ValueError, "reduction must be one of"),
    (dict(smooth=-0.5), ValueError, "smooth must be in"),
    (dict(eps=-1.0), ValueError, "eps must be in"),
    (dict(intersection="soft"), ValueError, "intersection must be one of"),
    (dict(ignore_index="255"), TypeError, "ignore_index must be an int"),
    (dict(classes=[0, 0]), ValueError, r"classes must not repeat a class; got \[0, 0\]"),
    (dict(classes=[-1]), ValueError, r"classes must be class indices >= 0; got -1"),
    (dict(classes=[]), ValueError, "classes must name at least one class"),
    (dict(classes=[0.5]), TypeError, "classes must hold integer class indices"),
    (dict(from_logits="False"), TypeError, "from_logits must be a bool; got 'False'"),
    (dict(mode="binary", ignore_index=0), ValueError, r"ignore_index must lie outside \[0, 1\]"),
])
def test_module_constructor_errors(cls, kwargs, error, match):
    with pytest.raises(error, match=match):
        cls(**kwargs)


def test_region_stats_errors():
    with pytest.raises(ValueError, match="mode must be one of"):
        F.region_stats(x4, t4, mode="x")
    with pytest.raises(ValueError, match="class indices must lie"):
        F.region_stats(x4, t4 + 5)


# ---------------------------------------------------------------------------------------------
# Invariants
# ---------------------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 3), c=st.integers(2, 4), m=st.integers(1, 6),
       smooth=st.sampled_from([0.0, 1e-5, 1.0]), per_image=st.booleans(),
       seed=st.integers(0, 2 ** 16))
def test_losses_lie_in_unit_interval_and_ignore_position_order(n, c, m, smooth, per_image,
                                                                 seed):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, m, generator=gen, dtype=torch.float64) * 3
    t = torch.randint(0, c, (n, m), generator=gen)
    perm = torch.randperm(m, generator=gen)
    for fn in (F.dice_loss, F.jaccard_loss, F.tversky_loss):
        loss = fn(x, t, smooth=smooth, per_image=per_image, reduction="none")
        assert ((loss >= 0) & (loss <= 1)).all()
        shuffled = fn(x[..., perm], t[..., perm], smooth=smooth, per_image=per_image,
                      reduction="none")
        torch.testing.assert_close(loss, shuffled)
    dice = F.dice_loss(x, t, smooth=smooth, per_image=per_image, reduction="none")
    jaccard = F.jaccard_loss(x, t, smooth=smooth, per_image=per_image, reduction="none")
    assert (jaccard >= dice - 1e-12).all()
