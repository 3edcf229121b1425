"""The softmax focal loss over a linear layer: its own table of cases (the loss takes the
layer's weight, which the shared table in loss_cases.py cannot hold).

Every case must equal ``softmax_focal_loss(F.linear(x, W, b), t, ...)`` plus the z-loss,
in value and in the gradients of the input, the weight and the bias, on every backend; and
the float64 reference. Then gradcheck, half precision, ``torch.compile``, ``torch.func``,
meta tensors, the memory the kernels hold and the error table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import torch
import torch.nn.functional as F
from loss_cases import ErrorInput
from torch.autograd import gradcheck, gradgradcheck

import focalkit
from focalkit import GammaScheduler, LinearSoftmaxFocalLoss, _dispatch, backends, get_loss
from focalkit import reference as R
from focalkit._kernels.blocked import linear as blocked
from focalkit.functional import linear_softmax_focal_loss, softmax_focal_loss

# Raised inside torch by its own import machinery (torch.compile), not by focalkit.
pytestmark = [pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated"),
              pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")]

TRITON_REASON = _dispatch.triton_status(torch.device("cpu"))


# ---------------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One configuration: the options, the leading shape of the input, H and C, whether
    there is a bias, and the fraction of ignored positions."""

    name: str
    kwargs: dict = field(default_factory=dict)
    lead: tuple[int, ...] = (13,)
    features: int = 6
    classes: int = 11
    bias: bool = True
    ignored: float = 0.0

    def inputs(self, dtype=torch.float64, seed=0):
        gen = torch.Generator().manual_seed(seed)
        x = torch.randn(*self.lead, self.features, generator=gen, dtype=torch.float64)
        w = torch.randn(self.classes, self.features, generator=gen, dtype=torch.float64)
        b = torch.randn(self.classes, generator=gen, dtype=torch.float64) if self.bias else None
        t = torch.randint(0, self.classes, self.lead, generator=gen)
        if self.ignored:
            drop = torch.rand(self.lead, generator=gen) < self.ignored
            drop.view(-1)[0] = True
            drop.view(-1)[-1] = False
            t = t.masked_fill(drop, self.kwargs.get("ignore_index", -100))
        cast = [v.to(dtype) if v is not None else None for v in (x, w, b)]
        return (*cast, t)

    def __str__(self) -> str:
        return self.name


ALPHA = [0.5 + 0.1 * c for c in range(11)]
CASES = [
    Case("ce", dict(gamma=0.0)),
    Case("focal", dict(gamma=2.0), bias=False),
    Case("focal_alpha_ignored", dict(gamma=2.0, alpha=ALPHA), ignored=0.3),
    Case("fractional_gamma_sum", dict(gamma=0.5, reduction="sum"), ignored=0.2),
    Case("none_3d", dict(gamma=1.5, reduction="none"), lead=(3, 5), ignored=0.2),
    Case("smoothing", dict(gamma=2.0, label_smoothing=0.1, alpha=ALPHA)),
    Case("smoothing_ce_none", dict(gamma=0.0, label_smoothing=0.2, reduction="none")),
    Case("poly", dict(gamma=1.0, epsilon=1.5), ignored=0.2),
    Case("poly_negative_smoothing", dict(gamma=2.0, epsilon=-0.5, label_smoothing=0.05)),
    Case("z_loss", dict(gamma=2.0, z_loss=1e-2, alpha=0.7), ignored=0.2),
    Case("everything_none", dict(gamma=0.7, alpha=ALPHA, label_smoothing=0.1, epsilon=1.0,
                                 z_loss=1e-3, reduction="none", ignore_index=3),
         lead=(2, 7), ignored=0.3),
    Case("own_ignore_index", dict(gamma=2.0, ignore_index=0), ignored=0.3),
    Case("one_class", dict(gamma=2.0, z_loss=0.1), classes=1),
]
VARIANTS = (dict(reduction="mean"), dict(chunk_size=4))


def composition(x, w, b, t, *, z_loss=0.0, chunk_size=None, reduction="mean", **kwargs):
    """The definition: the softmax focal loss of the materialised logits, plus the z-loss."""
    z = F.linear(x, w, b)
    c = z.shape[-1]
    loss = softmax_focal_loss(z.reshape(-1, c), t.reshape(-1), reduction="none", **kwargs)
    ignore_index = kwargs.get("ignore_index", -100)
    valid = t.reshape(-1) != ignore_index
    loss = loss + torch.where(valid, z_loss * torch.logsumexp(z.reshape(-1, c), 1) ** 2, 0.0)
    if reduction == "none":
        return loss.reshape(t.shape)
    total = loss.sum()
    return total / valid.sum().clamp_min(1) if reduction == "mean" else total


def options(case, **update):
    return {**case.kwargs, **update}


def value_and_grads(fn, x, w, b, t, seed=1, **kwargs):
    leaves = [v.detach().clone().requires_grad_() for v in (x, w, b) if v is not None]
    args = (*leaves, None) if b is None else leaves
    loss = fn(args[0], args[1], t, **({"linear_bias": args[2]} if b is not None else {}),
              **kwargs)
    weights = torch.randn(loss.shape, generator=torch.Generator().manual_seed(seed),
                          dtype=loss.dtype)
    grads = torch.autograd.grad(loss, leaves, weights)
    return loss.detach(), grads


def definition(x, w, t, linear_bias=None, **kwargs):
    return composition(x, w, linear_bias, t, **kwargs)


def assert_same(got, want, **tol):
    torch.testing.assert_close(got[0], want[0], **tol)
    for g, h in zip(got[1], want[1], strict=True):
        torch.testing.assert_close(g, h, **tol)


# ---------------------------------------------------------------------------------------------
# Values and gradients
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["blocked", "plain"])
@pytest.mark.parametrize("variant", [{}, *VARIANTS], ids=["row", "mean", "chunk4"])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_equals_the_composition_in_value_and_gradients(case, variant, backend):
    x, w, b, t = case.inputs()
    kwargs = options(case, **variant)
    want = value_and_grads(definition, x, w, b, t, **kwargs)
    with backends.use(backend):
        got = value_and_grads(linear_softmax_focal_loss, x, w, b, t, **kwargs)
    assert_same(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_matches_the_float64_reference(case):
    x, w, b, t = case.inputs()
    for variant in ({}, *VARIANTS):
        kwargs = options(case, **variant)
        kwargs.pop("chunk_size", None)
        got = linear_softmax_focal_loss(x, w, t, linear_bias=b, **kwargs)
        want = R.linear_softmax_focal_loss(x, w, t, bias=b, **kwargs)
        torch.testing.assert_close(got, torch.as_tensor(want), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "none"])
@pytest.mark.parametrize("case", [c for c in CASES if c.classes > 1], ids=str)
def test_class_chunks_with_an_online_log_sum_exp(case, reduction, monkeypatch):
    """Chunks of 4 rows and 3 classes, slabs of 2 rows: every pass over the class chunks
    runs."""
    monkeypatch.setattr(blocked, "CHUNK", 12)
    monkeypatch.setattr(blocked, "SLAB", 6)
    x, w, b, t = case.inputs()
    kwargs = options(case, reduction=reduction, chunk_size=4)
    assert blocked.plan(13, case.classes, 4) == (4, 3)
    want = value_and_grads(definition, x, w, b, t, **kwargs)
    with backends.use("blocked"):
        got = value_and_grads(linear_softmax_focal_loss, x, w, b, t, **kwargs)
    assert_same(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_slabs_of_a_chunk(case, monkeypatch):
    """Chunks of 4 rows with every class, their element-wise passes in slabs of 2 rows."""
    monkeypatch.setattr(blocked, "SLAB", 2 * case.classes)
    x, w, b, t = case.inputs()
    kwargs = options(case, chunk_size=4)
    want = value_and_grads(definition, x, w, b, t, **kwargs)
    with backends.use("blocked"):
        got = value_and_grads(linear_softmax_focal_loss, x, w, b, t, **kwargs)
    assert_same(got, want, rtol=1e-10, atol=1e-12)


def test_float32_matches_float64():
    case = Case("big", dict(gamma=2.0, z_loss=1e-3), lead=(300,), features=32, classes=700)
    x, w, b, t = case.inputs()
    want = value_and_grads(linear_softmax_focal_loss, x, w, b, t, **case.kwargs)
    got = value_and_grads(linear_softmax_focal_loss, x.float(), w.float(), b.float(), t,
                          **case.kwargs)
    assert got[0].dtype == torch.float32
    assert_same((got[0].double(), [g.double() for g in got[1]]), want, rtol=2e-5, atol=1e-7)


def test_ignored_rows_get_no_gradient_whatever_their_features(path):
    x, w, b, t = Case("x", ignored=0.5).inputs()
    drop = t == -100
    x[drop] = float("nan")
    x.requires_grad_()
    w.requires_grad_()
    loss = linear_softmax_focal_loss(x, w, t, linear_bias=b, reduction="none")
    assert torch.equal(loss[drop], torch.zeros_like(loss[drop]))
    loss.sum().backward()
    assert torch.equal(x.grad[drop], torch.zeros_like(x.grad[drop]))
    assert torch.isfinite(w.grad).all()


def test_every_position_ignored(path):
    x, w, b, t = Case("x").inputs()
    t = torch.full_like(t, -100)
    x.requires_grad_()
    loss = linear_softmax_focal_loss(x, w, t, linear_bias=b)
    loss.backward()
    assert loss.item() == 0.0 and not x.grad.any()


def test_masked_classes_with_an_infinite_bias_keep_finite_gradients(path):
    x, w, b, t = Case("x").inputs()
    b[3] = float("-inf")
    t[0] = 3  # a target that can never be predicted: infinite loss, finite gradient
    want = value_and_grads(definition, x, w, b, t, reduction="none", gamma=2.0)
    got = value_and_grads(linear_softmax_focal_loss, x, w, b, t, reduction="none", gamma=2.0)
    assert got[0][0] == float("inf")
    assert all(torch.isfinite(g).all() for g in got[1])
    assert_same(got, want, rtol=1e-10, atol=1e-12)


def test_weight_without_grad_and_bias_only(path):
    x, w, b, t = Case("x").inputs()
    b.requires_grad_()
    (grad,) = torch.autograd.grad(linear_softmax_focal_loss(x, w, t, linear_bias=b), b)
    (want,) = torch.autograd.grad(composition(x, w, b, t), b)
    torch.testing.assert_close(grad, want, rtol=1e-10, atol=1e-12)


def test_backward_scales_accumulates_and_retains(path):
    x, w, b, t = Case("x").inputs()
    w.requires_grad_()
    (want,) = torch.autograd.grad(composition(x, w, b, t), w)
    loss = linear_softmax_focal_loss(x, w, t, linear_bias=b)
    loss.backward(torch.tensor(2.0, dtype=loss.dtype), retain_graph=True)
    loss.backward()
    torch.testing.assert_close(w.grad, 3 * want, rtol=1e-10, atol=1e-12)


def test_no_grad_gives_the_same_loss():
    x, w, b, t = Case("x").inputs()
    with torch.no_grad():
        got = linear_softmax_focal_loss(x, w.requires_grad_(), t, linear_bias=b)
    assert got.grad_fn is None
    torch.testing.assert_close(got, composition(x, w, b, t), rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# Gradcheck, half precision, compile, torch.func, meta
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["blocked", "plain"])
@pytest.mark.parametrize("case", [CASES[2], CASES[4], CASES[10]], ids=str)
def test_gradcheck(case, backend):
    x, w, b, t = Case(case.name, case.kwargs, lead=(2, 3), features=3, classes=11,
                      ignored=case.ignored).inputs()
    with backends.use(backend):
        assert gradcheck(lambda a, v, c: linear_softmax_focal_loss(a, v, t, linear_bias=c,
                                                                   **case.kwargs),
                         (x.requires_grad_(), w.requires_grad_(), b.requires_grad_()))


def test_gradgradcheck_through_the_kernel():
    x, w, b, t = Case("x", lead=(4,), features=3, classes=5, ignored=0.3).inputs()
    with backends.use("blocked"):
        assert gradgradcheck(lambda a, v, c: linear_softmax_focal_loss(
            a, v, t, linear_bias=c, gamma=1.5, z_loss=0.1),
            (x.requires_grad_(), w.requires_grad_(), b.requires_grad_()))


HALF_TOLERANCE = {torch.float16: dict(rtol=4e-3, atol=2e-3),
                  torch.bfloat16: dict(rtol=3e-2, atol=2e-2)}


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("case", [CASES[2], CASES[5], CASES[10]], ids=str)
def test_half_inputs_keep_their_dtype_and_match_float32(case, dtype):
    x, w, b, t = case.inputs(dtype)
    loss, grads = value_and_grads(linear_softmax_focal_loss, x, w, b, t, **case.kwargs)
    assert loss.dtype == dtype and all(g.dtype == dtype for g in grads)
    want = value_and_grads(linear_softmax_focal_loss, x.float(), w.float(), b.float(), t,
                           **case.kwargs)
    torch.testing.assert_close(loss.float(), want[0], **HALF_TOLERANCE[dtype])
    for g, h in zip(grads, want[1], strict=True):
        torch.testing.assert_close(g.float(), h, **HALF_TOLERANCE[dtype])


@pytest.mark.usefixtures("fresh_dynamo")
@pytest.mark.parametrize("case", [CASES[2], CASES[10]], ids=str)
def test_compile_fullgraph_equals_eager(case):
    x, w, b, t = case.inputs()

    def loss(a, v, c):
        return linear_softmax_focal_loss(a, v, t, linear_bias=c, **case.kwargs).sum()

    compiled = torch.compile(loss, backend="aot_eager", fullgraph=True)
    eager = value_and_grads(lambda a, v, tt, linear_bias: loss(a, v, linear_bias), x, w, b, t)
    comp = value_and_grads(lambda a, v, tt, linear_bias: compiled(a, v, linear_bias), x, w, b,
                           t)
    assert_same(comp, eager, rtol=1e-10, atol=1e-12)


@pytest.mark.usefixtures("fresh_dynamo")
@pytest.mark.parametrize("reduction, operator", [("mean", True), ("sum", True), ("none", False)])
def test_compile_calls_the_kernel_as_one_operator(reduction, operator):
    """The compiled graph holds the custom operator (no product of the logits) for "mean" and
    "sum", and the plain composition for "none"."""
    x, w, b, t = CASES[2].inputs()
    graphs = []

    def capture(gm, example_inputs):
        graphs.append(gm)
        return gm

    def loss(a, v, c):
        return linear_softmax_focal_loss(a, v, t, linear_bias=c, gamma=2.0,
                                         reduction=reduction).sum()

    torch.compile(loss, backend=capture, fullgraph=True)(x, w.requires_grad_(), b)
    targets = {str(node.target) for node in graphs[0].graph.nodes if node.op == "call_function"}
    held = any("linear" in name and "focalkit" not in name or "matmul" in name
               for name in targets)
    assert ("focalkit.linear_softmax_focal_loss.default" in targets) is operator
    assert held is not operator


@pytest.mark.usefixtures("fresh_dynamo")
def test_a_compiled_module_takes_new_hyper_parameters_without_recompiling():
    """The operator receives its floats as a tensor: changing gamma (a schedule) or the
    z-loss weight reuses the graph, and each call equals eager."""
    from torch._dynamo.testing import CompileCounter

    x, w, b, t = CASES[2].inputs()
    module = LinearSoftmaxFocalLoss(gamma=1.0)
    counter = CompileCounter()
    compiled = torch.compile(module, backend=counter, dynamic=True, fullgraph=True)
    for gamma, z_loss in ((1.0, 0.0), (1.5, 1e-3), (2.0, 1e-2)):
        module.gamma, module.z_loss = gamma, z_loss
        torch.testing.assert_close(
            compiled(x, w, t, b),
            linear_softmax_focal_loss(x, w, t, linear_bias=b, gamma=gamma, z_loss=z_loss),
            rtol=1e-12, atol=0)
    assert counter.frame_count == 1


@pytest.mark.usefixtures("fresh_dynamo")
def test_compile_of_func_transforms_traces_the_plain_form():
    """A torch.func transform inside the compiled function takes the plain composition (the
    operator has only a reverse-mode rule), with the eager values."""
    x, w, b, t = CASES[2].inputs()

    def loss(a, v, tt):
        return linear_softmax_focal_loss(a, v, tt, gamma=2.0)

    grad = torch.func.grad(loss, argnums=1)
    torch.testing.assert_close(torch.compile(grad, fullgraph=True)(x, w, t), grad(x, w, t),
                               rtol=1e-12, atol=1e-14)
    batched = torch.func.vmap(loss, in_dims=(0, None, 0))
    xs, ts = x[:12].reshape(3, 4, -1), t[:12].reshape(3, 4)
    torch.testing.assert_close(torch.compile(batched, fullgraph=True)(xs, w, ts),
                               batched(xs, w, ts), rtol=1e-12, atol=1e-14)


def test_the_operator_passes_opcheck():
    """Schema, fake tensors, the autograd registration and AOT dispatch of the operator."""
    x, w, b, t = CASES[2].inputs()
    operator = torch.ops.focalkit.linear_softmax_focal_loss.default
    for reduction in ("mean", "sum"):
        alpha = torch.tensor(ALPHA, dtype=x.dtype)
        floats = torch.tensor([2.0, 0.1, 0.5, 1e-3], dtype=torch.float64)
        args = (x.requires_grad_(), w.requires_grad_(), b.requires_grad_(), t, alpha, floats,
                -100, reduction, 4, True, True, True)
        torch.library.opcheck(operator, args)


def test_func_grad_of_the_weight_and_the_input():
    x, w, b, t = CASES[9].inputs()
    kwargs = CASES[9].kwargs

    def loss(a, v):
        return linear_softmax_focal_loss(a, v, t, linear_bias=b, **kwargs)

    got = torch.func.grad(loss, argnums=(0, 1))(x, w)
    want = torch.autograd.grad(composition(x.requires_grad_(), w.requires_grad_(), b, t,
                                           **kwargs), (x, w))
    for g, h in zip(got, want, strict=True):
        torch.testing.assert_close(g, h, rtol=1e-10, atol=1e-12)


def test_func_functional_call_of_a_model_with_a_linear_head():
    model = torch.nn.Sequential(torch.nn.Linear(6, 6), torch.nn.Tanh(),
                                torch.nn.Linear(6, 11)).double()
    criterion = LinearSoftmaxFocalLoss(gamma=2.0)
    x, _, _, t = CASES[0].inputs()
    params = dict(model.named_parameters())

    def loss(p):
        body = {k: v for k, v in p.items() if k.startswith("0.")}
        features = torch.func.functional_call(model[:2], body, (x,))
        return criterion(features, p["2.weight"], t, p["2.bias"])

    got = torch.func.grad(loss)(params)
    want = torch.autograd.grad(softmax_focal_loss(model(x), t, gamma=2.0), list(params.values()))
    for name, g in zip(params, want, strict=True):
        torch.testing.assert_close(got[name], g, rtol=1e-10, atol=1e-12)


# vmap of the plain composition's one-hot scatter: torch's per-sample fallback, still exact.
@pytest.mark.filterwarnings("ignore:There is a performance drop")
def test_func_jvp_and_vmap():
    x, w, b, t = CASES[5].inputs()
    kwargs = CASES[5].kwargs
    v = torch.randn_like(w)
    value, tangent = torch.func.jvp(
        lambda a: linear_softmax_focal_loss(x, a, t, linear_bias=b, **kwargs), (w,), (v,))
    w = w.requires_grad_()
    plain = composition(x, w, b, t, **kwargs)
    (grad,) = torch.autograd.grad(plain, w)
    torch.testing.assert_close(value, plain.detach(), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(tangent, (grad * v).sum(), rtol=1e-8, atol=1e-10)
    xs = torch.stack([x, x * 2, -x])
    got = torch.func.vmap(lambda a: linear_softmax_focal_loss(a, w, t, linear_bias=b,
                                                              **kwargs))(xs)
    want = torch.stack([composition(a, w, b, t, **kwargs) for a in xs])
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("backend", ["auto", "blocked", "plain"])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_meta_forward_and_backward(backend, reduction):
    x, w, b, t = (v.to("meta") for v in CASES[10].inputs(torch.float32))
    x.requires_grad_()
    w.requires_grad_()
    kwargs = {name: value.to("meta") if isinstance(value, torch.Tensor) else value
              for name, value in options(CASES[10], reduction=reduction).items()}
    with backends.use(backend):
        loss = linear_softmax_focal_loss(x, w, t, linear_bias=b, **kwargs)
        module = LinearSoftmaxFocalLoss(**kwargs).to("meta")(x, w, t, b)
    assert loss.device.type == "meta" and module.shape == loss.shape
    loss.sum().backward()
    assert x.grad.shape == x.shape and w.grad.shape == w.shape


# ---------------------------------------------------------------------------------------------
# Dispatch and memory
# ---------------------------------------------------------------------------------------------


def test_the_blocked_kernel_is_the_cpu_default(decisions):
    x, w, b, t = CASES[0].inputs()
    loss = linear_softmax_focal_loss(x, w.requires_grad_(), t, linear_bias=b)
    assert decisions == ["blocked"]
    assert isinstance(loss.grad_fn, torch.autograd.function.BackwardCFunction)
    linear_softmax_focal_loss(x, w, t, alpha=torch.ones(11, dtype=x.dtype,
                                                      requires_grad=True))
    assert decisions[-1] == "plain"


class _Largest(torch.utils._python_dispatch.TorchDispatchMode):
    """Records the size in bytes of the largest tensor any operation returns (Triton's
    interpreter copies its arguments' storages as bytes)."""

    def __init__(self):
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for value in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(value, torch.Tensor):
                self.largest = max(self.largest, value.numel() * value.element_size())
        return out


@pytest.mark.parametrize("backend", ["blocked", "triton"])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_the_logits_are_never_held_whole(backend, reduction, monkeypatch):
    """N x C = 64 x 40 float32 logits; no operation may return more than a chunk of 8 x 40
    of them (the weight, its gradient and the input's, 40 x 4 and 64 x 4, are smaller)."""
    if backend == "triton" and TRITON_REASON is not None:
        pytest.skip(TRITON_REASON)
    case = Case("x", dict(gamma=2.0, label_smoothing=0.1, reduction=reduction), lead=(64,),
                features=4, classes=40, ignored=0.2)
    x, w, b, t = case.inputs(torch.float32)
    x.requires_grad_()
    w.requires_grad_()
    spy = _Largest()
    with backends.use(backend), spy:
        loss = linear_softmax_focal_loss(x, w, t, linear_bias=b, chunk_size=8,
                                         reduction=reduction)
        loss.sum().backward()
    assert spy.largest <= 8 * 40 * 4 < 64 * 40 * 4


def test_chunk_plan():
    assert blocked.plan(4096, 32768, None) == (256, 32768)
    assert blocked.plan(4096, 4096, None) == (2048, 4096)
    assert blocked.plan(100, 4096, None) == (100, 4096)
    rows, classes = blocked.plan(4096, 262144, None)
    assert rows == blocked.ROWS and rows * classes <= blocked.CHUNK
    assert blocked.plan(10, 7, 3) == (3, 7)


# ---------------------------------------------------------------------------------------------
# Triton kernels through the interpreter
# ---------------------------------------------------------------------------------------------


@pytest.mark.skipif(TRITON_REASON is not None, reason=str(TRITON_REASON))
@pytest.mark.parametrize("case", [CASES[2], CASES[4], CASES[10], CASES[8]], ids=str)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_triton_equals_the_composition(case, dtype, monkeypatch):
    from focalkit._kernels.triton import linear as kernel

    monkeypatch.setattr(kernel, "TILE", 16)  # 2 x 8 tiles: several class tiles per row
    monkeypatch.setattr(kernel, "CLASS_TILE", 8)
    x, w, b, t = case.inputs(dtype)
    kwargs = options(case, chunk_size=5)
    want = value_and_grads(definition, x, w, b, t, **kwargs)
    with backends.use("triton"):
        got = value_and_grads(linear_softmax_focal_loss, x, w, b, t, **kwargs)
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == torch.float64 else dict(rtol=1e-5,
                                                                           atol=1e-6)
    assert_same(got, want, **tol)


@pytest.mark.skipif(TRITON_REASON is not None, reason=str(TRITON_REASON))
def test_triton_half_inputs():
    case = CASES[9]
    x, w, b, t = case.inputs(torch.float16)
    with backends.use("triton"):
        loss, grads = value_and_grads(linear_softmax_focal_loss, x, w, b, t, **case.kwargs)
    want = value_and_grads(definition, x.float(), w.float(), b.float(), t, **case.kwargs)
    assert loss.dtype == torch.float16 and all(g.dtype == torch.float16 for g in grads)
    torch.testing.assert_close(loss.float(), want[0], **HALF_TOLERANCE[torch.float16])
    for g, h in zip(grads, want[1], strict=True):
        torch.testing.assert_close(g.float(), h, **HALF_TOLERANCE[torch.float16])


# ---------------------------------------------------------------------------------------------
# The module
# ---------------------------------------------------------------------------------------------


def test_module_equals_functional_and_is_registered():
    x, w, b, t = CASES[2].inputs()
    kwargs = {**CASES[2].kwargs, "alpha": torch.tensor(ALPHA, dtype=torch.float64)}
    module = LinearSoftmaxFocalLoss(**kwargs)
    torch.testing.assert_close(module(x, w, t, b),
                               linear_softmax_focal_loss(x, w, t, linear_bias=b, **kwargs),
                               rtol=1e-12, atol=1e-14)
    assert focalkit.LinearSoftmaxFocalLoss is focalkit.nn.LinearSoftmaxFocalLoss
    assert type(get_loss("linear_softmax_focal")) is LinearSoftmaxFocalLoss
    assert type(get_loss("LinearSoftmaxFocalLoss", gamma=1.0)) is LinearSoftmaxFocalLoss
    assert set(module.state_dict()) == {"alpha"}
    text = repr(LinearSoftmaxFocalLoss(z_loss=1e-4, chunk_size=128))
    assert "z_loss=0.0001" in text and "chunk_size=128" in text


def test_module_with_a_gamma_scheduler():
    x, w, b, t = CASES[0].inputs()
    loss = LinearSoftmaxFocalLoss(gamma=2.0)
    scheduler = GammaScheduler(loss, schedule="linear", total_steps=2)
    seen = []
    for _ in range(3):
        seen.append(loss.gamma)
        value = loss(x, w, t, b)
        torch.testing.assert_close(value, composition(x, w, b, t, gamma=loss.gamma),
                                   rtol=1e-10, atol=1e-12)
        scheduler.step()
    assert seen == [0.0, 1.0, 2.0]


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


def _with(**changes):
    def change(x, w, b, t):
        args = dict(x=x, w=w, b=b, t=t)
        for key, make in changes.items():
            args[key] = make(args)
        return args["x"], args["w"], args["b"], args["t"]
    return change


def _last_target(value):
    return _with(t=lambda a: torch.cat([a["t"][:-1], a["t"].new_tensor([value])]))


# The rows of tests/loss_cases.py's error format; ``inputs`` changes ``(x, w, b, t)``.
ERRORS = [
    ErrorInput(r"linear_weight must have shape \(C, H\) = \(C, 6\) for input of shape "
               r"\(13, 6\); got \(11, 5\)", inputs=_with(w=lambda a: a["w"][:, :5])),
    ErrorInput(r"linear_weight must have shape \(C, H\) = \(C, 6\) .* got \(11, 6, 1\)",
               inputs=_with(w=lambda a: a["w"].unsqueeze(-1))),
    ErrorInput(r"linear_bias must have shape \(C,\) = \(11,\) for linear_weight of shape "
               r"\(11, 6\); got \(10,\)", inputs=_with(b=lambda a: a["b"][:10])),
    ErrorInput(r"linear_bias must have shape \(C,\) = \(11,\) .* got \(1, 11\)",
               inputs=_with(b=lambda a: a["b"][None])),
    ErrorInput(r"target of class indices must have shape \(\*\) = \(13,\) for input "
               r"\(13, 6\); got \(12,\)", inputs=_with(t=lambda a: a["t"][:12])),
    ErrorInput(r"target of class indices must have shape \(\*\) = \(13,\) .* got \(13, 1\)",
               inputs=_with(t=lambda a: a["t"][:, None])),
    ErrorInput(r"target class indices must lie in \[0, 10\] or equal ignore_index=-100; "
               r"got 11", inputs=_last_target(11)),
    ErrorInput(r"target class indices must lie in \[0, 10\]; got 11",
               kwargs=dict(ignore_index=None), inputs=_last_target(11)),
    ErrorInput(r"target class indices must lie in \[0, 10\] or equal ignore_index=-100; "
               r"got -1", inputs=_last_target(-1)),
    ErrorInput("alpha must have 11 values, one per class; got 3",
               kwargs=dict(alpha=[1.0, 2.0, 3.0])),
    ErrorInput(r"alpha values must lie in \[0, inf\); got values in \[-1, 1\]",
               kwargs=dict(alpha=[-1.0] + [1.0] * 10)),
    ErrorInput(r"chunk_size must be a positive int \(>= 1\); got 0", kwargs=dict(chunk_size=0)),
    ErrorInput("chunk_size must be a positive int; got 256.0", kwargs=dict(chunk_size=256.0),
               error=TypeError),
    ErrorInput("chunk_size must be a positive int; got True", kwargs=dict(chunk_size=True),
               error=TypeError),
    ErrorInput(r"z_loss must be in \[0, inf\); got -0.1", kwargs=dict(z_loss=-0.1)),
    ErrorInput(r"gamma must be in \[0, inf\); got -1", kwargs=dict(gamma=-1.0)),
    ErrorInput(r"epsilon must be in \[-1, inf\); got -2", kwargs=dict(epsilon=-2.0)),
    ErrorInput(r"label_smoothing must be in \[0, 1\]; got 1.5", kwargs=dict(label_smoothing=1.5)),
    ErrorInput("reduction must be one of 'none', 'mean', 'sum'; got 'avg'",
               kwargs=dict(reduction="avg")),
    ErrorInput("input must be a floating-point tensor", inputs=_with(x=lambda a: a["x"].long()),
               error=TypeError),
    ErrorInput("linear_weight must be a floating-point tensor",
               inputs=_with(w=lambda a: a["w"].long()), error=TypeError),
    ErrorInput("linear_weight must be a torch.Tensor; got list",
               inputs=_with(w=lambda a: a["w"].tolist()), error=TypeError),
    ErrorInput("linear_bias must be a floating-point tensor",
               inputs=_with(b=lambda a: a["b"].long()), error=TypeError),
    ErrorInput(r"linear_weight must have the dtype of input \(torch.float64\); got "
               r"torch.float32", inputs=_with(w=lambda a: a["w"].float()), error=TypeError),
    ErrorInput(r"linear_bias must have the dtype of input \(torch.float64\); got "
               r"torch.float16", inputs=_with(b=lambda a: a["b"].half()), error=TypeError),
    ErrorInput(r"linear_weight must be on the device of input \(cpu\); got a tensor on meta",
               inputs=_with(w=lambda a: a["w"].to("meta"))),
    ErrorInput(r"linear_bias must be on the device of input \(cpu\); got a tensor on meta",
               inputs=_with(b=lambda a: a["b"].to("meta"))),
    ErrorInput("target must be a torch.Tensor; got list",
               inputs=_with(t=lambda a: a["t"].tolist()), error=TypeError),
    ErrorInput("target must hold integer class indices; got dtype torch.float64",
               inputs=_with(t=lambda a: a["t"].double()), error=TypeError),
    ErrorInput(r"input must have shape \(\*, H\) with a feature dimension; got shape \(\)",
               inputs=_with(x=lambda a: a["x"][0, 0])),
    ErrorInput(r"linear_weight must have at least one class \(row\); got shape \(0, 6\)",
               inputs=_with(w=lambda a: a["w"][:0], b=lambda a: None)),
]


@pytest.mark.parametrize("case", ERRORS, ids=[str(i) for i in range(len(ERRORS))])
def test_error_inputs(case):
    x, w, b, t = Case("x").inputs()
    if case.inputs is not None:
        x, w, b, t = case.inputs(x, w, b, t)
    with pytest.raises(case.error, match=case.match):
        linear_softmax_focal_loss(x, w, t, linear_bias=b, **case.kwargs)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(z_loss=-1.0), ValueError, r"z_loss must be in \[0, inf\); got -1"),
    (dict(chunk_size=-3), ValueError, r"chunk_size must be a positive int \(>= 1\); got -3"),
    (dict(alpha=[[1.0]]), ValueError, "alpha must be a 1-D tensor"),
    (dict(gamma=-0.5), ValueError, r"gamma must be in \[0, inf\); got -0.5"),
])
def test_module_checks_at_construction(kwargs, error, match):
    with pytest.raises(error, match=match):
        LinearSoftmaxFocalLoss(**kwargs)
