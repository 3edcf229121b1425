"""One table of loss cases that drives the generic tests (tests/test_loss_table.py,
tests/test_dispatch.py).

Each :class:`LossCase` is one configuration of a public loss: the function, the module that
wraps it, how to make a sample ``(input, target)`` pair of a given shape, dtype and device,
the options (``kwargs``) it runs with, its float64 NumPy reference, the backends that have a
kernel for it, the inputs it must reject (``errors``) and what it supports (half precision,
second derivatives, ``torch.compile``). A loss with several modes (class indices, dense
targets, binary) has one row per mode. A new loss needs one row here plus the tests of its
own special cases.

Every error case of a loss is an :class:`ErrorInput` on its row: the shared ones
(``REDUCTION``, ``SHAPE``, ...) and each family's own tuple (``SIGMOID_FOCAL_ERRORS``, ...),
covering bad inputs and options of the function, other public functions of the family, and
the constructors and later assignments of its modules.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field, replace

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
    """A call that must raise ``error`` with a message matching ``match``.

    By default the call is the row's function on the row's sample inputs, changed by ``inputs``
    (a function of ``(input, target)``), with the row's options updated by ``kwargs``.

    Attributes:
        sample: the case's own ``(input, target)`` in place of the row's sample; the call then
            takes ``kwargs`` alone, not the row's options (see :func:`on_sample`).
        function: another public function of the row's family, called in the row's place as
            ``function(input, target, **kwargs)``.
        build: a module of the row's family (``True``: the row's module) or another callable
            of it, built as ``build(**kwargs)``; each ``assign`` item is then set on what it
            returned (a dotted name reaches into a submodule). Only a case with ``inputs`` or
            a ``sample`` then calls it on them: otherwise the constructor or an assignment
            must raise.
    """

    match: str
    kwargs: dict = field(default_factory=dict)
    inputs: Callable | None = None
    error: type[Exception] = ValueError
    sample: tuple | None = None
    function: Callable | None = None
    build: Callable | bool | None = None
    assign: dict = field(default_factory=dict)

    def call(self, case: LossCase):
        """Make the call for the row ``case`` (the caller expects it to raise)."""
        x, t = case.inputs() if self.sample is None else self.sample
        if self.inputs is not None:
            x, t = self.inputs(x, t)
        if self.build is not None:
            made = (case.module if self.build is True else self.build)(**self.kwargs)
            for name, value in self.assign.items():
                *path, attribute = name.split(".")
                setattr(functools.reduce(getattr, path, made), attribute, value)
            return made(x, t) if self.inputs is not None or self.sample is not None else made
        if self.function is not None:
            return self.function(x, t, **self.kwargs)
        if self.sample is not None:
            return case.function(x, t, **self.kwargs)
        return case(x, t, **self.kwargs)


def on_sample(input, target, *errors: ErrorInput) -> tuple[ErrorInput, ...]:
    """``errors`` called on ``(input, target)`` with their own ``kwargs`` alone."""
    return tuple(replace(error, sample=(input, target)) for error in errors)


def input_is(input):
    return lambda x, t: (input, t)


def target_is(target):
    return lambda x, t: (x, target)


def inputs_are(input, target):
    return lambda x, t: (input, target)


def on_meta(*shape):
    """A tensor on the meta device: another device than the CPU inputs."""
    return torch.full(shape, 0.5, device="meta")


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
# Error inputs of each loss (the rows below take them)
# ---------------------------------------------------------------------------------------------

#: Class counts for the 4-class samples of the long-tail errors.
FOUR_COUNTS = [50, 20, 5, 1]

#: The sigmoid focal loss, focal_modulation, SigmoidFocalLoss, FocalLoss's sigmoid modes and
#: FocalWrapper.
SIGMOID_FOCAL_ERRORS = (
    *on_sample(torch.zeros(2, 3), torch.ones(2, 3),
               ErrorInput(r"target must have the same shape as input \(2, 3\); got \(2, 1\)",
                          inputs=target_is(torch.ones(2, 1))),
               ErrorInput("target must have the same shape", dict(reduction="none"),
                          inputs=target_is(torch.ones(2, 1))),
               ErrorInput("target must have the same shape", dict(reduction="sum"),
                          inputs=target_is(torch.ones(2, 1))),
               ErrorInput(r"target must have the same shape as input \(2, 3\); got \(3,\)",
                          inputs=target_is(torch.ones(3))),
               ErrorInput(r"same shape as input \(2, 3\); got \(1, 2, 3\)",
                          inputs=target_is(torch.ones(1, 2, 3))),
               ErrorInput(r"target values must lie in \[0, 1\]; got values in \[0, 1\.5\]",
                          inputs=target_is(torch.tensor([[0.0, 1.5, 1.0]] * 2))),
               ErrorInput(r"target values must lie in \[0, 1\]; got values in \[-1, 1\]",
                          inputs=target_is(torch.tensor([[0.0, -1.0, 1.0]] * 2))),
               ErrorInput(r"target values must lie in \[0, 1\]; got values in \[-2, 0\]",
                          dict(ignore_index=-1),
                          inputs=target_is(torch.tensor([[0.0, -1.0, -2.0]] * 2))),
               ErrorInput(r"input \(probabilities, from_logits=False\) values must lie in \[0, "
                          r"1\]; got .*1\.2", dict(from_logits=False),
                          inputs=input_is(torch.full((2, 3), 1.2))),
               ErrorInput(r"input must be a floating-point tensor .*; got dtype torch\.int64",
                          inputs=input_is(torch.zeros(2, 3, dtype=torch.long)), error=TypeError),
               ErrorInput(r"target must be a floating-point tensor .*; got dtype torch\.int64",
                          inputs=target_is(torch.ones(2, 3, dtype=torch.long)), error=TypeError),
               ErrorInput(r"target must be a floating-point tensor .*; got dtype torch\.bool",
                          inputs=target_is(torch.ones(2, 3, dtype=torch.bool)), error=TypeError),
               ErrorInput(r"input must be a torch\.Tensor; got list",
                          inputs=input_is([[0.0, 1.0, 2.0]] * 2), error=TypeError),
               ErrorInput(r"target must be a torch\.Tensor; got float", inputs=target_is(1.0),
                          error=TypeError),
               ErrorInput(r"alpha must be in \[0, 1\]; got 1\.5", dict(alpha=1.5)),
               ErrorInput(r"alpha must be in \[0, 1\]; got -0\.25", dict(alpha=-0.25)),
               ErrorInput(r"alpha must be finite; got nan", dict(alpha=float("nan"))),
               ErrorInput(r"alpha must be a real number; got '0\.25'", dict(alpha="0.25"),
                          error=TypeError),
               ErrorInput(r"alpha must be a real number; got True", dict(alpha=True),
                          error=TypeError),
               ErrorInput(r"alpha values must lie in \[0, 1\]; got values in \[0\.2, 1\.2\]",
                          dict(alpha=torch.tensor([0.2, 1.2, 0.5]))),
               ErrorInput(r"alpha must be broadcastable to the input shape \(2, 3\); got shape "
                          r"\(2,\)", dict(alpha=torch.tensor([0.25, 0.5]))),
               ErrorInput(r"alpha must be broadcastable to the input shape \(2, 3\); got shape "
                          r"\(4, 2, 3\)", dict(alpha=torch.full((4, 2, 3), 0.5))),
               ErrorInput(r"alpha must be a floating-point tensor .*; got dtype torch\.int64",
                          dict(alpha=torch.tensor([1, 0, 1])), error=TypeError),
               ErrorInput(r"gamma must be in \[0, inf\); got -0\.5", dict(gamma=-0.5)),
               ErrorInput(r"gamma must be finite; got inf", dict(gamma=float("inf"))),
               ErrorInput(r"gamma must be a real number; got None", dict(gamma=None),
                          error=TypeError),
               ErrorInput(r"gamma must be a real number; got a tensor",
                          dict(gamma=torch.tensor(2.0)), error=TypeError),
               ErrorInput(r"epsilon must be in \[-1, inf\); got -1\.5", dict(epsilon=-1.5)),
               ErrorInput(r"epsilon must be finite; got nan", dict(epsilon=float("nan"))),
               ErrorInput(r"epsilon must be a real number; got '1'", dict(epsilon="1"),
                          error=TypeError),
               ErrorInput(r"reduction must be one of 'none', 'mean', 'sum'; got None",
                          dict(reduction=None)),
               ErrorInput(r"pos_weight must be broadcastable to the input shape \(2, 3\); got "
                          r"shape \(4,\)", dict(pos_weight=torch.ones(4))),
               ErrorInput(r"pos_weight must be a tensor, a number or None; got str",
                          dict(pos_weight="balanced"), error=TypeError),
               ErrorInput(r"pos_weight must be a floating-point tensor .*; got dtype torch\.int64",
                          dict(pos_weight=torch.ones(3, dtype=torch.long)), error=TypeError),
               ErrorInput(r"weight must be broadcastable to the input shape \(2, 3\); got shape "
                          r"\(2, 3, 1\)", dict(weight=torch.ones(2, 3, 1))),
               ErrorInput(r"weight must be a tensor, a number or None; got list",
                          dict(weight=[1.0, 2.0, 3.0]), error=TypeError),
               ErrorInput(r"ignore_index must be an int or None; got -1\.0",
                          dict(ignore_index=-1.0), error=TypeError),
               ErrorInput(r"ignore_index must be an int or None; got True", dict(ignore_index=True),
                          error=TypeError),
               ErrorInput(r"ignore_index must lie outside \[0, 1\], the range of valid targets "
                          r".*; got 0", dict(ignore_index=0)),
               ErrorInput(r"ignore_index must lie outside \[0, 1\].*; got 1", dict(ignore_index=1)),
               ErrorInput(r"from_logits must be a bool; got 'False'", dict(from_logits="False"),
                          error=TypeError),
               ErrorInput(r"from_logits must be a bool; got None", dict(from_logits=None),
                          error=TypeError),
               ErrorInput(r"alpha must be on the device of input \(cpu\); got a tensor on meta",
                          dict(alpha=on_meta(3))),
               ErrorInput(r"pos_weight must be on the device of input \(cpu\); got a tensor on "
                          r"meta", dict(pos_weight=on_meta(3))),
               ErrorInput(r"weight must be on the device of input \(cpu\); got a tensor on meta",
                          dict(weight=on_meta(2, 3)))),
    # focal_modulation, the factor of the sigmoid focal loss
    *on_sample(torch.zeros(4, 3), torch.ones(4, 3),
               ErrorInput(r"gamma must be in \[0, inf\); got -1", dict(gamma=-1),
                          function=F.focal_modulation),
               ErrorInput(r"gamma must be a real number; got '2'", dict(gamma="2"), error=TypeError,
                          function=F.focal_modulation),
               ErrorInput(r"alpha must be in \[0, 1\]; got 5", dict(alpha=5),
                          function=F.focal_modulation),
               ErrorInput(r"alpha values must lie in \[0, 1\]; got values in \[0\.5, 1\.5\]",
                          dict(alpha=torch.tensor([0.5, 1.5, 0.5])), function=F.focal_modulation),
               ErrorInput(r"alpha must be broadcastable to the input shape \(4, 3\); got shape "
                          r"\(4,\)", dict(alpha=torch.ones(4)), function=F.focal_modulation),
               ErrorInput(r"alpha must be on the device of input \(cpu\)", dict(alpha=on_meta(3)),
                          function=F.focal_modulation),
               ErrorInput(r"target must have the same shape as input \(4, 3\); got \(4, 1\)",
                          inputs=target_is(torch.ones(4, 1)), function=F.focal_modulation),
               ErrorInput(r"target values must lie in \[0, 1\]; got values in \[2, 2\]",
                          inputs=target_is(torch.full((4, 3), 2.0)), function=F.focal_modulation),
               ErrorInput(r"target must be a floating-point tensor .*; got dtype torch\.int64",
                          inputs=target_is(torch.ones(4, 3, dtype=torch.long)), error=TypeError,
                          function=F.focal_modulation),
               ErrorInput(r"input must be a floating-point tensor .*; got dtype torch\.int64",
                          inputs=input_is(torch.zeros(4, 3, dtype=torch.long)), error=TypeError,
                          function=F.focal_modulation)),
    # the modules
    ErrorInput(r"mode must be one of 'binary', 'multiclass', 'multilabel'; got 'softmax'",
               dict(mode="softmax"), build=focalkit.FocalLoss),
    ErrorInput(r"mode must be one of .*; got None", dict(mode=None), build=focalkit.FocalLoss),
    ErrorInput(r"label_smoothing applies to mode 'multiclass' only; got mode 'binary'",
               dict(mode="binary", label_smoothing=0.1), build=focalkit.FocalLoss),
    ErrorInput(r"alpha must be one of 'auto'; got 'balanced'",
               dict(mode="binary", alpha="balanced"), build=focalkit.FocalLoss),
    ErrorInput(r"alpha must be in \[0, 1\]; got 2", dict(mode="binary", alpha=2.0),
               build=focalkit.FocalLoss),
    ErrorInput(r"epsilon must be in \[-1, inf\)", dict(mode="binary", epsilon=-1.01),
               build=focalkit.FocalLoss),
    ErrorInput(r"epsilon must be a real number", dict(epsilon=True), error=TypeError,
               build=focalkit.SigmoidFocalLoss),
    ErrorInput(r"reduction must be one of 'none', 'mean', 'sum'; got 'max'",
               dict(mode="multilabel", reduction="max"), build=focalkit.FocalLoss),
    ErrorInput(r"target must have the same shape as input \(2, 3, 4\); got \(2, 4, 3\)",
               dict(mode="multilabel"),
               inputs=inputs_are(torch.zeros(2, 3, 4), torch.ones(2, 4, 3)),
               build=focalkit.FocalLoss),
    ErrorInput(r"target must have the same shape as input \(2, 1, 4\)", dict(mode="binary"),
               inputs=inputs_are(torch.zeros(2, 1, 4), torch.ones(2, 3)), build=focalkit.FocalLoss),
    ErrorInput(r"alpha must be in \[0, 1\]; got 1\.5", dict(alpha=1.5),
               build=focalkit.SigmoidFocalLoss),
    ErrorInput(r"gamma must be in \[0, inf\); got -2", dict(gamma=-2),
               build=focalkit.SigmoidFocalLoss),
    ErrorInput(r"reduction must be one of 'none', 'mean', 'sum'; got 'elementwise_mean'",
               dict(reduction="elementwise_mean"), build=focalkit.SigmoidFocalLoss),
    ErrorInput(r"target must have the same shape as input",
               inputs=inputs_are(torch.zeros(2, 3), torch.ones(3, 2)),
               build=focalkit.SigmoidFocalLoss),
    ErrorInput(r"gamma must be in \[0, inf\); got -1", build=focalkit.SigmoidFocalLoss,
               assign=dict(gamma=-1.0)),
    ErrorInput(r"pos_weight must be a tensor, a number or None; got list",
               dict(pos_weight=[1.0, 2.0, 3.0]), error=TypeError, build=focalkit.SigmoidFocalLoss),
    ErrorInput(r"weight must be a floating-point tensor .*; got dtype torch\.int64",
               dict(weight=torch.ones(3, dtype=torch.long)), error=TypeError,
               build=focalkit.SigmoidFocalLoss),
    ErrorInput(r"alpha values must lie in \[0, 1\]; got values in \[1\.5, 1\.5\]",
               dict(alpha=torch.tensor([1.5])), build=focalkit.SigmoidFocalLoss),
    ErrorInput(r"alpha must be a floating-point tensor .*; got dtype torch\.int64",
               dict(alpha=torch.tensor([1, 0])), error=TypeError, build=focalkit.SigmoidFocalLoss),
    ErrorInput(r"from_logits must be a bool; got 'False'", dict(from_logits="False"),
               error=TypeError, build=focalkit.SigmoidFocalLoss),
    ErrorInput(r"ignore_index must lie outside \[0, 1\]", dict(ignore_index=0),
               build=focalkit.SigmoidFocalLoss),
    ErrorInput(r"ignore_index must lie outside \[0, 1\]", dict(mode="binary", ignore_index=1),
               build=focalkit.FocalLoss),
    ErrorInput(r"alpha values must lie in \[0, 1\]; got values in \[0\.5, 1\.5\]",
               dict(mode="multilabel", alpha=[0.5, 1.5]), build=focalkit.FocalLoss),
    ErrorInput(r"alpha must be in \[0, 1\]; got 2", dict(mode="binary"), build=focalkit.FocalLoss,
               assign=dict(alpha=2.0)),
    ErrorInput(r"label_smoothing applies to mode 'multiclass' only; got mode 'multilabel'",
               dict(mode="multilabel"), build=focalkit.FocalLoss, assign=dict(label_smoothing=0.1)),
    ErrorInput(r"ignore_index must be an int", dict(ignore_index="x"), error=TypeError,
               build=focalkit.SigmoidFocalLoss),
    # FocalWrapper, on a (3, 3) input
    *on_sample(torch.zeros(3, 3), torch.ones(3, 3),
               ErrorInput(r"gamma must be a real number; got '2'",
                          dict(loss_fn=torch.nn.BCEWithLogitsLoss()), error=TypeError,
                          build=focalkit.FocalWrapper, assign=dict(gamma="2")),
               ErrorInput(r"loss_fn must be an nn\.Module with a 'reduction' attribute; got Linear",
                          dict(loss_fn=torch.nn.Linear(2, 2)), error=TypeError,
                          build=focalkit.FocalWrapper),
               ErrorInput(r"loss_fn must be an nn\.Module with a 'reduction' attribute; got "
                          r"function",
                          dict(loss_fn=torch.nn.functional.binary_cross_entropy_with_logits),
                          error=TypeError, build=focalkit.FocalWrapper),
               ErrorInput(r"gamma must be in \[0, inf\); got -1",
                          dict(loss_fn=torch.nn.BCEWithLogitsLoss(), gamma=-1.0),
                          build=focalkit.FocalWrapper),
               ErrorInput(r"alpha must be in \[0, 1\]; got 1\.25",
                          dict(loss_fn=torch.nn.BCEWithLogitsLoss(), alpha=1.25),
                          build=focalkit.FocalWrapper),
               ErrorInput(r"loss_fn\.reduction must be one of 'none', 'mean', 'sum'; got 'meen'",
                          dict(loss_fn=torch.nn.BCEWithLogitsLoss(reduction="meen")),
                          build=focalkit.FocalWrapper),
               ErrorInput(r"loss_fn\.reduction must be one of 'none', 'mean', 'sum'; got 'avg'",
                          dict(loss_fn=torch.nn.BCEWithLogitsLoss()), build=focalkit.FocalWrapper,
                          assign={"loss_fn.reduction": "avg"}),
               ErrorInput(r"loss_fn must return one loss per element of input \(shape \(3, 3\)\) "
                          r"with reduction='none'; got shape \(3,\)",
                          dict(loss_fn=torch.nn.CrossEntropyLoss()),
                          inputs=target_is(torch.full((3, 3), 1 / 3)), build=focalkit.FocalWrapper),
               ErrorInput(r"target values must lie in \[0, 1\]; got values in \[2, 2\]",
                          dict(loss_fn=torch.nn.BCEWithLogitsLoss()),
                          inputs=target_is(torch.full((3, 3), 2.0)), build=focalkit.FocalWrapper),
               ErrorInput(r"target must have the same shape as input \(3, 3\); got \(3, 1\)",
                          dict(loss_fn=torch.nn.BCEWithLogitsLoss()),
                          inputs=target_is(torch.ones(3, 1)), build=focalkit.FocalWrapper)),
)

#: The softmax focal loss, SoftmaxFocalLoss and FocalLoss's multiclass mode.
SOFTMAX_FOCAL_ERRORS = (
    *on_sample(torch.zeros(4, 3), torch.zeros(4, dtype=torch.long),
               ErrorInput(r"input must have shape \(N, C, \*\) with a class dimension; got shape "
                          r"\(3,\)", inputs=input_is(torch.zeros(3))),
               ErrorInput(r"target of class indices must have shape \(N, \*\) = \(4,\) for input "
                          r"\(4, 3\); got \(5,\)",
                          inputs=target_is(torch.zeros(5, dtype=torch.long))),
               ErrorInput(r"shape \(N, \*\) = \(2, 4, 5\) for input \(2, 3, 4, 5\); got \(2, 4, "
                          r"4\)",
                          inputs=inputs_are(torch.zeros(2, 3, 4, 5),
                                            torch.zeros(2, 4, 4, dtype=torch.long))),
               ErrorInput(r"shape \(N, \*\) = \(2, 4, 5\) for input \(2, 3, 4, 5\); got \(2, 1, "
                          r"4, 5\)",
                          inputs=inputs_are(torch.zeros(2, 3, 4, 5),
                                            torch.zeros(2, 1, 4, 5, dtype=torch.long))),
               ErrorInput(r"target must have the same shape as input \(4, 3\); got \(4, 2\)",
                          inputs=target_is(torch.full((4, 2), 0.5))),
               ErrorInput(r"= \(4,\) for input \(4, 3\); got \(4, 1\)",
                          inputs=target_is(torch.zeros(4, 1, dtype=torch.long))),
               ErrorInput(r"target class indices must lie in \[0, 2\] or equal ignore_index=-100; "
                          r"got 3", inputs=target_is(torch.tensor([0, 1, 3, 2]))),
               *(ErrorInput(r"target class indices must lie in \[0, 2\]",
                            dict(reduction=reduction), inputs=target_is(torch.full((4,), 7)))
                 for reduction in ("none", "mean", "sum")),
               ErrorInput(r"target class indices must lie in \[0, 2\] or equal ignore_index=-100; "
                          r"got -1", inputs=target_is(torch.tensor([0, -1, 2, 2]))),
               ErrorInput(r"target class indices must lie in \[0, 2\]; got -100",
                          dict(ignore_index=None), inputs=target_is(torch.tensor([0, -100, 2, 2]))),
               ErrorInput(r"lie in \[0, 2\] or equal ignore_index=-1; got -100",
                          dict(ignore_index=-1), inputs=target_is(torch.tensor([0, -100, 2, 2]))),
               ErrorInput(r"target values must lie in \[0, 1\]; got values in \[1\.5, 1\.5\]",
                          inputs=target_is(torch.full((4, 3), 1.5))),
               ErrorInput(r"target must hold integer class indices or float class probabilities; "
                          r"got dtype torch\.bool",
                          inputs=target_is(torch.ones(4, dtype=torch.bool)), error=TypeError),
               ErrorInput(r"target must be a torch\.Tensor; got list",
                          inputs=target_is([0, 1, 2, 0]), error=TypeError),
               ErrorInput(r"input must be a floating-point tensor .*; got dtype torch\.int32",
                          inputs=input_is(torch.zeros(4, 3, dtype=torch.int32)), error=TypeError),
               ErrorInput(r"input must be a torch\.Tensor; got str", inputs=input_is("logits"),
                          error=TypeError),
               ErrorInput(r"alpha must have 3 values, one per class; got 4",
                          dict(alpha=torch.ones(4))),
               ErrorInput(r"alpha must have 3 values, one per class; got \(1, 3\)",
                          dict(alpha=torch.ones(1, 3))),
               ErrorInput(r"alpha must be in \[0, inf\); got -0\.5", dict(alpha=-0.5)),
               ErrorInput(r"alpha values must lie in \[0, inf\); got values in \[-2, 1\]",
                          dict(alpha=[1.0, -2.0, 0.5])),
               ErrorInput(r"alpha values must be finite and lie in \[0, inf\); got inf for class 1",
                          dict(alpha=[1.0, float("inf"), 0.5])),
               ErrorInput(r"alpha must be None, a float or a sequence of 3 floats; got 'balanced'",
                          dict(alpha="balanced"), error=TypeError),
               ErrorInput(r"gamma must be in \[0, inf\); got -1", dict(gamma=-1)),
               ErrorInput(r"gamma must be a real number; got '2'", dict(gamma="2"),
                          error=TypeError),
               ErrorInput(r"reduction must be one of 'none', 'mean', 'sum'; got 'batchmean'",
                          dict(reduction="batchmean")),
               ErrorInput(r"label_smoothing must be in \[0, 1\]; got -0\.1",
                          dict(label_smoothing=-0.1)),
               ErrorInput(r"label_smoothing must be a real number; got None",
                          dict(label_smoothing=None), error=TypeError),
               ErrorInput(r"epsilon must be in \[-1, inf\); got -2", dict(epsilon=-2)),
               ErrorInput(r"epsilon must be a real number; got None", dict(epsilon=None),
                          error=TypeError),
               ErrorInput(r"ignore_index must be an int or None; got 'none'",
                          dict(ignore_index="none"), error=TypeError),
               ErrorInput(r"ignore_index applies to class-index targets; got class-probability "
                          r"targets of shape \(4, 3\) with ignore_index=255",
                          dict(ignore_index=255), inputs=target_is(torch.full((4, 3), 1 / 3))),
               ErrorInput(r"alpha must be a floating-point tensor .*; got dtype torch\.int64",
                          dict(alpha=torch.tensor([1, 2, 3])), error=TypeError),
               ErrorInput(r"alpha must be a floating-point tensor .*; got dtype torch\.bool",
                          dict(alpha=torch.tensor([True, False, True])), error=TypeError)),
    # the modules
    ErrorInput(r"pos_weight applies to the sigmoid modes only; got mode 'multiclass'",
               dict(mode="multiclass", pos_weight=torch.ones(3)), build=focalkit.FocalLoss),
    ErrorInput(r"gamma must be in \[0, inf\)", dict(mode="multiclass", gamma=-1.0),
               build=focalkit.FocalLoss),
    ErrorInput(r"epsilon must be in \[-1, inf\)", dict(epsilon=-3.0),
               build=focalkit.SoftmaxFocalLoss),
    ErrorInput(r"alpha must have 3 values, one per class; got 2",
               dict(mode="multiclass", alpha=[1.0, 2.0]),
               inputs=inputs_are(torch.zeros(4, 3), torch.zeros(4, dtype=torch.long)),
               build=focalkit.FocalLoss),
    ErrorInput(r"label_smoothing must be in \[0, 1\]; got 2", dict(label_smoothing=2.0),
               build=focalkit.SoftmaxFocalLoss),
    ErrorInput(r"gamma must be a real number", dict(gamma="high"), error=TypeError,
               build=focalkit.SoftmaxFocalLoss),
    ErrorInput(r"alpha must have 3 values, one per class; got 2", dict(alpha=[1.0, 2.0]),
               inputs=inputs_are(torch.zeros(4, 3), torch.zeros(4, dtype=torch.long)),
               build=focalkit.SoftmaxFocalLoss),
    ErrorInput(r"gamma must be finite; got nan", build=focalkit.SoftmaxFocalLoss,
               assign=dict(gamma=float("nan"))),
    ErrorInput(r"gamma must be in \[0, inf\)", dict(mode="multiclass"), build=focalkit.FocalLoss,
               assign=dict(gamma=-0.1)),
    ErrorInput(r"alpha must be a floating-point tensor .*; got dtype torch\.int64",
               dict(alpha=torch.tensor([1, 2, 3])), error=TypeError,
               build=focalkit.SoftmaxFocalLoss),
    ErrorInput(r"alpha must be a real number; got 'balanced'", dict(alpha="balanced"),
               error=TypeError, build=focalkit.SoftmaxFocalLoss),
    ErrorInput(r"reduction must be one of 'none', 'mean', 'sum'; got 'meen'",
               dict(mode="multiclass"), build=focalkit.FocalLoss, assign=dict(reduction="meen")),
    ErrorInput(r"pos_weight applies to the sigmoid modes only; got mode 'multiclass'",
               dict(mode="multiclass"), build=focalkit.FocalLoss,
               assign=dict(pos_weight=torch.ones(3))),
    ErrorInput(r"ignore_index must be an int or None; got 1\.5", dict(mode="multiclass"),
               error=TypeError, build=focalkit.FocalLoss, assign=dict(ignore_index=1.5)),
    ErrorInput(r"alpha values must lie in \[0, ", dict(alpha=[1.0, -1.0]),
               build=focalkit.SoftmaxFocalLoss),
    ErrorInput(r"1-D tensor .* shape \(2, 2\)", dict(alpha=torch.ones(2, 2)),
               build=focalkit.SoftmaxFocalLoss),
    ErrorInput(r"ignore_index must be an int", dict(ignore_index=1.5), error=TypeError,
               build=focalkit.SoftmaxFocalLoss),
)

#: Bad inputs of the Dice, Jaccard and Tversky losses (and their modules).
REGION_INPUT_ERRORS = (
    *on_sample(torch.randn(2, 3, 4, 4), torch.randint(0, 3, (2, 4, 4)),
               ErrorInput("input must be a torch.Tensor", inputs=input_is([1.0]), error=TypeError),
               ErrorInput("mode must be one of", dict(mode="multi")),
               ErrorInput("intersection must be one of", dict(intersection="l1")),
               ErrorInput(r"shape \(N, C, \*\) in mode 'multiclass'",
                          inputs=input_is(torch.randn(4))),
               ErrorInput("at least 2 classes", inputs=input_is(torch.randn(2, 1, 4, 4))),
               ErrorInput(r"target of class indices must have shape \(N, \*\)",
                          inputs=lambda x, t: (x, t[:, :3])),
               ErrorInput("target must have the same shape as input",
                          inputs=target_is(torch.rand(2, 4, 4, 4))),
               ErrorInput("integer class indices or float class probabilities",
                          inputs=lambda x, t: (x, t > 0), error=TypeError),
               ErrorInput(r"class indices must lie in \[0, 2\]", inputs=target_shifted(3)),
               ErrorInput("got -1", inputs=lambda x, t: (x, t - 1)),
               ErrorInput("or equal ignore_index=255", dict(ignore_index=255),
                          inputs=target_shifted(3)),
               ErrorInput(r"target values must lie in \[0, 1\]",
                          inputs=target_is(torch.rand(2, 3, 4, 4) * 2)),
               ErrorInput("ignore_index applies to class-index targets", dict(ignore_index=0),
                          inputs=target_is(torch.rand(2, 3, 4, 4))),
               ErrorInput(r"input \(probabilities, from_logits=False\) values must lie in \[0, 1\]",
                          dict(from_logits=False)),
               ErrorInput("target must have the same shape as input", dict(mode="binary"),
                          inputs=input_is(torch.randn(2, 1, 4, 4))),
               ErrorInput(r"\(N, \*\) or \(N, 1, \*\)", dict(mode="binary"),
                          inputs=inputs_are(torch.tensor(0.5), torch.tensor(1.0))),
               ErrorInput(r"must lie in \[0, 1\]", dict(mode="binary"),
                          inputs=inputs_are(torch.randn(2, 1, 4, 4),
                                            torch.randint(0, 2, (2, 1, 4, 4)).float() * 3)),
               ErrorInput("complex64", dict(mode="binary"),
                          inputs=inputs_are(torch.randn(2, 1, 2),
                                            torch.zeros(2, 1, 2, dtype=torch.complex64)),
                          error=TypeError),
               ErrorInput("mode 'multilabel'", dict(mode="multilabel"),
                          inputs=inputs_are(torch.randn(4), torch.ones(4))),
               ErrorInput("target must be a torch.Tensor", dict(mode="binary"),
                          inputs=inputs_are(torch.randn(2, 1, 2), [[1.0, 0.0]]), error=TypeError),
               ErrorInput(r"classes must lie in \[0, 2\] for an input with 3 classes; got 3",
                          dict(classes=[0, 3])),
               ErrorInput(r"classes must lie in \[0, 0\]", dict(mode="binary", classes=[1]),
                          inputs=inputs_are(torch.randn(2, 1, 4), torch.ones(2, 1, 4))),
               ErrorInput("at least one class", dict(classes=[])),
               ErrorInput("must not repeat", dict(classes=[1, 1])),
               ErrorInput("integer class indices", dict(classes=[0.5]), error=TypeError),
               ErrorInput("sequence of class indices", dict(classes="all"), error=TypeError),
               ErrorInput(r"eps must be in \(0, inf\)", dict(eps=0.0)),
               ErrorInput("smooth must be a real number", dict(smooth="1"), error=TypeError),
               ErrorInput("ignore_index must be an int", dict(ignore_index=1.5), error=TypeError),
               ErrorInput("from_logits must be a bool; got 'False'", dict(from_logits="False"),
                          error=TypeError),
               ErrorInput(r"ignore_index must lie outside \[0, 1\], the range of valid targets "
                          r".*; got 1", dict(mode="binary", ignore_index=1),
                          inputs=inputs_are(torch.randn(2, 1, 4, 4),
                                            torch.randint(0, 2, (2, 1, 4, 4)).float())),
               ErrorInput(r"ignore_index must lie outside \[0, 1\]",
                          dict(mode="multilabel", ignore_index=0),
                          inputs=inputs_are(torch.randn(2, 3, 4), torch.ones(2, 3, 4)))),
    # the modules
    ErrorInput("mode must be one of", dict(mode="softmax"), build=True),
    ErrorInput("reduction must be one of", dict(reduction="batchmean"), build=True),
    ErrorInput("smooth must be in", dict(smooth=-0.5), build=True),
    ErrorInput("eps must be in", dict(eps=-1.0), build=True),
    ErrorInput("intersection must be one of", dict(intersection="soft"), build=True),
    ErrorInput("ignore_index must be an int", dict(ignore_index="255"), error=TypeError,
               build=True),
    ErrorInput(r"classes must not repeat a class; got \[0, 0\]", dict(classes=[0, 0]), build=True),
    ErrorInput(r"classes must be class indices >= 0; got -1", dict(classes=[-1]), build=True),
    ErrorInput("classes must name at least one class", dict(classes=[]), build=True),
    ErrorInput("classes must hold integer class indices", dict(classes=[0.5]), error=TypeError,
               build=True),
    ErrorInput("from_logits must be a bool; got 'False'", dict(from_logits="False"),
               error=TypeError, build=True),
    ErrorInput(r"ignore_index must lie outside \[0, 1\]", dict(mode="binary", ignore_index=0),
               build=True),
)

#: region_stats, the statistics under the region losses.
REGION_STATS_ERRORS = on_sample(
    torch.randn(2, 3, 4, 4), torch.randint(0, 3, (2, 4, 4)),
    ErrorInput("mode must be one of", dict(mode="x"), function=F.region_stats),
    ErrorInput("class indices must lie", inputs=target_shifted(5), function=F.region_stats))

#: The Tversky loss's own hyper-parameters (and TverskyLoss's).
TVERSKY_ERRORS = (
    ErrorInput(r"alpha must be in \[0, inf\)", dict(alpha=-0.1), build=True),
    ErrorInput("beta must be finite", dict(beta=float("nan")), build=True),
    ErrorInput(r"gamma must be in \[0, inf\)", dict(gamma=-1.0), build=True),
    *on_sample(torch.randn(2, 3, 4, 4), torch.randint(0, 3, (2, 4, 4)),
               ErrorInput("beta must be finite", dict(beta=float("nan"))),
               ErrorInput(r"gamma must be in \[0, inf\)", dict(gamma=-1.0))),
    ErrorInput("gamma must be in", dict(gamma=2.0), build=True, assign=dict(gamma=-1.0)),
)

#: The Lovasz-Softmax loss and LovaszSoftmaxLoss.
LOVASZ_SOFTMAX_ERRORS = (
    *on_sample(torch.randn(2, 4, 5, 6) * 2, torch.randint(0, 4, (2, 5, 6)),
               ErrorInput("with C >= 2 classes", inputs=input_is(torch.randn(5))),
               ErrorInput("target must hold integer class indices", inputs=lambda x, t: (x, t > 0),
                          error=TypeError),
               ErrorInput("target must be a torch.Tensor", inputs=target_is([0, 1]),
                          error=TypeError),
               ErrorInput(r"target of class indices must have shape \(N, \*\)",
                          inputs=lambda x, t: (x, t[:, :4])),
               ErrorInput(r"class indices must lie in \[0, 3\]", inputs=target_shifted(4)),
               ErrorInput(r"classes must lie in \[0, 3\]", dict(classes=[4])),
               ErrorInput("at least one class", dict(classes=[])),
               ErrorInput("ignore_index must be an int", dict(ignore_index=2.0), error=TypeError),
               ErrorInput(r"must lie in \[0, 1\]", dict(from_logits=False)),
               ErrorInput("from_logits must be a bool; got 'False'", dict(from_logits="False"),
                          error=TypeError)),
    ErrorInput("classes must be one of", dict(classes="every"), build=True),
    ErrorInput("classes must not repeat a class", dict(classes=[1, 1]), build=True),
    ErrorInput("from_logits must be a bool", dict(from_logits="False"), error=TypeError,
               build=True),
)

#: The Lovasz hinge loss and LovaszHingeLoss.
LOVASZ_HINGE_ERRORS = (
    *on_sample(torch.randn(3, 5, 6) * 2, torch.randint(0, 2, (3, 5, 6)),
               ErrorInput(r"shape \(N, \*\)",
                          inputs=inputs_are(torch.tensor(1.0), torch.tensor(1))),
               ErrorInput("same shape as input", inputs=lambda x, t: (x, t[:, :2])),
               ErrorInput("values must be 0 or 1; got 2", inputs=target_shifted(1)),
               ErrorInput("values must be 0 or 1; got 0.5", inputs=lambda x, t: (x, t * 0.5)),
               ErrorInput("or equal ignore_index=255; got 3", dict(ignore_index=255),
                          inputs=lambda x, t: (x, t * 3)),
               ErrorInput("0/1 labels", inputs=lambda x, t: (x, t.to(torch.complex64)),
                          error=TypeError),
               ErrorInput("ignore_index must be an int", dict(ignore_index="x"), error=TypeError)),
    ErrorInput("ignore_index must be an int", dict(ignore_index=0.5), error=TypeError, build=True),
)

#: The asymmetric loss and AsymmetricLoss.
ASYMMETRIC_ERRORS = (
    *on_sample(torch.zeros(2, 3), torch.ones(2, 3),
               ErrorInput(r"target must have the same shape as input \(2, 3\); got \(2, 1\)",
                          inputs=target_is(torch.ones(2, 1))),
               ErrorInput(r"target values must lie in \[0, 1\]; got values in \[1\.5, 1\.5\]",
                          inputs=target_is(torch.full((2, 3), 1.5))),
               ErrorInput(r"input must be a floating-point tensor .*; got dtype torch\.int64",
                          inputs=input_is(torch.zeros(2, 3, dtype=torch.long)), error=TypeError),
               ErrorInput(r"target must be a floating-point tensor .*; got dtype torch\.bool",
                          inputs=target_is(torch.ones(2, 3, dtype=torch.bool)), error=TypeError),
               ErrorInput(r"input must be a torch\.Tensor; got list",
                          inputs=input_is([[0.0] * 3] * 2), error=TypeError),
               ErrorInput(r"gamma_pos must be in \[0, inf\); got -1", dict(gamma_pos=-1.0)),
               ErrorInput(r"gamma_neg must be in \[0, inf\); got -0\.5", dict(gamma_neg=-0.5)),
               ErrorInput(r"gamma_neg must be a real number; got None", dict(gamma_neg=None),
                          error=TypeError),
               ErrorInput(r"clip must be in \[0, 1\); got 1", dict(clip=1.0)),
               ErrorInput(r"clip must be in \[0, 1\); got -0\.05", dict(clip=-0.05)),
               ErrorInput(r"clip must be a real number; got None", dict(clip=None),
                          error=TypeError),
               ErrorInput(r"reduction must be one of 'none', 'mean', 'sum'; got 'batchmean'",
                          dict(reduction="batchmean")),
               ErrorInput(r"weight must be broadcastable to the input shape \(2, 3\); got shape "
                          r"\(4,\)", dict(weight=torch.ones(4))),
               ErrorInput(r"weight must be a tensor, a number or None; got list",
                          dict(weight=[1.0, 2.0, 3.0]), error=TypeError),
               ErrorInput(r"ignore_index must be an int or None; got -1\.0",
                          dict(ignore_index=-1.0), error=TypeError)),
    ErrorInput(r"clip must be in \[0, 1\); got 2", dict(clip=2.0), build=focalkit.AsymmetricLoss),
    ErrorInput(r"gamma_pos must be a real number", dict(gamma_pos="1"), error=TypeError,
               build=focalkit.AsymmetricLoss),
)

#: The quality focal loss and QualityFocalLoss.
QUALITY_FOCAL_ERRORS = (
    *on_sample(torch.zeros(2, 3), torch.zeros(2, 3),
               ErrorInput(r"target must have the same shape as input \(2, 3\); got \(3, 2\)",
                          inputs=target_is(torch.zeros(3, 2))),
               ErrorInput(r"target values must lie in \[0, 1\]; got values in \[1\.2, 1\.2\]",
                          inputs=target_is(torch.full((2, 3), 1.2))),
               ErrorInput(r"beta must be a real number; got '2'", dict(beta="2"), error=TypeError),
               ErrorInput(r"target must be a floating-point tensor .*; got dtype torch\.int64",
                          inputs=target_is(torch.zeros(2, 3, dtype=torch.long)), error=TypeError)),
    ErrorInput(r"beta must be a real number; got None", dict(beta=None), error=TypeError,
               build=focalkit.QualityFocalLoss),
)

#: The varifocal loss and VarifocalLoss.
VARIFOCAL_ERRORS = (
    *on_sample(torch.zeros(2, 3), torch.zeros(2, 3),
               ErrorInput(r"input must be a floating-point tensor .*; got dtype torch\.int32",
                          inputs=input_is(torch.zeros(2, 3, dtype=torch.int32)), error=TypeError),
               ErrorInput(r"target values must lie in \[0, 1\]; got values in \[-0\.5, -0\.5\]",
                          inputs=target_is(torch.full((2, 3), -0.5))),
               ErrorInput(r"alpha must be in \[0, inf\); got -0\.75", dict(alpha=-0.75)),
               ErrorInput(r"gamma must be finite; got nan", dict(gamma=float("nan"))),
               ErrorInput(r"weight must be broadcastable to the input shape \(2, 3\); got shape "
                          r"\(2,\)", dict(weight=torch.ones(2))),
               ErrorInput(r"ignore_index must be an int or None; got 'none'",
                          dict(ignore_index="none"), error=TypeError)),
    ErrorInput(r"gamma must be in \[0, inf\); got -1", dict(gamma=-1.0),
               build=focalkit.VarifocalLoss),
)

#: The distribution focal loss.
DISTRIBUTION_FOCAL_ERRORS = (
    *on_sample(torch.zeros(2, 4, 5), torch.zeros(2, 4),
               ErrorInput(r"input must have shape \(\*, n_bins\) with n_bins >= 2; got shape \(2, "
                          r"4, 1\)", inputs=inputs_are(torch.zeros(2, 4, 1), torch.zeros(2, 4))),
               ErrorInput(r"target must have the input's shape without its last \(bin\) "
                          r"dimension, \(2, 4\); got \(2, 4, 5\)",
                          inputs=target_is(torch.zeros(2, 4, 5))),
               ErrorInput(r"target values must lie in \[0, n_bins - 1\] = \[0, 4\]; got values in "
                          r"\[4\.5, 4\.5\]", inputs=target_is(torch.full((2, 4), 4.5))),
               ErrorInput(r"= \[0, 4\]; got values in \[-1, 3\]",
                          inputs=target_is(torch.tensor([[0.0, -1.0, 2.0, 3.0]] * 2))),
               ErrorInput(r"= \[0, 4\]; got values in \[-2, 3\]", dict(ignore_index=-1),
                          inputs=target_is(torch.tensor([[0.0, -2.0, -1.0, 3.0]] * 2))),
               ErrorInput(r"target must be a floating-point tensor .*; got dtype torch\.int64",
                          inputs=target_is(torch.zeros(2, 4, dtype=torch.long)), error=TypeError),
               ErrorInput(r"weight must be broadcastable to the target shape \(2, 4\); got shape "
                          r"\(3,\)", dict(weight=torch.ones(3)))),
)

#: Poly-1 cross-entropy and Poly1CrossEntropyLoss.
POLY1_ERRORS = (
    *on_sample(torch.zeros(4, 3), torch.zeros(4, dtype=torch.long),
               ErrorInput(r"input must have shape \(N, C, \*\) with a class dimension; got shape "
                          r"\(3,\)", inputs=input_is(torch.zeros(3))),
               ErrorInput(r"target of class indices must have shape \(N, \*\) = \(4,\) for input "
                          r"\(4, 3\); got \(5,\)",
                          inputs=target_is(torch.zeros(5, dtype=torch.long))),
               ErrorInput(r"target class indices must lie in \[0, 2\] or equal ignore_index=-100; "
                          r"got 3", inputs=target_is(torch.tensor([0, 1, 3, 2]))),
               ErrorInput(r"target values must lie in \[0, 1\]; got values in \[2, 2\]",
                          inputs=target_is(torch.full((4, 3), 2.0))),
               ErrorInput(r"epsilon must be a real number; got '1'", dict(epsilon="1"),
                          error=TypeError),
               ErrorInput(r"weight must have 3 values, one per class; got 2",
                          dict(weight=[1.0, 2.0])),
               ErrorInput(r"weight values must lie in \[0, inf\); got values in \[-1, 1\]",
                          dict(weight=torch.tensor([1.0, -1.0, 1.0]))),
               ErrorInput(r"label_smoothing must be in \[0, 1\]; got 1\.5",
                          dict(label_smoothing=1.5)),
               ErrorInput(r"reduction must be one of 'none', 'mean', 'sum'; got 'batchmean'",
                          dict(reduction="batchmean")),
               ErrorInput(r"target class indices must lie in \[0, 2\]; got -100",
                          dict(ignore_index=None),
                          inputs=target_is(torch.tensor([0, -100, 1, 2])))),
    ErrorInput(r"weight must be a 1-D tensor with one weight per class; got shape \(2, 2\)",
               dict(weight=torch.ones(2, 2)), build=focalkit.Poly1CrossEntropyLoss),
)

#: The generalized Dice loss and GeneralizedDiceLoss.
GENERALIZED_DICE_ERRORS = (
    *on_sample(torch.randn(2, 4, 5, 5), torch.randint(0, 4, (2, 5, 5)),
               ErrorInput(r"weighting must be one of 'square', 'simple', 'uniform'; got 'log'",
                          dict(weighting="log")),
               ErrorInput(r"classes must lie in \[0, 3\]", dict(classes=[4])),
               ErrorInput(r"target class indices must lie in \[0, 3\]", inputs=target_shifted(4))),
    ErrorInput(r"weighting must be one of", dict(weighting="cube"),
               build=focalkit.GeneralizedDiceLoss),
)

#: The unified focal loss and UnifiedFocalLoss.
UNIFIED_FOCAL_ERRORS = (
    *on_sample(torch.randn(2, 4, 5, 5), torch.randint(0, 4, (2, 5, 5)),
               ErrorInput(r"gamma must be in \[0, 1\]; got 1\.5", dict(gamma=1.5)),
               ErrorInput(r"delta must be in \[0, 1\]; got -0\.1", dict(delta=-0.1)),
               ErrorInput(r"weight must be in \[0, 1\]; got 2", dict(weight=2.0)),
               ErrorInput(r"background must be None, a class index or a sequence of class indices",
                          dict(background="bg"), error=TypeError),
               ErrorInput(r"eps must be in \(0, inf\); got 0", dict(eps=0.0)),
               ErrorInput(r"target must have the same shape as input",
                          inputs=lambda x, t: (x, t.float())),
               ErrorInput(r"target must have the same shape as input", dict(mode="binary"),
                          inputs=target_is(torch.rand(2, 1, 5, 5) * 2))),
    ErrorInput(r"gamma must be in \[0, 1\]; got 2", dict(gamma=2.0),
               build=focalkit.UnifiedFocalLoss),
)

#: Logit-adjusted cross-entropy and LogitAdjustedCrossEntropyLoss.
LOGIT_ADJUSTED_ERRORS = (
    *on_sample(torch.randn(3, 4, 2, 3), torch.randint(0, 4, (3, 2, 3)),
               ErrorInput(r"needs exactly one of class_counts and prior; got neither",
                          error=TypeError),
               ErrorInput(r"needs exactly one of class_counts and prior; got both",
                          dict(class_counts=FOUR_COUNTS, prior=FOUR_COUNTS), error=TypeError),
               ErrorInput(r"class_counts must have 4 values, one per class; got 3",
                          dict(class_counts=[1, 2, 3])),
               ErrorInput(r"class_counts must be positive for every class .*; got 0 for class 1",
                          dict(class_counts=[5, 0, 3, 1])),
               ErrorInput(r"prior values must lie in \[0, inf\)",
                          dict(prior=[0.5, -0.1, 0.3, 0.3])),
               ErrorInput(r"tau must be in \[0, inf\); got -1",
                          dict(class_counts=FOUR_COUNTS, tau=-1.0)),
               ErrorInput(r"target must have the same shape as input",
                          dict(class_counts=FOUR_COUNTS), inputs=lambda x, t: (x, t.float())),
               ErrorInput(r"target class indices must lie in \[0, 3\]",
                          dict(class_counts=FOUR_COUNTS), inputs=target_shifted(4))),
    ErrorInput(r"needs exactly one of class_counts and prior; got neither", error=TypeError,
               build=focalkit.LogitAdjustedCrossEntropyLoss),
    ErrorInput(r"prior must be None or a sequence or 1-D tensor", dict(prior="flat"),
               error=TypeError, build=focalkit.LogitAdjustedCrossEntropyLoss),
)

#: The LDAM loss, ldam_margins and LDAMLoss.
LDAM_ERRORS = (
    *on_sample(torch.randn(3, 4, 2, 3), torch.randint(0, 4, (3, 2, 3)),
               ErrorInput(r"ldam_loss needs class-index targets", dict(class_counts=FOUR_COUNTS),
                          inputs=lambda x, t: (x, torch.rand_like(x)), error=TypeError),
               ErrorInput(r"max_margin must be in \(0, inf\); got -0\.5",
                          dict(class_counts=FOUR_COUNTS, max_margin=-0.5))),
    ErrorInput(r"class_counts must be a non-empty 1-D sequence", dict(class_counts=[[1, 2]]),
               build=F.ldam_margins),
    ErrorInput(r"class_counts must be a sequence or 1-D tensor of per-class counts; got None",
               dict(class_counts=None), error=TypeError, build=focalkit.LDAMLoss),
    ErrorInput(r"class_counts must be positive for every class", dict(class_counts=[3, 0]),
               build=focalkit.LDAMLoss),
)


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
             errors=(*SIGMOID_FOCAL_ERRORS, REDUCTION, SHAPE, UNIT, FLOAT_INPUT,
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
             errors=(*SOFTMAX_FOCAL_ERRORS, REDUCTION, INDICES, FLOAT_INPUT,
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
             errors=REGION_INPUT_ERRORS + REGION_STATS_ERRORS + REGION + (INDICES,
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
             errors=(*REGION_INPUT_ERRORS, *REGION,
                     ErrorInput(r"classes must lie in \[0, 2\] for an input with 3 "
                                "classes; got 5", dict(classes=[5])))),
    LossCase("jaccard_multilabel", F.jaccard_loss, focalkit.JaccardLoss, dense_binary(),
             dict(mode="multilabel"), reference=R.jaccard_loss, kernels=TRITON,
             grads=("input", "target")),
    LossCase("tversky", F.tversky_loss, focalkit.TverskyLoss, class_index,
             dict(alpha=0.3, beta=0.7, gamma=0.75), reference=R.tversky_loss,
             variants=(dict(gamma=1.0, per_image=True),), kernels=BOTH,
             errors=(*REGION_INPUT_ERRORS, *TVERSKY_ERRORS, *REGION,
                     ErrorInput(r"alpha must be in \[0, inf\); got -0.1", dict(alpha=-0.1)))),
    LossCase("tversky_binary", F.tversky_loss, focalkit.TverskyLoss, dense_binary(),
             dict(mode="binary"), shape=(2, 1, 4, 5), reference=R.tversky_loss,
             kernels=TRITON, grads=("input", "target")),
    LossCase("generalized_dice", F.generalized_dice_loss, focalkit.GeneralizedDiceLoss,
             class_index, reference=R.generalized_dice_loss,
             variants=(dict(weighting="simple"), dict(weighting="uniform", per_image=True,
                                                      reduction="none")),
             kernels=BOTH,
             errors=(*GENERALIZED_DICE_ERRORS, *REGION,
                     ErrorInput("weighting must be one of 'square', 'simple', "
                                "'uniform'; got 'cube'", dict(weighting="cube")))),
    LossCase("generalized_dice_multilabel", F.generalized_dice_loss,
             focalkit.GeneralizedDiceLoss, dense_binary(soft=False), dict(mode="multilabel"),
             reference=R.generalized_dice_loss, kernels=TRITON),
    LossCase("unified_focal", F.unified_focal_loss, focalkit.UnifiedFocalLoss,
             class_index_ignored(2), dict(ignore_index=2), reference=R.unified_focal_loss,
             kernels=BOTH,
             variants=(dict(background=None, per_image=True), dict(reduction="sum")),
             errors=(*UNIFIED_FOCAL_ERRORS, REDUCTION, INDICES, FLOAT_INPUT,
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
             errors=(*LOVASZ_SOFTMAX_ERRORS, FLOAT_INPUT,
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
             errors=(*LOVASZ_HINGE_ERRORS, FLOAT_INPUT, SHAPE,
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
             errors=(*ASYMMETRIC_ERRORS, REDUCTION, SHAPE,
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
             errors=(*QUALITY_FOCAL_ERRORS, REDUCTION, SHAPE, UNIT, FLOAT_INPUT,
                     ErrorInput(r"beta must be in \[0, inf\); got -1", dict(beta=-1.0)),
                     *IGNORE_BINARY, *WEIGHT)),
    LossCase("varifocal", F.varifocal_loss, focalkit.VarifocalLoss, iou_targets,
             shape=(4, 6), reference=R.varifocal_loss,
             variants=REDUCTIONS + (dict(iou_weighted=False, gamma=1.5),), kernels=BLOCKED,
             errors=(*VARIFOCAL_ERRORS, REDUCTION, SHAPE, UNIT, FLOAT_INPUT,
                     ErrorInput("iou_weighted must be a bool; got 1", dict(iou_weighted=1),
                                error=TypeError),
                     ErrorInput(r"alpha must be in \[0, inf\); got -1", dict(alpha=-1.0)),
                     *IGNORE_BINARY, *WEIGHT)),
    LossCase("distribution_focal", F.distribution_focal_loss, focalkit.DistributionFocalLoss,
             bin_offsets, shape=(3, 4, 6), reference=R.distribution_focal_loss,
             variants=REDUCTIONS, grads=("input", "target"),
             errors=(*DISTRIBUTION_FOCAL_ERRORS, REDUCTION, FLOAT_INPUT,
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
             errors=(*POLY1_ERRORS, REDUCTION, INDICES, FLOAT_INPUT,
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
             errors=(*LOGIT_ADJUSTED_ERRORS, REDUCTION, INDICES, FLOAT_INPUT,
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
             errors=(*LDAM_ERRORS, REDUCTION, INDICES, FLOAT_INPUT,
                     ErrorInput("class_counts must have 3 values, one per class; got 2",
                                dict(class_counts=[1.0, 2.0])),
                     ErrorInput(r"max_margin must be in \(0, inf\); got -1",
                                dict(max_margin=-1.0)),
                     ErrorInput(r"scale must be in \(0, inf\); got 0", dict(scale=0.0)))),
]

#: The rows by name.
BY_NAME = {case.name: case for case in CASES}

#: Public losses whose arguments a row cannot hold, with the test file that has their table:
#: a loss over a linear layer takes the layer's weight (and bias) besides input and target.
OWN_TABLES = {F.linear_softmax_focal_loss: "test_linear.py"}
