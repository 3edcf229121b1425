"""Gamma schedules: raise the focusing parameter during training.

Starting a focal loss at ``gamma=0`` (plain cross-entropy, whose gradients are large while the
model is still guessing) and raising gamma as training proceeds gives the easy-example
down-weighting only once there are easy examples to down-weight.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ._checks import check_choice, check_gamma

__all__ = ["GammaScheduler"]

SCHEDULES = ("constant", "step", "linear", "cosine")


class GammaScheduler:
    r"""Set ``loss.gamma`` from a schedule, one :meth:`step` at a time.

    Works like the schedulers in :mod:`torch.optim.lr_scheduler`: construct it (which sets
    the step-0 value), call :meth:`step` once per epoch or per iteration, save and restore it
    with :meth:`state_dict` / :meth:`load_state_dict`. With :math:`s` the number of steps
    taken, :math:`\gamma_0` = ``gamma_start``, :math:`\gamma_1` = ``gamma_end`` and
    :math:`u = \min(s / \text{total\_steps}, 1)`:

    .. math::
        \text{constant}: \gamma_1 \qquad
        \text{linear}: \gamma_0 + (\gamma_1 - \gamma_0)\,u \qquad
        \text{cosine}: \gamma_0 + (\gamma_1 - \gamma_0)\,\tfrac{1 - \cos(\pi u)}{2}

    and ``"step"`` raises gamma from :math:`\gamma_0` to :math:`\gamma_1` in equal stages, one at
    each of the ``milestones`` (step counts), reaching :math:`\gamma_1` at the last.

    Args:
        loss: any object with a settable ``gamma`` (every focal module in focalkit).
        schedule: ``"constant"`` | ``"step"`` | ``"linear"`` | ``"cosine"``.
            Default: ``"linear"``.
        gamma_start: gamma at step 0. Default: 0.0.
        gamma_end: final gamma; None keeps the loss's current gamma. Default: None.
        total_steps: steps to reach ``gamma_end`` (``"linear"`` and ``"cosine"``).
            Default: None.
        milestones: increasing step counts (``"step"``). Default: None.

    Raises:
        TypeError: if ``loss`` has no ``gamma`` attribute.
        ValueError: for an unknown schedule, negative gammas, a missing or non-positive
            ``total_steps``, or missing or non-increasing ``milestones``.

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
    """

    def __init__(self, loss: Any, *, schedule: str = "linear", gamma_start: float = 0.0,
                 gamma_end: float | None = None, total_steps: int | None = None,
                 milestones: Sequence[int] | None = None) -> None:
        if not hasattr(loss, "gamma"):
            raise TypeError(f"loss must have a settable 'gamma' attribute; got "
                            f"{type(loss).__name__}")
        self.loss = loss
        self.schedule = check_choice("schedule", schedule, SCHEDULES)
        self.gamma_start = check_gamma(gamma_start)
        self.gamma_end = check_gamma(loss.gamma if gamma_end is None else gamma_end)
        if schedule in ("linear", "cosine"):
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

    def get_gamma(self, step: int | None = None) -> float:
        """The scheduled gamma after ``step`` steps (default: the current step)."""
        s = self.last_step if step is None else step
        g0, g1 = self.gamma_start, self.gamma_end
        if self.schedule == "constant":
            return g1
        if self.schedule == "step":
            stones = self.milestones
            passed = sum(1 for m in stones if s >= m)
            return g0 + (g1 - g0) * passed / len(stones)
        u = min(s / self.total_steps, 1.0)
        if self.schedule == "cosine":
            u = (1.0 - math.cos(math.pi * u)) / 2.0
        return g0 + (g1 - g0) * u

    def step(self) -> None:
        """Advance one step and set the loss's gamma."""
        self.last_step += 1
        self._apply()

    def _apply(self) -> None:
        self.loss.gamma = self.get_gamma()

    def state_dict(self) -> dict[str, Any]:
        """Everything but the loss, as in :mod:`torch.optim.lr_scheduler`."""
        return {key: value for key, value in self.__dict__.items() if key != "loss"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict` and set the loss's gamma accordingly."""
        self.__dict__.update(state_dict)
        self._apply()

    def __repr__(self) -> str:
        return (f"GammaScheduler(schedule={self.schedule!r}, gamma_start={self.gamma_start}, "
                f"gamma_end={self.gamma_end}, last_step={self.last_step})")
