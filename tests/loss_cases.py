"""One table of loss cases that drives the generic tests.

Each :class:`LossCase` names a public function, the module that wraps it, and how to make a
sample ``(input, target)`` pair of a given shape, dtype and device; ``kwargs`` are the options
the sample runs with. A new loss needs one row here plus the tests of its own special cases.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

import focalkit
from focalkit import functional as F


def _logits(shape, dtype, device):
    return (torch.randn(shape, dtype=torch.float64) * 2).to(dtype=dtype, device=device)


def _soft(shape, dtype, device):
    return torch.rand(shape, dtype=torch.float64).to(dtype=dtype, device=device)


def _binary(shape, dtype, device):
    return torch.randint(0, 2, shape).to(dtype=dtype, device=device)


def _classes(shape, c, device):
    return torch.randint(0, c, (shape[0], *shape[2:])).to(device)


def dense_binary(soft: bool = True):
    def make(shape, dtype, device):
        target = _soft if soft else _binary
        return _logits(shape, dtype, device), target(shape, dtype, device)
    return make


def class_index(shape, dtype, device):
    return _logits(shape, dtype, device), _classes(shape, shape[1], device)


def class_probs(shape, dtype, device):
    target = torch.softmax(torch.randn(shape, dtype=torch.float64), dim=1)
    return _logits(shape, dtype, device), target.to(dtype=dtype, device=device)


def binary_labels(shape, dtype, device):
    return _logits(shape, dtype, device), torch.randint(0, 2, shape).to(device)


@dataclass(frozen=True)
class LossCase:
    name: str
    function: Callable
    module: Callable[..., torch.nn.Module]
    sample: Callable
    kwargs: dict = field(default_factory=dict)
    shape: tuple[int, ...] = (2, 3, 4, 5)

    def inputs(self, dtype=torch.float64, device="cpu", shape=None):
        return self.sample(shape or self.shape, dtype, device)

    def __str__(self) -> str:
        return self.name


CASES = [
    LossCase("sigmoid_focal", F.sigmoid_focal_loss, focalkit.SigmoidFocalLoss,
             dense_binary()),
    LossCase("sigmoid_focal_weighted", F.sigmoid_focal_loss, focalkit.SigmoidFocalLoss,
             dense_binary(soft=False),
             dict(alpha=0.3, gamma=1.5, ignore_index=-1, reduction="sum")),
    LossCase("softmax_focal", F.softmax_focal_loss, focalkit.SoftmaxFocalLoss, class_index,
             dict(alpha=[0.5, 1.0, 2.0], ignore_index=1)),
    LossCase("softmax_focal_probs", F.softmax_focal_loss, focalkit.SoftmaxFocalLoss,
             class_probs, dict(gamma=1.0, label_smoothing=0.1)),
    LossCase("dice", F.dice_loss, focalkit.DiceLoss, class_index, dict(ignore_index=2)),
    LossCase("dice_multilabel", F.dice_loss, focalkit.DiceLoss, dense_binary(),
             dict(mode="multilabel", per_image=True)),
    LossCase("jaccard", F.jaccard_loss, focalkit.JaccardLoss, class_index,
             dict(log_loss=True)),
    LossCase("tversky", F.tversky_loss, focalkit.TverskyLoss, class_index,
             dict(alpha=0.3, beta=0.7, gamma=0.75)),
    LossCase("tversky_binary", F.tversky_loss, focalkit.TverskyLoss, dense_binary(),
             dict(mode="binary"), shape=(2, 1, 4, 5)),
    LossCase("lovasz_softmax", F.lovasz_softmax_loss, focalkit.LovaszSoftmaxLoss,
             class_index, dict(per_image=True)),
    LossCase("lovasz_hinge", F.lovasz_hinge_loss, focalkit.LovaszHingeLoss, binary_labels,
             shape=(2, 4, 5)),
]
