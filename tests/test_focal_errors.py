"""Bad input raises ValueError/TypeError naming the argument, the rule and what was given.

In the style of PyTorch's ``error_inputs``: each row is a call, the exception type and a
regular expression the message must match.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

import focalkit
from focalkit import (
    ComboLoss,
    DiceLoss,
    FocalLoss,
    FocalWrapper,
    GammaScheduler,
    SigmoidFocalLoss,
    SoftmaxFocalLoss,
)
from focalkit.functional import focal_modulation, sigmoid_focal_loss, softmax_focal_loss
from focalkit.init import prior_bias, prior_bias_
from focalkit.weights import binary_alpha, class_weights


def x(*shape):
    return torch.zeros(*shape)


def y(*shape):
    return torch.ones(*shape)


def t(*shape, value=0):
    return torch.full(shape, value, dtype=torch.long)


def sig(input=None, target=None, **kwargs):
    """sigmoid_focal_loss, by default on a (2, 3) input."""
    return lambda: sigmoid_focal_loss(x(2, 3) if input is None else input,
                                      y(2, 3) if target is None else target, **kwargs)


def soft(input=None, target=None, **kwargs):
    """softmax_focal_loss, by default on a (4, 3) input with class-index targets."""
    return lambda: softmax_focal_loss(x(4, 3) if input is None else input,
                                      t(4) if target is None else target, **kwargs)


def set_gamma(module, value):
    return assign(module, "gamma", value)


def assign(module, name, value):
    def call():
        setattr(module, name, value)
    return call


def mod(input=None, target=None, **kwargs):
    """focal_modulation, by default on a (4, 3) input."""
    return lambda: focal_modulation(x(4, 3) if input is None else input,
                                    y(4, 3) if target is None else target, **kwargs)


def wrapped(loss_fn, input=None, target=None):
    """FocalWrapper(loss_fn) called, by default on a (3, 3) input."""
    return lambda: FocalWrapper(loss_fn)(x(3, 3) if input is None else input,
                                         y(3, 3) if target is None else target)


def on_meta(*shape):
    """A tensor on the meta device: another device than the CPU inputs."""
    return torch.full(shape, 0.5, device="meta")


def renamed_reduction(value):
    wrapper = FocalWrapper(nn.BCEWithLogitsLoss())
    wrapper.loss_fn.reduction = value
    return lambda: wrapper(x(3, 3), y(3, 3))


SIGMOID_ERRORS = [
    # shapes: never broadcast silently
    (sig(target=y(2, 1)), ValueError,
     r"target must have the same shape as input \(2, 3\); got \(2, 1\)"),
    (sig(target=y(3)), ValueError,
     r"target must have the same shape as input \(2, 3\); got \(3,\)"),
    (sig(target=y(1, 2, 3)), ValueError, r"same shape as input \(2, 3\); got \(1, 2, 3\)"),
    # targets in [0, 1]
    (sig(target=torch.tensor([[0.0, 1.5, 1.0]] * 2)), ValueError,
     r"target values must lie in \[0, 1\]; got values in \[0, 1\.5\]"),
    (sig(target=torch.tensor([[0.0, -1.0, 1.0]] * 2)), ValueError,
     r"target values must lie in \[0, 1\]; got values in \[-1, 1\]"),
    (sig(target=torch.tensor([[0.0, -1.0, -2.0]] * 2), ignore_index=-1), ValueError,
     r"target values must lie in \[0, 1\]; got values in \[-2, 0\]"),
    (sig(input=torch.full((2, 3), 1.2), from_logits=False), ValueError,
     r"input \(probabilities, from_logits=False\) values must lie in \[0, 1\]; got .*1\.2"),
    # dtypes and types
    (sig(input=torch.zeros(2, 3, dtype=torch.long)), TypeError,
     r"input must be a floating-point tensor .*; got dtype torch\.int64"),
    (sig(target=torch.ones(2, 3, dtype=torch.long)), TypeError,
     r"target must be a floating-point tensor .*; got dtype torch\.int64"),
    (sig(target=torch.ones(2, 3, dtype=torch.bool)), TypeError,
     r"target must be a floating-point tensor .*; got dtype torch\.bool"),
    (sig(input=[[0.0, 1.0, 2.0]] * 2), TypeError, r"input must be a torch\.Tensor; got list"),
    (sig(target=1.0), TypeError, r"target must be a torch\.Tensor; got float"),
    # alpha
    (sig(alpha=1.5), ValueError, r"alpha must be in \[0, 1\]; got 1\.5"),
    (sig(alpha=-0.25), ValueError, r"alpha must be in \[0, 1\]; got -0\.25"),
    (sig(alpha=float("nan")), ValueError, r"alpha must be finite; got nan"),
    (sig(alpha="0.25"), TypeError, r"alpha must be a real number; got '0\.25'"),
    (sig(alpha=True), TypeError, r"alpha must be a real number; got True"),
    (sig(alpha=torch.tensor([0.2, 1.2, 0.5])), ValueError,
     r"alpha values must lie in \[0, 1\]; got values in \[0\.2, 1\.2\]"),
    (sig(alpha=torch.tensor([0.25, 0.5])), ValueError,
     r"alpha must be broadcastable to the input shape \(2, 3\); got shape \(2,\)"),
    (sig(alpha=torch.full((4, 2, 3), 0.5)), ValueError,
     r"alpha must be broadcastable to the input shape \(2, 3\); got shape \(4, 2, 3\)"),
    (sig(alpha=torch.tensor([1, 0, 1])), TypeError,
     r"alpha must be a floating-point tensor .*; got dtype torch\.int64"),
    # gamma
    (sig(gamma=-0.5), ValueError, r"gamma must be in \[0, inf\); got -0\.5"),
    (sig(gamma=float("inf")), ValueError, r"gamma must be finite; got inf"),
    (sig(gamma=None), TypeError, r"gamma must be a real number; got None"),
    (sig(gamma=torch.tensor(2.0)), TypeError, r"gamma must be a real number; got a tensor"),
    # epsilon (Poly-1): down to -1, where the leading polynomial term vanishes
    (sig(epsilon=-1.5), ValueError, r"epsilon must be in \[-1, inf\); got -1\.5"),
    (sig(epsilon=float("nan")), ValueError, r"epsilon must be finite; got nan"),
    (sig(epsilon="1"), TypeError, r"epsilon must be a real number; got '1'"),
    # reduction
    (sig(reduction="avg"), ValueError,
     r"reduction must be one of 'none', 'mean', 'sum'; got 'avg'"),
    (sig(reduction=None), ValueError, r"reduction must be one of 'none', 'mean', 'sum'; got None"),
    # pos_weight, weight, ignore_index
    (sig(pos_weight=torch.ones(4)), ValueError,
     r"pos_weight must be broadcastable to the input shape \(2, 3\); got shape \(4,\)"),
    (sig(pos_weight="balanced"), TypeError,
     r"pos_weight must be a tensor, a number or None; got str"),
    (sig(pos_weight=torch.ones(3, dtype=torch.long)), TypeError,
     r"pos_weight must be a floating-point tensor .*; got dtype torch\.int64"),
    (sig(weight=torch.ones(2, 3, 1)), ValueError,
     r"weight must be broadcastable to the input shape \(2, 3\); got shape \(2, 3, 1\)"),
    (sig(weight=[1.0, 2.0, 3.0]), TypeError,
     r"weight must be a tensor, a number or None; got list"),
    (sig(ignore_index=-1.0), TypeError, r"ignore_index must be an int or None; got -1\.0"),
    (sig(ignore_index=True), TypeError, r"ignore_index must be an int or None; got True"),
    # an ignore value inside [0, 1] would drop every negative (or positive) target
    (sig(ignore_index=0), ValueError,
     r"ignore_index must lie outside \[0, 1\], the range of valid targets .*; got 0"),
    (sig(ignore_index=1), ValueError, r"ignore_index must lie outside \[0, 1\].*; got 1"),
    # from_logits="False" is not False
    (sig(from_logits="False"), TypeError, r"from_logits must be a bool; got 'False'"),
    (sig(from_logits=None), TypeError, r"from_logits must be a bool; got None"),
    # hyper-parameter tensors on another device than the input
    (sig(alpha=on_meta(3)), ValueError,
     r"alpha must be on the device of input \(cpu\); got a tensor on meta"),
    (sig(pos_weight=on_meta(3)), ValueError,
     r"pos_weight must be on the device of input \(cpu\); got a tensor on meta"),
    (sig(weight=on_meta(2, 3)), ValueError,
     r"weight must be on the device of input \(cpu\); got a tensor on meta"),
]

MODULATION_ERRORS = [
    (mod(gamma=-1), ValueError, r"gamma must be in \[0, inf\); got -1"),
    (mod(gamma="2"), TypeError, r"gamma must be a real number; got '2'"),
    (mod(alpha=5), ValueError, r"alpha must be in \[0, 1\]; got 5"),
    (mod(alpha=torch.tensor([0.5, 1.5, 0.5])), ValueError,
     r"alpha values must lie in \[0, 1\]; got values in \[0\.5, 1\.5\]"),
    (mod(alpha=torch.ones(4)), ValueError,
     r"alpha must be broadcastable to the input shape \(4, 3\); got shape \(4,\)"),
    (mod(alpha=on_meta(3)), ValueError, r"alpha must be on the device of input \(cpu\)"),
    (mod(target=y(4, 1)), ValueError,
     r"target must have the same shape as input \(4, 3\); got \(4, 1\)"),
    (mod(target=torch.full((4, 3), 2.0)), ValueError,
     r"target values must lie in \[0, 1\]; got values in \[2, 2\]"),
    (mod(target=torch.ones(4, 3, dtype=torch.long)), TypeError,
     r"target must be a floating-point tensor .*; got dtype torch\.int64"),
    (mod(input=torch.zeros(4, 3, dtype=torch.long)), TypeError,
     r"input must be a floating-point tensor .*; got dtype torch\.int64"),
]

SOFTMAX_ERRORS = [
    # shapes
    (soft(input=x(3)), ValueError,
     r"input must have shape \(N, C, \*\) with a class dimension; got shape \(3,\)"),
    (soft(target=t(5)), ValueError,
     r"target of class indices must have shape \(N, \*\) = \(4,\) for input \(4, 3\); "
     r"got \(5,\)"),
    (soft(input=x(2, 3, 4, 5), target=t(2, 4, 4)), ValueError,
     r"shape \(N, \*\) = \(2, 4, 5\) for input \(2, 3, 4, 5\); got \(2, 4, 4\)"),
    (soft(input=x(2, 3, 4, 5), target=t(2, 1, 4, 5)), ValueError,
     r"shape \(N, \*\) = \(2, 4, 5\) for input \(2, 3, 4, 5\); got \(2, 1, 4, 5\)"),
    (soft(target=torch.full((4, 2), 0.5)), ValueError,
     r"target must have the same shape as input \(4, 3\); got \(4, 2\)"),
    (soft(target=t(4, 1)), ValueError, r"= \(4,\) for input \(4, 3\); got \(4, 1\)"),
    # class indices
    (soft(target=torch.tensor([0, 1, 3, 2])), ValueError,
     r"target class indices must lie in \[0, 2\] or equal ignore_index=-100; got 3"),
    (soft(target=torch.tensor([0, -1, 2, 2])), ValueError,
     r"target class indices must lie in \[0, 2\] or equal ignore_index=-100; got -1"),
    (soft(target=torch.tensor([0, -100, 2, 2]), ignore_index=None), ValueError,
     r"target class indices must lie in \[0, 2\]; got -100"),
    (soft(target=torch.tensor([0, -100, 2, 2]), ignore_index=-1), ValueError,
     r"lie in \[0, 2\] or equal ignore_index=-1; got -100"),
    (soft(target=torch.full((4, 3), 1.5)), ValueError,
     r"target values must lie in \[0, 1\]; got values in \[1\.5, 1\.5\]"),
    (soft(target=torch.ones(4, dtype=torch.bool)), TypeError,
     r"target must hold integer class indices or float class probabilities; "
     r"got dtype torch\.bool"),
    (soft(target=[0, 1, 2, 0]), TypeError, r"target must be a torch\.Tensor; got list"),
    # dtypes
    (soft(input=torch.zeros(4, 3, dtype=torch.int32)), TypeError,
     r"input must be a floating-point tensor .*; got dtype torch\.int32"),
    (soft(input="logits"), TypeError, r"input must be a torch\.Tensor; got str"),
    # alpha: a non-negative per-class weight (values above 1 are allowed)
    (soft(alpha=[1.0, 2.0]), ValueError, r"alpha must have 3 values, one per class; got 2"),
    (soft(alpha=torch.ones(4)), ValueError, r"alpha must have 3 values, one per class; got 4"),
    (soft(alpha=torch.ones(1, 3)), ValueError,
     r"alpha must have 3 values, one per class; got \(1, 3\)"),
    (soft(alpha=-0.5), ValueError, r"alpha must be in \[0, inf\); got -0\.5"),
    (soft(alpha=[1.0, -2.0, 0.5]), ValueError,
     r"alpha values must lie in \[0, inf\); got values in \[-2, 1\]"),
    (soft(alpha=[1.0, float("inf"), 0.5]), ValueError,
     r"alpha values must be finite and lie in \[0, inf\); got inf for class 1"),
    (soft(alpha="balanced"), TypeError,
     r"alpha must be None, a float or a sequence of 3 floats; got 'balanced'"),
    # gamma, reduction, label_smoothing, ignore_index
    (soft(gamma=-1), ValueError, r"gamma must be in \[0, inf\); got -1"),
    (soft(gamma="2"), TypeError, r"gamma must be a real number; got '2'"),
    (soft(reduction="batchmean"), ValueError,
     r"reduction must be one of 'none', 'mean', 'sum'; got 'batchmean'"),
    (soft(label_smoothing=1.5), ValueError, r"label_smoothing must be in \[0, 1\]; got 1\.5"),
    (soft(label_smoothing=-0.1), ValueError, r"label_smoothing must be in \[0, 1\]; got -0\.1"),
    (soft(label_smoothing=None), TypeError, r"label_smoothing must be a real number; got None"),
    (soft(epsilon=-2), ValueError, r"epsilon must be in \[-1, inf\); got -2"),
    (soft(epsilon=None), TypeError, r"epsilon must be a real number; got None"),
    (soft(ignore_index="none"), TypeError, r"ignore_index must be an int or None; got 'none'"),
    # probability targets have no class index to ignore (as in the region losses)
    (soft(target=torch.full((4, 3), 1 / 3), ignore_index=255), ValueError,
     r"ignore_index applies to class-index targets; got class-probability targets of shape "
     r"\(4, 3\) with ignore_index=255"),
    # integer or boolean alpha tensors are refused, as in the sigmoid loss
    (soft(alpha=torch.tensor([1, 2, 3])), TypeError,
     r"alpha must be a floating-point tensor .*; got dtype torch\.int64"),
    (soft(alpha=torch.tensor([True, False, True])), TypeError,
     r"alpha must be a floating-point tensor .*; got dtype torch\.bool"),
]

MODULE_ERRORS = [
    (lambda: FocalLoss("softmax"), ValueError,
     r"mode must be one of 'binary', 'multiclass', 'multilabel'; got 'softmax'"),
    (lambda: FocalLoss(None), ValueError, r"mode must be one of .*; got None"),
    (lambda: FocalLoss("multiclass", pos_weight=torch.ones(3)), ValueError,
     r"pos_weight applies to the sigmoid modes only; got mode 'multiclass'"),
    (lambda: FocalLoss("binary", label_smoothing=0.1), ValueError,
     r"label_smoothing applies to mode 'multiclass' only; got mode 'binary'"),
    (lambda: FocalLoss("binary", alpha="balanced"), ValueError,
     r"alpha must be one of 'auto'; got 'balanced'"),
    (lambda: FocalLoss("binary", alpha=2.0), ValueError, r"alpha must be in \[0, 1\]; got 2"),
    (lambda: FocalLoss("multiclass", gamma=-1.0), ValueError, r"gamma must be in \[0, inf\)"),
    (lambda: FocalLoss("binary", epsilon=-1.01), ValueError, r"epsilon must be in \[-1, inf\)"),
    (lambda: SigmoidFocalLoss(epsilon=True), TypeError, r"epsilon must be a real number"),
    (lambda: SoftmaxFocalLoss(epsilon=-3.0), ValueError, r"epsilon must be in \[-1, inf\)"),
    (lambda: FocalLoss("multilabel", reduction="max"), ValueError,
     r"reduction must be one of 'none', 'mean', 'sum'; got 'max'"),
    (lambda: FocalLoss("multiclass", alpha=[1.0, 2.0])(x(4, 3), t(4)), ValueError,
     r"alpha must have 3 values, one per class; got 2"),
    (lambda: FocalLoss("multilabel")(x(2, 3, 4), y(2, 4, 3)), ValueError,
     r"target must have the same shape as input \(2, 3, 4\); got \(2, 4, 3\)"),
    (lambda: FocalLoss("binary")(x(2, 1, 4), y(2, 3)), ValueError,
     r"target must have the same shape as input \(2, 1, 4\)"),
    (lambda: SigmoidFocalLoss(alpha=1.5), ValueError, r"alpha must be in \[0, 1\]; got 1\.5"),
    (lambda: SigmoidFocalLoss(gamma=-2), ValueError, r"gamma must be in \[0, inf\); got -2"),
    (lambda: SigmoidFocalLoss(reduction="elementwise_mean"), ValueError,
     r"reduction must be one of 'none', 'mean', 'sum'; got 'elementwise_mean'"),
    (lambda: SigmoidFocalLoss()(x(2, 3), y(3, 2)), ValueError,
     r"target must have the same shape as input"),
    (lambda: SoftmaxFocalLoss(label_smoothing=2.0), ValueError,
     r"label_smoothing must be in \[0, 1\]; got 2"),
    (lambda: SoftmaxFocalLoss(gamma="high"), TypeError, r"gamma must be a real number"),
    (lambda: SoftmaxFocalLoss(alpha=[1.0, 2.0])(x(4, 3), t(4)), ValueError,
     r"alpha must have 3 values, one per class; got 2"),
    (set_gamma(SigmoidFocalLoss(), -1.0), ValueError, r"gamma must be in \[0, inf\); got -1"),
    (set_gamma(SoftmaxFocalLoss(), float("nan")), ValueError, r"gamma must be finite; got nan"),
    (set_gamma(FocalLoss("multiclass"), -0.1), ValueError, r"gamma must be in \[0, inf\)"),
    (set_gamma(FocalWrapper(nn.BCEWithLogitsLoss()), "2"), TypeError,
     r"gamma must be a real number; got '2'"),
    (lambda: FocalWrapper(nn.Linear(2, 2)), TypeError,
     r"loss_fn must be an nn\.Module with a 'reduction' attribute; got Linear"),
    (lambda: FocalWrapper(torch.nn.functional.binary_cross_entropy_with_logits), TypeError,
     r"loss_fn must be an nn\.Module with a 'reduction' attribute; got function"),
    (lambda: FocalWrapper(nn.BCEWithLogitsLoss(), gamma=-1.0), ValueError,
     r"gamma must be in \[0, inf\); got -1"),
    (lambda: FocalWrapper(nn.BCEWithLogitsLoss(), alpha=1.25), ValueError,
     r"alpha must be in \[0, 1\]; got 1\.25"),
    # FocalWrapper: the wrapped reduction, the per-element shape, the target range
    (lambda: FocalWrapper(nn.BCEWithLogitsLoss(reduction="meen")), ValueError,
     r"loss_fn\.reduction must be one of 'none', 'mean', 'sum'; got 'meen'"),
    (renamed_reduction("avg"), ValueError,
     r"loss_fn\.reduction must be one of 'none', 'mean', 'sum'; got 'avg'"),
    (wrapped(nn.CrossEntropyLoss(), target=torch.full((3, 3), 1 / 3)), ValueError,
     r"loss_fn must return one loss per element of input \(shape \(3, 3\)\) with "
     r"reduction='none'; got shape \(3,\)"),
    (wrapped(nn.BCEWithLogitsLoss(), target=torch.full((3, 3), 2.0)), ValueError,
     r"target values must lie in \[0, 1\]; got values in \[2, 2\]"),
    (wrapped(nn.BCEWithLogitsLoss(), target=y(3, 1)), ValueError,
     r"target must have the same shape as input \(3, 3\); got \(3, 1\)"),
    # checked at construction, not at the first forward
    (lambda: SigmoidFocalLoss(pos_weight=[1.0, 2.0, 3.0]), TypeError,
     r"pos_weight must be a tensor, a number or None; got list"),
    (lambda: SigmoidFocalLoss(weight=torch.ones(3, dtype=torch.long)), TypeError,
     r"weight must be a floating-point tensor .*; got dtype torch\.int64"),
    (lambda: SigmoidFocalLoss(alpha=torch.tensor([1.5])), ValueError,
     r"alpha values must lie in \[0, 1\]; got values in \[1\.5, 1\.5\]"),
    (lambda: SigmoidFocalLoss(alpha=torch.tensor([1, 0])), TypeError,
     r"alpha must be a floating-point tensor .*; got dtype torch\.int64"),
    (lambda: SigmoidFocalLoss(from_logits="False"), TypeError,
     r"from_logits must be a bool; got 'False'"),
    (lambda: SigmoidFocalLoss(ignore_index=0), ValueError,
     r"ignore_index must lie outside \[0, 1\]"),
    (lambda: FocalLoss("binary", ignore_index=1), ValueError,
     r"ignore_index must lie outside \[0, 1\]"),
    (lambda: FocalLoss("multilabel", alpha=[0.5, 1.5]), ValueError,
     r"alpha values must lie in \[0, 1\]; got values in \[0\.5, 1\.5\]"),
    (lambda: SoftmaxFocalLoss(alpha=torch.tensor([1, 2, 3])), TypeError,
     r"alpha must be a floating-point tensor .*; got dtype torch\.int64"),
    (lambda: SoftmaxFocalLoss(alpha="balanced"), TypeError,
     r"alpha must be a real number; got 'balanced'"),
    (lambda: ComboLoss({"dice": (DiceLoss(reduction="none"), 1.0)}), ValueError,
     r"losses\['dice'\] must return a scalar; got a loss with reduction='none'"),
    # hyper-parameters assigned after construction are checked like the constructor's
    (assign(FocalLoss("multiclass"), "reduction", "meen"), ValueError,
     r"reduction must be one of 'none', 'mean', 'sum'; got 'meen'"),
    (assign(FocalLoss("binary"), "alpha", 2.0), ValueError, r"alpha must be in \[0, 1\]; got 2"),
    (assign(FocalLoss("multiclass"), "pos_weight", torch.ones(3)), ValueError,
     r"pos_weight applies to the sigmoid modes only; got mode 'multiclass'"),
    (assign(FocalLoss("multilabel"), "label_smoothing", 0.1), ValueError,
     r"label_smoothing applies to mode 'multiclass' only; got mode 'multilabel'"),
    (assign(FocalLoss("multiclass"), "ignore_index", 1.5), TypeError,
     r"ignore_index must be an int or None; got 1\.5"),
]

HELPER_ERRORS = [
    (lambda: GammaScheduler(object()), TypeError,
     r"loss must have a settable 'gamma' attribute; got object"),
    (lambda: GammaScheduler(SoftmaxFocalLoss(), schedule="exponential"), ValueError,
     r"schedule must be one of 'constant', 'step', 'linear', 'cosine', 'deferred'; got "
     r"'exponential'"),
    (lambda: GammaScheduler(SoftmaxFocalLoss(), schedule="linear"), ValueError,
     r"total_steps must be a positive int for schedule 'linear'; got None"),
    (lambda: GammaScheduler(SoftmaxFocalLoss(), schedule="cosine", total_steps=0), ValueError,
     r"total_steps must be a positive int for schedule 'cosine'; got 0"),
    (lambda: GammaScheduler(SoftmaxFocalLoss(), schedule="linear", total_steps=2.5), ValueError,
     r"total_steps must be a positive int for schedule 'linear'; got 2\.5"),
    (lambda: GammaScheduler(SoftmaxFocalLoss(), schedule="step"), ValueError,
     r"milestones must be a non-empty, strictly increasing list .*; got None"),
    (lambda: GammaScheduler(SoftmaxFocalLoss(), schedule="step", milestones=[5, 3]), ValueError,
     r"milestones must be a non-empty, strictly increasing list .*; got \[5, 3\]"),
    (lambda: GammaScheduler(SoftmaxFocalLoss(), schedule="step", milestones=[0, 3]), ValueError,
     r"milestones must be .* positive step counts .*; got \[0, 3\]"),
    (lambda: GammaScheduler(SoftmaxFocalLoss(), gamma_start=-1.0, total_steps=3), ValueError,
     r"gamma must be in \[0, inf\); got -1"),
    (lambda: GammaScheduler(SoftmaxFocalLoss(), gamma_end=-2.0, total_steps=3), ValueError,
     r"gamma must be in \[0, inf\); got -2"),
    (lambda: prior_bias(0.0), ValueError, r"prior must be in \(0, 1\); got 0"),
    (lambda: prior_bias(1.0), ValueError, r"prior must be in \(0, 1\); got 1"),
    (lambda: prior_bias(-0.5), ValueError, r"prior must be in \(0, 1\); got -0\.5"),
    (lambda: prior_bias("0.01"), TypeError, r"prior must be a real number; got '0\.01'"),
    (lambda: prior_bias_(nn.Linear(3, 2, bias=False)), TypeError,
     r"module must have a bias tensor; Linear has bias=None"),
    (lambda: prior_bias_([0.0, 0.0]), TypeError,
     r"module_or_tensor must be an nn\.Module or a Tensor; got list"),
    (lambda: prior_bias_(torch.zeros(6), prior=[0.1, 0.2, 0.3, 0.4]), ValueError,
     r"prior must have a number of values that divides the 6 outputs; got 4"),
    (lambda: prior_bias_(torch.zeros(6), prior=[]), ValueError,
     r"prior must have a number of values that divides the 6 outputs; got 0"),
    (lambda: prior_bias_(torch.zeros(4), prior=[0.1, 1.0]), ValueError,
     r"prior must be in \(0, 1\); got 1"),
    (lambda: prior_bias_(torch.zeros(4), prior=1.5), ValueError,
     r"prior must be in \(0, 1\); got 1\.5"),
    (lambda: prior_bias_(torch.zeros(4), prior=torch.tensor(1.0)), ValueError,
     r"prior must be in \(0, 1\); got 1"),
    (lambda: prior_bias_(torch.zeros(4), prior=torch.full((2, 2), 0.1)), TypeError,
     r"prior must be a real number; got a tensor of shape \(2, 2\)"),
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

ERROR_INPUTS = [
    *(pytest.param(*case, id=f"sigmoid-{i}") for i, case in enumerate(SIGMOID_ERRORS)),
    *(pytest.param(*case, id=f"modulation-{i}") for i, case in enumerate(MODULATION_ERRORS)),
    *(pytest.param(*case, id=f"softmax-{i}") for i, case in enumerate(SOFTMAX_ERRORS)),
    *(pytest.param(*case, id=f"module-{i}") for i, case in enumerate(MODULE_ERRORS)),
    *(pytest.param(*case, id=f"helper-{i}") for i, case in enumerate(HELPER_ERRORS)),
]


@pytest.mark.parametrize("call,error,match", ERROR_INPUTS)
def test_error_inputs(call, error, match):
    assert match, "every error case states the message it expects"
    with pytest.raises(error, match=match):
        call()


def test_only_value_and_type_errors_are_used():
    """No case in the table is an AssertionError or a RuntimeError from deep inside torch."""
    for param in ERROR_INPUTS:
        assert param.values[1] in (ValueError, TypeError)


def test_softmax_alpha_above_one_is_a_valid_class_weight():
    loss = softmax_focal_loss(torch.randn(4, 3), t(4), alpha=[0.5, 1.0, 7.0])
    assert torch.isfinite(loss)


def test_errors_are_raised_before_any_work_for_every_reduction():
    for reduction in ("none", "mean", "sum"):
        with pytest.raises(ValueError, match=r"target must have the same shape"):
            sigmoid_focal_loss(x(2, 3), y(2, 1), reduction=reduction)
        with pytest.raises(ValueError, match=r"target class indices must lie in \[0, 2\]"):
            softmax_focal_loss(x(4, 3), t(4, value=7), reduction=reduction)


def test_ignore_index_values_pass_the_range_checks():
    assert torch.isfinite(sigmoid_focal_loss(x(2, 3), torch.full((2, 3), -1.0), ignore_index=-1))
    assert torch.isfinite(softmax_focal_loss(x(4, 3), t(4, value=-100)))
    assert torch.isfinite(softmax_focal_loss(x(4, 3), t(4, value=255), ignore_index=255))
    assert focalkit.FocalLoss("multiclass", ignore_index=255)(x(4, 3), t(4, value=255)) == 0
