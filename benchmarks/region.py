"""Region losses, forward+backward: focalkit against segmentation_models_pytorch, monai, kornia.

* ``lovasz_softmax`` / ``lovasz_softmax_per_image``: logits ``(8, 19, 256, 256)`` float32 and
  int64 class targets, ``classes="present"``, against smp's ``LovaszLoss("multiclass")`` (the
  authors' algorithm: a loop over classes, and over images with ``per_image``).
* ``dice``: the same logits and targets, multi-class soft Dice over the whole batch
  (``smooth=0``), against smp's ``DiceLoss``, monai's ``DiceLoss(softmax=True,
  to_onehot_y=True, batch=True)`` and kornia's ``dice_loss`` (per image, ``average="macro"``).

* ``hausdorff_dt``, ``boundary``, ``soft_cldice`` (and their ``_3d`` forms): logits
  ``(8, 4, 128, 128)`` and ``(2, 4, 64, 64, 64)`` whose target has smooth regions (the
  class of the largest smoothed noise, so the distances are those of real masks) and whose
  logits are a noisy version of it, against monai's ``HausdorffDTLoss``, ``BoundaryLoss``
  (``softmax=True, to_onehot_y=True, include_background=False``) and ``SoftclDiceLoss``
  (``softmax=True, to_onehot_y=True, iter_=3``), which compute their distance maps with
  SciPy image by image (cuCIM on a GPU).
* ``distance_transform`` (and ``_3d``): the masks of every class of those targets (32 and 8
  images), against ``scipy.ndimage.distance_transform_edt`` image by image. The transform has no
  gradient; the timed call adds a zero that requires grad, so the backward pass is empty.

Peers are timed when installed and skipped otherwise. Run from the repository root:
``python benchmarks/region.py [--quick] [--only dice,hausdorff_dt,...]``.
"""

from __future__ import annotations

import functools
import time
import warnings

import harness
import torch
import torch.nn.functional as TF

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


# ---------------------------------------------------------------------------------------------
# Distance and topology losses, and the distance transform
# ---------------------------------------------------------------------------------------------

BOUNDARY_SHAPE = (8, 4, 128, 128)
BOUNDARY_3D_SHAPE = (2, 4, 64, 64, 64)
QUICK_BOUNDARY_SHAPE = (2, 3, 16, 16)
QUICK_BOUNDARY_3D_SHAPE = (1, 3, 10, 10, 10)


@functools.cache
def regions(shape: tuple) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits and a target with smooth regions: the class of the largest smoothed noise, and
    logits that are a noisy version of it."""
    gen = torch.Generator().manual_seed(0)
    field = torch.randn(shape, generator=gen)
    pool = TF.avg_pool2d if len(shape) == 4 else TF.avg_pool3d
    t = pool(field, 9, 1, 4, count_include_pad=False).argmax(1)
    one_hot = TF.one_hot(t, shape[1]).movedim(-1, 1).float()
    x = (3.0 * one_hot + 1.5 * torch.randn(shape, generator=gen)).requires_grad_()
    return x, t


def boundary_focalkit(loss):
    def setup(shape):
        return regions(shape), loss
    return setup


def boundary_monai(name):
    def setup(shape):
        from monai import losses

        if name == "hausdorff_dt":
            loss = losses.HausdorffDTLoss(softmax=True, to_onehot_y=True,
                                          include_background=False, alpha=2.0)
        elif name == "boundary":
            loss = losses.BoundaryLoss(softmax=True, to_onehot_y=True, include_background=False)
        else:
            loss = losses.SoftclDiceLoss(softmax=True, to_onehot_y=True, iter_=3)

        def call(x, t):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return loss(x, t)

        x, t = regions(shape)
        return (x, t.unsqueeze(1)), call
    return setup


BOUNDARY_LOSSES = {"hausdorff_dt": fk.hausdorff_dt_loss, "boundary": fk.boundary_loss,
                   "soft_cldice": fk.soft_cldice_loss}


def boundary_variants(name: str) -> dict:
    return {"focalkit": boundary_focalkit(BOUNDARY_LOSSES[name]),
            "monai": boundary_monai(name)}


BOUNDARY_NOTES = {"monai": "SciPy distance maps, image by image; max-pooling skeleton"}


def _masks(shape: tuple) -> torch.Tensor:
    """The target's masks, one image per (image, class): ``(N * C, *spatial)``."""
    t = regions(shape)[1]
    classes = torch.arange(shape[1]).reshape(-1, *[1] * (t.dim() - 1))
    return (t.unsqueeze(1) == classes).flatten(0, 1)


def edt_focalkit(shape):
    zero = torch.zeros((), requires_grad=True)
    return (_masks(shape), zero), lambda m, z: fk.distance_transform(m).sum() + z


def edt_scipy(shape):
    from scipy import ndimage

    def call(m, z):
        images = m.numpy()
        total = sum(float(ndimage.distance_transform_edt(image).sum()) for image in images)
        return torch.tensor(total) + z

    return (_masks(shape), torch.zeros((), requires_grad=True)), call


EDT_VARIANTS = {"focalkit": edt_focalkit, "scipy": edt_scipy}
EDT_NOTES = {"focalkit": "forward only (no gradient); float32 result",
             "scipy": "scipy.ndimage.distance_transform_edt per image; float64 result"}

BENCHMARKS = ("lovasz_softmax", "lovasz_softmax_per_image", "dice", "hausdorff_dt", "boundary",
              "soft_cldice", "distance_transform")


def main() -> None:
    args, only = _cli()
    shape = QUICK_SHAPE if args.quick else SHAPE
    check = QUICK_SHAPE if args.quick else CHECK_SHAPE
    shape_2d = QUICK_BOUNDARY_SHAPE if args.quick else BOUNDARY_SHAPE
    shape_3d = QUICK_BOUNDARY_3D_SHAPE if args.quick else BOUNDARY_3D_SHAPE

    if {"lovasz_softmax", "lovasz_softmax_per_image", "dice"} & only:
        print(f"Agreement with focalkit, Lovasz-Softmax {check}:")
        harness.agree(check, LOVASZ_VARIANTS)
        print(f"Agreement with focalkit, Lovasz-Softmax per image {check}:")
        harness.agree(check, LOVASZ_PER_IMAGE_VARIANTS)
        print(f"Agreement with focalkit, Dice over the batch {check}:")
        harness.agree(check, {k: DICE_VARIANTS[k] for k in ("focalkit", "smp", "monai")})
        print(f"Agreement with focalkit per_image, Dice per image {check}:")
        harness.agree(check, {"focalkit": dice_focalkit_per_image, "kornia": dice_kornia})
        data.cache_clear()
    for name in ("hausdorff_dt", "boundary", "soft_cldice"):
        if name in only:
            print(f"Agreement with focalkit, {name} {QUICK_BOUNDARY_SHAPE}:")
            harness.agree(QUICK_BOUNDARY_SHAPE, boundary_variants(name))

    start = time.perf_counter()
    if "lovasz_softmax" in only:
        harness.compare("lovasz_softmax", shape, LOVASZ_VARIANTS, rounds=args.rounds,
                        csv_path=args.csv)
    if "lovasz_softmax_per_image" in only:
        harness.compare("lovasz_softmax_per_image", shape, LOVASZ_PER_IMAGE_VARIANTS,
                        rounds=args.rounds, csv_path=args.csv)
    if "dice" in only:
        harness.compare("dice", shape, DICE_VARIANTS, rounds=args.rounds, csv_path=args.csv,
                        notes=DICE_NOTES)
    data.cache_clear()
    for name in ("hausdorff_dt", "boundary", "soft_cldice"):
        if name in only:
            for suffix, size in (("", shape_2d), ("_3d", shape_3d)):
                harness.compare(name + suffix, size, boundary_variants(name),
                                rounds=args.rounds, csv_path=args.csv, notes=BOUNDARY_NOTES,
                                idle_wait=args.idle_wait)
    if "distance_transform" in only:
        for suffix, size in (("", shape_2d), ("_3d", shape_3d)):
            harness.compare("distance_transform" + suffix, size, EDT_VARIANTS,
                            rounds=args.rounds, csv_path=args.csv, notes=EDT_NOTES,
                            idle_wait=args.idle_wait)
    regions.cache_clear()
    harness.finish(args, start)


def _cli():
    """The shared flags, with ``--only`` taken out first: the benchmarks to run."""
    import sys

    argv = sys.argv[1:]
    only = set(BENCHMARKS)
    if "--only" in argv:
        at = argv.index("--only")
        only = set(argv[at + 1].split(","))
        unknown = only - set(BENCHMARKS)
        if unknown:
            raise SystemExit(f"--only: unknown benchmarks {sorted(unknown)}; choose from "
                             f"{', '.join(BENCHMARKS)}")
        argv = argv[:at] + argv[at + 2:]
    return harness.cli(__doc__.splitlines()[0], argv), only


if __name__ == "__main__":
    main()
