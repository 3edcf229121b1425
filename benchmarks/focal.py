"""Focal losses, forward+backward: focalkit against the plain torch formula and the peers.

* ``sigmoid_focal``: RetinaNet-sized classification head, logits ``(2, 100000, 80)`` float32
  (two images, 100k anchors, 80 classes), about 2% positive targets; alpha=0.25, gamma=2,
  mean reduction.
* ``softmax_focal``: segmentation, logits ``(64, 19, 256, 256)`` float32 and int64 class
  targets; alpha=None, gamma=2, mean reduction.

Peers (kornia, monai, segmentation_models_pytorch) are timed when installed and skipped
otherwise. Run from the repository root: ``python benchmarks/focal.py [--quick]``.
"""

from __future__ import annotations

import functools
import time

import harness
import torch
import torch.nn.functional as F

import focalkit.functional as fk

SIGMOID_SHAPE = (2, 100000, 80)
SOFTMAX_SHAPE = (64, 19, 256, 256)
QUICK_SIGMOID_SHAPE = (2, 1000, 80)
QUICK_SOFTMAX_SHAPE = (2, 19, 32, 32)
CHECK_SIGMOID_SHAPE = (2, 2000, 80)
CHECK_SOFTMAX_SHAPE = (4, 19, 64, 64)


# ---------------------------------------------------------------------------------------------
# Data (shared by all variants of a shape, so that they see identical numbers)
# ---------------------------------------------------------------------------------------------


@functools.cache
def sigmoid_data(shape: tuple) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    x = (torch.randn(shape, generator=gen) * 2.0 - 4.0).requires_grad_()
    y = (torch.rand(shape, generator=gen) < 0.02).float()
    return x, y


@functools.cache
def softmax_data(shape: tuple) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    x = (torch.randn(shape, generator=gen) * 2.0).requires_grad_()
    t = torch.randint(0, shape[1], (shape[0], *shape[2:]), generator=gen)
    return x, t


# ---------------------------------------------------------------------------------------------
# Plain torch formulas (the computation torchvision.ops.sigmoid_focal_loss performs)
# ---------------------------------------------------------------------------------------------


def plain_sigmoid_focal(x: torch.Tensor, y: torch.Tensor, alpha: float = 0.25,
                        gamma: float = 2.0) -> torch.Tensor:
    p = torch.sigmoid(x)
    ce = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    p_t = p * y + (1 - p) * (1 - y)
    loss = ce * (1 - p_t) ** gamma
    alpha_t = alpha * y + (1 - alpha) * (1 - y)
    return (alpha_t * loss).mean()


def plain_softmax_focal(x: torch.Tensor, t: torch.Tensor, gamma: float = 2.0) -> torch.Tensor:
    log_pt = torch.log_softmax(x, dim=1).gather(1, t.unsqueeze(1)).squeeze(1)
    return (-(1 - log_pt.exp()) ** gamma * log_pt).mean()


# ---------------------------------------------------------------------------------------------
# Sigmoid variants
# ---------------------------------------------------------------------------------------------


def sig_focalkit(shape):
    return sigmoid_data(shape), lambda x, y: fk.sigmoid_focal_loss(x, y, alpha=0.25, gamma=2.0)


def sig_plain(shape):
    return sigmoid_data(shape), plain_sigmoid_focal


def sig_kornia(shape):
    from kornia.losses import binary_focal_loss_with_logits

    def fn(x, y):
        return binary_focal_loss_with_logits(x, y, alpha=0.25, gamma=2.0, reduction="mean")

    return sigmoid_data(shape), fn


def sig_monai(shape):
    from monai.losses import FocalLoss

    return sigmoid_data(shape), FocalLoss(gamma=2.0, alpha=0.25, reduction="mean")


def sig_smp(shape):
    losses = harness.load_smp_losses()
    return sigmoid_data(shape), losses.FocalLoss("binary", alpha=0.25, gamma=2.0)


SIGMOID_VARIANTS = {
    "focalkit": sig_focalkit,
    "torch formula": sig_plain,
    "kornia": sig_kornia,
    "monai": sig_monai,
    "smp": sig_smp,
}


# ---------------------------------------------------------------------------------------------
# Softmax variants
# ---------------------------------------------------------------------------------------------


def soft_focalkit(shape):
    return softmax_data(shape), lambda x, t: fk.softmax_focal_loss(x, t, gamma=2.0)


def soft_plain(shape):
    return softmax_data(shape), plain_softmax_focal


def soft_compiled(shape):
    return softmax_data(shape), torch.compile(plain_softmax_focal, dynamic=False)


def soft_cross_entropy(shape):
    return softmax_data(shape), F.cross_entropy


def soft_kornia(shape):
    from kornia.losses import focal_loss

    return softmax_data(shape), lambda x, t: focal_loss(x, t, alpha=None, gamma=2.0,
                                                        reduction="mean")


def soft_monai(shape):
    from monai.losses import FocalLoss

    loss = FocalLoss(to_onehot_y=True, use_softmax=True, gamma=2.0, reduction="mean")
    x, t = softmax_data(shape)
    return (x, t.unsqueeze(1)), loss


def soft_smp(shape):
    losses = harness.load_smp_losses()
    return softmax_data(shape), losses.FocalLoss("multiclass", gamma=2.0)


SOFTMAX_VARIANTS = {
    "focalkit": soft_focalkit,
    "torch formula": soft_plain,
    "torch.compile(torch formula)": soft_compiled,
    "kornia": soft_kornia,
    "monai": soft_monai,
    "smp": soft_smp,
    "F.cross_entropy (gamma=0)": soft_cross_entropy,
}

SOFTMAX_NOTES = {
    "torch.compile(torch formula)": "warm-up includes compilation",
    "kornia": "mean over N*C*H*W (= focalkit / C)",
    "monai": "one-hot target; mean over N*C*H*W (= focalkit / C)",
    "smp": "one-vs-rest sigmoid focal per class: a different loss",
    "F.cross_entropy (gamma=0)": "not focal: the native cross-entropy kernel, for scale",
}


def main() -> None:
    args = harness.cli(__doc__.splitlines()[0])
    sig_shape = QUICK_SIGMOID_SHAPE if args.quick else SIGMOID_SHAPE
    soft_shape = QUICK_SOFTMAX_SHAPE if args.quick else SOFTMAX_SHAPE
    classes = soft_shape[1]

    check_sig = QUICK_SIGMOID_SHAPE if args.quick else CHECK_SIGMOID_SHAPE
    check_soft = QUICK_SOFTMAX_SHAPE if args.quick else CHECK_SOFTMAX_SHAPE
    print(f"Agreement with focalkit, sigmoid focal {check_sig}:")
    harness.agree(check_sig, SIGMOID_VARIANTS)
    print(f"Agreement with focalkit, softmax focal {check_soft} "
          "(kornia and monai scaled by C; smp is a different loss):")
    same_convention = {k: v for k, v in SOFTMAX_VARIANTS.items()
                       if k not in ("torch.compile(torch formula)", "F.cross_entropy (gamma=0)")}
    harness.agree(check_soft, same_convention, scales={"kornia": classes, "monai": classes})
    sigmoid_data.cache_clear()
    softmax_data.cache_clear()

    start = time.perf_counter()
    harness.compare("sigmoid_focal", sig_shape, SIGMOID_VARIANTS, rounds=args.rounds,
                    csv_path=args.csv, idle_wait=args.idle_wait)
    sigmoid_data.cache_clear()
    harness.compare("softmax_focal", soft_shape, SOFTMAX_VARIANTS, rounds=args.rounds,
                    csv_path=args.csv, notes=SOFTMAX_NOTES, idle_wait=args.idle_wait)
    softmax_data.cache_clear()
    harness.finish(args, start)


if __name__ == "__main__":
    main()
