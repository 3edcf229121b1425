"""GammaScheduler: the schedules, state dicts, other hyper-parameters, deferred switches and
per-loss defaults."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch._dynamo.testing import CompileCounter

from focalkit import (
    FocalLoss,
    FocalWrapper,
    GammaScheduler,
    LDAMLoss,
    SigmoidFocalLoss,
    SoftmaxFocalLoss,
    TverskyLoss,
    UnifiedFocalLoss,
    class_weights,
)


def values(scheduler, steps, param="gamma"):
    seen = [getattr(scheduler.loss, param)]
    for _ in range(steps):
        scheduler.step()
        seen.append(getattr(scheduler.loss, param))
    return seen


def test_default_start_is_the_loss_plain_gamma():
    tversky = TverskyLoss(gamma=2.0)
    scheduler = GammaScheduler(tversky, total_steps=2)
    assert tversky.gamma == 1.0 and scheduler.start == 1.0       # plain Tversky, not 0
    assert values(scheduler, 2) == pytest.approx([1.0, 1.5, 2.0])
    assert GammaScheduler(SoftmaxFocalLoss(), total_steps=3).start == 0.0
    assert GammaScheduler(UnifiedFocalLoss(gamma=0.5), total_steps=3).start == 0.0
    explicit = GammaScheduler(TverskyLoss(gamma=2.0), gamma_start=0.5, total_steps=2)
    assert explicit.loss.gamma == 0.5


def test_constructing_sets_the_step_zero_value():
    loss = SoftmaxFocalLoss(gamma=2.0)
    GammaScheduler(loss, schedule="cosine", start=0.5, total_steps=10)
    assert loss.gamma == 0.5
    GammaScheduler(loss, schedule="constant", end=3.0)
    assert loss.gamma == 3.0


def test_deferred_reweighting_switches_a_tensor_on():
    counts = [100, 10, 1]
    ldam = LDAMLoss(class_counts=counts)
    w = class_weights(counts=counts, method="effective_number", beta=0.999)
    drw = GammaScheduler(ldam, param="weight", schedule="deferred", start=None, end=w,
                         total_steps=3)
    seen = values(drw, 4, "weight")
    assert [v is None for v in seen] == [True, True, True, False, False]
    assert torch.equal(seen[-1], w) and "weight" in ldam.state_dict()
    x, t = torch.randn(4, 3), torch.tensor([0, 1, 2, 2])
    ldam(x, t)  # the buffer is used by the loss


def test_tensor_values_are_interpolated_and_keep_the_device_of_the_buffer():
    loss = SoftmaxFocalLoss(alpha=torch.ones(3))
    end = torch.tensor([1.0, 2.0, 4.0])
    scheduler = GammaScheduler(loss, param="alpha", start=torch.ones(3), end=end,
                               total_steps=2)
    scheduler.step()
    assert torch.allclose(loss.alpha, torch.tensor([1.0, 1.5, 2.5]))
    assert "alpha" in loss.state_dict()
    scheduler.step()
    assert torch.equal(loss.alpha, end)


def test_float_alpha_schedule():
    loss = SigmoidFocalLoss(alpha=0.25)
    scheduler = GammaScheduler(loss, param="alpha", schedule="step", start=0.5,
                               milestones=[1, 2])
    assert values(scheduler, 3, "alpha") == pytest.approx([0.5, 0.375, 0.25, 0.25])


def test_state_dict_round_trip_and_old_keys():
    loss = LDAMLoss(class_counts=[5, 1])
    drw = GammaScheduler(loss, param="weight", schedule="deferred",
                         end=torch.tensor([0.5, 1.5]), total_steps=1)
    drw.step()
    fresh_loss = LDAMLoss(class_counts=[5, 1])
    fresh = GammaScheduler(fresh_loss, param="weight", schedule="deferred",
                           end=torch.tensor([1.0, 1.0]), total_steps=5)
    fresh.load_state_dict(drw.state_dict())
    assert torch.equal(fresh_loss.weight, torch.tensor([0.5, 1.5]))
    old = {"schedule": "linear", "gamma_start": 1.0, "gamma_end": 3.0, "total_steps": 2,
           "milestones": None, "last_step": 1}
    focal = SoftmaxFocalLoss()
    scheduler = GammaScheduler(focal, total_steps=9)
    scheduler.load_state_dict(old)
    assert focal.gamma == 2.0 and scheduler.gamma_start == 1.0 and scheduler.param == "gamma"
    assert scheduler.get_gamma(2) == 3.0
    assert "param='gamma'" in repr(scheduler)


SCHEDULED = [
    (SoftmaxFocalLoss, dict(), "index"),
    (SigmoidFocalLoss, dict(), "dense"),
    (SigmoidFocalLoss, dict(param="alpha", start=0.5, end=0.1), "dense"),
    (TverskyLoss, dict(gamma_start=0.5, gamma_end=2.0), "index"),
    (UnifiedFocalLoss, dict(start=0.0, end=0.9), "index"),
]


@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated")
@pytest.mark.parametrize("dynamic", [True, None], ids=["dynamic", "automatic"])
@pytest.mark.parametrize("make, schedule, target", SCHEDULED,
                         ids=[f"{m.__name__}-{s.get('param', 'gamma')}" for m, s, _ in SCHEDULED])
@pytest.mark.usefixtures("fresh_dynamo")
def test_a_scheduled_compiled_module_does_not_recompile(make, schedule, target, dynamic):
    """A schedule changing a float hyper-parameter every step neither breaks the graph nor
    recompiles: with ``dynamic=True`` one graph serves all 10 steps; by default dynamo
    compiles the first value as a constant and, when it changes, once more with the value
    as a symbolic input (its automatic dynamic), then never again."""
    x = torch.randn(4, 3, 5)
    t = torch.randint(0, 3, (4, 5)) if target == "index" else torch.rand(4, 3, 5)
    loss = make()
    scheduler = GammaScheduler(loss, total_steps=10, **schedule)
    counter = CompileCounter()
    compiled = torch.compile(loss, backend=counter, fullgraph=True, dynamic=dynamic)
    for _ in range(10):
        torch.testing.assert_close(compiled(x, t), loss(x, t))
        scheduler.step()
    assert counter.frame_count == (1 if dynamic else 2)


ERRORS = [
    (lambda: GammaScheduler(SoftmaxFocalLoss(), param="beta"), TypeError,
     r"loss must have a settable 'beta' attribute; got SoftmaxFocalLoss"),
    (lambda: GammaScheduler(SoftmaxFocalLoss(), param="alpha", total_steps=3), ValueError,
     r"start must be given for param='alpha' with schedule 'linear'; got None"),
    (lambda: GammaScheduler(SoftmaxFocalLoss(), param="alpha", gamma_start=1.0), ValueError,
     r"gamma_start applies to param='gamma'; got param='alpha'"),
    (lambda: GammaScheduler(SoftmaxFocalLoss(), start=1.0, gamma_start=1.0), ValueError,
     r"give start or gamma_start, not both"),
    (lambda: GammaScheduler(SoftmaxFocalLoss(), param="alpha", start=1.0, total_steps=2),
     ValueError, r"schedule 'linear' interpolates between start and end .*; got end=None"),
    (lambda: GammaScheduler(SoftmaxFocalLoss(), schedule="deferred", end=1.0), ValueError,
     r"total_steps must be a positive int for schedule 'deferred'; got None"),
    (lambda: GammaScheduler(SoftmaxFocalLoss(), start=-1.0, total_steps=2), ValueError,
     r"gamma must be in \[0, inf\); got -1"),
    (lambda: GammaScheduler(SoftmaxFocalLoss(), param=""), TypeError,
     r"param must be the name of an attribute of the loss"),
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
]


@pytest.mark.parametrize("call,error,match", ERRORS)
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def run(scheduler, steps):
    values = [scheduler.loss.gamma]
    for _ in range(steps):
        scheduler.step()
        values.append(scheduler.loss.gamma)
    return values


def test_constant_schedule():
    loss = SigmoidFocalLoss(gamma=0.5)
    scheduler = GammaScheduler(loss, schedule="constant", gamma_end=2.0)
    assert run(scheduler, 3) == [2.0] * 4
    assert GammaScheduler(SigmoidFocalLoss(gamma=1.5), schedule="constant").get_gamma() == 1.5


def test_linear_schedule():
    loss = SoftmaxFocalLoss(gamma=0.0)
    scheduler = GammaScheduler(loss, schedule="linear", gamma_start=1.0, gamma_end=3.0,
                               total_steps=4)
    assert run(scheduler, 6) == pytest.approx([1.0, 1.5, 2.0, 2.5, 3.0, 3.0, 3.0])


def test_linear_schedule_can_decrease():
    scheduler = GammaScheduler(SoftmaxFocalLoss(), schedule="linear", gamma_start=2.0,
                               gamma_end=0.0, total_steps=2)
    assert run(scheduler, 3) == pytest.approx([2.0, 1.0, 0.0, 0.0])


def test_cosine_schedule():
    scheduler = GammaScheduler(FocalLoss("multiclass"), schedule="cosine", gamma_start=0.0,
                               gamma_end=2.0, total_steps=4)
    expected = [2.0 * (1 - math.cos(math.pi * min(s / 4, 1))) / 2 for s in range(7)]
    assert run(scheduler, 6) == pytest.approx(expected)
    assert expected[2] == pytest.approx(1.0)


def test_step_schedule():
    scheduler = GammaScheduler(FocalWrapper(nn.BCEWithLogitsLoss()), schedule="step",
                               gamma_start=0.0, gamma_end=3.0, milestones=[2, 4, 5])
    assert run(scheduler, 6) == pytest.approx([0.0, 0.0, 1.0, 1.0, 2.0, 3.0, 3.0])


def test_gamma_end_defaults_to_the_loss_gamma():
    scheduler = GammaScheduler(SigmoidFocalLoss(gamma=2.5), total_steps=5)
    assert scheduler.gamma_end == 2.5 and scheduler.loss.gamma == 0.0
    assert scheduler.get_gamma(5) == 2.5 and scheduler.get_gamma(100) == 2.5


def test_state_dict_round_trip():
    loss = SoftmaxFocalLoss(gamma=2.0)
    scheduler = GammaScheduler(loss, schedule="step", gamma_end=2.0, milestones=[1, 3])
    for _ in range(2):
        scheduler.step()
    state = scheduler.state_dict()
    assert "loss" not in state and state["last_step"] == 2

    fresh_loss = SoftmaxFocalLoss(gamma=0.0)
    fresh = GammaScheduler(fresh_loss, schedule="linear", total_steps=10)
    fresh.load_state_dict(state)
    assert fresh_loss.gamma == loss.gamma == 1.0
    assert fresh.schedule == "step" and fresh.loss is fresh_loss
    fresh.step()
    scheduler.step()
    assert fresh_loss.gamma == loss.gamma == 2.0
    assert "last_step=3" in repr(fresh)


def test_state_dict_is_a_copy():
    scheduler = GammaScheduler(SoftmaxFocalLoss(), schedule="step", milestones=[1, 2])
    state = scheduler.state_dict()
    scheduler.step()
    assert state["last_step"] == 0


def test_scheduler_drives_any_object_with_a_gamma():
    class Holder:
        gamma = 5.0

    holder = Holder()
    run(GammaScheduler(holder, total_steps=2), 1)
    assert holder.gamma == 2.5


# ---------------------------------------------------------------------------------------------
# Every value a schedule will set is checked at construction
# ---------------------------------------------------------------------------------------------

BAD_SCHEDULES = [
    (lambda: GammaScheduler(SoftmaxFocalLoss(gamma=2.0), schedule="deferred", total_steps=2),
     TypeError, r"end=None is not a valid gamma for SoftmaxFocalLoss: gamma must be a real "
                r"number; got None"),
    (lambda: GammaScheduler(UnifiedFocalLoss(), end=2.0, total_steps=4), ValueError,
     r"end=2.0 is not a valid gamma for UnifiedFocalLoss: gamma must be in \[0, 1\]; got 2"),
    (lambda: GammaScheduler(UnifiedFocalLoss(), start=1.5, end=0.5, total_steps=4), ValueError,
     r"start=1.5 is not a valid gamma for UnifiedFocalLoss: gamma must be in \[0, 1\]"),
    (lambda: GammaScheduler(UnifiedFocalLoss(), param="delta", start=0.5, end=1.5,
                            total_steps=4), ValueError,
     r"end=1.5 is not a valid delta for UnifiedFocalLoss: delta must be in \[0, 1\]; got 1.5"),
    (lambda: GammaScheduler(TverskyLoss(), param="alpha", schedule="constant", end=-1.0),
     ValueError, r"end=-1.0 is not a valid alpha for TverskyLoss: alpha must be in \[0, inf\)"),
    (lambda: GammaScheduler(LDAMLoss(class_counts=[100, 10, 1]), param="weight",
                            schedule="deferred", start=None, end=torch.tensor([1.0, -1.0, 2.0]),
                            total_steps=2), ValueError,
     r"end=tensor\(shape=\(3,\)\) is not a valid weight for LDAMLoss: weight values must lie "
     r"in \[0, inf\)"),
    (lambda: GammaScheduler(SigmoidFocalLoss(), param="alpha", start=0.25, end=1.5,
                            schedule="cosine", total_steps=3), ValueError,
     r"end=1.5 is not a valid alpha for SigmoidFocalLoss: alpha must be in \[0, 1\]; got 1.5"),
]


@pytest.mark.parametrize("make, error, match", BAD_SCHEDULES)
def test_a_schedule_the_loss_cannot_take_fails_at_construction(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_a_rejected_schedule_leaves_the_loss_as_it_was():
    loss = UnifiedFocalLoss(gamma=0.25)
    with pytest.raises(ValueError):
        GammaScheduler(loss, end=2.0, total_steps=4)
    assert loss.gamma == 0.25


def test_every_loss_module_can_be_checked_by_its_constructor():
    """The check rebuilds the loss from its attributes: every loss of the table allows it."""
    from loss_cases import CASES

    from focalkit.schedules import _constructor_arguments

    for case in CASES:
        module = case.make_module()
        arguments = _constructor_arguments(module)
        assert arguments is not None, case.name
        type(module)(**arguments)
