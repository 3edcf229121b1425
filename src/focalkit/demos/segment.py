"""``focalkit demo segment``: losses for segmenting small objects.

Seeded synthetic images (see :func:`focalkit.demos.data.make_segmentation`) hold a few small
disks, squares and rings, about 2% of the pixels. A small fully convolutional net (no
down-sampling, dilated convolutions, receptive field 17 pixels) is trained once per loss, from
the same initial weights and with the same batch order, and scored by the IoU of every
foreground class on held-out images. The losses:

* ``ce``: cross entropy.
* ``dice``: :class:`focalkit.DiceLoss` (multiclass, all classes).
* ``dice-ce``: Dice + cross entropy (:class:`focalkit.ComboLoss`, weights 1 and 1).
* ``focal``: :class:`focalkit.SoftmaxFocalLoss` (gamma = 2).
* ``lovasz``: :class:`focalkit.LovaszSoftmaxLoss` (classes present in the batch).
* ``focal-dice``: focal + Dice (weights 1 and 1).
* ``dice-cldice``: Dice + soft-clDice (:class:`focalkit.SoftclDiceLoss`, weights 1/2 and 1/2),
  the topology loss for thin structures.

Besides the IoU of every class, the rings (thin structures, two pixels wide) are scored by
their hard clDice (:func:`cldice_score`): whether the predicted rings keep the true rings'
skeleton and stay on it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

import numpy as np

from .common import (
    finish,
    prepare_out_dir,
    progress,
    require,
    resolve_device,
    run_demo,
    synthetic_split,
)

LOSSES: dict[str, tuple[str, str]] = {
    "ce": ("CE", "cross entropy"),
    "dice": ("Dice", "Dice"),
    "dice-ce": ("Dice + CE", "Dice + CE"),
    "focal": ("focal g=2", "focal (γ=2)"),
    "lovasz": ("Lovasz-Softmax", "Lovász-Softmax"),
    "focal-dice": ("focal + Dice", "focal + Dice"),
    "dice-cldice": ("Dice + clDice", "Dice + clDice"),
}

DEFAULTS = {"epochs": 25, "train_images": 160, "test_images": 64, "size": 64}
EXAMPLES = 3


@dataclass
class SegmentConfig:
    """Settings of the segmentation demo (the command-line options).

    Attributes:
        losses: keys of :data:`LOSSES` to train, in order.
        epochs: passes over the training images.
        train_images: synthetic training images.
        test_images: synthetic held-out images.
        size: image side in pixels.
        seed: seed of the images, the initial weights and the batch order.
        device: torch device; None picks CUDA when available, else CPU.
        out: output folder; None makes ``focalkit-runs/<timestamp>``.
        quiet: hide the progress bars.
        threads: CPU threads for torch (None leaves torch's default); 1 by default,
            for run times that stay predictable on a busy machine.
        batch_size: images per step.
        lr: Adam learning rate.
        width: channels of the hidden layers.
    """

    losses: list[str] = field(default_factory=lambda: list(LOSSES))
    epochs: int = DEFAULTS["epochs"]
    train_images: int = DEFAULTS["train_images"]
    test_images: int = DEFAULTS["test_images"]
    size: int = DEFAULTS["size"]
    seed: int = 0
    device: str | None = None
    out: str | None = None
    quiet: bool = False
    threads: int | None = 1
    batch_size: int = 16
    lr: float = 3e-3
    width: int = 12


def make_fcn(num_classes: int, width: int = 12) -> Any:
    """A small fully convolutional net at full resolution, receptive field 17 pixels."""
    from torch import nn

    def block(cin: int, dilation: int) -> list:
        return [nn.Conv2d(cin, width, 3, padding=dilation, dilation=dilation, bias=False),
                nn.BatchNorm2d(width), nn.ReLU()]

    return nn.Sequential(*block(1, 1), *block(width, 2), *block(width, 4), *block(width, 1),
                         nn.Conv2d(width, num_classes, 1))


def build_loss(key: str) -> Any:
    """The loss module for ``key`` (one of :data:`LOSSES`)."""
    from torch import nn

    import focalkit

    if key == "ce":
        return nn.CrossEntropyLoss()
    if key == "dice":
        return focalkit.DiceLoss()
    if key == "dice-ce":
        return focalkit.ComboLoss({"dice": (focalkit.DiceLoss(), 1.0),
                                   "ce": (nn.CrossEntropyLoss(), 1.0)})
    if key == "focal":
        return focalkit.SoftmaxFocalLoss(gamma=2.0)
    if key == "lovasz":
        return focalkit.LovaszSoftmaxLoss()
    if key == "focal-dice":
        return focalkit.ComboLoss({"focal": (focalkit.SoftmaxFocalLoss(gamma=2.0), 1.0),
                                   "dice": (focalkit.DiceLoss(), 1.0)})
    if key == "dice-cldice":
        return focalkit.ComboLoss({"dice": (focalkit.DiceLoss(), 0.5),
                                   "cldice": (focalkit.SoftclDiceLoss(), 0.5)})
    raise ValueError(f"unknown loss {key!r}; choose from {', '.join(LOSSES)}")


def confusion(pred: np.ndarray, truth: np.ndarray, num_classes: int) -> np.ndarray:
    """The ``(C, C)`` confusion matrix, rows the true class, columns the predicted one."""
    flat = truth.ravel().astype(np.int64) * num_classes + pred.ravel().astype(np.int64)
    return np.bincount(flat, minlength=num_classes ** 2).reshape(num_classes, num_classes)


def iou_per_class(matrix: np.ndarray) -> np.ndarray:
    """IoU of every class from a confusion matrix; NaN for a class absent from both sides.

    Example:
        >>> import numpy as np
        >>> from focalkit.demos.segment import confusion, iou_per_class
        >>> truth, pred = np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1])
        >>> iou_per_class(confusion(pred, truth, 2)).tolist()
        [0.5, 0.6666666666666666]
    """
    tp = np.diag(matrix).astype(np.float64)
    union = matrix.sum(0) + matrix.sum(1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, tp / np.maximum(union, 1), np.nan)


def skeleton(masks: np.ndarray, iterations: int = 3) -> np.ndarray:
    """Morphological skeleton of binary ``(N, H, W)`` masks: the skeleton of clDice (Shit et
    al., 2021) on hard masks, by erosion over the cross and opening with the 3x3 box."""
    def shifted(x: np.ndarray, offsets: list[tuple[int, int]], fill: bool) -> np.ndarray:
        padded = np.pad(x, ((0, 0), (1, 1), (1, 1)), constant_values=fill)
        h, w = x.shape[1:]
        return np.stack([padded[:, 1 + i:1 + i + h, 1 + j:1 + j + w] for i, j in offsets])

    cross = [(0, 0), (-1, 0), (1, 0), (0, -1), (0, 1)]
    box = [(i, j) for i in (-1, 0, 1) for j in (-1, 0, 1)]

    def erode(x):
        return shifted(x, cross, True).all(0)

    def opened(x):
        return shifted(erode(x), box, False).any(0)

    img = masks.astype(bool)
    skel = img & ~opened(img)
    for _ in range(iterations):
        img = erode(img)
        skel |= img & ~opened(img)
    return skel


def cldice_score(pred: np.ndarray, truth: np.ndarray, iterations: int = 3) -> float:
    """Hard clDice of binary masks, pooled over the images: the harmonic mean of topology
    precision (the predicted skeleton inside the truth) and sensitivity (the true skeleton
    inside the prediction); NaN when neither holds any pixel.

    Example:
        >>> import numpy as np
        >>> from focalkit.demos.segment import cldice_score
        >>> ring = np.zeros((1, 9, 9), dtype=bool)
        >>> ring[0, 2:7, 2:7] = True
        >>> ring[0, 3:6, 3:6] = False
        >>> cldice_score(ring, ring)
        1.0
        >>> broken = ring.copy()
        >>> broken[0, 2, 4] = False
        >>> round(cldice_score(broken, ring), 3)
        0.968
    """
    pred, truth = pred.astype(bool), truth.astype(bool)
    skel_pred, skel_truth = skeleton(pred, iterations), skeleton(truth, iterations)
    if not skel_pred.any() and not skel_truth.any():
        return float("nan")
    precision = (skel_pred & truth).sum() / max(skel_pred.sum(), 1)
    sensitivity = (skel_truth & pred).sum() / max(skel_truth.sum(), 1)
    total = precision + sensitivity
    return float(2.0 * precision * sensitivity / total) if total > 0 else 0.0


def _train(key: str, init_state: dict, data: dict, cfg: SegmentConfig, device: Any) -> dict:
    import torch

    x, y = data["x_train"], data["y_train"]
    num_classes = 4
    model = make_fcn(num_classes, cfg.width).to(device)
    model.load_state_dict(init_state)
    loss_fn = build_loss(key).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    order = torch.Generator().manual_seed(cfg.seed + 1)
    n = len(x)
    train_loss, seconds = [], 0.0
    with progress(cfg.epochs, LOSSES[key][0], cfg.quiet) as bar:
        for _ in range(cfg.epochs):
            start = time.perf_counter()
            model.train()
            perm = torch.randperm(n, generator=order).to(device)
            total = torch.zeros((), device=device)
            for i in range(0, n, cfg.batch_size):
                idx = perm[i:i + cfg.batch_size]
                loss = loss_fn(model(x[idx]), y[idx])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += loss.detach() * len(idx)
            value = float(total) / n
            seconds += time.perf_counter() - start
            train_loss.append(value)
            bar.set_postfix_str(f"loss {value:.4f}")
            bar.update()
            if not math.isfinite(value):
                break

    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(data["x_test"][i:i + cfg.batch_size]).argmax(1)
                          for i in range(0, len(data["x_test"]), cfg.batch_size)]).cpu().numpy()
    truth = data["y_test"].cpu().numpy()
    iou = iou_per_class(confusion(pred, truth, num_classes))
    row = {"loss": key, "label": LOSSES[key][0], "miou": float(np.nanmean(iou[1:]))}
    row.update({f"iou_{name}": float(iou[k + 1]) for k, name in enumerate(_class_names())})
    ring = 1 + _class_names().index("ring")
    row["cldice_ring"] = cldice_score(pred == ring, truth == ring)
    row.update({"seconds": seconds, "train_loss": train_loss,
                "examples": pred[:EXAMPLES].tolist()})
    return row


def _class_names() -> list[str]:
    from .data import SEGMENT_CLASSES

    return [name for name, _, _ in SEGMENT_CLASSES]


def _columns() -> list[tuple[str, str, str]]:
    return ([("label", "loss", ""), ("miou", "mIoU (fg)", ".3f")]
            + [(f"iou_{name}", f"IoU {name}", ".3f") for name in _class_names()]
            + [("cldice_ring", "clDice ring", ".3f"), ("seconds", "train s", ".1f")])


def run(cfg: SegmentConfig, stream: TextIO | None = None) -> dict:
    """Train every requested loss, print the table and write the results and figures.

    Args:
        cfg: the settings.
        stream: where the table goes. Default: ``sys.stdout``.

    Returns:
        dict: the record written to ``results.json``.

    Raises:
        DemoError: for a missing optional package or an unusable output folder or device.
    """
    return run_demo(_run, cfg, stream)


def _run(cfg: SegmentConfig, stream: TextIO) -> dict:
    require("matplotlib", "tqdm")
    import torch

    from .data import make_segmentation

    device = resolve_device(cfg.device)
    out = prepare_out_dir(cfg.out)
    arrays, data = synthetic_split(make_segmentation, cfg, device)
    y_train = arrays["y_train"]
    fractions = np.bincount(y_train.ravel(), minlength=4) / y_train.size
    print(f"synthetic segmentation: {cfg.train_images} training and {cfg.test_images} "
          f"held-out {cfg.size}x{cfg.size} images; pixels per class: background "
          f"{fractions[0]:.1%}, " + ", ".join(f"{name} {f:.2%}" for name, f in
                                               zip(_class_names(), fractions[1:], strict=True))
          + f"; device {device}", file=stream)
    torch.manual_seed(cfg.seed)
    init_state = make_fcn(4, cfg.width).state_dict()

    rows = [_train(key, init_state, data, cfg, device) for key in cfg.losses]

    columns = _columns()
    return finish(
        "segment", cfg, device, out,
        data={"classes": ["background", *_class_names()],
              "train_pixel_fractions": fractions.tolist()},
        rows=rows, columns=columns, csv_keys=["loss"] + [c[0] for c in columns],
        draw=lambda: plot_results(rows, arrays["x_test"][:EXAMPLES, 0],
                                  arrays["y_test"][:EXAMPLES], out),
        note="IoU on the held-out images; mIoU (fg) = mean over the three foreground classes; "
             "clDice ring = hard clDice of the rings (their skeleton kept and covered)",
        stream=stream)


def plot_results(rows: list[dict], images: np.ndarray, truth: np.ndarray, out: Any
                 ) -> list[Any]:
    """Draw ``segmentation.png``: input, ground truth and each loss's prediction."""
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    from .plotting import figure, save

    colours = ["#1a1a1a", "#E69F00", "#56B4E9", "#CC79A7"]
    cmap = ListedColormap(colours)
    names = ["background", *_class_names()]
    nrows, ncols = len(images), 2 + len(rows)
    fig, axes = figure(1.55 * ncols + 0.4, 1.6 * nrows + 0.9, nrows, ncols, squeeze=False)
    for r in range(nrows):
        panels = [("input", images[r], "gray"), ("ground truth", truth[r], cmap)]
        panels += [(f"{LOSSES[row['loss']][1]}\nmIoU {row['miou']:.2f}",
                    np.asarray(row["examples"][r]), cmap) for row in rows]
        for c, (title, image, colormap) in enumerate(panels):
            ax = axes[r, c]
            if colormap == "gray":
                ax.imshow(image, cmap="gray", interpolation="nearest")
            else:
                ax.imshow(image, cmap=colormap, vmin=0, vmax=3, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            for spine in ax.spines.values():
                spine.set_visible(False)
            if r == 0:
                ax.set_title(title, fontsize=8.5, fontweight="bold")
    handles = [Patch(color=colours[k], label=names[k]) for k in range(4)]
    fig.legend(handles=handles, loc="outside lower center", ncols=4, fontsize=9)
    fig.suptitle("Held-out images: input, ground truth and prediction by loss "
                 "(mIoU over the held-out set)", fontsize=10)
    return [save(fig, out / "segmentation.png")]
