"""prior_bias and prior_bias_: a head that starts at the class prior."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from focalkit import prior_bias, prior_bias_


@pytest.mark.parametrize("prior", [0.01, 0.2, 0.5, 0.99, 1e-6])
def test_prior_bias_inverts_the_sigmoid(prior):
    b = prior_bias(prior)
    assert isinstance(b, float)
    assert 1 / (1 + math.exp(-b)) == pytest.approx(prior, rel=1e-12)
    assert b == pytest.approx(-math.log((1 - prior) / prior), rel=1e-15)


def test_prior_bias_default_is_the_retinanet_value():
    assert prior_bias() == pytest.approx(-4.59511985013459)


@pytest.mark.parametrize("make", [lambda: nn.Linear(4, 6), lambda: nn.Conv2d(3, 6, 1)])
def test_prior_bias_on_modules(make):
    module = make()
    weight = module.weight.detach().clone()
    assert prior_bias_(module, 0.05) is module
    torch.testing.assert_close(torch.sigmoid(module.bias), torch.full((6,), 0.05))
    assert torch.equal(module.weight, weight)
    assert module.bias.requires_grad and module.bias.grad is None


def test_prior_bias_on_a_tensor_and_per_class_sequences_tile():
    bias = torch.zeros(6, dtype=torch.float64)
    assert prior_bias_(bias, [0.1, 0.2, 0.3]) is bias
    expected = torch.tensor([0.1, 0.2, 0.3] * 2, dtype=torch.float64)
    torch.testing.assert_close(torch.sigmoid(bias), expected, rtol=1e-12, atol=0)
    bias = torch.zeros(2, 3)
    prior_bias_(bias, (0.5, 0.25, 0.125, 0.5, 0.25, 0.125))
    torch.testing.assert_close(torch.sigmoid(bias), torch.tensor([[0.5, 0.25, 0.125]] * 2))


def test_prior_bias_on_a_parameter_outside_no_grad():
    param = nn.Parameter(torch.zeros(3))
    prior_bias_(param, 0.5)
    assert param.requires_grad and torch.equal(param.detach(), torch.zeros(3))


def test_prior_bias_head_starts_at_the_prior_focal_loss():
    head = prior_bias_(nn.Conv2d(4, 2, 1), 0.01)
    nn.init.zeros_(head.weight)
    out = head(torch.randn(1, 4, 3, 3))
    torch.testing.assert_close(torch.sigmoid(out), torch.full_like(out, 0.01))


ERRORS = [
    (lambda: prior_bias(0.0), ValueError, r"prior must be in \(0, 1\); got 0"),
    (lambda: prior_bias(1.0), ValueError, r"prior must be in \(0, 1\); got 1"),
    (lambda: prior_bias(-0.5), ValueError, r"prior must be in \(0, 1\); got -0\.5"),
    (lambda: prior_bias("0.01"), TypeError, r"prior must be a real number; got '0\.01'"),
    (lambda: prior_bias_(nn.Linear(3, 2, bias=False)), TypeError,
     r"module must have a bias tensor; Linear has bias=None"),
    (lambda: prior_bias_([0.0, 0.0]), TypeError,
     r"module_or_tensor must be an nn\.Module or a Tensor; got list"),
    (lambda: prior_bias_(torch.zeros(6), prior=[0.1, 0.2, 0.3, 0.4]), ValueError,
     r"prior must have a number of values that divides the 6 outputs; got 4"),
    (lambda: prior_bias_(torch.zeros(6), prior=[]), ValueError,
     r"prior must have a number of values that divides the 6 outputs; got 0"),
    (lambda: prior_bias_(torch.zeros(4), prior=[0.1, 1.0]), ValueError,
     r"prior must be in \(0, 1\); got 1"),
    (lambda: prior_bias_(torch.zeros(4), prior=1.5), ValueError,
     r"prior must be in \(0, 1\); got 1\.5"),
    (lambda: prior_bias_(torch.zeros(4), prior=torch.tensor(1.0)), ValueError,
     r"prior must be in \(0, 1\); got 1"),
    (lambda: prior_bias_(torch.zeros(4), prior=torch.full((2, 2), 0.1)), TypeError,
     r"prior must be a real number; got a tensor of shape \(2, 2\)"),
]


@pytest.mark.parametrize("call,error,match", ERRORS)
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


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
