"""Edge cases of the public API: mixed dtypes, later assignments, gamma = 0, tensor priors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import focalkit
from focalkit import (
    DiceLoss,
    FocalLoss,
    FocalWrapper,
    SigmoidFocalLoss,
    SoftmaxFocalLoss,
    TverskyLoss,
)
from focalkit.functional import (
    focal_modulation,
    sigmoid_focal_loss,
    softmax_focal_loss,
    tversky_loss,
)
from focalkit.init import prior_bias, prior_bias_

# ---------------------------------------------------------------------------------------------
# Mixed input/target dtypes: promoted as torch's own losses promote them
# ---------------------------------------------------------------------------------------------

MIXED = [(torch.float16, torch.float32), (torch.bfloat16, torch.float32),
         (torch.float32, torch.float64), (torch.float16, torch.float64)]


@pytest.mark.parametrize("input_dtype,target_dtype", MIXED)
def test_focal_modulation_promotes_mixed_dtypes(input_dtype, target_dtype):
    gen = torch.Generator().manual_seed(0)
    x = (torch.randn(6, 5, generator=gen) * 3).to(input_dtype)
    y = torch.rand(6, 5, generator=gen).to(target_dtype)
    factor = focal_modulation(x, y, gamma=1.5, alpha=0.25)
    promoted = torch.promote_types(input_dtype, target_dtype)
    assert factor.dtype == promoted
    expected = focal_modulation(x.to(promoted), y.to(promoted), gamma=1.5, alpha=0.25)
    torch.testing.assert_close(factor, expected)


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


# ---------------------------------------------------------------------------------------------
# FocalWrapper accepts what it should
# ---------------------------------------------------------------------------------------------


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
                                  DiceLoss, TverskyLoss, focalkit.JaccardLoss])
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
# Focal-Tversky stays attached to the graph for every gamma
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("gamma", [0.0, 0.5, 0.75, 1.0, 2.0])
@pytest.mark.parametrize("log_loss", [False, True])
def test_tversky_is_differentiable_for_every_gamma(gamma, log_loss):
    x = torch.randn(2, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    t = torch.randint(0, 3, (2, 4, 4))
    loss = tversky_loss(x, t, gamma=gamma, alpha=0.3, beta=0.7, log_loss=log_loss)
    assert loss.requires_grad
    (grad,) = torch.autograd.grad(loss, x)
    assert torch.isfinite(grad).all()
    if gamma == 0.0:
        assert loss.item() == 1.0 and bool((grad == 0).all())


def test_tversky_module_with_gamma_set_to_zero_backpropagates():
    x = torch.randn(2, 3, 4, 4, requires_grad=True)
    t = torch.randint(0, 3, (2, 4, 4))
    module = TverskyLoss(gamma=2.0)
    module.gamma = 0.0
    module(x, t).backward()
    assert torch.equal(x.grad, torch.zeros_like(x))


# ---------------------------------------------------------------------------------------------
# Priors given as tensors
# ---------------------------------------------------------------------------------------------


def test_prior_bias_accepts_tensor_priors():
    y = torch.tensor([[1, 0], [0, 0], [0, 1], [0, 0]])
    prior = y.float().mean()  # a 0-d tensor: 0.25
    assert prior_bias(prior) == pytest.approx(prior_bias(0.25))
    head = prior_bias_(nn.Linear(4, 2), prior=prior)
    torch.testing.assert_close(torch.sigmoid(head.bias.detach()), torch.full((2,), 0.25))
    per_class = torch.tensor([0.1, 0.3])  # a 1-D tensor, one prior per output
    head = prior_bias_(nn.Linear(4, 4), prior=per_class)
    torch.testing.assert_close(torch.sigmoid(head.bias.detach()),
                               torch.tensor([0.1, 0.3, 0.1, 0.3]))


# ---------------------------------------------------------------------------------------------
# What the stricter checks still accept
# ---------------------------------------------------------------------------------------------


def test_probability_targets_with_the_default_ignore_index():
    x, q = torch.randn(4, 3), torch.softmax(torch.randn(4, 3), dim=1)
    expected = softmax_focal_loss(x, q)
    torch.testing.assert_close(softmax_focal_loss(x, q, ignore_index=None), expected)
    torch.testing.assert_close(FocalLoss("multiclass")(x, q), expected)


def test_ignore_values_outside_the_unit_interval_still_work():
    x, y = torch.randn(2, 3), torch.tensor([[0.0, 1.0, -1.0], [2.0, 1.0, 0.0]])
    kept = torch.tensor([[True, True, False], [False, True, True]])
    loss = sigmoid_focal_loss(x, y.clamp(0, 1), reduction="none") * kept
    torch.testing.assert_close(sigmoid_focal_loss(x, torch.where(kept, y, -1.0),
                                                  ignore_index=-1, reduction="sum"), loss.sum())
    assert torch.isfinite(sigmoid_focal_loss(x, torch.where(kept, y, 2.0), ignore_index=2))
