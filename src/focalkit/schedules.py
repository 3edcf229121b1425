"""Hyper-parameter schedules: change a loss's gamma, alpha or weight during training.

Starting a focal loss at ``gamma=0`` (plain cross-entropy, whose gradients are large while the
model is still guessing) and raising gamma as training proceeds gives the easy-example
down-weighting only once there are easy examples to down-weight. The same scheduler switches
class weights on late in training (the deferred re-weighting that goes with LDAM).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Sequence
from typing import Any

from torch import Tensor, nn

from ._checks import check_choice, check_gamma, check_real

__all__ = ["GammaScheduler"]

SCHEDULES = ("constant", "step", "linear", "cosine", "deferred")


def plain_gamma(loss: Any) -> float:
    """The gamma at which ``loss`` is its plain, unfocused form: where a warm-up starts.

    0 for the focal losses (cross-entropy) and the unified focal loss; 1 for
    :class:`~focalkit.TverskyLoss`, whose ``gamma=0`` is a constant loss.
    """
    from .nn.region import TverskyLoss

    return 1.0 if isinstance(loss, TverskyLoss) else 0.0


def _show(value: object) -> str:
    return f"tensor(shape={tuple(value.shape)})" if isinstance(value, Tensor) else repr(value)


def _constructor_arguments(loss: Any) -> dict[str, Any] | None:
    """The keyword arguments that rebuild ``loss`` from its current attributes, or None when
    its constructor takes an argument that it does not keep under the same name."""
    try:
        parameters = inspect.signature(type(loss)).parameters.values()
    except (TypeError, ValueError):
        return None
    arguments = {}
    for parameter in parameters:
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD) \
                or not hasattr(loss, parameter.name):
            return None
        arguments[parameter.name] = getattr(loss, parameter.name)
    return arguments


def _check_value(param: str, name: str, value: object) -> object:
    if value is None or isinstance(value, Tensor):
        return value
    if param == "gamma":
        return check_gamma(value)
    return check_real(name, value)


class GammaScheduler:
    r"""Set a loss's ``gamma`` (or another hyper-parameter) from a schedule, one :meth:`step`
    at a time.

    Works like the schedulers in :mod:`torch.optim.lr_scheduler`: construct it, call
    :meth:`step` once per epoch or per iteration, save and restore it with
    :meth:`state_dict` / :meth:`load_state_dict`. **Constructing it already sets the loss's
    hyper-parameter to its step-0 value**: ``start`` (``gamma_start``) for every schedule but
    ``"constant"``, which sets ``end`` at once. With :math:`s` the number of steps taken,
    :math:`v_0` = ``start``, :math:`v_1` = ``end`` and
    :math:`u = \min(s / \text{total\_steps}, 1)`:

    .. math::
        \text{constant}: v_1 \qquad
        \text{linear}: v_0 + (v_1 - v_0)\,u \qquad
        \text{cosine}: v_0 + (v_1 - v_0)\,\tfrac{1 - \cos(\pi u)}{2}

    ``"step"`` moves from :math:`v_0` to :math:`v_1` in equal stages, one at each of the
    ``milestones`` (step counts), reaching :math:`v_1` at the last; ``"deferred"`` keeps
    :math:`v_0` until step ``total_steps`` and switches to :math:`v_1` there. Values may be
    floats or tensors (interpolated element-wise); ``None`` (the hyper-parameter off) is a
    valid value for ``"deferred"`` and ``"constant"`` only, which is how class weights are
    switched on late in training (deferred re-weighting, Cao et al., 2019). On an
    :class:`torch.nn.Module` loss a tensor value is stored as a buffer, on the device of the
    value it replaces.

    The default ``start`` for ``param="gamma"`` is the loss's plain setting: 0 for the focal
    losses (cross-entropy) and :class:`~focalkit.UnifiedFocalLoss`, 1 for
    :class:`~focalkit.TverskyLoss` (plain Tversky; its ``gamma=0`` is a constant loss with no
    gradient), 0 for any other object. Other parameters have no default ``start``: give it,
    except with ``"constant"``.

    Args:
        loss: any object with a settable attribute ``param`` (every focalkit loss module).
        param: the attribute to drive: ``"gamma"``, ``"alpha"``, ``"weight"``, ...
            Default: ``"gamma"``.
        schedule: ``"constant"`` | ``"step"`` | ``"linear"`` | ``"cosine"`` | ``"deferred"``.
            Default: ``"linear"``.
        start: the value at step 0. Default: None (see above).
        end: the final value; None keeps the loss's current value (for ``"deferred"``, None
            is switched to as given). Default: None.
        total_steps: steps to reach ``end`` (``"linear"``, ``"cosine"``, ``"deferred"``).
            Default: None.
        milestones: increasing step counts (``"step"``). Default: None.
        gamma_start: ``start`` under its earlier name (``param="gamma"`` only).
            Default: None.
        gamma_end: ``end`` under its earlier name (``param="gamma"`` only). Default: None.

    Raises:
        TypeError: if ``loss`` has no attribute ``param``, or a value has the wrong type.
        ValueError: for an unknown schedule, a negative gamma, a missing ``start`` for a
            parameter other than gamma, None with an interpolating schedule, a missing or
            non-positive ``total_steps``, missing or non-increasing ``milestones``, or both
            ``start`` and ``gamma_start`` (``end`` and ``gamma_end``).

    References:
        K. Cao, C. Wei, A. Gaidon, N. Arechiga, T. Ma. Learning Imbalanced Datasets with
        Label-Distribution-Aware Margin Loss. NeurIPS 2019 (deferred re-weighting).

    Example:
        >>> from focalkit import GammaScheduler, SoftmaxFocalLoss
        >>> loss = SoftmaxFocalLoss(gamma=2.0)
        >>> scheduler = GammaScheduler(loss, schedule="linear", total_steps=4)
        >>> values = [loss.gamma]
        >>> for _ in range(5):
        ...     scheduler.step()
        ...     values.append(loss.gamma)
        >>> values
        [0.0, 0.5, 1.0, 1.5, 2.0, 2.0]

        Class weights switched on after two epochs:

        >>> import torch
        >>> from focalkit import LDAMLoss
        >>> ldam = LDAMLoss(class_counts=[100, 10, 1])
        >>> drw = GammaScheduler(ldam, param="weight", schedule="deferred", start=None,
        ...                      end=torch.tensor([0.1, 0.6, 2.3]), total_steps=2)
        >>> switched_on = []
        >>> for epoch in range(4):
        ...     switched_on.append(ldam.weight is not None)
        ...     drw.step()
        >>> switched_on
        [False, False, True, True]
    """

    def __init__(self, loss: Any, *, param: str = "gamma", schedule: str = "linear",
                 start: float | Tensor | None = None, end: float | Tensor | None = None,
                 total_steps: int | None = None, milestones: Sequence[int] | None = None,
                 gamma_start: float | None = None, gamma_end: float | None = None) -> None:
        if not isinstance(param, str) or not param:
            raise TypeError(f"param must be the name of an attribute of the loss; got "
                            f"{param!r}")
        if not hasattr(loss, param):
            raise TypeError(f"loss must have a settable {param!r} attribute; got "
                            f"{type(loss).__name__}")
        for old, new, value, given in (("gamma_start", "start", gamma_start, start),
                                       ("gamma_end", "end", gamma_end, end)):
            if value is not None and param != "gamma":
                raise ValueError(f"{old} applies to param='gamma'; got param={param!r} (use "
                                 f"{new}=...)")
            if value is not None and given is not None:
                raise ValueError(f"give {new} or {old}, not both; got {new}={given!r} and "
                                 f"{old}={value!r}")
        start = gamma_start if gamma_start is not None else start
        end = gamma_end if gamma_end is not None else end
        self.loss = loss
        self.param = param
        self.schedule = check_choice("schedule", schedule, SCHEDULES)
        if start is None and param == "gamma":
            start = plain_gamma(loss)
        if end is None and schedule != "deferred":
            end = getattr(loss, param)
        if start is None and schedule not in ("constant", "deferred"):
            raise ValueError(f"start must be given for param={param!r} with schedule "
                             f"{schedule!r}; got None")
        if schedule in ("step", "linear", "cosine") and end is None:
            raise ValueError(f"schedule {schedule!r} interpolates between start and end and "
                             f"needs both; got end=None")
        self.start = _check_value(param, "start", start)
        self.end = _check_value(param, "end", end)
        # Every value set lies between start and end (every hyper-parameter's valid range is
        # an interval), and a loss module's constructor checks what its hyper-parameters may
        # be: rebuilding the loss with each end point finds a bad schedule now, not epochs
        # into training.
        arguments = _constructor_arguments(loss)
        if arguments is not None and param in arguments:
            ends = [("end", self.end)] if schedule == "constant" \
                else [("start", self.start), ("end", self.end)]
            for name, value in ends:
                try:
                    type(loss)(**{**arguments, param: value})
                except (TypeError, ValueError) as err:
                    raise type(err)(f"{name}={_show(value)} is not a valid {param} for "
                                    f"{type(loss).__name__}: {err}") from err
        if schedule in ("linear", "cosine", "deferred"):
            if isinstance(total_steps, bool) or not isinstance(total_steps, int) \
                    or total_steps < 1:
                raise ValueError(f"total_steps must be a positive int for schedule "
                                 f"{schedule!r}; got {total_steps!r}")
        if schedule == "step":
            stones = list(milestones or [])
            if not stones or any(b <= a for a, b in zip(stones, stones[1:], strict=False)) \
                    or stones[0] < 1:
                raise ValueError(f"milestones must be a non-empty, strictly increasing list of "
                                 f"positive step counts for schedule 'step'; got {milestones!r}")
            milestones = stones
        self.total_steps = total_steps
        self.milestones = None if milestones is None else list(milestones)
        self.last_step = 0
        self._apply()

    @property
    def gamma_start(self) -> float | Tensor | None:
        """``start`` under its earlier name."""
        return self.start

    @property
    def gamma_end(self) -> float | Tensor | None:
        """``end`` under its earlier name."""
        return self.end

    def get_value(self, step: int | None = None) -> float | Tensor | None:
        """The scheduled value after ``step`` steps (default: the current step)."""
        s = self.last_step if step is None else step
        v0, v1 = self.start, self.end
        if self.schedule == "constant":
            return v1
        if self.schedule == "deferred":
            return v1 if s >= self.total_steps else v0
        if self.schedule == "step":
            passed = sum(1 for m in self.milestones if s >= m)
            u = passed / len(self.milestones)
        else:
            u = min(s / self.total_steps, 1.0)
            if self.schedule == "cosine":
                u = (1.0 - math.cos(math.pi * u)) / 2.0
        if u == 0.0:
            return v0
        if u == 1.0:
            return v1
        return v0 + (v1 - v0) * u

    def get_gamma(self, step: int | None = None) -> float | Tensor | None:
        """:meth:`get_value` under its earlier name."""
        return self.get_value(step)

    def step(self) -> None:
        """Advance one step and set the loss's hyper-parameter."""
        self.last_step += 1
        self._apply()

    def _apply(self) -> None:
        value = self.get_value()
        loss = self.loss
        if isinstance(value, Tensor):
            current = getattr(loss, self.param)
            if isinstance(current, Tensor):
                value = value.to(current.device)
            if isinstance(loss, nn.Module) and self.param not in loss._buffers \
                    and self.param in vars(loss):
                delattr(loss, self.param)
                loss.register_buffer(self.param, value.clone())
                return
        setattr(loss, self.param, value)

    def state_dict(self) -> dict[str, Any]:
        """Everything but the loss, as in :mod:`torch.optim.lr_scheduler`."""
        return {key: value for key, value in self.__dict__.items() if key != "loss"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict` and set the loss's hyper-parameter accordingly.

        State saved before ``param`` existed (keys ``gamma_start`` / ``gamma_end``) loads as
        a gamma schedule.
        """
        state = dict(state_dict)
        if "gamma_start" in state or "gamma_end" in state:
            state.setdefault("param", "gamma")
            state["start"] = state.pop("gamma_start", None)
            state["end"] = state.pop("gamma_end", None)
        self.__dict__.update(state)
        self._apply()

    def __repr__(self) -> str:
        return (f"GammaScheduler(param={self.param!r}, schedule={self.schedule!r}, "
                f"start={_show(self.start)}, end={_show(self.end)}, "
                f"last_step={self.last_step})")
