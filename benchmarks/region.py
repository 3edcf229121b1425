"""Region losses, forward+backward: focalkit against segmentation_models_pytorch, monai, kornia.

* ``lovasz_softmax`` / ``lovasz_softmax_per_image``: logits ``(8, 19, 256, 256)`` float32 and
  int64 class targets, ``classes="present"``, against smp's ``LovaszLoss("multiclass")`` (the
  authors' algorithm: a loop over classes, and over images with ``per_image``).
* ``dice``: the same logits and targets, multi-class soft Dice over the whole batch
  (``smooth=0``), against smp's ``DiceLoss``, monai's ``DiceLoss(softmax=True,
  to_onehot_y=True, batch=True)`` and kornia's ``dice_loss`` (per image, ``average="macro"``).

Peers are timed when installed and skipped otherwise. Run from the repository root:
``python benchmarks/region.py [--quick]``.
"""

from __future__ import annotations

import functools
import time

import harness
import torch

import focalkit.functional as fk

SHAPE = (8, 19, 256, 256)
QUICK_SHAPE = (2, 19, 32, 32)
CHECK_SHAPE = (2, 19, 64, 64)


@functools.cache
def data(shape: tuple) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits and targets in which every class occurs in every image."""
    gen = torch.Generator().manual_seed(0)
    x = (torch.randn(shape, generator=gen) * 2.0).requires_grad_()
    t = torch.randint(0, shape[1], (shape[0], *shape[2:]), generator=gen)
    t.view(shape[0], -1)[:, :shape[1]] = torch.arange(shape[1])
    return x, t


# ---------------------------------------------------------------------------------------------
# Lovasz-Softmax
# ---------------------------------------------------------------------------------------------


def lovasz_focalkit(per_image: bool):
    def setup(shape):
        return data(shape), lambda x, t: fk.lovasz_softmax_loss(x, t, per_image=per_image)
    return setup


def lovasz_smp(per_image: bool):
    def setup(shape):
        losses = harness.load_smp_losses()
        return data(shape), losses.LovaszLoss("multiclass", per_image=per_image)
    return setup


LOVASZ_VARIANTS = {"focalkit": lovasz_focalkit(False), "smp": lovasz_smp(False)}
LOVASZ_PER_IMAGE_VARIANTS = {"focalkit": lovasz_focalkit(True), "smp": lovasz_smp(True)}


# ---------------------------------------------------------------------------------------------
# Dice
# ---------------------------------------------------------------------------------------------


def dice_focalkit(shape):
    return data(shape), fk.dice_loss


def dice_smp(shape):
    losses = harness.load_smp_losses()
    return data(shape), losses.DiceLoss("multiclass")


def dice_monai(shape):
    from monai.losses import DiceLoss

    loss = DiceLoss(softmax=True, to_onehot_y=True, batch=True, smooth_nr=0.0, smooth_dr=0.0)
    x, t = data(shape)
    return (x, t.unsqueeze(1)), loss


def dice_kornia(shape):
    from kornia.losses import dice_loss

    return data(shape), lambda x, t: dice_loss(x, t, average="macro")


def dice_focalkit_per_image(shape):
    return data(shape), lambda x, t: fk.dice_loss(x, t, per_image=True)


DICE_VARIANTS = {
    "focalkit": dice_focalkit,
    "focalkit per_image": dice_focalkit_per_image,
    "smp": dice_smp,
    "monai": dice_monai,
    "kornia": dice_kornia,
}

DICE_NOTES = {
    "focalkit per_image": "per-image Dice, mean over images and classes (kornia's loss)",
    "smp": "one-hot target",
    "monai": "one-hot target",
    "kornia": "one-hot target; per image (average='macro')",
}


def main() -> None:
    args = harness.cli(__doc__.splitlines()[0])
    shape = QUICK_SHAPE if args.quick else SHAPE
    check = QUICK_SHAPE if args.quick else CHECK_SHAPE

    print(f"Agreement with focalkit, Lovasz-Softmax {check}:")
    harness.agree(check, LOVASZ_VARIANTS)
    print(f"Agreement with focalkit, Lovasz-Softmax per image {check}:")
    harness.agree(check, LOVASZ_PER_IMAGE_VARIANTS)
    print(f"Agreement with focalkit, Dice over the batch {check}:")
    harness.agree(check, {k: DICE_VARIANTS[k] for k in ("focalkit", "smp", "monai")})
    print(f"Agreement with focalkit per_image, Dice per image {check}:")
    harness.agree(check, {"focalkit": dice_focalkit_per_image, "kornia": dice_kornia})
    data.cache_clear()

    start = time.perf_counter()
    harness.compare("lovasz_softmax", shape, LOVASZ_VARIANTS, rounds=args.rounds,
                    csv_path=args.csv)
    harness.compare("lovasz_softmax_per_image", shape, LOVASZ_PER_IMAGE_VARIANTS,
                    rounds=args.rounds, csv_path=args.csv)
    harness.compare("dice", shape, DICE_VARIANTS, rounds=args.rounds, csv_path=args.csv,
                    notes=DICE_NOTES)
    data.cache_clear()
    print(f"benchmark time {time.perf_counter() - start:.0f} s")
    if not args.no_render:
        harness.render(args.csv, args.md)


if __name__ == "__main__":
    main()
