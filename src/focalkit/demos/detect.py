"""``focalkit demo detect``: why RetinaNet needs both focal loss and the prior bias.

A dense detector scores every anchor of every image, and almost all anchors are easy
background. Here a small convolutional head scores 3 anchors at each pixel of 64 x 64 noisy
images of bright squares (12,288 anchors per image, about 1 in 1,000 positive; see
:func:`focalkit.demos.data.make_detection`). As in RetinaNet the loss is summed over all
anchors and divided by the number of positive anchors. Six runs, from the same initial weights:

* ``bce``: binary cross entropy, untouched head (every anchor starts at p = 0.5).
* ``bce-prior``: BCE with the last bias set by :func:`focalkit.prior_bias_` (p = 0.01).
* ``focal``: :func:`focalkit.functional.sigmoid_focal_loss` (gamma = 2, alpha = 0.25).
* ``focal-prior``: focal loss with :func:`focalkit.prior_bias_`.
* ``qfl-prior``: :func:`focalkit.functional.quality_focal_loss` (beta = 2) with the prior bias.
* ``vfl-prior``: :func:`focalkit.functional.varifocal_loss` (alpha = 0.75, gamma = 2) with the
  prior bias.

QFL and VFL are meant for a target that is the IoU of a predicted box with its ground truth.
This head predicts no boxes (every anchor is a fixed square), so their target is the 0/1
anchor label: QFL is then the focal loss without alpha, and VFL is BCE on the positives and
alpha-weighted focal loss on the negatives. GFL and VarifocalNet both start from the prior
bias, so these two runs do too.

The table shows the loss at the first step (dominated by the easy negatives unless both
remedies are used), whether training diverged, and average precision on held-out images.
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
    "bce": ("BCE", "BCE"),
    "bce-prior": ("BCE + prior bias", "BCE + prior bias"),
    "focal": ("focal", "focal (γ=2, α=0.25)"),
    "focal-prior": ("focal + prior bias", "focal + prior bias"),
    "qfl-prior": ("QFL + prior bias", "QFL (β=2) + prior bias"),
    "vfl-prior": ("VFL + prior bias", "VFL (α=0.75, γ=2) + prior bias"),
}

DEFAULTS = {"steps": 300, "train_images": 64, "test_images": 16, "size": 64}
PRIOR = 0.01

COLUMNS = [("label", "loss", ""), ("first_loss", "loss at step 1", ".2f"),
           ("final_loss", "final loss", ".3f"), ("diverged", "diverged", ""),
           ("average_precision", "AP (held-out)", ".3f"), ("seconds", "train s", ".1f")]


@dataclass
class DetectConfig:
    """Settings of the detection demo (the command-line options).

    Attributes:
        losses: keys of :data:`LOSSES` to train, in order.
        steps: SGD steps per loss.
        train_images: synthetic training images.
        test_images: synthetic held-out images.
        size: side of the image and of the anchor grid.
        seed: seed of the images, the initial weights and the batch order.
        device: torch device; None picks CUDA when available, else CPU.
        out: output folder; None makes ``focalkit-runs/<timestamp>``.
        quiet: hide the progress bars.
        threads: CPU threads for torch (None leaves torch's default); 1 by default,
            for run times that stay predictable on a busy machine.
        batch_size: images per SGD step.
        lr: SGD learning rate.
        momentum: SGD momentum.
    """

    losses: list[str] = field(default_factory=lambda: list(LOSSES))
    steps: int = DEFAULTS["steps"]
    train_images: int = DEFAULTS["train_images"]
    test_images: int = DEFAULTS["test_images"]
    size: int = DEFAULTS["size"]
    seed: int = 0
    device: str | None = None
    out: str | None = None
    quiet: bool = False
    threads: int | None = 1
    batch_size: int = 8
    lr: float = 0.01
    momentum: float = 0.9


def make_head(anchors: int, width: int = 16) -> Any:
    """A small fully convolutional head: 3 convolutions (receptive field 9) and a classifier."""
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1), nn.ReLU(),
        nn.Conv2d(width, width, 3, padding=1), nn.ReLU(),
        nn.Conv2d(width, width, 3, padding=2, dilation=2), nn.ReLU(),
        nn.Conv2d(width, anchors, 1))


def detection_loss(key: str, logits: Any, target: Any) -> Any:
    """The loss of ``key``, summed over anchors and divided by the number of positives.

    ``target`` is the 0/1 anchor label; QFL and VFL take it as their quality target.
    """
    import torch.nn.functional as F

    from focalkit.functional import quality_focal_loss, sigmoid_focal_loss, varifocal_loss

    num_pos = target.sum().clamp_min(1.0)
    if key.startswith("bce"):
        total = F.binary_cross_entropy_with_logits(logits, target, reduction="sum")
    elif key.startswith("qfl"):
        total = quality_focal_loss(logits, target, beta=2.0, reduction="sum")
    elif key.startswith("vfl"):
        total = varifocal_loss(logits, target, alpha=0.75, gamma=2.0, reduction="sum")
    else:
        total = sigmoid_focal_loss(logits, target, alpha=0.25, gamma=2.0, reduction="sum")
    return total / num_pos


def _train(key: str, init_state: dict, data: dict, cfg: DetectConfig, device: Any) -> dict:
    import torch
    from sklearn.metrics import average_precision_score, precision_recall_curve

    import focalkit

    x, y = data["x_train"], data["y_train"]
    model = make_head(y.shape[1]).to(device)
    model.load_state_dict(init_state)
    if key.endswith("-prior"):
        focalkit.prior_bias_(model[-1], prior=PRIOR)
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum)
    order = torch.Generator().manual_seed(cfg.seed + 1)
    n = len(x)
    losses: list[float] = []
    seconds = 0.0
    perm = torch.randperm(n, generator=order)
    cursor = 0
    with progress(cfg.steps, LOSSES[key][0], cfg.quiet) as bar:
        for step in range(cfg.steps):
            if cursor + cfg.batch_size > n:
                perm, cursor = torch.randperm(n, generator=order), 0
            idx = perm[cursor:cursor + cfg.batch_size].to(device)
            cursor += cfg.batch_size
            start = time.perf_counter()
            loss = detection_loss(key, model(x[idx]), y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            value = float(loss.detach())
            seconds += time.perf_counter() - start
            losses.append(value)
            if step % 10 == 0 or step == cfg.steps - 1:
                bar.set_postfix_str(f"loss {value:.4g}")
            if not math.isfinite(value):
                bar.set_postfix_str("diverged (non-finite loss)")
                break
            bar.update()

    tail = losses[-max(1, len(losses) // 10):]
    final = float(np.mean(tail))
    diverged = not all(math.isfinite(v) for v in losses) or final > losses[0]
    with torch.no_grad():
        scores = torch.cat([torch.sigmoid(model(data["x_test"][i:i + cfg.batch_size]))
                            for i in range(0, len(data["x_test"]), cfg.batch_size)])
    scores = scores.cpu().numpy().ravel().astype(np.float64)
    truth = data["y_test"].cpu().numpy().ravel()
    finite = bool(np.isfinite(scores).all()) and truth.any()
    ap = float(average_precision_score(truth, scores)) if finite else float("nan")
    curve = None
    if finite:
        precision, recall, _ = precision_recall_curve(truth, scores)
        # interpolated precision (the best precision at any recall >= r) on a recall grid
        grid = np.linspace(0.0, 1.0, 201)
        best = np.maximum.accumulate(precision)
        at = np.searchsorted(recall[::-1], grid, side="left")
        at = np.clip(len(recall) - 1 - at, 0, len(recall) - 1)
        curve = {"precision": best[at].tolist(), "recall": grid.tolist()}
    return {
        "loss": key,
        "label": LOSSES[key][0],
        "first_loss": losses[0],
        "final_loss": final if math.isfinite(final) else float("nan"),
        "diverged": "yes" if diverged else "no",
        "average_precision": ap,
        "seconds": seconds,
        "losses": losses,
        "pr_curve": curve,
    }


def run(cfg: DetectConfig, stream: TextIO | None = None) -> dict:
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


def _run(cfg: DetectConfig, stream: TextIO) -> dict:
    require("sklearn", "matplotlib", "tqdm")
    import torch

    from .data import make_detection

    device = resolve_device(cfg.device)
    out = prepare_out_dir(cfg.out)
    arrays, data = synthetic_split(make_detection, cfg, device)
    y_train = arrays["y_train"]
    anchors = y_train[0].size
    positives = float(y_train.sum() / len(y_train))
    print(f"synthetic detection: {cfg.train_images} training and {cfg.test_images} held-out "
          f"images, {anchors:,} anchors per image, {positives:.1f} positive on average "
          f"(1 in {anchors / max(positives, 1e-9):,.0f}); device {device}", file=stream)
    torch.manual_seed(cfg.seed)
    init_state = make_head(y_train.shape[1]).state_dict()

    rows = [_train(key, init_state, data, cfg, device) for key in cfg.losses]

    return finish(
        "detect", cfg, device, out,
        data={"anchors_per_image": anchors, "positives_per_image": positives, "prior": PRIOR},
        rows=rows, columns=COLUMNS, csv_keys=["loss"] + [c[0] for c in COLUMNS],
        draw=lambda: plot_results(rows, out, anchors, positives),
        note="loss = sum over anchors / number of positive anchors; diverged = a non-finite "
             "loss or a final loss above the first",
        stream=stream)


def plot_results(rows: list[dict], out: Any, anchors: int, positives: float) -> list[Any]:
    """Draw ``detect_loss.png``: loss over steps and held-out precision-recall curves."""
    from .plotting import colour, figure, save

    fig, (ax_loss, ax_pr) = figure(10.0, 4.4, 1, 2)
    for i, row in enumerate(rows):
        keep = [(s + 1, v) for s, v in enumerate(row["losses"]) if math.isfinite(v) and v > 0]
        name = LOSSES[row["loss"]][1]
        ap = row["average_precision"]
        label = f"{name}: AP {'-' if math.isnan(ap) else format(ap, '.3f')}"
        if keep:
            steps, values = zip(*keep, strict=True)
            ax_loss.plot(steps, values, color=colour(i), lw=1.5, label=label)
        if row["diverged"] == "yes" and keep:
            ax_loss.plot(*keep[-1], marker="x", color=colour(i), ms=9, mew=2)
        if row["pr_curve"] is not None:
            # drawn over the axes' spines, so that a curve along precision 0 stays visible
            ax_pr.plot(row["pr_curve"]["recall"], row["pr_curve"]["precision"],
                       color=colour(i), lw=1.8, clip_on=False, zorder=3)
    ax_loss.set_yscale("log")
    ax_loss.set_xlabel("training step")
    ax_loss.set_ylabel("loss / positive anchor (log scale)")
    ax_loss.set_title("Training loss")
    ax_pr.set_xlim(-0.02, 1.02)
    ax_pr.set_ylim(-0.04, 1.04)
    ax_pr.set_xlabel("recall")
    ax_pr.set_ylabel("precision")
    ax_pr.set_title("Held-out precision-recall")
    fig.legend(*ax_loss.get_legend_handles_labels(), loc="outside lower center",
               ncols=min(len(rows), 3))
    fig.suptitle(f"Dense detection toy: {anchors:,} anchors per image, "
                 f"{positives:.0f} positive", fontsize=10)
    return [save(fig, out / "detect_loss.png")]
