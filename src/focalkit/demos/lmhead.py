"""``focalkit demo lmhead``: a language-model-style head over a long-tailed vocabulary.

Tokens of a vocabulary of 32,768 are drawn with Zipf frequencies (the k-th most frequent with
probability proportional to :math:`1/k^{1.1}`), as the words of a text are. Each token has a
fixed random code in 32 dimensions; a training example is a noisy copy of its token's code,
to be mapped back to the token by a small network: a 2-layer MLP (32 -> 256 -> 256, ReLU),
whose features feed a linear head with one output per token, trained with Adam. Three runs,
from the same initial weights and with the same batches:

* ``ce``: cross-entropy of the materialised logits, ``F.cross_entropy(head(h), t)``.
* ``linear-ce``: the same loss through :class:`focalkit.LinearSoftmaxFocalLoss` (``gamma=0``),
  which never holds the logits.
* ``linear-focal``: :class:`focalkit.LinearSoftmaxFocalLoss` with ``gamma=2``.

The table gives the peak memory growth of one forward + backward of the loss (Linux only),
the training time, and the accuracy on held-out examples of every token seen in training
(one each), by how often the token was seen: frequent (50 times or more), medium (5 to 49)
and rare (1 to 4).
"""

from __future__ import annotations

import ctypes
import gc
import math
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

import numpy as np

from .common import finish, prepare_out_dir, progress, require, resolve_device, run_demo

LOSSES: dict[str, tuple[str, str]] = {
    "ce": ("CE, materialised logits", "CE, materialised logits"),
    "linear-ce": ("CE, LinearSoftmaxFocalLoss", "CE via LinearSoftmaxFocalLoss (γ=0)"),
    "linear-focal": ("focal g=2, LinearSoftmaxFocalLoss", "focal via LinearSoftmaxFocalLoss "
                                                           "(γ=2)"),
}

DEFAULTS = {"vocab": 32768, "train_tokens": 16384, "epochs": 4}
#: Training counts that bound the frequency buckets of the held-out accuracy.
BUCKETS = (("frequent", 50, math.inf), ("medium", 5, 50), ("rare", 1, 5))
CODE_DIM, WIDTH, NOISE, ZIPF = 32, 256, 0.3, 1.1

COLUMNS = [("label", "loss", ""), ("peak_mib", "peak MiB", ".1f"),
           ("accuracy", "accuracy", ".3f"), ("acc_frequent", "frequent", ".3f"),
           ("acc_medium", "medium", ".3f"), ("acc_rare", "rare", ".3f"),
           ("seconds", "train s", ".1f")]


@dataclass
class LMHeadConfig:
    """Settings of the language-model head demo (the command-line options).

    Attributes:
        losses: keys of :data:`LOSSES` to train, in order.
        vocab: tokens in the vocabulary (the head's classes).
        train_tokens: training examples, drawn with Zipf frequencies.
        epochs: passes over the training examples.
        seed: seed of the codes, the examples, the initial weights and the batch order.
        device: torch device; None picks CUDA when available, else CPU.
        out: output folder; None makes ``focalkit-runs/<timestamp>``.
        quiet: hide the progress bars.
        threads: CPU threads for torch (None leaves torch's default).
        batch_size: examples per Adam step.
        lr: Adam learning rate.
    """

    losses: list[str] = field(default_factory=lambda: list(LOSSES))
    vocab: int = DEFAULTS["vocab"]
    train_tokens: int = DEFAULTS["train_tokens"]
    epochs: int = DEFAULTS["epochs"]
    seed: int = 0
    device: str | None = None
    out: str | None = None
    quiet: bool = False
    threads: int | None = 1
    batch_size: int = 1024
    lr: float = 3e-3


def make_tokens(cfg: LMHeadConfig) -> dict[str, np.ndarray]:
    """Codes of every token, Zipf-distributed training tokens with their noisy inputs, and
    one held-out noisy input for every token seen in training."""
    rng = np.random.default_rng(cfg.seed)
    codes = rng.standard_normal((cfg.vocab, CODE_DIM)).astype(np.float32)
    weights = 1.0 / np.arange(1, cfg.vocab + 1) ** ZIPF
    y_train = rng.choice(cfg.vocab, size=cfg.train_tokens, p=weights / weights.sum())
    counts = np.bincount(y_train, minlength=cfg.vocab)
    y_test = np.flatnonzero(counts)

    def noisy(tokens: np.ndarray) -> np.ndarray:
        noise = rng.standard_normal((len(tokens), CODE_DIM)).astype(np.float32)
        return codes[tokens] + NOISE * noise

    return {"x_train": noisy(y_train), "y_train": y_train, "x_test": noisy(y_test),
            "y_test": y_test, "counts": counts}


def make_model(vocab: int) -> Any:
    """The MLP body and the linear head, kept apart so that the head's weight can be passed
    to :class:`focalkit.LinearSoftmaxFocalLoss`."""
    from torch import nn

    body = nn.Sequential(nn.Linear(CODE_DIM, WIDTH), nn.ReLU(), nn.Linear(WIDTH, WIDTH),
                         nn.ReLU())
    return nn.ModuleDict({"body": body, "head": nn.Linear(WIDTH, vocab)})


def head_loss(key: str, model: Any, x: Any, y: Any) -> Any:
    """The loss of ``key`` for inputs ``x`` and tokens ``y``."""
    import torch.nn.functional as F

    from focalkit import LinearSoftmaxFocalLoss

    features = model["body"](x)
    head = model["head"]
    if key == "ce":
        return F.cross_entropy(head(features), y)
    gamma = 0.0 if key == "linear-ce" else 2.0
    return LinearSoftmaxFocalLoss(gamma=gamma)(features, head.weight, y, head.bias)


def _resident(key: str) -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    raise OSError(key)


def peak_growth(step: Any) -> float:
    """Peak growth of the resident memory while ``step()`` runs, in MiB; NaN where Linux's
    ``/proc/self/clear_refs`` cannot reset the peak."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        base = _resident("VmRSS")
    except OSError:
        step()
        return float("nan")
    step()
    return (_resident("VmHWM") - base) / 2**20


def _train(key: str, init_state: dict, data: dict, cfg: LMHeadConfig, device: Any) -> dict:
    import torch

    model = make_model(cfg.vocab).to(device)
    model.load_state_dict(init_state)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    order = torch.Generator().manual_seed(cfg.seed + 1)
    x, y = data["x_train"], data["y_train"]
    steps_per_epoch = math.ceil(len(x) / cfg.batch_size)
    losses: list[float] = []
    seconds = 0.0
    peak = float("nan")
    with progress(cfg.epochs * steps_per_epoch, LOSSES[key][0], cfg.quiet) as bar:
        for _ in range(cfg.epochs):
            perm = torch.randperm(len(x), generator=order).to(device)
            for i in range(0, len(x), cfg.batch_size):
                idx = perm[i:i + cfg.batch_size]
                start = time.perf_counter()
                optimizer.zero_grad(set_to_none=True)
                done = {}

                def step(idx=idx, done=done):
                    done["loss"] = head_loss(key, model, x[idx], y[idx])
                    done["loss"].backward()

                if len(losses) == 1 and device.type == "cpu":
                    peak = peak_growth(step)  # the second step: Adam's state exists by then
                else:
                    step()
                loss = done["loss"]
                optimizer.step()
                seconds += time.perf_counter() - start
                losses.append(float(loss.detach()))
                bar.set_postfix_str(f"loss {losses[-1]:.4g}")
                bar.update()
    with torch.no_grad():
        logits = model["head"](model["body"](data["x_test"]))
        right = (logits.argmax(1) == data["y_test"]).cpu().numpy()
    counts = data["counts"][data["y_test"].cpu().numpy()]
    row = {"loss": key, "label": LOSSES[key][0], "peak_mib": peak,
           "accuracy": float(right.mean()), "seconds": seconds, "train_loss": losses}
    for name, low, high in BUCKETS:
        chosen = (counts >= low) & (counts < high)
        row[f"acc_{name}"] = float(right[chosen].mean()) if chosen.any() else float("nan")
        row[f"tokens_{name}"] = int(chosen.sum())
    return row


def run(cfg: LMHeadConfig, stream: TextIO | None = None) -> dict:
    """Train every requested loss, print the table and write the results and the figure.

    Args:
        cfg: the settings.
        stream: where the table goes. Default: ``sys.stdout``.

    Returns:
        dict: the record written to ``results.json``.

    Raises:
        DemoError: for a missing optional package or an unusable output folder or device.
    """
    return run_demo(_run, cfg, stream)


def _run(cfg: LMHeadConfig, stream: TextIO) -> dict:
    require("matplotlib", "tqdm")
    import torch

    device = resolve_device(cfg.device)
    out = prepare_out_dir(cfg.out)
    arrays = make_tokens(cfg)
    data = {name: torch.from_numpy(np.asarray(arrays[name])).to(device)
            for name in ("x_train", "y_train", "x_test", "y_test")}
    data["counts"] = arrays["counts"]
    seen = int((arrays["counts"] > 0).sum())
    print(f"synthetic tokens: a vocabulary of {cfg.vocab:,} with Zipf({ZIPF}) frequencies, "
          f"{cfg.train_tokens:,} training tokens covering {seen:,} of them (the most frequent "
          f"{arrays['counts'].max():,} times); batches of {cfg.batch_size} x {cfg.vocab:,} "
          f"logits; device {device}", file=stream)
    torch.manual_seed(cfg.seed)
    init_state = make_model(cfg.vocab).state_dict()

    rows = [_train(key, init_state, data, cfg, device) for key in cfg.losses]
    tokens = {name: rows[0][f"tokens_{name}"] for name, _, _ in BUCKETS} if rows else {}
    return finish(
        "lmhead", cfg, device, out,
        data={"vocab": cfg.vocab, "seen_tokens": seen, "bucket_tokens": tokens,
              "train_counts_top": arrays["counts"][:10].tolist()},
        rows=rows, columns=COLUMNS, csv_keys=["loss"] + [c[0] for c in COLUMNS],
        draw=lambda: plot_results(rows, out, tokens),
        note="peak MiB = growth of the resident memory during one forward + backward of the "
             "loss (CPU only); accuracy on one held-out example of every token seen in "
             "training; frequent / medium / rare = seen 50+ / 5-49 / 1-4 times",
        stream=stream)


def plot_results(rows: list[dict], out: Any, tokens: dict[str, int]) -> list[Any]:
    """Draw ``lmhead.png``: held-out accuracy by token frequency, and the peak memory."""
    from .plotting import colour, figure, save

    fig, (ax_acc, ax_mem) = figure(10.0, 3.8, 1, 2)
    width = 0.8 / max(len(rows), 1)
    for i, row in enumerate(rows):
        values = [row[f"acc_{name}"] for name, _, _ in BUCKETS]
        places = [j + (i - (len(rows) - 1) / 2) * width for j in range(len(BUCKETS))]
        ax_acc.bar(places, values, width, color=colour(i), label=LOSSES[row["loss"]][1])
        ax_mem.bar([i], [row["peak_mib"]], 0.6, color=colour(i))
    ax_acc.set_xticks(range(len(BUCKETS)),
                      [f"{name}\n({tokens.get(name, 0):,} tokens)" for name, _, _ in BUCKETS])
    ax_acc.set_ylabel("held-out accuracy")
    ax_acc.set_title("Accuracy by training frequency")
    ax_mem.set_xticks(range(len(rows)), [row["loss"] for row in rows])
    ax_mem.set_ylabel("MiB")
    ax_mem.set_title("Peak memory of one forward + backward")
    fig.legend(*ax_acc.get_legend_handles_labels(), loc="outside lower center",
               ncols=min(len(rows), 3))
    return [save(fig, out / "lmhead.png")]
