"""The generic tests of every public loss, driven by the table in tests/loss_cases.py.

Reference match, gradcheck and gradgradcheck, module equals functional, ``torch.compile``
with ``fullgraph=True``, half precision, every backend with a kernel, and the error table.
A loss's own special cases live in its own test file.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import torch
from loss_cases import CASES, OWN_TABLES, inherited_errors
from torch._dynamo.testing import CompileCounter
from torch.autograd import gradcheck, gradgradcheck

from focalkit import _dispatch, backends

# Raised inside torch by its own import machinery, not by focalkit.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated")

HALF = [case for case in CASES if case.half]
COMPILED = [case for case in CASES if case.compile]
WITH_KERNELS = [(case, backend) for case in CASES for backend in case.kernels]
ERRORS = {f"{case}-{i}": (case, error) for case in CASES
          for i, error in enumerate((*case.errors, *inherited_errors(case.function)))}


def _small(shape):
    """At most 3 positions along each spatial dimension: gradcheck's cost is per element."""
    return (*shape[:2], *(min(size, 3) for size in shape[2:]))


def _float_target(case, t):
    return "target" in case.grads and t.is_floating_point()


# ---------------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=str)
def test_matches_the_float64_reference(case):
    x, t = case.inputs()
    for options in case.option_sets():
        got = case(x, t, **options)
        assert got.dtype == torch.float64
        torch.testing.assert_close(got, case.expected(x, t, **options), rtol=1e-10,
                                   atol=1e-10, msg=lambda m, o=options: f"{o}: {m}")


@pytest.mark.parametrize("backend", ["blocked", "plain"])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_module_equals_functional(case, backend):
    x, t = case.inputs()
    x32, t32 = case.inputs(torch.float32)
    with backends.use(backend):
        torch.testing.assert_close(case.make_module().double()(x, t), case(x, t), rtol=1e-12,
                                   atol=1e-14)
        torch.testing.assert_close(case.make_module()(x32, t32), case(x32, t32))


# ---------------------------------------------------------------------------------------------
# Gradients
# ---------------------------------------------------------------------------------------------


def _differentiable_inputs(case):
    x, t = case.inputs(shape=_small(case.shape))
    x.requires_grad_()
    if _float_target(case, t):
        t.requires_grad_()
    return x, t


@pytest.mark.parametrize("case", CASES, ids=str)
def test_gradcheck(case):
    x, t = _differentiable_inputs(case)
    for options in case.option_sets()[:2]:
        assert gradcheck(lambda a, b, o=options: case(a, b, **o), (x, t))


@pytest.mark.parametrize("case", [c for c in CASES if c.gradgrad], ids=str)
def test_gradgradcheck(case):
    x, t = _differentiable_inputs(case)
    assert gradgradcheck(lambda a, b: case(a, b), (x, t))


# ---------------------------------------------------------------------------------------------
# torch.compile
# ---------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("fresh_dynamo")
@pytest.mark.parametrize("case", COMPILED, ids=str)
def test_compile_fullgraph_equals_eager(case):
    x, t = case.inputs(shape=_small(case.shape))
    compiled = torch.compile(lambda a, b: case(a, b), backend="aot_eager", fullgraph=True)
    x_eager, x_comp = x.clone().requires_grad_(), x.clone().requires_grad_()
    eager, comp = case(x_eager, t), compiled(x_comp, t)
    torch.testing.assert_close(comp, eager, rtol=1e-10, atol=1e-12)
    (g_eager,) = torch.autograd.grad(eager.sum(), x_eager)
    (g_comp,) = torch.autograd.grad(comp.sum(), x_comp)
    torch.testing.assert_close(g_comp, g_eager, rtol=1e-10, atol=1e-12)


def _float_options(case):
    """Every float hyper-parameter of the row's function, with the row's value or the
    default (passed as arguments, a compiled function sees them as symbolic graph inputs)."""
    options = {}
    for name, parameter in inspect.signature(case.function).parameters.items():
        value = case.kwargs.get(name, parameter.default)
        if parameter.kind is parameter.KEYWORD_ONLY and type(value) is float:
            options[name] = value
    return options


def _moved(options):
    """Other valid values of the same hyper-parameters (0 moves to 0.1)."""
    return {name: 0.9 * value if value != 0.0 else 0.1 for name, value in options.items()}


@pytest.mark.usefixtures("fresh_dynamo")
@pytest.mark.parametrize("case", COMPILED, ids=str)
def test_compile_dynamic_floats_trace_once(case):
    """With ``dynamic=True`` every float hyper-parameter is a symbolic input: no check or
    shortcut may read it (a graph break with ``fullgraph``, or a guard that recompiles on the
    next value); one graph serves every value."""
    x, t = case.inputs(shape=_small(case.shape))
    counter = CompileCounter()
    compiled = torch.compile(lambda a, b, **o: case(a, b, **o), backend=counter,
                             fullgraph=True, dynamic=True)
    options = _float_options(case)
    for values in (options, _moved(options), _moved(_moved(options))):
        torch.testing.assert_close(compiled(x, t, **values), case(x, t, **values),
                                   rtol=1e-10, atol=1e-12)
    assert counter.frame_count == 1


# ---------------------------------------------------------------------------------------------
# Dtypes
# ---------------------------------------------------------------------------------------------

HALF_TOLERANCE = {torch.float16: dict(rtol=4e-3, atol=2e-3),
                  torch.bfloat16: dict(rtol=3e-2, atol=2e-2)}


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("case", HALF, ids=str)
def test_half_inputs_keep_their_dtype_and_match_float32(case, dtype):
    x, t = case.inputs(dtype)
    x.requires_grad_()
    loss = case(x, t)
    assert loss.dtype == dtype and loss.isfinite().all()
    (grad,) = torch.autograd.grad(loss.sum(), x)
    assert grad.dtype == dtype and grad.isfinite().all()
    # The float32 loss of the same (rounded) numbers: only the computation may differ.
    x32 = x.detach().float().requires_grad_()
    t32 = t.float() if t.is_floating_point() else t
    want = case(x32, t32)
    (want_grad,) = torch.autograd.grad(want.sum(), x32)
    torch.testing.assert_close(loss.float(), want, **HALF_TOLERANCE[dtype])
    torch.testing.assert_close(grad.float(), want_grad, **HALF_TOLERANCE[dtype])


# ---------------------------------------------------------------------------------------------
# Backends
# ---------------------------------------------------------------------------------------------


def _value_and_grad(case, backend, x, t, options):
    x = x.clone().requires_grad_()
    with backends.use(backend):
        loss = case(x, t, **options)
        (grad,) = torch.autograd.grad(loss.sum(), x)
    return loss.detach(), grad


@pytest.mark.parametrize("case, backend", WITH_KERNELS,
                         ids=[f"{c}-{b}" for c, b in WITH_KERNELS])
def test_kernels_equal_the_plain_composition(case, backend, decisions):
    if backend == "triton":
        reason = _dispatch.triton_status(torch.device("cpu"))
        if reason is not None:
            pytest.skip(reason)
    x, t = case.inputs(torch.float32, shape=_small(case.shape))
    for options in case.option_sets():
        want, want_grad = _value_and_grad(case, "plain", x, t, options)
        decisions.clear()
        got, grad = _value_and_grad(case, backend, x, t, options)
        # A variant may take an option that the kernel leaves to the plain composition.
        assert backend in decisions or options, f"the {backend} kernel did not run"
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(grad, want_grad, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("backend", ["blocked", "triton"])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_rows_name_exactly_the_kernels_that_run(case, backend, decisions):
    """A row's ``kernels`` are the backends whose kernels really take its calls."""
    if backend == "triton" and _dispatch.triton_status(torch.device("cpu")) is not None:
        pytest.skip(_dispatch.triton_status(torch.device("cpu")))
    x, t = case.inputs(torch.float32, shape=_small(case.shape))
    with torch.no_grad(), backends.use(backend):
        case(x, t)
    assert (backend in decisions) == (backend in case.kernels), decisions


@pytest.mark.parametrize("backend", ["plain", "blocked", "triton"])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_a_nan_input_gives_nan(case, backend):
    """A NaN logit at a kept position (the samples never ignore the first) makes the loss
    NaN on every backend: no guard or weight may turn it into a number."""
    if backend == "triton":
        if backend not in case.kernels:
            pytest.skip("no triton kernel for this row")
        if _dispatch.triton_status(torch.device("cpu")) is not None:
            pytest.skip(_dispatch.triton_status(torch.device("cpu")))
    x, t = case.inputs(torch.float32, shape=_small(case.shape))
    x.view(-1)[0] = float("nan")
    with backends.use(backend):
        if case.kwargs.get("from_logits", True):
            assert case(x, t).isnan().any()
        else:  # probabilities are range-checked: a NaN is rejected, never read as a number
            with pytest.raises(ValueError, match=r"values must lie in \[0, 1\]; got .*nan"):
                case(x, t)


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case, error", ERRORS.values(), ids=ERRORS.keys())
def test_error_inputs(case, error):
    with pytest.raises(error.error, match=error.match):
        error.call(case)


def test_error_inputs_state_their_message_and_raise_value_or_type_errors():
    """No case expects an AssertionError, a RuntimeError from inside torch or any message."""
    for case, error in ERRORS.values():
        assert error.match, f"{case}: every error case states the message it expects"
        assert error.error in (ValueError, TypeError), f"{case}: {error}"


@pytest.mark.parametrize("case", CASES, ids=str)
def test_module_constructors_take_only_bools_for_boolean_options(case):
    """A module rejects ``"False"`` for a boolean option when it is built, as its function
    does when called (a string would read as True)."""
    parameters = inspect.signature(case.module).parameters
    for name, parameter in parameters.items():
        if isinstance(parameter.default, bool):
            with pytest.raises(TypeError, match=f"{name} must be a bool; got 'False'"):
                case.make_module(**{name: "False"})


def test_every_public_loss_has_a_row():
    import focalkit.functional as F

    helpers = {"distance_transform", "focal_modulation", "ldam_margins", "lovasz_grad",
               "region_stats"}
    public = {getattr(F, name) for name in F.__all__ if name not in helpers} - set(OWN_TABLES)
    assert all((Path(__file__).parent / test).is_file() for test in OWN_TABLES.values())
    assert public == {case.function for case in CASES}
    assert all(case.reference is not None for case in CASES)
    assert public == {case.function for case in CASES if case.errors}
