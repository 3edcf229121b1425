"""Asymmetric and varifocal losses, forward+backward: focalkit against the peers' formulas.

Both run on the sigmoid-focal shape, logits ``(2, 100000, 80)`` float32 (two images, 100k
anchors, 80 classes):

* ``asymmetric``: about 2% positive 0/1 targets; gamma_pos=1, gamma_neg=4, clip=0.05 (timm's
  defaults), ``"sum"`` reduction. The peer is timm's ``AsymmetricLossMultiLabel``, loaded from
  its file (timm's package import needs torchvision), or the same formula written out when
  timm is absent.
* ``varifocal``: about 2% positives with IoU targets in [0.1, 1], 0 elsewhere; alpha=0.75,
  gamma=2, iou_weighted, ``"sum"`` reduction. The peer is the formula as mmdetection writes it
  (the form ultralytics' ``VarifocalLoss`` also computes).

Run from the repository root: ``python benchmarks/detection.py [--quick]``.
"""

from __future__ import annotations

import functools
import importlib.util
import time
from pathlib import Path

import harness
import torch
import torch.nn.functional as F

import focalkit.functional as fk

SHAPE = (2, 100000, 80)
QUICK_SHAPE = (2, 1000, 80)
CHECK_SHAPE = (2, 2000, 80)
ASL = dict(gamma_pos=1.0, gamma_neg=4.0, clip=0.05)


@functools.cache
def data(shape: tuple) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Logits, 0/1 multi-label targets and IoU-aware targets, shared by every variant."""
    gen = torch.Generator().manual_seed(0)
    x = (torch.randn(shape, generator=gen) * 2.0 - 4.0).requires_grad_()
    positive = torch.rand(shape, generator=gen) < 0.02
    iou = torch.rand(shape, generator=gen) * 0.9 + 0.1
    return x, positive.float(), torch.where(positive, iou, 0.0)


def load_timm_asl():
    """timm's ``AsymmetricLossMultiLabel``, loaded from its file; ImportError if absent."""
    spec = importlib.util.find_spec("timm")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("timm is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "loss" / "asymmetric_loss.py"
    module_spec = importlib.util.spec_from_file_location("_timm_asymmetric_loss", path)
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module.AsymmetricLossMultiLabel


def asl_formula(x, y, gamma_pos=1.0, gamma_neg=4.0, clip=0.05, eps=1e-8):
    """ASL as its authors and timm write it: probabilities, clamped logs, a tensor power."""
    p = torch.sigmoid(x)
    p_neg = (1 - p + clip).clamp(max=1)
    loss = y * torch.log(p.clamp(min=eps)) + (1 - y) * torch.log(p_neg.clamp(min=eps))
    pt = p * y + p_neg * (1 - y)
    loss = loss * torch.pow(1 - pt, gamma_pos * y + gamma_neg * (1 - y))
    return -loss.sum()


def vfl_formula(pred, target, alpha=0.75, gamma=2.0):
    """VFL as mmdetection writes it (``iou_weighted=True``), summed."""
    pred_sigmoid = pred.sigmoid()
    focal_weight = target * (target > 0.0).float() + \
        alpha * (pred_sigmoid - target).abs().pow(gamma) * (target <= 0.0).float()
    loss = F.binary_cross_entropy_with_logits(pred, target, reduction="none") * focal_weight
    return loss.sum()


def asl_focalkit(shape):
    x, y, _ = data(shape)
    return (x, y), lambda x, y: fk.asymmetric_loss(x, y, reduction="sum", **ASL)


def asl_timm(shape):
    x, y, _ = data(shape)
    return (x, y), load_timm_asl()(reduction="sum", **ASL)


def asl_peer_formula(shape):
    x, y, _ = data(shape)
    return (x, y), asl_formula


def vfl_focalkit(shape):
    x, _, t = data(shape)
    return (x, t), lambda x, t: fk.varifocal_loss(x, t, reduction="sum")


def vfl_peer_formula(shape):
    x, _, t = data(shape)
    return (x, t), vfl_formula


ASL_VARIANTS = {
    "focalkit": asl_focalkit,
    "timm": asl_timm,
    "timm formula": asl_peer_formula,
}

VFL_VARIANTS = {
    "focalkit": vfl_focalkit,
    "mmdet formula": vfl_peer_formula,
}

NOTES = {
    "timm": "AsymmetricLossMultiLabel(reduction='sum'), loaded from its file",
    "timm formula": "the same formula written out (for when timm is absent)",
    "mmdet formula": "mmdetection's varifocal_loss formula (ultralytics computes the same)",
}


def main() -> None:
    args = harness.cli(__doc__.splitlines()[0])
    shape = QUICK_SHAPE if args.quick else SHAPE
    check = QUICK_SHAPE if args.quick else CHECK_SHAPE
    print(f"Agreement with focalkit, asymmetric {check} (timm clamps its logs at 1e-8):")
    harness.agree(check, ASL_VARIANTS)
    print(f"Agreement with focalkit, varifocal {check}:")
    harness.agree(check, VFL_VARIANTS)
    data.cache_clear()

    start = time.perf_counter()
    harness.compare("asymmetric", shape, ASL_VARIANTS, rounds=args.rounds, csv_path=args.csv,
                    notes=NOTES, idle_wait=args.idle_wait)
    harness.compare("varifocal", shape, VFL_VARIANTS, rounds=args.rounds, csv_path=args.csv,
                    notes=NOTES, idle_wait=args.idle_wait)
    data.cache_clear()
    harness.finish(args, start)


if __name__ == "__main__":
    main()
