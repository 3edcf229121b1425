"""Loss modules: one functional call, hyper-parameter buffers, no mutation, modes, wrapper."""

from __future__ import annotations

import copy
import pickle

import pytest
import torch
import torch.nn.functional as F
from focal_helpers import MIXED, binary_target, class_target, logits
from torch import nn

import focalkit
from focalkit import FocalLoss, FocalWrapper, SigmoidFocalLoss, SoftmaxFocalLoss
from focalkit.functional import sigmoid_focal_loss, softmax_focal_loss

REDUCTIONS = ["none", "mean", "sum"]


def snapshot(module):
    """Everything a forward call could change: attributes, buffers, parameters, submodules."""
    state = {k: v.clone() for k, v in module.state_dict().items()}
    attrs = {name: copy.copy(vars(m)) for name, m in module.named_modules()}
    for d in attrs.values():
        for key in ("_buffers", "_parameters", "_modules", "_forward_hooks",
                    "_forward_pre_hooks", "_backward_hooks"):
            d.pop(key, None)
    return state, attrs


def assert_unchanged(module, before):
    state, attrs = snapshot(module)
    assert attrs == before[1]
    assert state.keys() == before[0].keys()
    for key, value in state.items():
        assert torch.equal(value, before[0][key])


# ---------------------------------------------------------------------------------------------
# Module == functional
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("alpha", [None, 0.4, "tensor"])
def test_sigmoid_module_equals_functional(reduction, alpha):
    x = logits(2, 3, 4)
    y = binary_target(2, 3, 4, soft=True)
    y[0, 0, 0] = -1.0
    a = torch.rand(3, 1, dtype=torch.float64) if alpha == "tensor" else alpha
    kwargs = dict(alpha=a, gamma=1.5, pos_weight=torch.rand(3, 1, dtype=torch.float64) * 2,
                  weight=torch.rand(4, dtype=torch.float64), reduction=reduction,
                  ignore_index=-1)
    module = SigmoidFocalLoss(**kwargs)
    before = snapshot(module)
    assert torch.equal(module(x, y), sigmoid_focal_loss(x, y, **kwargs))
    assert_unchanged(module, before)


def test_sigmoid_module_from_probabilities():
    p = torch.rand(3, 4, dtype=torch.float64)
    y = binary_target(3, 4)
    module = SigmoidFocalLoss(from_logits=False, alpha=None)
    assert torch.equal(module(p, y), sigmoid_focal_loss(p, y, from_logits=False, alpha=None))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("alpha", [None, 2.0, [0.5, 1.0, 3.0], "tensor"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_softmax_module_equals_functional(reduction, alpha, label_smoothing):
    x = logits(2, 3, 4)
    t = class_target(2, 3, 4, ignore_index=-100, ignore_fraction=0.2)
    a = torch.tensor([0.5, 1.0, 3.0], dtype=torch.float64) if alpha == "tensor" else alpha
    kwargs = dict(alpha=a, gamma=0.5, reduction=reduction, label_smoothing=label_smoothing)
    module = SoftmaxFocalLoss(**kwargs).double()
    before = snapshot(module)
    assert torch.equal(module(x, t), softmax_focal_loss(x, t, **kwargs))
    assert_unchanged(module, before)


def test_modules_backpropagate_like_functional():
    x = logits(4, 3, requires_grad=True)
    t = class_target(4, 3)
    module = SoftmaxFocalLoss(alpha=[1.0, 2.0, 0.5]).double()
    (g_module,) = torch.autograd.grad(module(x, t), x)
    (g_fn,) = torch.autograd.grad(softmax_focal_loss(x, t, alpha=[1.0, 2.0, 0.5]), x)
    assert torch.equal(g_module, g_fn)


def test_top_level_and_nn_export_the_same_modules():
    from focalkit import nn as fk_nn

    for name in ("FocalLoss", "FocalWrapper", "SigmoidFocalLoss", "SoftmaxFocalLoss"):
        assert getattr(focalkit, name) is getattr(fk_nn, name)


# ---------------------------------------------------------------------------------------------
# Buffers, dtype/device moves, state_dict
# ---------------------------------------------------------------------------------------------


def test_tensor_hyper_parameters_are_buffers():
    alpha = torch.tensor([0.25, 0.5, 0.75])
    module = SigmoidFocalLoss(alpha=alpha, pos_weight=torch.tensor([2.0]),
                              weight=torch.ones(3))
    state = module.state_dict()
    assert set(state) == {"alpha", "pos_weight", "weight"}
    assert torch.equal(state["alpha"], alpha)
    assert list(module.parameters()) == []
    alpha[0] = 0.9  # the module keeps its own copy
    assert module.alpha[0] == 0.25

    softmax = SoftmaxFocalLoss(alpha=[1.0, 2.0, 3.0])
    assert set(softmax.state_dict()) == {"alpha"}
    assert softmax.alpha.dtype == torch.get_default_dtype()
    assert set(FocalLoss("multiclass", alpha=[1.0, 2.0]).state_dict()) == {"loss.alpha"}
    assert set(FocalLoss("multilabel", alpha=[0.1, 0.2]).state_dict()) == {"loss.alpha"}


def test_float_hyper_parameters_are_plain_attributes():
    module = SigmoidFocalLoss(alpha=0.25)
    assert module.state_dict() == {}
    assert module.alpha == 0.25 and module.pos_weight is None


def test_to_dtype_converts_buffers_and_state_dict_round_trips():
    module = SoftmaxFocalLoss(alpha=[1.0, 2.0, 3.0], gamma=1.0)
    module.to(torch.float64)
    assert module.alpha.dtype == torch.float64
    x = logits(4, 3)
    t = class_target(4, 3)
    other = SoftmaxFocalLoss(alpha=[0.0, 0.0, 0.0], gamma=1.0).double()
    other.load_state_dict(module.state_dict())
    assert torch.equal(other(x, t), module(x, t))
    restored = pickle.loads(pickle.dumps(module))
    assert torch.equal(restored(x, t), module(x, t))

    sig = SigmoidFocalLoss(alpha=torch.rand(3), pos_weight=torch.rand(3)).half()
    assert sig.alpha.dtype == torch.float16 and sig.pos_weight.dtype == torch.float16


def test_repr_names_the_hyper_parameters():
    text = repr(SigmoidFocalLoss(alpha=torch.rand(3), gamma=1.5))
    assert "gamma=1.5" in text and "alpha=tensor(shape=(3,))" in text
    assert "mode='multiclass'" in repr(FocalLoss("multiclass"))
    assert "gamma=1.5" in repr(FocalWrapper(nn.BCEWithLogitsLoss()))


# ---------------------------------------------------------------------------------------------
# Settable gamma
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [SigmoidFocalLoss, SoftmaxFocalLoss,
                                  lambda: FocalLoss("binary"), lambda: FocalLoss("multiclass"),
                                  lambda: FocalWrapper(nn.BCEWithLogitsLoss())])
def test_gamma_is_settable_and_validated(make):
    module = make()
    module.gamma = 3
    assert module.gamma == 3.0 and isinstance(module.gamma, float)
    with pytest.raises(ValueError, match=r"gamma must be in \[0, inf\); got -1"):
        module.gamma = -1
    assert module.gamma == 3.0


def test_new_gamma_is_used_by_forward():
    x = logits(4, 3)
    t = class_target(4, 3)
    module = FocalLoss("multiclass", gamma=2.0)
    module.gamma = 0.0
    assert module.loss.gamma == 0.0
    torch.testing.assert_close(module(x, t), F.cross_entropy(x, t))


# ---------------------------------------------------------------------------------------------
# FocalLoss modes
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_mode_with_channel_dimension(reduction):
    x = logits(2, 1, 4, 5)
    y = torch.randint(0, 2, (2, 4, 5))
    module = FocalLoss("binary", reduction=reduction)
    expected = sigmoid_focal_loss(x, y.unsqueeze(1).double(), alpha=0.25, reduction=reduction)
    assert torch.equal(module(x, y), expected)
    assert torch.equal(module(x, y.unsqueeze(1)), expected)
    assert torch.equal(module(x, y.bool()), expected)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_mode_without_channel_dimension(reduction):
    x = logits(6, 5)
    y = torch.randint(0, 2, (6, 5)).double()
    module = FocalLoss("binary", alpha=0.4, gamma=1.0, reduction=reduction)
    assert torch.equal(module(x, y), sigmoid_focal_loss(x, y, alpha=0.4, gamma=1.0,
                                                        reduction=reduction))
    x1 = logits(6, 1)
    assert torch.equal(module(x1, y[:, 0]), sigmoid_focal_loss(
        x1, y[:, :1], alpha=0.4, gamma=1.0, reduction=reduction))


@pytest.mark.parametrize("spatial", [(), (4,), (3, 4)])
def test_multilabel_mode_per_class_alpha_along_dim_1(spatial):
    c = 3
    x = logits(2, c, *spatial)
    y = torch.randint(0, 2, (2, c, *spatial))
    alpha = [0.125, 0.5, 0.875]  # exact in float32, the dtype the module stores them in
    pos_weight = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    module = FocalLoss("multilabel", alpha=alpha, pos_weight=pos_weight, reduction="none")
    module.double()
    shape = (c,) + (1,) * len(spatial)
    expected = sigmoid_focal_loss(
        x, y.double(), alpha=torch.tensor(alpha, dtype=torch.float64).reshape(shape),
        pos_weight=pos_weight.reshape(shape), reduction="none")
    assert torch.equal(module(x, y), expected)


def test_multilabel_mode_ignore_index():
    x = logits(2, 3, 4)
    y = binary_target(2, 3, 4)
    y[0, 1] = -1
    module = FocalLoss("multilabel", ignore_index=-1)
    assert torch.equal(module(x, y), sigmoid_focal_loss(x, y, ignore_index=-1))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multiclass_mode(reduction):
    x = logits(2, 4, 3)
    t = class_target(2, 4, 3, ignore_index=-100, ignore_fraction=0.3)
    module = FocalLoss("multiclass", alpha=[1.0, 2.0, 3.0, 4.0], reduction=reduction,
                       label_smoothing=0.1).double()
    expected = softmax_focal_loss(x, t, alpha=[1.0, 2.0, 3.0, 4.0], reduction=reduction,
                                  label_smoothing=0.1)
    assert torch.equal(module(x, t), expected)
    t255 = torch.where(t == -100, 255, t)
    module255 = FocalLoss("multiclass", ignore_index=255, reduction=reduction)
    assert torch.equal(module255(x, t255), softmax_focal_loss(x, t, reduction=reduction))


def test_mode_default_alpha():
    assert FocalLoss("binary").alpha == 0.25
    assert FocalLoss("multilabel").alpha == 0.25
    assert FocalLoss("multiclass").alpha is None
    assert FocalLoss("binary", alpha=None).alpha is None


def test_focal_loss_forward_does_not_mutate():
    module = FocalLoss("multilabel", alpha=[0.2, 0.8], pos_weight=torch.tensor([1.0, 2.0]))
    before = snapshot(module)
    module(torch.randn(3, 2, 4), torch.randint(0, 2, (3, 2, 4)))
    assert_unchanged(module, before)


# ---------------------------------------------------------------------------------------------
# FocalWrapper
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("gamma,alpha", [(2.0, 0.25), (1.5, None), (0.0, 0.7)])
def test_wrapper_of_bce_with_logits_is_sigmoid_focal_loss(reduction, gamma, alpha):
    x = logits(3, 4, 5)
    y = binary_target(3, 4, 5)
    wrapped = FocalWrapper(nn.BCEWithLogitsLoss(reduction=reduction), gamma=gamma, alpha=alpha)
    torch.testing.assert_close(wrapped(x, y), sigmoid_focal_loss(
        x, y, alpha=alpha, gamma=gamma, reduction=reduction), rtol=1e-12, atol=1e-15)


def test_wrapper_with_pos_weight_and_weight():
    x = logits(3, 4, requires_grad=True)
    y = binary_target(3, 4, soft=True)
    pos_weight = torch.rand(4, dtype=torch.float64) * 3
    weight = torch.rand(3, 1, dtype=torch.float64)
    wrapped = FocalWrapper(nn.BCEWithLogitsLoss(pos_weight=pos_weight, weight=weight))
    expected = sigmoid_focal_loss(x, y, alpha=0.25, gamma=1.5, pos_weight=pos_weight,
                                  weight=weight)
    loss = wrapped(x, y)
    torch.testing.assert_close(loss, expected, rtol=1e-12, atol=1e-15)
    (g,) = torch.autograd.grad(loss, x)
    (g_ref,) = torch.autograd.grad(expected, x)
    torch.testing.assert_close(g, g_ref, rtol=1e-10, atol=1e-15)


def test_wrapper_does_not_mutate_the_wrapped_module():
    base = nn.BCEWithLogitsLoss(reduction="sum")
    wrapped = FocalWrapper(base)
    before = snapshot(wrapped)
    x = logits(3, 4)
    y = binary_target(3, 4)
    wrapped(x, y)
    assert base.reduction == "sum"
    assert_unchanged(wrapped, before)
    assert base(x, y).shape == ()


class ScaledBCE(nn.Module):
    """A custom element-wise sigmoid loss with its own reduction attribute."""

    def __init__(self, scale: float, reduction: str = "mean") -> None:
        super().__init__()
        self.scale = scale
        self.reduction = reduction
        self.calls = []

    def forward(self, input, target):
        self.calls.append(self.reduction)
        return self.scale * F.binary_cross_entropy_with_logits(input, target,
                                                               reduction=self.reduction)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_wrapper_of_a_custom_elementwise_module(reduction):
    base = ScaledBCE(2.0, reduction=reduction)
    wrapped = FocalWrapper(base, gamma=2.0, alpha=0.25)
    x = logits(3, 4)
    y = binary_target(3, 4)
    torch.testing.assert_close(wrapped(x, y), 2.0 * sigmoid_focal_loss(x, y, reduction=reduction),
                               rtol=1e-12, atol=1e-15)
    assert base.reduction == reduction
    assert base(x, y).shape == (x.shape if reduction == "none" else ())


def test_wrapper_moves_with_the_wrapped_module():
    base = nn.BCEWithLogitsLoss(pos_weight=torch.tensor([2.0, 3.0]))
    wrapped = FocalWrapper(base).double()
    assert wrapped.loss_fn.pos_weight.dtype == torch.float64
    assert "loss_fn.pos_weight" in wrapped.state_dict()


# ---------------------------------------------------------------------------------------------
# Mixed dtypes, autocast and valid calls through FocalWrapper
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("input_dtype,target_dtype", MIXED)
def test_wrapper_takes_mixed_dtypes_like_the_wrapped_loss(input_dtype, target_dtype):
    gen = torch.Generator().manual_seed(1)
    x = (torch.randn(6, 5, generator=gen) * 3).to(input_dtype).requires_grad_()
    y = torch.randint(0, 2, (6, 5), generator=gen).to(target_dtype)
    base = nn.BCEWithLogitsLoss(pos_weight=torch.full((5,), 2.0))
    loss = FocalWrapper(base, gamma=2.0, alpha=0.25)(x, y)
    assert loss.dtype == base(x, y).dtype == torch.promote_types(input_dtype, target_dtype)
    promoted = loss.dtype
    expected = sigmoid_focal_loss(x.detach().to(promoted), y.to(promoted), gamma=2.0,
                                  alpha=0.25, pos_weight=torch.full((5,), 2.0, dtype=promoted))
    # torch's BCE-with-logits rounds some intermediates to the input's half precision
    tol = 4 * torch.finfo(input_dtype).eps
    torch.testing.assert_close(loss, expected, rtol=tol, atol=tol)
    loss.backward()
    assert x.grad.dtype == input_dtype and torch.isfinite(x.grad).all()


def test_wrapper_under_cpu_autocast():
    head = nn.Linear(4, 3)
    x, y = torch.randn(8, 4), torch.randint(0, 2, (8, 3)).float()
    wrapper = FocalWrapper(nn.BCEWithLogitsLoss())
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = head(x)
        loss = wrapper(logits, y)
    assert logits.dtype == torch.bfloat16 and loss.dtype == torch.float32
    loss.backward()
    assert torch.isfinite(head.weight.grad).all()


def test_wrapper_checks_do_not_refuse_valid_calls():
    x, y = torch.randn(4, 4), torch.rand(4, 4)
    for reduction in ("none", "mean", "sum"):
        wrapper = FocalWrapper(nn.BCEWithLogitsLoss(reduction=reduction))
        expected = sigmoid_focal_loss(x, y, gamma=1.5, reduction=reduction)
        torch.testing.assert_close(wrapper(x, y), expected)


# ---------------------------------------------------------------------------------------------
# Hyper-parameters assigned after construction
# ---------------------------------------------------------------------------------------------


def test_focal_loss_multiclass_honours_later_assignments():
    gen = torch.Generator().manual_seed(2)
    x, t = torch.randn(6, 3, generator=gen), torch.tensor([0, 1, 2, 1, 0, 2])
    module = FocalLoss("multiclass")
    module.reduction = "none"
    module.ignore_index = 1
    module.alpha = [1.0, 2.0, 3.0]
    module.gamma = 1.0
    module.label_smoothing = 0.0
    expected = softmax_focal_loss(x, t, alpha=[1.0, 2.0, 3.0], gamma=1.0, reduction="none",
                                  ignore_index=1)
    torch.testing.assert_close(module(x, t), expected)
    assert set(module.state_dict()) == {"loss.alpha"}
    module.double()
    assert module.alpha.dtype == torch.float64
    module.ignore_index = None  # back to cross_entropy's default
    assert module.ignore_index == -100
    module.label_smoothing = 0.2
    torch.testing.assert_close(
        module(x.double(), t),
        softmax_focal_loss(x.double(), t, alpha=[1.0, 2.0, 3.0], gamma=1.0, reduction="none",
                           label_smoothing=0.2))


@pytest.mark.parametrize("mode", ["binary", "multilabel"])
def test_focal_loss_sigmoid_modes_honour_later_assignments(mode):
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(4, 3, 5, generator=gen)
    y = torch.randint(0, 2, (4, 3, 5), generator=gen).float()
    y[0, 0, 0] = -1.0
    module = FocalLoss(mode)
    module.reduction = "sum"
    module.ignore_index = -1
    module.alpha = torch.tensor([0.2, 0.5, 0.8])
    module.pos_weight = torch.tensor([1.0, 2.0, 3.0])
    expected = sigmoid_focal_loss(x, y, alpha=torch.tensor([0.2, 0.5, 0.8]).reshape(3, 1),
                                  pos_weight=torch.tensor([1.0, 2.0, 3.0]).reshape(3, 1),
                                  reduction="sum", ignore_index=-1)
    torch.testing.assert_close(module(x, y), expected)
    assert set(module.state_dict()) == {"loss.alpha", "loss.pos_weight"}
    module.alpha = "auto"
    assert module.alpha == 0.25 and set(module.state_dict()) == {"loss.pos_weight"}


def test_tensors_assigned_later_become_buffers():
    module = SigmoidFocalLoss()
    alpha = torch.tensor([0.1, 0.2, 0.3])
    module.alpha = alpha
    module.weight = torch.ones(3)
    assert set(module.state_dict()) == {"alpha", "weight"}
    alpha[0] = 0.9  # the module keeps its own copy
    assert module.alpha[0] == pytest.approx(0.1)
    module.half()
    assert module.alpha.dtype == torch.float16 and module.weight.dtype == torch.float16
    module.alpha = 0.5  # a float again: a plain attribute, no longer a buffer
    assert module.alpha == 0.5 and set(module.state_dict()) == {"weight"}
    module.alpha = torch.tensor([0.4, 0.5, 0.6])
    assert set(module.state_dict()) == {"alpha", "weight"}

    softmax = SoftmaxFocalLoss()
    softmax.alpha = torch.tensor([1.0, 2.0])
    assert set(softmax.state_dict()) == {"alpha"}
    restored = SoftmaxFocalLoss(alpha=[0.0, 0.0])
    restored.load_state_dict(softmax.state_dict())
    assert torch.equal(restored.alpha, softmax.alpha)


@pytest.mark.parametrize("make", [SigmoidFocalLoss, SoftmaxFocalLoss,
                                  lambda: FocalLoss("binary"), lambda: FocalLoss("multiclass"),
                                  focalkit.DiceLoss, focalkit.TverskyLoss,
                                  focalkit.JaccardLoss])
def test_reduction_assigned_later_takes_effect(make):
    module = make()
    module.reduction = "none"
    if isinstance(module, SigmoidFocalLoss) or getattr(module, "mode", "") == "binary":
        x, y = torch.randn(4, 3), torch.randint(0, 2, (4, 3)).float()
        expected_shape = (4, 3)
    else:
        x, y = torch.randn(4, 3), torch.tensor([0, 1, 2, 1])
        expected_shape = (4,) if isinstance(module, (SoftmaxFocalLoss, FocalLoss)) else (3,)
    assert module(x, y).shape == expected_shape


# ---------------------------------------------------------------------------------------------
# Element weights and binary ignore indices are checked at construction
# ---------------------------------------------------------------------------------------------

WEIGHTED_MODULES = [(focalkit.AsymmetricLoss, ("weight",)),
                    (focalkit.QualityFocalLoss, ("weight",)),
                    (focalkit.VarifocalLoss, ("weight",)),
                    (focalkit.DistributionFocalLoss, ("weight",)),
                    (SigmoidFocalLoss, ("weight", "pos_weight"))]


@pytest.mark.parametrize("make, names", WEIGHTED_MODULES, ids=lambda v: getattr(v, "__name__", ""))
def test_repr_shows_tensor_weights(make, names):
    text = repr(make(**{name: torch.ones(3) for name in names}))
    for name in names:
        assert f"{name}=tensor(shape=(3,))" in text
    assert "pos_weight=tensor(shape=(3,))" in repr(FocalLoss("binary", pos_weight=torch.ones(3)))


BAD_WEIGHTS = [(-1.0, r"must be in \[0, inf\); got -1"), (float("nan"), "must be finite; got nan"),
               (torch.tensor([1.0, float("inf")]), r"values must lie in \[0, inf\); got inf"),
               (torch.tensor([float("nan")]), r"values must lie in \[0, inf\); got nan"),
               (torch.tensor([-0.5, 1.0]), r"values must lie in \[0, inf\); got -0.5")]


@pytest.mark.parametrize("value, match", BAD_WEIGHTS)
@pytest.mark.parametrize("make, names", WEIGHTED_MODULES, ids=lambda v: getattr(v, "__name__", ""))
def test_modules_reject_nan_infinite_and_negative_weights(make, names, value, match):
    for name in names:
        with pytest.raises(ValueError, match=f"{name} {match}"):
            make(**{name: value})


@pytest.mark.parametrize("make", [focalkit.AsymmetricLoss, focalkit.QualityFocalLoss,
                                  focalkit.VarifocalLoss, focalkit.LovaszHingeLoss,
                                  SigmoidFocalLoss])
@pytest.mark.parametrize("ignore_index", [0, 1])
def test_binary_target_modules_reject_a_valid_target_as_ignore_index(make, ignore_index):
    with pytest.raises(ValueError, match=r"ignore_index must lie outside \[0, 1\], the range of "
                                         rf"valid targets .*; got {ignore_index}"):
        make(ignore_index=ignore_index)
