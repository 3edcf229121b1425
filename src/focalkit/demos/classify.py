"""``focalkit demo classify``: losses for a long-tailed classification problem.

A small MLP (input -> 500 -> C, ReLU) is trained on long-tailed data, once per loss, every run
from the same initial weights and with the same batch order, and scored on a balanced held-out
split. The losses:

* ``ce``: cross entropy.
* ``ce-weighted``: cross entropy with inverse-frequency class weights
  (:func:`focalkit.class_weights`).
* ``focal``: softmax focal loss, gamma = 2 (:class:`focalkit.SoftmaxFocalLoss`).
* ``focal-cb``: the same with class-balanced alpha from the effective number of samples
  (Cui et al., 2019; ``class_weights(counts=..., method="effective_number", beta=beta)``).
* ``focal-warmup``: gamma raised linearly from 0 to 2 over the first quarter of the training
  steps by a :class:`focalkit.GammaScheduler`.
* ``logit-adjusted``: cross entropy of the logits plus the log prior of the training counts
  (:class:`focalkit.LogitAdjustedCrossEntropyLoss`, tau = 1: Balanced Softmax).
* ``ldam-drw``: LDAM margins (:class:`focalkit.LDAMLoss`, ``scale=1`` since the MLP's last
  layer is an ordinary linear layer, not a cosine classifier), with class-balanced weights
  (``beta``) switched on for the last fifth of the steps by a deferred
  :class:`focalkit.GammaScheduler` (deferred re-weighting).
* ``poly1``: Poly-1 cross entropy, epsilon = 1 (:class:`focalkit.Poly1CrossEntropyLoss`).
* ``asl``: the multi-label asymmetric loss (:class:`focalkit.AsymmetricLoss`, its defaults)
  on one-hot targets, one sigmoid per class, summed over the classes.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

import numpy as np

from .common import (
    DemoError,
    finish,
    prepare_out_dir,
    progress,
    require,
    resolve_device,
    run_demo,
)

LOSSES: dict[str, tuple[str, str]] = {
    # key: (plain-text name for tables, name for figures)
    "ce": ("CE", "cross entropy"),
    "ce-weighted": ("CE + class weights", "CE + inverse-frequency weights"),
    "focal": ("focal g=2", "focal (γ=2)"),
    "focal-cb": ("focal g=2 + CB alpha", "focal (γ=2) + class-balanced α"),
    "focal-warmup": ("focal g: 0->2 warm-up", "focal, γ warm-up 0→2"),
    "logit-adjusted": ("logit-adjusted CE", "logit-adjusted CE (τ=1)"),
    "ldam-drw": ("LDAM + DRW", "LDAM + deferred re-weighting"),
    "poly1": ("Poly-1 e=1", "Poly-1 (ε=1)"),
    "asl": ("ASL, one-hot", "asymmetric loss, one-hot targets"),
}

DATASETS = ("digits", "mnist")
DEFAULT_EPOCHS = 150
RARE = 3
DRW_FRACTION = 0.8

COLUMNS = [("label", "loss", ""), ("accuracy", "accuracy", ".3f"),
           ("balanced_accuracy", "balanced acc", ".3f"), ("macro_f1", "macro-F1", ".3f"),
           ("rare_recall", f"rarest-{RARE} recall", ".3f"), ("seconds", "train s", ".1f")]


@dataclass
class ClassifyConfig:
    """Settings of the classification demo (the command-line options).

    Attributes:
        dataset: ``"digits"`` (bundled with scikit-learn) or ``"mnist"`` (local IDX files).
        data_dir: folder of the MNIST IDX files.
        imbalance: ratio rho of the most to the least frequent training class, ``>= 1``.
        losses: keys of :data:`LOSSES` to train, in order.
        epochs: passes over the training set.
        seed: seed of the data split, the initial weights and the batch order.
        device: torch device; None picks CUDA when available, else CPU.
        out: output folder; None makes ``focalkit-runs/<timestamp>``.
        quiet: hide the progress bars.
        threads: CPU threads for torch (None leaves torch's default); 1 by default, since
            the MLP's small matrix products run fastest on one thread.
        beta: beta of the effective number of samples for ``focal-cb`` and the deferred
            weights of ``ldam-drw``.
        batch_size: images per SGD step.
        lr: SGD learning rate.
        momentum: SGD momentum.
        hidden: width of the hidden layer.
    """

    dataset: str = "digits"
    data_dir: str | None = None
    imbalance: float = 50.0
    losses: list[str] = field(default_factory=lambda: list(LOSSES))
    epochs: int = DEFAULT_EPOCHS
    seed: int = 0
    device: str | None = None
    out: str | None = None
    quiet: bool = False
    threads: int | None = 1
    beta: float = 0.99
    batch_size: int = 64
    lr: float = 0.01
    momentum: float = 0.9
    hidden: int = 500


def make_mlp(in_features: int, hidden: int, num_classes: int) -> Any:
    """The MLP ``in_features -> hidden -> num_classes`` with a ReLU."""
    from torch import nn

    return nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(),
                         nn.Linear(hidden, num_classes))


class OneHotLoss:
    """A multi-label loss applied to single-label targets made one-hot.

    The per-element loss is summed over the classes and averaged over the batch, so that a
    sample weighs as much as under cross entropy.

    Args:
        loss: a module that takes ``(N, C)`` logits and ``(N, C)`` 0/1 targets and has
            ``reduction="none"``.

    Example:
        >>> import torch
        >>> from focalkit import AsymmetricLoss
        >>> from focalkit.demos.classify import OneHotLoss
        >>> x, y = torch.zeros(2, 3), torch.tensor([0, 2])
        >>> loss = OneHotLoss(AsymmetricLoss(gamma_neg=0.0, clip=0.0, reduction="none"))
        >>> round(float(loss(x, y)), 4)  # three binary cross entropies at p = 0.5
        2.0794
    """

    def __init__(self, loss: Any) -> None:
        self.loss = loss

    def to(self, device: Any) -> OneHotLoss:
        self.loss = self.loss.to(device)
        return self

    def __call__(self, input: Any, target: Any) -> Any:
        import torch.nn.functional as F

        one_hot = F.one_hot(target, input.shape[1]).to(input.dtype)
        return self.loss(input, one_hot).sum(1).mean()


def build_loss(key: str, train_counts: list[int], *, beta: float, total_steps: int,
               device: Any = "cpu") -> tuple[Any, Any]:
    """The loss for ``key`` and, for ``focal-warmup`` and ``ldam-drw``, its scheduler.

    Args:
        key: one of :data:`LOSSES`.
        train_counts: training images per class.
        beta: beta of the effective number of samples (``focal-cb``, ``ldam-drw``).
        total_steps: SGD steps in the whole run (``focal-warmup`` warms up over a quarter,
            ``ldam-drw`` switches its weights on after :data:`DRW_FRACTION` of them).
        device: where the loss and its scheduled weights go. Default: ``"cpu"``.

    Returns:
        tuple: ``(loss_module, scheduler_or_None)``.
    """
    import torch

    import focalkit

    if key == "ce":
        return torch.nn.CrossEntropyLoss(), None
    if key == "ce-weighted":
        return torch.nn.CrossEntropyLoss(weight=focalkit.class_weights(counts=train_counts)), None
    if key == "focal":
        return focalkit.SoftmaxFocalLoss(gamma=2.0), None
    if key == "focal-cb":
        alpha = focalkit.class_weights(counts=train_counts, method="effective_number",
                                       beta=beta)
        return focalkit.SoftmaxFocalLoss(gamma=2.0, alpha=alpha), None
    if key == "focal-warmup":
        loss = focalkit.SoftmaxFocalLoss(gamma=2.0)
        scheduler = focalkit.GammaScheduler(loss, schedule="linear", gamma_start=0.0,
                                            gamma_end=2.0,
                                            total_steps=max(1, total_steps // 4))
        return loss, scheduler
    if key == "logit-adjusted":
        return focalkit.LogitAdjustedCrossEntropyLoss(class_counts=train_counts, tau=1.0), None
    if key == "ldam-drw":
        loss = focalkit.LDAMLoss(class_counts=train_counts, max_margin=0.5, scale=1.0)
        weights = focalkit.class_weights(counts=train_counts, method="effective_number",
                                         beta=beta).to(device)
        scheduler = focalkit.GammaScheduler(
            loss, param="weight", schedule="deferred", start=None, end=weights,
            total_steps=max(1, int(DRW_FRACTION * total_steps)))
        return loss, scheduler
    if key == "poly1":
        return focalkit.Poly1CrossEntropyLoss(epsilon=1.0), None
    if key == "asl":
        return OneHotLoss(focalkit.AsymmetricLoss(reduction="none")), None
    raise ValueError(f"unknown loss {key!r}; choose from {', '.join(LOSSES)}")


def _load(cfg: ClassifyConfig) -> Any:
    from .data import load_digits_long_tail, load_mnist_long_tail

    if cfg.dataset == "digits":
        return load_digits_long_tail(cfg.imbalance, cfg.seed)
    if cfg.data_dir is None:
        raise DemoError("--dataset mnist needs --data-dir, the folder with the MNIST IDX files",
                        status=2)
    return load_mnist_long_tail(cfg.data_dir, cfg.imbalance, cfg.seed)


def _recall_per_class(pred: np.ndarray, y: np.ndarray, num_classes: int) -> np.ndarray:
    hits = np.bincount(y[pred == y], minlength=num_classes)
    return hits / np.maximum(np.bincount(y, minlength=num_classes), 1)


def _predict(model: Any, x: Any, batch: int = 4096) -> np.ndarray:
    import torch

    with torch.no_grad():
        return torch.cat([model(x[i:i + batch]).argmax(1) for i in range(0, len(x), batch)]
                         ).cpu().numpy()


def _train(key: str, init_state: dict, split: Any, cfg: ClassifyConfig, device: Any) -> dict:
    """Train one model with loss ``key`` and score it on the test split."""
    import torch
    from sklearn.metrics import (
        accuracy_score,
        balanced_accuracy_score,
        f1_score,
        recall_score,
    )

    x = torch.from_numpy(split.x_train).to(device)
    y = torch.from_numpy(split.y_train).to(device)
    x_test = torch.from_numpy(split.x_test).to(device)
    n = len(x)
    steps_per_epoch = math.ceil(n / cfg.batch_size)
    model = make_mlp(x.shape[1], cfg.hidden, split.num_classes).to(device)
    model.load_state_dict(init_state)
    loss_fn, scheduler = build_loss(key, split.train_counts, beta=cfg.beta,
                                    total_steps=cfg.epochs * steps_per_epoch, device=device)
    loss_fn = loss_fn.to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum)
    order = torch.Generator().manual_seed(cfg.seed + 1)  # same batch order for every loss

    train_loss, test_bacc, seconds = [], [], 0.0
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
                if scheduler is not None:
                    scheduler.step()
                total += loss.detach() * len(idx)
            epoch_loss = float(total) / n
            seconds += time.perf_counter() - start
            model.eval()
            recall = _recall_per_class(_predict(model, x_test), split.y_test, split.num_classes)
            train_loss.append(epoch_loss)
            test_bacc.append(float(recall.mean()))
            bar.set_postfix_str(f"loss {epoch_loss:.4f}  bal. acc {recall.mean():.3f}")
            bar.update()
            if not math.isfinite(epoch_loss):
                break

    pred = _predict(model, x_test)
    y_test = split.y_test
    labels = list(range(split.num_classes))
    per_class = recall_score(y_test, pred, labels=labels, average=None, zero_division=0)
    rarest = np.argsort(split.train_counts, kind="stable")[:RARE]
    return {
        "loss": key,
        "label": LOSSES[key][0],
        "accuracy": float(accuracy_score(y_test, pred)),
        "balanced_accuracy": float(balanced_accuracy_score(y_test, pred)),
        "macro_f1": float(f1_score(y_test, pred, labels=labels, average="macro",
                                   zero_division=0)),
        "rare_recall": float(per_class[rarest].mean()),
        "seconds": seconds,
        "per_class_recall": [float(r) for r in per_class],
        "train_loss": train_loss,
        "test_balanced_accuracy": test_bacc,
    }


def run(cfg: ClassifyConfig, stream: TextIO | None = None) -> dict:
    """Train every requested loss, print the table and write the results and figures.

    Args:
        cfg: the settings.
        stream: where the table goes. Default: ``sys.stdout``.

    Returns:
        dict: the record written to ``results.json``.

    Raises:
        DemoError: for a missing optional package, unusable data or output folder.
    """
    return run_demo(_run, cfg, stream)


def _run(cfg: ClassifyConfig, stream: TextIO) -> dict:
    require("sklearn", "matplotlib", "tqdm")
    import torch

    device = resolve_device(cfg.device)
    out = prepare_out_dir(cfg.out)
    split = _load(cfg)
    torch.manual_seed(cfg.seed)
    init_state = make_mlp(split.x_train.shape[1], cfg.hidden, split.num_classes).state_dict()
    print(f"{split.name}: {len(split.y_train)} training images "
          f"(per class {split.train_counts}), {len(split.y_test)} test images "
          f"({split.test_counts[0]} per class); device {device}", file=stream)

    rows = [_train(key, init_state, split, cfg, device) for key in cfg.losses]

    rarest = sorted(np.argsort(split.train_counts, kind="stable")[:RARE].tolist())
    return finish(
        "classify", cfg, device, out,
        data={"name": split.name, "num_classes": split.num_classes,
              "train_counts": split.train_counts, "test_counts": split.test_counts,
              "rarest_classes": rarest},
        rows=rows, columns=COLUMNS, csv_keys=["loss", "label"] + [c[0] for c in COLUMNS[1:]],
        draw=lambda: plot_results(rows, split, cfg, out),
        note=f"rarest-{RARE} recall: mean recall of classes {rarest}; metrics on the "
             f"balanced test split",
        stream=stream)


def plot_results(rows: list[dict], split: Any, cfg: ClassifyConfig, out: Any) -> list[Any]:
    """Draw ``training_loss.png`` and ``per_class_recall.png`` into ``out``."""
    from .plotting import colour, figure, save

    fig, (ax_loss, ax_acc) = figure(10.0, 3.8 + 0.2 * math.ceil(len(rows) / 3), 1, 2)
    for i, row in enumerate(rows):
        epochs = np.arange(1, len(row["train_loss"]) + 1)
        name = LOSSES[row["loss"]][1]
        ax_loss.plot(epochs, row["train_loss"], color=colour(i), lw=1.8, label=name)
        ax_acc.plot(epochs, row["test_balanced_accuracy"], color=colour(i), lw=1.8, label=name)
    ax_loss.set_yscale("log")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("training loss (each run's own loss, log scale)")
    ax_loss.set_title("Training loss")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("balanced accuracy on held-out data")
    ax_acc.set_title("Held-out balanced accuracy")
    ax_acc.set_ylim(0, 1)
    fig.legend(*ax_acc.get_legend_handles_labels(), loc="outside lower center",
               ncols=min(len(rows), 3))
    fig.suptitle(f"{split.name}, MLP {split.x_train.shape[1]}-{cfg.hidden}-"
                 f"{split.num_classes}, seed {cfg.seed}", fontsize=10)
    paths = [save(fig, out / "training_loss.png")]

    fig = recall_figure(rows, split, cfg)
    paths.append(save(fig, out / "per_class_recall.png"))
    return paths


def rarest_summary(rows: list[dict], train_counts: list[int], shown: int = 3) -> str:
    """One line naming the losses with the best mean recall on the rarest classes.

    The ``shown`` best are listed, and cross entropy after them as the baseline when it was
    trained and is not among them.

    Example:
        >>> from focalkit.demos.classify import rarest_summary
        >>> rows = [{"loss": "ce", "rare_recall": 0.5}, {"loss": "focal", "rare_recall": 0.6},
        ...         {"loss": "asl", "rare_recall": 0.4}]
        >>> rarest_summary(rows, [50, 20, 9, 4, 1], shown=1)
        'rarest 3 classes (2, 3, 4): best mean recall focal (γ=2), 0.60; cross entropy 0.50'
    """
    rarest = sorted(np.argsort(train_counts, kind="stable")[:RARE].tolist())
    ranked = sorted(rows, key=lambda row: -row["rare_recall"])
    best, rest = ranked[0], ranked[1:shown]
    rest += [row for row in ranked[shown:] if row["loss"] == "ce"]
    others = "; ".join(f"{LOSSES[row['loss']][1]} {row['rare_recall']:.2f}" for row in rest)
    return (f"rarest {len(rarest)} classes ({', '.join(map(str, rarest))}): best mean recall "
            f"{LOSSES[best['loss']][1]}, {best['rare_recall']:.2f}" + (f"; {others}"
                                                                        if others else ""))


def recall_figure(rows: list[dict], split: Any, cfg: ClassifyConfig) -> Any:
    """The per-class recall bars, with the values on the rarest classes and who wins there."""
    from .plotting import colour, figure

    c = split.num_classes
    rarest = set(np.argsort(split.train_counts, kind="stable")[:RARE].tolist())
    fig, ax = figure(max(8.0, c * (0.3 + 0.1 * len(rows)) + 1.5), 4.4)
    width = 0.8 / max(len(rows), 1)
    positions = np.arange(c)
    for i, row in enumerate(rows):
        x = positions + (i - (len(rows) - 1) / 2) * width
        bars = ax.bar(x, row["per_class_recall"], width=width, color=colour(i),
                      label=f"{LOSSES[row['loss']][1]} (rarest {RARE}: {row['rare_recall']:.2f})")
        for k in sorted(rarest):
            value = row["per_class_recall"][k]
            ax.annotate(f"{value:.2f}", (bars[k].get_x() + width / 2, value), xytext=(0, 2),
                        textcoords="offset points", ha="center", va="bottom", rotation=90,
                        fontsize=7)
    ax.set_xticks(positions, [f"{k}\nn={n}" for k, n in enumerate(split.train_counts)])
    ax.set_xlabel("class (n = training images; frequent → rare)")
    ax.set_ylabel("recall on held-out data")
    ax.set_ylim(0, 1.18)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_title(f"Per-class recall by loss, imbalance ρ = {cfg.imbalance:g}")
    ax.text(0.5, 1.0, rarest_summary(rows, split.train_counts), transform=ax.transAxes,
            ha="center", va="top", fontsize=8.5)
    ax.grid(axis="x", visible=False)
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center",
               ncols=min(len(rows), 3))
    return fig
