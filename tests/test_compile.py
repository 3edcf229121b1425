"""torch.compile of the focal losses and of combined losses agrees with eager mode.

Every row of the loss table is compiled with ``fullgraph=True`` by tests/test_loss_table.py;
here are the focal losses' option combinations and the composite modules. Compilation is
slow, so each focal loss is compiled by inductor once, on a tiny input; the other
configurations go through the ``aot_eager`` backend, which traces the same graph (and its
backward) without generating code. ``fullgraph=True`` asserts there is no graph break.
"""

from __future__ import annotations

import pytest
import torch
from focal_helpers import binary_target, class_target, logits, prob_target

import focalkit
from focalkit.functional import lovasz_hinge_loss, sigmoid_focal_loss, softmax_focal_loss

# Raised inside torch by its own import machinery, not by focalkit.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated")


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def compare(fn, backend, x, *args, **kwargs):
    compiled = torch.compile(fn, backend=backend, fullgraph=True)
    x_eager = x.detach().clone().requires_grad_()
    x_comp = x.detach().clone().requires_grad_()
    eager = fn(x_eager, *args, **kwargs)
    comp = compiled(x_comp, *args, **kwargs)
    torch.testing.assert_close(comp, eager, rtol=1e-5, atol=1e-6)
    (g_eager,) = torch.autograd.grad(eager.sum(), x_eager)
    (g_comp,) = torch.autograd.grad(comp.sum(), x_comp)
    torch.testing.assert_close(g_comp, g_eager, rtol=1e-5, atol=1e-6)


def test_sigmoid_focal_loss_inductor():
    x = logits(2, 3, 4, dtype=torch.float32)
    y = binary_target(2, 3, 4, dtype=torch.float32)
    y[0, 0, 0] = -1.0
    compare(sigmoid_focal_loss, "inductor", x, y, alpha=0.25, gamma=2.0,
            pos_weight=torch.tensor(2.0), ignore_index=-1)


def test_softmax_focal_loss_inductor():
    x = logits(2, 3, 4, dtype=torch.float32)
    t = class_target(2, 3, 4, ignore_index=-100, ignore_fraction=0.2)
    compare(softmax_focal_loss, "inductor", x, t, alpha=[1.0, 2.0, 0.5], gamma=2.0)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("case", ["alpha_tensor", "fractional_gamma", "from_probabilities"])
def test_sigmoid_focal_loss_traced(reduction, case):
    x = logits(2, 3, 4, dtype=torch.float32)
    y = binary_target(2, 3, 4, dtype=torch.float32, soft=True)
    kwargs = dict(reduction=reduction)
    if case == "alpha_tensor":
        kwargs.update(alpha=torch.rand(3, 1), weight=torch.rand(4))
    elif case == "fractional_gamma":
        kwargs.update(gamma=0.5, alpha=None)
    else:
        x = torch.sigmoid(x)
        kwargs.update(from_logits=False)
    compare(sigmoid_focal_loss, "aot_eager", x, y, **kwargs)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("case", ["index", "label_smoothing", "probabilities"])
def test_softmax_focal_loss_traced(reduction, case):
    x = logits(2, 3, 4, dtype=torch.float32)
    kwargs = dict(reduction=reduction, gamma=1.5)
    if case == "probabilities":
        target = prob_target(2, 3, 4, dtype=torch.float32)
    else:
        target = class_target(2, 3, 4, ignore_index=-100, ignore_fraction=0.2)
    if case == "label_smoothing":
        kwargs.update(label_smoothing=0.1, alpha=torch.tensor([1.0, 2.0, 3.0]))
    compare(softmax_focal_loss, "aot_eager", x, target, **kwargs)


def test_compiled_training_step_matches_eager():
    torch.manual_seed(0)
    model = torch.nn.Conv2d(2, 3, 1)
    x = torch.randn(2, 2, 3, 3)
    t = class_target(2, 3, 3, 3)

    def step(m):
        return softmax_focal_loss(m(x), t, gamma=2.0)

    eager = step(model)
    compiled = torch.compile(step, backend="aot_eager")(model)
    torch.testing.assert_close(compiled, eager)
    (g_eager,) = torch.autograd.grad(eager, model.weight)
    (g_comp,) = torch.autograd.grad(compiled, model.weight)
    torch.testing.assert_close(g_comp, g_eager)


def test_combo_of_lovasz_and_focal_compiles_without_graph_breaks():
    """The Lovasz terms inside a ComboLoss trace as one graph with the others."""
    combo = focalkit.ComboLoss({
        "lovasz": (focalkit.LovaszSoftmaxLoss(per_image=True, ignore_index=-100), 1.0),
        "hinge": (lambda x, t: lovasz_hinge_loss(x[:, 1], (t == 1).long()), 0.5),
        "focal": (focalkit.SoftmaxFocalLoss(gamma=2.0), 0.25),
    })
    x = logits(2, 3, 4, 5, dtype=torch.float32)
    t = class_target(2, 3, 4, 5, ignore_index=-100, ignore_fraction=0.2)
    compare(lambda a, b: combo(a, b), "aot_eager", x, t)
