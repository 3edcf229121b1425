"""Loss over a linear layer, forward+backward: focalkit's chunked kernel against the logits.

Features ``(4096, 512)`` float32, a weight ``(C, 512)`` with C in 4096, 32768 and 131072
classes, int64 class targets, mean reduction, on the CPU. The variants:

* ``focalkit``: :func:`focalkit.functional.linear_softmax_focal_loss` with ``gamma=0``
  (cross-entropy) and ``gamma=2``, and ``gamma=2`` with ``reduction="none"`` summed (the path
  that computes the logits again in backward, a fourth matrix product);
* ``materialised``: the composition itself, ``F.cross_entropy(x @ W.T, t)`` and
  ``softmax_focal_loss(x @ W.T, t, gamma=2)``, and ``torch.compile`` of the former;
* torch's ``F.linear_cross_entropy`` on its reference path (``options=None``) and on its
  chunked path (``options=LinearCrossEntropyOptions()``);
* under ``torch.compile``: focalkit's loss (which compiles its plain composition, in one
  graph) and torch's chunked path (which breaks the graph and runs eagerly).

Time is measured in interleaved rounds in one process (``harness.compare``); the peak memory
growth of each variant in a fresh process of its own (``harness.peak_growth``). Run from the
repository root: ``python benchmarks/linear.py [--quick] [--classes 32768 ...]
[--only "focalkit, gamma=0" "materialised CE" ...]`` (``--only`` runs the variants named, the
first one as the baseline, and skips the agreement checks).
"""

from __future__ import annotations

import argparse
import functools
import json
import subprocess
import sys
import time

import harness
import torch
import torch.nn.functional as F

import focalkit.functional as fk

ROWS, FEATURES = 4096, 512
CLASSES = (4096, 32768, 131072)
QUICK_SHAPES = [(256, 32, 512), (256, 32, 2048)]
CHECK_SHAPE = (512, 64, 4096)


@functools.cache
def data(shape: tuple) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Features and weight (both require grad; logits of unit scale) and targets."""
    rows, features, classes = shape
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(rows, features, generator=gen).requires_grad_()
    w = (torch.randn(classes, features, generator=gen) / features ** 0.5).requires_grad_()
    t = torch.randint(0, classes, (rows,), generator=gen)
    return x, w, t


def materialised_ce(x, w, t):
    return F.cross_entropy(x @ w.T, t)


def materialised_focal(x, w, t):
    return fk.softmax_focal_loss(x @ w.T, t, gamma=2.0)


def focalkit_ce(x, w, t):
    return fk.linear_softmax_focal_loss(x, w, t, gamma=0.0)


def torch_chunked(x, w, t):
    return F.linear_cross_entropy(x, w, t, options=torch.nn.LinearCrossEntropyOptions())


def _variant(fn):
    return lambda shape: (data(shape), fn)


VARIANTS = {
    "focalkit, gamma=0": _variant(lambda x, w, t: fk.linear_softmax_focal_loss(x, w, t,
                                                                               gamma=0.0)),
    "focalkit, gamma=2": _variant(lambda x, w, t: fk.linear_softmax_focal_loss(x, w, t,
                                                                               gamma=2.0)),
    "focalkit, gamma=2, none + sum": _variant(lambda x, w, t: fk.linear_softmax_focal_loss(
        x, w, t, gamma=2.0, reduction="none").sum() / t.numel()),
    "materialised CE": _variant(materialised_ce),
    "materialised focal, gamma=2": _variant(materialised_focal),
    "torch.compile(materialised CE)": lambda shape: (
        data(shape), torch.compile(materialised_ce, dynamic=False)),
    "torch linear_cross_entropy": _variant(lambda x, w, t: F.linear_cross_entropy(x, w, t)),
    "torch linear_cross_entropy, chunked": _variant(lambda x, w, t: F.linear_cross_entropy(
        x, w, t, options=torch.nn.LinearCrossEntropyOptions())),
    "torch.compile(focalkit, gamma=0)": lambda shape: (
        data(shape), torch.compile(focalkit_ce, dynamic=False, fullgraph=True)),
    "torch.compile(torch linear_cross_entropy, chunked)": lambda shape: (
        data(shape), torch.compile(torch_chunked, dynamic=False)),
}

NOTES = {
    "focalkit, gamma=2, none + sum": "logits computed again in backward",
    "materialised CE": "F.cross_entropy(x @ W.T, t)",
    "materialised focal, gamma=2": "softmax_focal_loss(x @ W.T, t)",
    "torch.compile(materialised CE)": "warm-up includes compilation",
    "torch linear_cross_entropy": "options=None (reference path)",
    "torch linear_cross_entropy, chunked": "options=LinearCrossEntropyOptions()",
    "torch.compile(focalkit, gamma=0)": "fullgraph=True: the plain composition, compiled",
    "torch.compile(torch linear_cross_entropy, chunked)": "graph break: runs eagerly",
}

BASELINE = "focalkit, gamma=0"


def peak_in_fresh_process(name: str, shape: tuple, threads: int) -> int:
    """:func:`harness.peak_growth` of one variant, measured by a fresh Python process."""
    command = [sys.executable, __file__, "--peak-of", name, "--shape",
               ",".join(map(str, shape)), "--threads", str(threads)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return int(json.loads(done.stdout.strip().splitlines()[-1])["peak_bytes"])


def main(argv: list[str] | None = None) -> None:
    own = argparse.ArgumentParser(add_help=False)
    own.add_argument("--classes", type=int, nargs="+", default=list(CLASSES),
                     help="numbers of classes to run (4096 32768 131072)")
    own.add_argument("--only", nargs="+", choices=list(VARIANTS), metavar="VARIANT",
                     help="variants to run, the first as the baseline (all)")
    own.add_argument("--peak-of", help=argparse.SUPPRESS)
    own.add_argument("--shape", help=argparse.SUPPRESS)
    known, rest = own.parse_known_args(argv)
    if known.peak_of is not None:
        # A child of peak_in_fresh_process: measure one variant and report.
        torch.set_num_threads(harness.cli("", rest).threads)
        inputs, fn = VARIANTS[known.peak_of](tuple(int(v) for v in known.shape.split(",")))
        print(json.dumps({"peak_bytes": harness.peak_growth(inputs, fn)}))
        return
    args = harness.cli(__doc__.splitlines()[0] + " Also: --classes C [C ...].", rest)
    shapes = QUICK_SHAPES if args.quick else [(ROWS, FEATURES, c) for c in known.classes]
    check = QUICK_SHAPES[0] if args.quick else CHECK_SHAPE
    variants = VARIANTS if known.only is None else {k: VARIANTS[k] for k in known.only}
    baseline = BASELINE if known.only is None else known.only[0]
    if known.only is None:
        same = ("focalkit, gamma=0", "materialised CE", "torch linear_cross_entropy",
                "torch linear_cross_entropy, chunked", "torch.compile(focalkit, gamma=0)")
        print(f"Agreement with focalkit, cross-entropy {check}:")
        harness.agree(check, {k: VARIANTS[k] for k in same}, baseline=BASELINE)
        print(f"Agreement with focalkit, focal gamma=2 {check}:")
        focal = ("focalkit, gamma=2", "focalkit, gamma=2, none + sum",
                 "materialised focal, gamma=2")
        harness.agree(check, {k: VARIANTS[k] for k in focal}, baseline="focalkit, gamma=2")
        data.cache_clear()

    start = time.perf_counter()
    for shape in shapes:
        peaks = {}
        for name in variants:
            peaks[name] = peak_in_fresh_process(name, shape, args.threads)
            print(f"[linear_head {shape}] {name}: peak growth {peaks[name] / 2**20:.1f} MiB",
                  flush=True)
        harness.compare("linear_head", shape, variants, rounds=args.rounds, baseline=baseline,
                        csv_path=args.csv, notes=NOTES, idle_wait=args.idle_wait,
                        peak=peaks.get)
        data.cache_clear()
    harness.finish(args, start)


if __name__ == "__main__":
    main()
