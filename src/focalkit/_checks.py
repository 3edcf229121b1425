"""Argument checks shared by every loss: validation only.

Everything a public function validates goes through here, so that the same mistake gets the
same message everywhere. Shape and type checks are cheap and always run. Value checks (class
indices in range, targets inside [0, 1]) depend on where the data lives (:func:`value_checks`):
on CPU tensors they read it once and say which value is wrong; on other devices they become
device-side assertions, so that no data travels back to the host; while ``torch.compile`` or a
``torch.func`` transform traces, where a data-dependent Python branch would break the trace,
they are skipped.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import torch
from torch import Tensor

from ._tensor import compute_dtype
from ._tracing import is_compiling, is_traced

REDUCTIONS = ("none", "mean", "sum")
#: The modes of the region losses.
REGION_MODES = ("multiclass", "binary", "multilabel")
#: The intersections of the region losses.
INTERSECTIONS = ("product", "min")


def value_checks(tensor: Tensor) -> str | None:
    """How to check the values of ``tensor``: ``"eager"`` (read on the host), ``"device"``
    (``torch._assert_async``, no synchronisation) or None (skipped: empty, or traced)."""
    if tensor.numel() == 0 or is_traced(tensor):
        return None
    return "eager" if tensor.device.type == "cpu" else "device"


def _assert_on_device(ok: Tensor, message: str) -> None:
    """Raise ``message`` on the device when ``ok`` is not all True (when the stream gets there)."""
    torch._assert_async(ok.all(), f"{message} (checked on the device)")


def _describe(value: object) -> str:
    if isinstance(value, Tensor):
        return f"a tensor of shape {tuple(value.shape)} and dtype {value.dtype}"
    return repr(value)


def check_reduction(reduction: object) -> str:
    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        valid = ", ".join(repr(r) for r in REDUCTIONS)
        raise ValueError(f"reduction must be one of {valid}; got {reduction!r}")
    return reduction


def check_choice(name: str, value: object, choices: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        valid = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {valid}; got {value!r}")
    return value


def check_real(name: str, value: object, *, low: float | None = None, high: float | None = None,
               low_open: bool = False, high_open: bool = False) -> float:
    """Return ``value`` as a float after checking that it is a finite real number in range.

    While ``torch.compile`` traces, only the type is checked: the tracer may hold the float as
    a symbolic graph input (so that a schedule changing it recompiles nothing), whose value no
    Python branch may read.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {_describe(value)}")
    if is_compiling():
        return value
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value}")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        left = "(" if low_open else "["
        right = ")" if high_open or high is None else "]"  # inf itself is rejected above
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        raise ValueError(f"{name} must be in {left}{lo}, {hi}{right}; got {value:g}")
    return value


def check_positive_int(name: str, value: object) -> int:
    """``value`` must be an integer >= 1 (a bool or a float is refused, not rounded)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a positive int; got {_describe(value)}")
    if value < 1:
        raise ValueError(f"{name} must be a positive int (>= 1); got {value}")
    return int(value)


def check_gamma(gamma: object) -> float:
    return check_real("gamma", gamma, low=0.0)


def check_bool(name: str, value: object) -> bool:
    """``value`` must be a bool (a string such as ``"False"`` would otherwise read as True)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool; got {_describe(value)}")
    return value


def check_float_tensor(name: str, tensor: object) -> Tensor:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor; got {type(tensor).__name__}")
    if not tensor.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point tensor (float16, bfloat16, float32 or float64); "
            f"got dtype {tensor.dtype}"
        )
    return tensor


def check_same_shape(input: Tensor, target: Tensor, *, target_name: str = "target") -> None:
    """``target`` must have the shape of ``input`` and live on its device."""
    if input.shape != target.shape:
        raise ValueError(
            f"{target_name} must have the same shape as input {tuple(input.shape)}; "
            f"got {tuple(target.shape)}"
        )
    check_device(target_name, target, input)


def check_broadcastable(name: str, tensor: Tensor, shape: torch.Size, *,
                        of: str = "input") -> None:
    """``tensor`` must broadcast to ``shape`` without changing it (never the other way round)."""
    try:
        result = torch.broadcast_shapes(tensor.shape, shape)
    except RuntimeError:
        result = None
    if result != shape:
        raise ValueError(
            f"{name} must be broadcastable to the {of} shape {tuple(shape)}; "
            f"got shape {tuple(tensor.shape)}"
        )


def check_device(name: str, tensor: Tensor, input: Tensor) -> None:
    """A target or hyper-parameter tensor must live on the device of ``input`` (never moved
    silently: a tensor on another device would be read as garbage or copied every call)."""
    if tensor.device != input.device:
        raise ValueError(f"{name} must be on the device of input ({input.device}); got a tensor "
                         f"on {tensor.device}")


def check_unit_alpha(alpha: object, input: Tensor | None = None) -> float | Tensor | None:
    """The ``alpha`` of the sigmoid losses: None, a real in [0, 1], or a float tensor of such.

    A tensor must also broadcast to ``input`` and live on its device; without ``input`` (a
    module's constructor) only its dtype and values are checked.
    """
    if alpha is None:
        return None
    if not isinstance(alpha, Tensor):
        return check_real("alpha", alpha, low=0.0, high=1.0)
    check_float_tensor("alpha", alpha)
    if input is not None:
        check_broadcastable("alpha", alpha, input.shape)
        check_device("alpha", alpha, input)
    check_unit_interval("alpha", alpha)
    return alpha


def check_optional_weight(name: str, value: object) -> float | Tensor | None:
    """A ``weight`` / ``pos_weight``: None, a real number or a floating-point tensor, finite
    and non-negative (a NaN, infinite or negative weight gives a NaN, infinite or negative
    loss)."""
    if value is None:
        return None
    if isinstance(value, Tensor):
        check_float_tensor(name, value)
        check_weight_values(name, value)
        return value
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return check_real(name, value, low=0.0)
    raise TypeError(f"{name} must be a tensor, a number or None; got {type(value).__name__}")


def check_weight_values(name: str, tensor: Tensor) -> None:
    """Values of a weight tensor must be finite and non-negative."""
    how = value_checks(tensor)
    if how is None:
        return
    values = tensor.detach()
    ok = (values >= 0) & torch.isfinite(values)
    if how == "device":
        _assert_on_device(ok, f"{name} values must lie in [0, inf)")
    elif not bool(ok.all()):
        bad = float(values[~ok][0])
        raise ValueError(f"{name} values must lie in [0, inf); got {bad:g}")


def check_optional_positive_int(name: str, value: object) -> int | None:
    """None, or a positive int as :func:`check_positive_int` checks it."""
    return None if value is None else check_positive_int(name, value)


def check_ignore_index(ignore_index: object) -> int | None:
    if ignore_index is None:
        return None
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, numbers.Integral):
        raise TypeError(f"ignore_index must be an int or None; got {_describe(ignore_index)}")
    return int(ignore_index)


def check_softmax_focal(gamma: object, reduction: object, ignore_index: object,
                        label_smoothing: object, epsilon: object
                        ) -> tuple[float, int | None, float, float]:
    """The scalar options of the softmax focal loss, the same over a linear layer: ``gamma``,
    ``reduction``, ``ignore_index``, ``label_smoothing`` in [0, 1] and ``epsilon >= -1``, in
    that order. Returns gamma, ignore_index, label_smoothing and epsilon."""
    gamma = check_gamma(gamma)
    check_reduction(reduction)
    ignore_index = check_ignore_index(ignore_index)
    label_smoothing = check_real("label_smoothing", label_smoothing, low=0.0, high=1.0)
    epsilon = check_real("epsilon", epsilon, low=-1.0)
    return gamma, ignore_index, label_smoothing, epsilon


def as_optional_tensor(name: str, value: object, input: Tensor, *,
                       shape: torch.Size | None = None, of: str = "input") -> Tensor | None:
    """A ``weight`` / ``pos_weight`` for ``input`` (see :func:`check_optional_weight`): a
    number becomes a 0-d tensor of the input's compute dtype and device; a tensor must be
    floating point and broadcast to ``shape`` (default: the input's; ``of`` names it)."""
    value = check_optional_weight(name, value)
    if isinstance(value, float):
        return torch.tensor(value, dtype=compute_dtype(input), device=input.device)
    if value is not None:
        check_broadcastable(name, value, input.shape if shape is None else shape, of=of)
        check_device(name, value, input)
    return value


def check_class_values(target: Tensor, is_index: bool, num_classes: int,
                       ignore_index: int | None) -> Tensor:
    """Check a multi-class target's values: class indices in range (returned as int32 or
    int64, the dtypes ``gather`` takes), or probabilities in [0, 1]."""
    if not is_index:
        check_unit_interval("target", target)
        return target
    if target.dtype not in (torch.int32, torch.int64):
        target = target.long()  # uint8 masks and the like
    check_class_indices(target, num_classes, ignore_index)
    return target


def check_ignore_outside(ignore_index: object, low: float, high: float,
                         range_name: str | None = None) -> int | None:
    """An ``ignore_index`` for target *values* in ``[low, high]`` must lie outside that range.

    Ignoring a valid value would silently drop every target equal to it (every negative of a
    binary target for 0). Class-index targets are different: there ``ignore_index`` names a
    label to skip and any class may be skipped, as in :func:`torch.nn.functional.cross_entropy`.
    """
    ignore_index = check_ignore_index(ignore_index)
    if ignore_index is not None and low <= ignore_index <= high:
        name = range_name or f"[{low:g}, {high:g}]"
        raise ValueError(f"ignore_index must lie outside {name}, the range of valid targets "
                         f"(it would skip every target equal to it); got {ignore_index}")
    return ignore_index


def check_binary_ignore_index(ignore_index: object) -> int | None:
    """An ``ignore_index`` for targets in [0, 1] must lie outside [0, 1]."""
    return check_ignore_outside(ignore_index, 0, 1)


def check_unit_interval(name: str, tensor: Tensor, ignore_index: int | None = None) -> None:
    """Values of ``tensor`` (other than ``ignore_index``) must lie in [0, 1]."""
    how = value_checks(tensor)
    if how is None:
        return
    if how == "device":
        values = tensor.detach()
        ok = (values >= 0) & (values <= 1)
        if ignore_index is not None:
            ok |= values == ignore_index
        _assert_on_device(ok, f"{name} values must lie in [0, 1]")
        return
    low, high = torch.aminmax(tensor.detach())
    if bool(low >= 0) and bool(high <= 1):
        return
    if ignore_index is not None:
        values = tensor.detach()[tensor.detach() != ignore_index]
        if values.numel() == 0:
            return
        low, high = torch.aminmax(values)
    if not (bool(low >= 0) and bool(high <= 1)):
        raise ValueError(
            f"{name} values must lie in [0, 1]; got values in [{float(low):g}, {float(high):g}]"
        )


def check_class_indices(target: Tensor, num_classes: int, ignore_index: int | None) -> None:
    """Class indices must lie in [0, num_classes) unless equal to ignore_index."""
    how = value_checks(target)
    if how is None:
        return
    if how == "device":
        ok = (target >= 0) & (target < num_classes)
        if ignore_index is not None:
            ok |= target == ignore_index
        extra = "" if ignore_index is None else f" or equal ignore_index={ignore_index}"
        _assert_on_device(ok, f"target class indices must lie in [0, {num_classes - 1}]{extra}")
        return
    low, high = torch.aminmax(target)
    if bool(low >= 0) and bool(high < num_classes):
        return
    if ignore_index is not None:
        values = target[target != ignore_index]
        if values.numel() == 0:
            return
        low, high = torch.aminmax(values)
    if bool(low < 0) or bool(high >= num_classes):
        bad = int(low) if bool(low < 0) else int(high)
        extra = "" if ignore_index is None else f" or equal ignore_index={ignore_index}"
        raise ValueError(
            f"target class indices must lie in [0, {num_classes - 1}]{extra}; got {bad}"
        )


def check_class_target(input: Tensor, target: object) -> bool:
    """Check a multi-class target against ``(N, C, *)`` input.

    Returns True for class-index targets ``(N, *)`` and False for class-probability targets
    ``(N, C, *)``.
    """
    if input.dim() < 2:
        raise ValueError(
            f"input must have shape (N, C, *) with a class dimension; got shape "
            f"{tuple(input.shape)}"
        )
    if not isinstance(target, Tensor):
        raise TypeError(f"target must be a torch.Tensor; got {type(target).__name__}")
    check_device("target", target, input)
    if target.is_floating_point():
        check_same_shape(input, target)
        return False
    if target.dtype == torch.bool or target.is_complex():
        raise TypeError(
            f"target must hold integer class indices or float class probabilities; "
            f"got dtype {target.dtype}"
        )
    expected = (input.shape[0], *input.shape[2:])
    if tuple(target.shape) != expected:
        raise ValueError(
            f"target of class indices must have shape (N, *) = {expected} for input "
            f"{tuple(input.shape)}; got {tuple(target.shape)}"
        )
    return True


def check_index_target(input: Tensor, target: object, layout: str = "(N, *)",
                       expected: tuple[int, ...] | None = None) -> None:
    """``target`` must be a tensor of integer class indices of shape ``(N, *)`` for an
    ``(N, C, *)`` input, or of shape ``expected`` when given (``layout`` names the shape in
    the message), on the input's device."""
    if not isinstance(target, Tensor):
        raise TypeError(f"target must be a torch.Tensor; got {type(target).__name__}")
    if target.is_floating_point() or target.is_complex() or target.dtype == torch.bool:
        raise TypeError(f"target must hold integer class indices; got dtype {target.dtype}")
    if expected is None:
        expected = (input.shape[0], *input.shape[2:])
    if tuple(target.shape) != expected:
        raise ValueError(f"target of class indices must have shape {layout} = {expected} for "
                         f"input {tuple(input.shape)}; got {tuple(target.shape)}")
    check_device("target", target, input)


def check_linear_head(input: Tensor, weight: object, target: object,
                      bias: object) -> int:
    """Check the operands of a loss over a linear layer and return the number of classes C.

    ``input`` holds features ``(*, H)``, ``weight`` must be a ``(C, H)`` tensor and ``bias``
    None or a ``(C,)`` tensor, both of the input's dtype and device; ``target`` must hold
    integer class indices of shape ``(*)``.
    """
    if input.dim() < 1:
        raise ValueError(f"input must have shape (*, H) with a feature dimension; got shape "
                         f"{tuple(input.shape)}")
    features = input.shape[-1]
    check_float_tensor("linear_weight", weight)
    if weight.dim() != 2 or weight.shape[1] != features:
        raise ValueError(f"linear_weight must have shape (C, H) = (C, {features}) for input of "
                         f"shape {tuple(input.shape)}; got {tuple(weight.shape)}")
    classes = weight.shape[0]
    if classes < 1:
        raise ValueError(f"linear_weight must have at least one class (row); got shape "
                         f"{tuple(weight.shape)}")
    operands = [("linear_weight", weight)]
    if bias is not None:
        check_float_tensor("linear_bias", bias)
        if tuple(bias.shape) != (classes,):
            raise ValueError(f"linear_bias must have shape (C,) = ({classes},) for "
                             f"linear_weight of shape {tuple(weight.shape)}; got "
                             f"{tuple(bias.shape)}")
        operands.append(("linear_bias", bias))
    for name, tensor in operands:
        if tensor.dtype != input.dtype:
            raise TypeError(f"{name} must have the dtype of input ({input.dtype}); got "
                            f"{tensor.dtype}")
        check_device(name, tensor, input)
    check_index_target(input, target, "(*)", tuple(input.shape[:-1]))
    check_device("target", target, input)
    return classes


def class_vector(name: str, value: object, num_classes: int, *, like: Tensor,
                 high: float | None = 1.0, integers: bool = False) -> Tensor | None:
    """Turn a float or a per-class sequence/tensor into a length-``num_classes`` tensor.

    The vector takes the device of ``like`` and its compute dtype (float32 for half inputs,
    so that per-class weights are not rounded to half precision). ``integers=True`` also
    takes an integer tensor (class counts, e.g. from :func:`torch.bincount`).
    """
    if value is None:
        return None
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        check_real(name, value, low=0.0, high=high)
        return torch.full((num_classes,), float(value), dtype=compute_dtype(like),
                          device=like.device)
    if isinstance(value, Tensor):
        if integers and not value.is_floating_point() and not value.is_complex() \
                and value.dtype != torch.bool:
            value = value.to(torch.float64)
        check_float_tensor(name, value)
        check_device(name, value, like)
        vector = value.detach() if not value.requires_grad else value
    elif isinstance(value, Sequence) and not isinstance(value, str):
        vector = torch.as_tensor(list(value), dtype=torch.float64)
    else:
        raise TypeError(
            f"{name} must be None, a float or a sequence of {num_classes} floats; "
            f"got {_describe(value)}"
        )
    if vector.dim() != 1 or vector.numel() != num_classes:
        raise ValueError(
            f"{name} must have {num_classes} values, one per class; got "
            f"{vector.numel() if vector.dim() == 1 else tuple(vector.shape)}"
        )
    how = value_checks(vector)
    bound = f"[0, {high:g}]" if high is not None else "[0, inf)"
    if how == "device":
        values = vector.detach()
        ok = (values >= 0) & torch.isfinite(values)
        if high is not None:
            ok &= values <= high
        _assert_on_device(ok, f"{name} values must lie in {bound}")
    elif how == "eager":
        values = vector.detach()
        finite = torch.isfinite(values)
        if not bool(finite.all()):
            bad = int(torch.nonzero(~finite)[0, 0])
            raise ValueError(f"{name} values must be finite and lie in {bound}; got "
                             f"{float(values[bad]):g} for class {bad}")
        low, top = float(values.min()), float(values.max())
        if low < 0 or (high is not None and top > high):
            raise ValueError(f"{name} values must lie in {bound}; got values in [{low:g}, {top:g}]")
    return vector.to(dtype=compute_dtype(like), device=like.device)










def check_classes(classes: object, num_classes: int | None) -> list[int] | None:
    """A non-empty sequence (or 1-D integer tensor) of distinct class indices in ``[0, C)``.

    With ``num_classes=None`` (a module's constructor, before any input is seen) only the
    lower bound is checked.
    """
    if classes is None:
        return None
    if isinstance(classes, Tensor):
        if classes.dim() != 1 or classes.is_floating_point() or classes.dtype == torch.bool:
            raise TypeError(f"classes must be a sequence or 1-D integer tensor of class indices; "
                            f"got {_describe(classes)}")
        values = [int(v) for v in classes.tolist()]
    elif isinstance(classes, Sequence) and not isinstance(classes, str):
        values = []
        for v in classes:
            if isinstance(v, bool) or not isinstance(v, numbers.Integral):
                raise TypeError(f"classes must hold integer class indices; got {v!r}")
            values.append(int(v))
    else:
        raise TypeError(f"classes must be None or a sequence of class indices; "
                        f"got {_describe(classes)}")
    if not values:
        raise ValueError("classes must name at least one class; got an empty sequence")
    if num_classes is None:
        bad = [v for v in values if v < 0]
        if bad:
            raise ValueError(f"classes must be class indices >= 0; got {bad[0]}")
    else:
        bad = [v for v in values if not 0 <= v < num_classes]
        if bad:
            raise ValueError(f"classes must lie in [0, {num_classes - 1}] for an input with "
                             f"{num_classes} classes; got {bad[0]}")
    if len(set(values)) != len(values):
        raise ValueError(f"classes must not repeat a class; got {values}")
    return values


def check_binary_values(name: str, tensor: Tensor, ignore_index: int | None = None) -> None:
    """Values of ``tensor`` (other than ``ignore_index``) must be 0 or 1."""
    how = value_checks(tensor)
    if how is None:
        return
    values = tensor.detach()
    ok = (values == 0) | (values == 1)
    if ignore_index is not None:
        ok |= values == ignore_index
    if how == "device":
        extra = "" if ignore_index is None else f" or equal ignore_index={ignore_index}"
        _assert_on_device(ok, f"{name} values must be 0 or 1{extra}")
        return
    if not bool(ok.all()):
        bad = values[~ok][0].item()
        extra = "" if ignore_index is None else f" or equal ignore_index={ignore_index}"
        raise ValueError(f"{name} values must be 0 or 1{extra}; got {bad:g}")


# ---------------------------------------------------------------------------------------------
# Region losses
# ---------------------------------------------------------------------------------------------


def check_region_inputs(input: Tensor, target: object, mode: str, from_logits: bool,
                         ignore_index: int | None) -> tuple[bool, int]:
    """Validate ``input``/``target`` for ``mode``; return (index target?, number of classes)."""
    check_float_tensor("input", input)
    check_bool("from_logits", from_logits)
    if mode == "multiclass":
        if input.dim() < 2:
            raise ValueError(f"input must have shape (N, C, *) in mode 'multiclass'; got shape "
                             f"{tuple(input.shape)}")
        if input.shape[1] < 2:
            raise ValueError(f"mode 'multiclass' needs at least 2 classes along dimension 1; "
                             f"got input of shape {tuple(input.shape)} (use mode='binary' for "
                             f"a single channel)")
        is_index = check_class_target(input, target)
        num_classes = input.shape[1]
        if is_index:
            check_class_indices(target, num_classes, ignore_index)
        else:
            if ignore_index is not None:
                raise ValueError(f"ignore_index applies to class-index targets in mode "
                                 f"'multiclass'; got class-probability targets of shape "
                                 f"{tuple(target.shape)} with ignore_index={ignore_index}")
            check_unit_interval("target", target)
    else:
        if mode == "binary" and input.dim() < 1:
            raise ValueError(f"input must have shape (N, *) or (N, 1, *) in mode 'binary'; got "
                             f"shape {tuple(input.shape)}")
        if mode == "multilabel" and input.dim() < 2:
            raise ValueError(f"input must have shape (N, C, *) in mode 'multilabel'; got shape "
                             f"{tuple(input.shape)}")
        if not isinstance(target, Tensor):
            raise TypeError(f"target must be a torch.Tensor; got {type(target).__name__}")
        if target.is_complex():
            raise TypeError(f"target must hold values in [0, 1] (float, integer or bool); got "
                            f"dtype {target.dtype}")
        check_same_shape(input, target)
        check_binary_ignore_index(ignore_index)
        is_index = False
        num_classes = 1 if mode == "binary" else input.shape[1]
        check_unit_interval("target", target, ignore_index)
    if not from_logits:
        check_unit_interval("input (probabilities, from_logits=False)", input)
    return is_index, num_classes


def check_region_options(mode: object, smooth: object, eps: object, reduction: object,
                         ignore_index: object, per_image: bool, sync_dist: bool,
                         intersection: object) -> tuple[str, float, float, int | None]:
    """Check the options every region loss shares; return (mode, smooth, eps, ignore_index)."""
    mode = check_choice("mode", mode, REGION_MODES)
    smooth = check_real("smooth", smooth, low=0.0)
    eps = check_real("eps", eps, low=0.0, low_open=True)
    check_reduction(reduction)
    check_choice("intersection", intersection, INTERSECTIONS)
    ignore_index = check_ignore_index(ignore_index)
    if per_image and sync_dist:
        raise ValueError("sync_dist=True synchronises batch statistics and needs "
                         "per_image=False; got per_image=True (each image's statistics already "
                         "live on one process)")
    return mode, smooth, eps, ignore_index
