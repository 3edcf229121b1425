"""One table of loss cases that drives the generic tests (tests/test_loss_table.py,
tests/test_dispatch.py).

Each :class:`LossCase` is one configuration of a public loss: the function, the module that
wraps it, how to make a sample ``(input, target)`` pair of a given shape, dtype and device,
the options (``kwargs``) it runs with, its float64 NumPy reference, the backends that have a
kernel for it, the inputs it must reject (``errors``) and what it supports (half precision,
second derivatives, ``torch.compile``). A loss with several modes (class indices, dense
targets, binary) has one row per mode. A new loss needs one row here plus the tests of its
own special cases.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

import focalkit
from focalkit import functional as F
from focalkit import reference as R

BOTH = ("blocked", "triton")
BLOCKED = ("blocked",)
TRITON = ("triton",)


# ---------------------------------------------------------------------------------------------
# Sample inputs: make(shape, dtype, device) -> (input, target)
# ---------------------------------------------------------------------------------------------


def _logits(shape, dtype, device):
    return (torch.randn(shape, dtype=torch.float64) * 2).to(dtype=dtype, device=device)


def _soft(shape, dtype, device):
    return torch.rand(shape, dtype=torch.float64).to(dtype=dtype, device=device)


def _binary(shape, dtype, device):
    return torch.randint(0, 2, shape).to(dtype=dtype, device=device)


def _classes(shape, c, device):
    return torch.randint(0, c, (shape[0], *shape[2:])).to(device)


def _ignore(target, value, fraction=0.2):
    """``target`` with about ``fraction`` of its entries (never the first) set to ``value``."""
    drop = torch.rand(target.shape) < fraction
    drop.view(-1)[0] = False
    return target.masked_fill(drop.to(target.device), value)


def dense_binary(soft: bool = True):
    def make(shape, dtype, device):
        target = _soft if soft else _binary
        return _logits(shape, dtype, device), target(shape, dtype, device)
    return make


def dense_ignored(value):
    """0/1 float targets with some entries equal to ``value`` (an ignore_index)."""
    def make(shape, dtype, device):
        return _logits(shape, dtype, device), _ignore(_binary(shape, dtype, device), value)
    return make


def class_index(shape, dtype, device):
    return _logits(shape, dtype, device), _classes(shape, shape[1], device)


def class_index_ignored(value):
    def make(shape, dtype, device):
        return _logits(shape, dtype, device), _ignore(_classes(shape, shape[1], device), value)
    return make


def class_probs(shape, dtype, device):
    target = torch.softmax(torch.randn(shape, dtype=torch.float64), dim=1)
    return _logits(shape, dtype, device), target.to(dtype=dtype, device=device)


def binary_labels(shape, dtype, device):
    return _logits(shape, dtype, device), torch.randint(0, 2, shape).to(device)


def iou_targets(shape, dtype, device):
    """Varifocal targets: an IoU in (0.1, 1) for about a third of the entries, else 0."""
    iou = 0.1 + 0.9 * torch.rand(shape, dtype=torch.float64)
    target = torch.where(torch.rand(shape) < 1 / 3, iou, 0.0)
    return _logits(shape, dtype, device), target.to(dtype=dtype, device=device)


def bin_offsets(shape, dtype, device):
    """Distribution focal inputs: ``shape[-1]`` bins, offsets in (0, n - 1) off the integers."""
    n = shape[-1]
    offsets = torch.randint(0, n - 1, shape[:-1]) + 0.05 + 0.9 * torch.rand(shape[:-1])
    return _logits(shape, dtype, device), offsets.to(dtype=dtype, device=device)


# ---------------------------------------------------------------------------------------------
# Error inputs
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ErrorInput:
    """A call that must raise: the row's options updated by ``kwargs``, the sample inputs
    changed by ``inputs`` (a function of ``(input, target)``), ``error`` matching ``match``."""

    match: str
    kwargs: dict = field(default_factory=dict)
    inputs: Callable | None = None
    error: type[Exception] = ValueError


def target_shifted(amount):
    return lambda x, t: (x, t + amount)


def target_cut(x, t):
    return x, t[:1]


def target_as_float(x, t):
    return x, t.to(x.dtype)


def input_as_int(x, t):
    return x.long(), t


REDUCTION = ErrorInput("reduction must be one of 'none', 'mean', 'sum'; got 'avg'",
                       dict(reduction="avg"))
SHAPE = ErrorInput("target must have the same shape as input", inputs=target_cut)
UNIT = ErrorInput(r"target values must lie in \[0, 1\]", inputs=target_shifted(1.5))
INDICES = ErrorInput(r"target class indices must lie in \[0, 2\]", inputs=target_shifted(3))
FLOAT_INPUT = ErrorInput("input must be a floating-point tensor", inputs=input_as_int,
                         error=TypeError)
#: An ignore_index equal to a valid target value (it would drop every target equal to it).
IGNORE_BINARY = (ErrorInput(r"ignore_index must lie outside \[0, 1\], the range of valid "
                            r"targets .*; got 0", dict(ignore_index=0)),
                 ErrorInput(r"ignore_index must lie outside \[0, 1\]", dict(ignore_index=1)))


def weights(name):
    """A NaN, infinite or negative ``name`` (number or tensor) gives a NaN, infinite or
    negative loss: every element weight is checked like the other hyper-parameters."""
    return (ErrorInput(f"{name} must be finite; got nan", {name: float("nan")}),
            ErrorInput(rf"{name} must be in \[0, inf\); got -1", {name: -1.0}),
            ErrorInput(rf"{name} values must lie in \[0, inf\); got inf",
                       {name: torch.tensor(float("inf"), dtype=torch.float64)}),
            ErrorInput(rf"{name} values must lie in \[0, inf\); got nan",
                       {name: torch.tensor(float("nan"), dtype=torch.float64)}),
            ErrorInput(rf"{name} values must lie in \[0, inf\); got -0.5",
                       {name: torch.tensor([-0.5], dtype=torch.float64)}))


WEIGHT = weights("weight")
REGION = (REDUCTION, FLOAT_INPUT,
          ErrorInput("mode must be one of 'multiclass', 'binary', 'multilabel'; got 'foo'",
                     dict(mode="foo")),
          ErrorInput(r"smooth must be in \[0, inf\); got -1", dict(smooth=-1.0)),
          ErrorInput("sync_dist=True .* needs per_image=False",
                     dict(per_image=True, sync_dist=True)))


SPATIAL = r"input must have shape \(N, C, \*spatial\) with 1 to 3 spatial dimensions"
DISTANCE = (REDUCTION, FLOAT_INPUT, INDICES,
            ErrorInput("target must hold integer class indices", inputs=target_as_float,
                       error=TypeError),
            ErrorInput(r"target of class indices must have shape \(N, \*spatial\)",
                       inputs=target_cut),
            ErrorInput(SPATIAL + r"; got shape \(2, 3\)",
                       inputs=lambda x, t: (x.flatten(2)[..., 0], t.flatten(1)[..., 0])),
            ErrorInput(SPATIAL + r"; got shape \(2, 3, 4, 5, 1, 1\)",
                       inputs=lambda x, t: (x[..., None, None], t[..., None, None])),
            ErrorInput("with C >= 2 classes", inputs=lambda x, t: (x[:, :1], t.clamp(max=0))),
            ErrorInput("include_background must be a bool; got 1",
                       dict(include_background=1), error=TypeError))


#: The tensor hyper-parameters a loss may take; each must live on the input's device.
TENSOR_OPTIONS = ("weight", "pos_weight", "alpha", "class_counts", "prior")
#: Options that exclude each other: giving one sets the other to None.
EXCLUSIVE = {"class_counts": "prior", "prior": "class_counts"}


def target_on(device):
    return lambda x, t: (x, t.to(device))


def inherited_errors(function: Callable) -> tuple[ErrorInput, ...]:
    """The failure classes every loss rejects, derived from its signature, so that a new
    loss inherits them: a boolean option given a string (``"False"`` would read as True), and
    a target or tensor hyper-parameter on another device than the input."""
    errors = [ErrorInput(r"target must be on the device of input \(cpu\); got a tensor on meta",
                         inputs=target_on("meta"))]
    parameters = inspect.signature(function).parameters
    for name, parameter in parameters.items():
        if parameter.kind is not parameter.KEYWORD_ONLY:
            continue
        if isinstance(parameter.default, bool):
            errors.append(ErrorInput(f"{name} must be a bool; got 'False'", {name: "False"},
                                     error=TypeError))
        elif name in TENSOR_OPTIONS and parameter.annotation != "float":
            options = {name: torch.ones((), dtype=torch.float64, device="meta")}
            if EXCLUSIVE.get(name) in parameters:
                options[EXCLUSIVE[name]] = None
            errors.append(ErrorInput(
                rf"{name} must be on the device of input \(cpu\); got a tensor on meta",
                options))
    return tuple(errors)


# ---------------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LossCase:
    """One configuration of a public loss (see the module docstring).

    Attributes:
        name: the test id.
        function: the public function, called as ``function(input, target, **kwargs)``.
        module: the module class; ``module(**module_kwargs)(input, target)`` must equal the
            function (``module_kwargs`` defaults to ``kwargs``).
        sample: ``sample(shape, dtype, device) -> (input, target)``.
        kwargs: the options of this configuration.
        shape: the input shape of the samples.
        reference: the float64 NumPy oracle, called as ``reference(input, target, **kwargs)``
            (``reference_kwargs`` when given).
        variants: option updates that the reference and backend tests also run (reductions,
            ``per_image`` and the like).
        kernels: the backends with a kernel for this configuration besides ``"plain"``.
        grads: the arguments with a gradient (``"input"``, and ``"target"`` for float targets
            that the loss differentiates).
        half: whether float16 and bfloat16 inputs are supported.
        gradgrad: whether the loss is twice differentiable (gradgradcheck applies).
        compile: whether ``torch.compile(fullgraph=True)`` traces it.
        errors: the inputs it must reject.
    """

    name: str
    function: Callable
    module: Callable[..., torch.nn.Module]
    sample: Callable
    kwargs: dict = field(default_factory=dict)
    shape: tuple[int, ...] = (2, 3, 4, 5)
    reference: Callable | None = None
    reference_kwargs: dict | None = None
    module_kwargs: dict | None = None
    variants: tuple[dict, ...] = ()
    kernels: tuple[str, ...] = ()
    grads: tuple[str, ...] = ("input",)
    half: bool = True
    gradgrad: bool = True
    compile: bool = True
    errors: tuple[ErrorInput, ...] = ()

    def inputs(self, dtype=torch.float64, device="cpu", shape=None):
        return self.sample(shape or self.shape, dtype, device)

    def __call__(self, input, target, **kwargs):
        """The function with this row's options, updated by ``kwargs``."""
        return self.function(input, target, **{**self.kwargs, **kwargs})

    def make_module(self, **kwargs) -> torch.nn.Module:
        options = self.kwargs if self.module_kwargs is None else self.module_kwargs
        return self.module(**{**options, **kwargs})

    def expected(self, input, target, **kwargs):
        """The float64 reference value, as a tensor."""
        options = self.kwargs if self.reference_kwargs is None else self.reference_kwargs
        value = self.reference(input.detach(), target.detach(), **{**options, **kwargs})
        return torch.as_tensor(value, dtype=torch.float64)

    def option_sets(self) -> list[dict]:
        """The option updates to run: none (the row itself), then each variant."""
        return [{}, *self.variants]

    def __str__(self) -> str:
        return self.name


REDUCTIONS = (dict(reduction="none"), dict(reduction="sum"))
COUNTS = [40.0, 10.0, 2.0]

CASES = [
    # Focal losses -----------------------------------------------------------------------------
    LossCase("sigmoid_focal", F.sigmoid_focal_loss, focalkit.SigmoidFocalLoss,
             dense_binary(), reference=R.sigmoid_focal_loss, variants=REDUCTIONS,
             kernels=BOTH, grads=("input", "target"),
             errors=(REDUCTION, SHAPE, UNIT, FLOAT_INPUT,
                     ErrorInput(r"gamma must be in \[0, inf\); got -1", dict(gamma=-1.0)),
                     *IGNORE_BINARY, *WEIGHT, *weights("pos_weight"))),
    LossCase("sigmoid_focal_weighted", F.sigmoid_focal_loss, focalkit.SigmoidFocalLoss,
             dense_ignored(-1.0),
             dict(alpha=0.3, gamma=1.5, ignore_index=-1, reduction="sum"),
             reference=R.sigmoid_focal_loss,
             variants=(dict(reduction="mean"), dict(pos_weight=torch.tensor(2.0)),
                       dict(weight=torch.tensor([[[0.5]], [[1.0]], [[1.5]]], dtype=torch.float64))),
             kernels=BOTH),
    LossCase("sigmoid_focal_probs", F.sigmoid_focal_loss, focalkit.SigmoidFocalLoss,
             lambda s, d, dev: (torch.sigmoid(_logits(s, d, dev)), _soft(s, d, dev)),
             dict(from_logits=False, gamma=1.5), reference=R.sigmoid_focal_loss,
             grads=("input", "target")),
    LossCase("softmax_focal", F.softmax_focal_loss, focalkit.SoftmaxFocalLoss,
             class_index_ignored(1), dict(alpha=[0.5, 1.0, 2.0], ignore_index=1),
             reference=R.softmax_focal_loss, variants=REDUCTIONS + (dict(gamma=0.5),),
             kernels=BOTH,
             errors=(REDUCTION, INDICES, FLOAT_INPUT,
                     ErrorInput("alpha must have 3 values, one per class; got 2",
                                dict(alpha=[1.0, 2.0])),
                     ErrorInput(r"label_smoothing must be in \[0, 1\]; got 1.5",
                                dict(label_smoothing=1.5)))),
    LossCase("softmax_focal_probs", F.softmax_focal_loss, focalkit.SoftmaxFocalLoss,
             class_probs, dict(gamma=1.0, label_smoothing=0.1),
             reference=R.softmax_focal_loss, variants=REDUCTIONS, kernels=TRITON,
             grads=("input", "target")),
    # Region losses ----------------------------------------------------------------------------
    LossCase("dice", F.dice_loss, focalkit.DiceLoss, class_index_ignored(2),
             dict(ignore_index=2), reference=R.dice_loss,
             variants=(dict(per_image=True, reduction="none"), dict(log_loss=True),
                       dict(classes=[0, 2], smooth=1.0)),
             kernels=BOTH,
             errors=REGION + (INDICES,
                              ErrorInput("target must have the same shape as input",
                                         inputs=target_as_float))),
    LossCase("dice_multilabel", F.dice_loss, focalkit.DiceLoss, dense_binary(),
             dict(mode="multilabel", per_image=True), reference=R.dice_loss,
             variants=(dict(intersection="min"), dict(reduction="none")),
             kernels=TRITON, grads=("input", "target"), errors=REGION + (SHAPE, UNIT)),
    LossCase("dice_binary", F.dice_loss, focalkit.DiceLoss, dense_ignored(-1.0),
             dict(mode="binary", ignore_index=-1), shape=(2, 1, 4, 5), reference=R.dice_loss,
             kernels=TRITON),
    LossCase("dice_probs", F.dice_loss, focalkit.DiceLoss, class_probs,
             reference=R.dice_loss, kernels=TRITON, grads=("input", "target")),
    LossCase("jaccard", F.jaccard_loss, focalkit.JaccardLoss, class_index,
             dict(log_loss=True), reference=R.jaccard_loss,
             variants=(dict(log_loss=False, per_image=True),), kernels=BOTH,
             errors=REGION + (ErrorInput(r"classes must lie in \[0, 2\] for an input with 3 "
                                         "classes; got 5", dict(classes=[5])),)),
    LossCase("jaccard_multilabel", F.jaccard_loss, focalkit.JaccardLoss, dense_binary(),
             dict(mode="multilabel"), reference=R.jaccard_loss, kernels=TRITON,
             grads=("input", "target")),
    LossCase("tversky", F.tversky_loss, focalkit.TverskyLoss, class_index,
             dict(alpha=0.3, beta=0.7, gamma=0.75), reference=R.tversky_loss,
             variants=(dict(gamma=1.0, per_image=True),), kernels=BOTH,
             errors=REGION + (ErrorInput(r"alpha must be in \[0, inf\); got -0.1",
                                         dict(alpha=-0.1)),)),
    LossCase("tversky_binary", F.tversky_loss, focalkit.TverskyLoss, dense_binary(),
             dict(mode="binary"), shape=(2, 1, 4, 5), reference=R.tversky_loss,
             kernels=TRITON, grads=("input", "target")),
    LossCase("generalized_dice", F.generalized_dice_loss, focalkit.GeneralizedDiceLoss,
             class_index, reference=R.generalized_dice_loss,
             variants=(dict(weighting="simple"), dict(weighting="uniform", per_image=True,
                                                      reduction="none")),
             kernels=BOTH,
             errors=REGION + (ErrorInput("weighting must be one of 'square', 'simple', "
                                         "'uniform'; got 'cube'", dict(weighting="cube")),)),
    LossCase("generalized_dice_multilabel", F.generalized_dice_loss,
             focalkit.GeneralizedDiceLoss, dense_binary(soft=False), dict(mode="multilabel"),
             reference=R.generalized_dice_loss, kernels=TRITON),
    LossCase("unified_focal", F.unified_focal_loss, focalkit.UnifiedFocalLoss,
             class_index_ignored(2), dict(ignore_index=2), reference=R.unified_focal_loss,
             kernels=BOTH,
             variants=(dict(background=None, per_image=True), dict(reduction="sum")),
             errors=(REDUCTION, INDICES, FLOAT_INPUT,
                     ErrorInput(r"weight must be in \[0, 1\]; got 1.5", dict(weight=1.5)),
                     ErrorInput(r"background must lie in \[0, 2\] for 3 classes; got 7",
                                dict(background=7)),
                     ErrorInput(r"background must not repeat a class; got \[0, 0\]",
                                dict(background=[0, 0])),
                     ErrorInput("mode must be one of 'multiclass', 'binary'; got 'multilabel'",
                                dict(mode="multilabel")))),
    LossCase("unified_focal_binary", F.unified_focal_loss, focalkit.UnifiedFocalLoss,
             dense_binary(soft=False), dict(mode="binary"), shape=(2, 1, 4, 5),
             reference=R.unified_focal_loss, kernels=TRITON),
    # Distance and topology losses -------------------------------------------------------------
    LossCase("hausdorff_dt", F.hausdorff_dt_loss, focalkit.HausdorffDTLoss, class_index,
             reference=R.hausdorff_dt_loss,
             variants=(dict(alpha=1.0, reduction="none"),
                       dict(include_background=True, reduction="sum")),
             kernels=TRITON, errors=DISTANCE + (
                 ErrorInput(r"alpha must be in \(0, inf\); got 0", dict(alpha=0.0)),)),
    LossCase("hausdorff_dt_ignored_3d", F.hausdorff_dt_loss, focalkit.HausdorffDTLoss,
             class_index_ignored(-1), dict(ignore_index=-1, alpha=1.5), shape=(2, 3, 3, 4, 5),
             reference=R.hausdorff_dt_loss, kernels=TRITON),
    LossCase("boundary", F.boundary_loss, focalkit.BoundaryLoss, class_index,
             reference=R.boundary_loss,
             variants=(dict(include_background=True, reduction="none"),), kernels=TRITON,
             errors=DISTANCE),
    LossCase("boundary_ignored_1d", F.boundary_loss, focalkit.BoundaryLoss,
             class_index_ignored(-1), dict(ignore_index=-1, reduction="sum"), shape=(2, 3, 9),
             reference=R.boundary_loss, kernels=TRITON),
    LossCase("soft_cldice", F.soft_cldice_loss, focalkit.SoftclDiceLoss, class_index,
             reference=R.soft_cldice_loss,
             variants=(dict(iterations=1, reduction="none"),
                       dict(include_background=False, smooth=0.5, eps=1e-3)),
             kernels=BOTH, errors=DISTANCE + (
                 ErrorInput(r"iterations must be a positive int \(>= 1\); got 0",
                            dict(iterations=0)),
                 ErrorInput("iterations must be a positive int; got 2.0", dict(iterations=2.0),
                            error=TypeError),
                 ErrorInput(r"smooth must be in \(0, inf\); got 0", dict(smooth=0.0)))),
    LossCase("soft_cldice_ignored_3d", F.soft_cldice_loss, focalkit.SoftclDiceLoss,
             class_index_ignored(-1), dict(ignore_index=-1, iterations=2), shape=(2, 3, 3, 4, 5),
             reference=R.soft_cldice_loss, kernels=BOTH),
    # Lovasz losses ----------------------------------------------------------------------------
    LossCase("lovasz_softmax", F.lovasz_softmax_loss, focalkit.LovaszSoftmaxLoss,
             class_index, dict(per_image=True), reference=R.lovasz_softmax_loss,
             variants=(dict(per_image=False), dict(classes="all"), dict(classes=[0, 2])),
             kernels=BOTH,
             errors=(FLOAT_INPUT,
                     ErrorInput("target must hold integer class indices",
                                inputs=target_as_float, error=TypeError),
                     ErrorInput("classes must be one of 'present', 'all'; got 'some'",
                                dict(classes="some")),
                     ErrorInput(r"input must have shape \(N, C, \*\) with C >= 2",
                                inputs=lambda x, t: (x[:, :1], t)),
                     INDICES)),
    LossCase("lovasz_softmax_ignored", F.lovasz_softmax_loss, focalkit.LovaszSoftmaxLoss,
             class_index_ignored(9), dict(ignore_index=9), reference=R.lovasz_softmax_loss,
             variants=(dict(per_image=True),), kernels=BOTH),
    LossCase("lovasz_hinge", F.lovasz_hinge_loss, focalkit.LovaszHingeLoss, binary_labels,
             shape=(2, 4, 5), reference=R.lovasz_hinge_loss,
             variants=(dict(per_image=False),), kernels=BOTH,
             errors=(FLOAT_INPUT, SHAPE,
                     ErrorInput("target values must be 0 or 1; got 2",
                                inputs=lambda x, t: (x, t * 2)),
                     *IGNORE_BINARY)),
    LossCase("lovasz_hinge_ignored", F.lovasz_hinge_loss, focalkit.LovaszHingeLoss,
             lambda s, d, dev: (_logits(s, d, dev), _ignore(torch.randint(0, 2, s), -1)),
             dict(ignore_index=-1, per_image=False), shape=(2, 4, 5),
             reference=R.lovasz_hinge_loss, kernels=BOTH),
    # Multi-label and detection losses ---------------------------------------------------------
    LossCase("asymmetric", F.asymmetric_loss, focalkit.AsymmetricLoss,
             dense_binary(soft=False), dict(gamma_pos=1.0, gamma_neg=3.0, clip=0.05),
             shape=(4, 6), reference=R.asymmetric_loss,
             variants=REDUCTIONS + (dict(clip=0.0),), kernels=BLOCKED,
             errors=(REDUCTION, SHAPE, FLOAT_INPUT,
                     ErrorInput(r"clip must be in \[0, 1\); got 2", dict(clip=2.0)),
                     ErrorInput(r"gamma_neg must be in \[0, inf\); got -1",
                                dict(gamma_neg=-1.0)),
                     *IGNORE_BINARY, *WEIGHT)),
    LossCase("asymmetric_ignored", F.asymmetric_loss, focalkit.AsymmetricLoss,
             dense_ignored(-1.0), dict(ignore_index=-1, weight=torch.tensor([1.0, 2.0, 0.5])),
             shape=(4, 3), reference=R.asymmetric_loss, kernels=BLOCKED),
    LossCase("quality_focal", F.quality_focal_loss, focalkit.QualityFocalLoss,
             dense_binary(), shape=(4, 6), reference=R.quality_focal_loss,
             variants=REDUCTIONS + (dict(beta=0.5),), grads=("input", "target"),
             errors=(REDUCTION, SHAPE, UNIT, FLOAT_INPUT,
                     ErrorInput(r"beta must be in \[0, inf\); got -1", dict(beta=-1.0)),
                     *IGNORE_BINARY, *WEIGHT)),
    LossCase("varifocal", F.varifocal_loss, focalkit.VarifocalLoss, iou_targets,
             shape=(4, 6), reference=R.varifocal_loss,
             variants=REDUCTIONS + (dict(iou_weighted=False, gamma=1.5),), kernels=BLOCKED,
             errors=(REDUCTION, SHAPE, UNIT, FLOAT_INPUT,
                     ErrorInput("iou_weighted must be a bool; got 1", dict(iou_weighted=1),
                                error=TypeError),
                     ErrorInput(r"alpha must be in \[0, inf\); got -1", dict(alpha=-1.0)),
                     *IGNORE_BINARY, *WEIGHT)),
    LossCase("distribution_focal", F.distribution_focal_loss, focalkit.DistributionFocalLoss,
             bin_offsets, shape=(3, 4, 6), reference=R.distribution_focal_loss,
             variants=REDUCTIONS, grads=("input", "target"),
             errors=(REDUCTION, FLOAT_INPUT,
                     ErrorInput("target must have the input's shape without its last",
                                inputs=lambda x, t: (x, x)),
                     ErrorInput(r"target values must lie in \[0, n_bins - 1\] = \[0, 5\]",
                                inputs=target_shifted(6.0)),
                     ErrorInput(r"ignore_index must lie outside \[0, n_bins - 1\] = \[0, 5\], "
                                r"the range of valid targets .*; got 2", dict(ignore_index=2)),
                     ErrorInput(r"ignore_index must lie outside \[0, n_bins - 1\] = \[0, 5\]",
                                dict(ignore_index=0)),
                     *WEIGHT)),
    # Cross-entropy variants -------------------------------------------------------------------
    LossCase("poly1", F.poly1_cross_entropy, focalkit.Poly1CrossEntropyLoss,
             class_index_ignored(-100), dict(epsilon=2.0), reference=R.poly1_cross_entropy,
             variants=REDUCTIONS + (dict(weight=[1.0, 0.5, 2.0], label_smoothing=0.1),),
             errors=(REDUCTION, INDICES, FLOAT_INPUT,
                     ErrorInput(r"epsilon must be in \[-1, inf\); got -2", dict(epsilon=-2.0)),
                     ErrorInput("weight must have 3 values, one per class; got 1",
                                dict(weight=[1.0])),
                     ErrorInput(r"weight values must be finite and lie in \[0, inf\); got nan "
                                r"for class 1", dict(weight=[1.0, float("nan"), 1.0])))),
    LossCase("poly1_probs", F.poly1_cross_entropy, focalkit.Poly1CrossEntropyLoss,
             class_probs, dict(epsilon=-0.5), reference=R.poly1_cross_entropy,
             grads=("input", "target")),
    LossCase("logit_adjusted", F.logit_adjusted_cross_entropy,
             focalkit.LogitAdjustedCrossEntropyLoss, class_index_ignored(-100),
             dict(class_counts=COUNTS, tau=1.5), reference=R.logit_adjusted_cross_entropy,
             variants=REDUCTIONS + (dict(label_smoothing=0.1, weight=[1.0, 0.5, 2.0]),),
             errors=(REDUCTION, INDICES, FLOAT_INPUT,
                     ErrorInput("needs exactly one of class_counts and prior; got both",
                                dict(prior=[0.2, 0.3, 0.5]), error=TypeError),
                     ErrorInput(r"class_counts values must lie in \[0, inf\); got values in "
                                r"\[-3, 2\]", dict(class_counts=[1.0, 2.0, -3.0])),
                     ErrorInput(r"class_counts values must be finite and lie in \[0, inf\); "
                                r"got inf for class 1",
                                dict(class_counts=[1.0, float("inf"), 2.0])))),
    LossCase("logit_adjusted_prior", F.logit_adjusted_cross_entropy,
             focalkit.LogitAdjustedCrossEntropyLoss, class_probs,
             dict(prior=[0.5, 0.25, 0.25]), reference=R.logit_adjusted_cross_entropy,
             grads=("input", "target")),
    LossCase("ldam", F.ldam_loss, focalkit.LDAMLoss, class_index_ignored(-100),
             dict(class_counts=COUNTS, scale=5.0), shape=(6, 3),
             reference=R.ldam_loss,
             variants=REDUCTIONS + (dict(weight=[1.0, 0.5, 2.0], max_margin=0.3),),
             errors=(REDUCTION, INDICES, FLOAT_INPUT,
                     ErrorInput("class_counts must have 3 values, one per class; got 2",
                                dict(class_counts=[1.0, 2.0])),
                     ErrorInput(r"max_margin must be in \(0, inf\); got -1",
                                dict(max_margin=-1.0)),
                     ErrorInput(r"scale must be in \(0, inf\); got 0", dict(scale=0.0)))),
]

#: The rows by name.
BY_NAME = {case.name: case for case in CASES}
