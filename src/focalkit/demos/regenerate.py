"""Rerun the demos and rewrite the results in the README and the documentation.

``python -m focalkit.demos.regenerate`` (from the repository root) runs ``focalkit demo``
(seed 0, and seeds 0 to 4 for the spread), ``focalkit demo segment``,
``focalkit demo detect`` and ``focalkit demo lmhead`` with their default settings, one CPU
thread each, copies their figures and ``focalkit plot curves`` into ``docs/images/``, and
replaces the text between ``<!-- result: NAME -->`` and ``<!-- /result -->`` in the
:data:`PAGES` with the new tables and run times. ``--demos classify detect`` reruns
only the demos named and leaves the others' tables, times and figures as they are. The prose
around them is written by hand and must be read again after a run.
"""

from __future__ import annotations

import argparse
import io
import re
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

MARKER = re.compile(r"<!-- result: ([\w-]+) -->.*?<!-- /result -->", re.DOTALL)
SEEDS = range(5)
DEMOS = ("classify", "segment", "detect", "lmhead")
#: The pages whose result markers are filled, relative to the repository root.
PAGES = ("README.md", "docs/demo-results.md", "docs/large-classes.md")


def markdown_table(rows: Sequence[dict], columns: Sequence[tuple[str, str, str]],
                   bold: Sequence[str] = ()) -> str:
    """Rows as a Markdown table; the best value of each ``bold`` column is set in bold.

    Args:
        rows: one dict per row.
        columns: ``(key, header, format)``; the first column is left-aligned, the others right.
        bold: keys whose largest value (ties included) is set in bold.

    Returns:
        str: the table.

    Example:
        >>> from focalkit.demos.regenerate import markdown_table
        >>> print(markdown_table([{"a": "x", "b": 0.5}, {"a": "y", "b": 0.75}],
        ...                      [("a", "loss", ""), ("b", "acc", ".2f")], bold=["b"]))
        | loss | acc |
        | --- | ---: |
        | x | 0.50 |
        | y | **0.75** |
    """
    best = {key: max(round(row[key], 3) for row in rows) for key in bold}
    lines = ["| " + " | ".join(header for _, header, _ in columns) + " |",
             "| --- | " + " | ".join("---:" for _ in columns[1:]) + " |"]
    for row in rows:
        cells = []
        for key, _, fmt in columns:
            value = row[key]
            text = format(value, fmt) if isinstance(value, float) else str(value)
            if key in best and round(value, 3) == best[key]:
                text = f"**{text}**"
            cells.append(text)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def replace_results(text: str, results: dict[str, str]) -> str:
    """Put ``results[NAME]`` between each ``<!-- result: NAME -->`` and ``<!-- /result -->``.

    A marker followed by a line break holds a block (a table), one without holds inline text.
    """

    def fill(match: re.Match) -> str:
        name = match.group(1)
        if name not in results:
            return match.group(0)
        body = results[name]
        sep = "\n" if match.group(0).startswith(f"<!-- result: {name} -->\n") else ""
        return f"<!-- result: {name} -->{sep}{body}{sep}<!-- /result -->"

    return MARKER.sub(fill, text)


CLASSIFY_NAMES = {"ce": "cross entropy", "ce-weighted": "CE + inverse-frequency class weights",
                  "focal": "focal, γ = 2",
                  "focal-cb": "focal, γ = 2, class-balanced α (β = 0.99)",
                  "focal-warmup": "focal, γ warmed up from 0 to 2",
                  "logit-adjusted": "logit-adjusted CE (τ = 1, Balanced Softmax)",
                  "ldam-drw": "LDAM + deferred re-weighting",
                  "poly1": "Poly-1 (ε = 1)",
                  "asl": "asymmetric loss on one-hot targets"}
SEGMENT_NAMES = {"ce": "cross entropy", "dice": "Dice", "dice-ce": "Dice + CE",
                 "focal": "focal, γ = 2", "lovasz": "Lovász-Softmax",
                 "focal-dice": "focal + Dice", "dice-cldice": "Dice + clDice"}
DETECT_NAMES = {"bce": "BCE", "bce-prior": "BCE + `prior_bias_` (π = 0.01)",
                "focal": "focal (γ = 2, α = 0.25)", "focal-prior": "focal + `prior_bias_`",
                "qfl-prior": "QFL (β = 2) + `prior_bias_`",
                "vfl-prior": "VFL (α = 0.75, γ = 2) + `prior_bias_`"}


def _named(rows: list[dict], names: dict[str, str]) -> list[dict]:
    return [{**row, "name": names[row["loss"]]} for row in rows]


def _timed(run, cfg) -> tuple[dict, float]:
    start = time.perf_counter()
    record = run(cfg, stream=io.StringIO())
    return record, time.perf_counter() - start


def regenerate(root: Path, demos: Sequence[str] = DEMOS) -> dict[str, str]:
    """Run the ``demos`` and rewrite their results in ``root``; return the new texts by name."""
    from .plots import focal_curves

    images = root / "docs" / "images"
    results: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp)
        if "classify" in demos:
            results.update(_classify(runs, images))
        if "segment" in demos:
            results.update(_segment(runs, images))
        if "detect" in demos:
            results.update(_detect(runs, images))
        if "lmhead" in demos:
            results.update(_lmhead(runs, images))
    focal_curves([0.0, 0.5, 1.0, 2.0, 5.0], images / "focal-curves.png", stream=io.StringIO())
    for page in PAGES:
        path = root / page
        path.write_text(replace_results(path.read_text(), results))
    return results


def _classify(runs: Path, images: Path) -> dict[str, str]:
    from .classify import ClassifyConfig
    from .classify import run as run_classify

    results: dict[str, str] = {}
    spread = []
    for seed in SEEDS:
        record, seconds = _timed(run_classify, ClassifyConfig(
            seed=seed, quiet=True, out=str(runs / f"classify-{seed}")))
        spread.append(record["results"])
        if seed == 0:
            classify, results["classify-time"] = record, f"{seconds:.0f} s"
    for name, figure in (("classify-0/training_loss.png", "demo-classify-training.png"),
                         ("classify-0/per_class_recall.png", "demo-classify-recall.png")):
        shutil.copyfile(runs / name, images / figure)
    metrics = ["accuracy", "balanced_accuracy", "macro_f1", "rare_recall"]
    results["classify"] = markdown_table(
        _named(classify["results"], CLASSIFY_NAMES),
        [("name", "loss", ""), ("accuracy", "accuracy", ".3f"),
         ("balanced_accuracy", "balanced acc.", ".3f"), ("macro_f1", "macro-F1", ".3f"),
         ("rare_recall", "recall of the 3 rarest digits", ".3f"), ("seconds", "training s", ".1f")],
        bold=metrics)
    summary = []
    for i, row in enumerate(classify["results"]):
        entry = {"name": CLASSIFY_NAMES[row["loss"]].replace(" (β = 0.99)", "")}
        for key in metrics[1:]:
            values = np.array([seed_rows[i][key] for seed_rows in spread])
            entry[key] = f"{values.mean():.3f} ± {values.std(ddof=1):.3f}"
        summary.append(entry)
    results["classify-seeds"] = markdown_table(
        summary, [("name", "loss", ""), ("balanced_accuracy", "balanced acc.", ""),
                  ("macro_f1", "macro-F1", ""),
                  ("rare_recall", "recall of the 3 rarest digits", "")])
    return results


def _segment(runs: Path, images: Path) -> dict[str, str]:
    from .segment import SegmentConfig
    from .segment import run as run_segment

    segment, seconds = _timed(run_segment, SegmentConfig(quiet=True, out=str(runs / "seg")))
    shutil.copyfile(runs / "seg" / "segmentation.png", images / "demo-segment.png")
    return {"segment-time": f"{seconds:.0f} s", "segment": markdown_table(
        _named(segment["results"], SEGMENT_NAMES),
        [("name", "loss", ""), ("miou", "mIoU (foreground)", ".3f"),
         ("iou_disk", "IoU disk", ".3f"), ("iou_square", "IoU square", ".3f"),
         ("iou_ring", "IoU ring", ".3f"), ("cldice_ring", "clDice ring", ".3f"),
         ("seconds", "training s", ".1f")],
        bold=["miou", "iou_disk", "iou_square", "iou_ring", "cldice_ring"])}


def _detect(runs: Path, images: Path) -> dict[str, str]:
    from .detect import DetectConfig
    from .detect import run as run_detect

    detect, seconds = _timed(run_detect, DetectConfig(quiet=True, out=str(runs / "det")))
    shutil.copyfile(runs / "det" / "detect_loss.png", images / "demo-detect.png")
    return {"detect-time": f"{seconds:.0f} s", "detect": markdown_table(
        _named(detect["results"], DETECT_NAMES),
        [("name", "loss", ""), ("first_loss", "loss at step 1", ".2f"),
         ("final_loss", "final loss", ".3f"), ("diverged", "diverged", ""),
         ("average_precision", "AP (held-out)", ".3f")], bold=["average_precision"])}


LMHEAD_NAMES = {"ce": "cross entropy, materialised logits",
                "linear-ce": "cross entropy, `LinearSoftmaxFocalLoss` (γ = 0)",
                "linear-focal": "focal, `LinearSoftmaxFocalLoss` (γ = 2)"}


def _lmhead(runs: Path, images: Path) -> dict[str, str]:
    from .lmhead import LMHeadConfig
    from .lmhead import run as run_lmhead

    lmhead, seconds = _timed(run_lmhead, LMHeadConfig(quiet=True, out=str(runs / "lm")))
    shutil.copyfile(runs / "lm" / "lmhead.png", images / "demo-lmhead.png")
    tokens = lmhead["data"]["bucket_tokens"]
    return {"lmhead-time": f"{seconds:.0f} s", "lmhead": markdown_table(
        _named(lmhead["results"], LMHEAD_NAMES),
        [("name", "loss", ""), ("peak_mib", "peak MiB", ".1f"),
         ("accuracy", "held-out accuracy", ".3f"),
         ("acc_frequent", f"frequent ({tokens['frequent']:,} tokens)", ".3f"),
         ("acc_medium", f"medium ({tokens['medium']:,})", ".3f"),
         ("acc_rare", f"rare ({tokens['rare']:,})", ".3f"), ("seconds", "training s", ".1f")],
        bold=["accuracy", "acc_frequent", "acc_medium", "acc_rare"])}


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the options and regenerate."""
    parser = argparse.ArgumentParser(
        prog="python -m focalkit.demos.regenerate",
        description="Rerun the demos with their defaults and rewrite the tables, run times and "
                    "figures in README.md, docs/demo-results.md, docs/large-classes.md and "
                    "docs/images/.")
    parser.add_argument("--root", type=Path, default=Path("."),
                        help="the repository root (default: the current folder)")
    parser.add_argument("--demos", nargs="+", choices=DEMOS, default=list(DEMOS),
                        metavar="DEMO",
                        help=f"the demos to rerun, among {', '.join(DEMOS)}; the others' "
                             f"results stay as they are (default: all)")
    args = parser.parse_args(argv)
    for name, text in regenerate(args.root, args.demos).items():
        print(f"{name}:\n{text}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
