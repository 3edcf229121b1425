"""This checkout's focalkit against an earlier commit's, forward+backward, in one process.

The earlier commit's ``src/focalkit`` is extracted with ``git archive`` into a temporary
directory and imported as the package ``focalkit_then`` (the library imports itself only
relatively), so both versions run in alternating rounds of the same process, next to the
peers of each problem:

* ``sigmoid_focal``: logits ``(2, 100000, 80)``, alpha=0.25, gamma=2 (see ``focal.py``);
* ``softmax_focal``: logits ``(16, 19, 128, 128)``, gamma=2;
* ``dice``: logits ``(16, 19, 128, 128)``, multi-class soft Dice over the batch;
* ``lovasz_softmax`` and ``lovasz_softmax_per_image``: logits ``(8, 19, 256, 256)``.

Each benchmark is recorded as ``"<name> vs <commit>"``. Run from the repository root:
``python benchmarks/versions.py --commit 665f5e5 [--only sigmoid_focal,dice] [--quick]``.
"""

from __future__ import annotations

import argparse
import importlib
import io
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import focal
import harness
import region

import focalkit.functional as fk

SHAPES = {
    "sigmoid_focal": (2, 100000, 80),
    "softmax_focal": (16, 19, 128, 128),
    "dice": (16, 19, 128, 128),
    "lovasz_softmax": (8, 19, 256, 256),
    "lovasz_softmax_per_image": (8, 19, 256, 256),
}
QUICK_SHAPES = {
    "sigmoid_focal": (2, 1000, 80),
    "softmax_focal": (2, 19, 32, 32),
    "dice": (2, 19, 32, 32),
    "lovasz_softmax": (2, 19, 32, 32),
    "lovasz_softmax_per_image": (2, 19, 32, 32),
}


def load_commit(commit: str, folder: Path):
    """``focalkit.functional`` of ``commit``, imported as ``focalkit_then.functional``."""
    archive = subprocess.run(["git", "archive", commit, "src/focalkit"], check=True,
                             capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    (folder / "src" / "focalkit").rename(folder / "focalkit_then")
    sys.path.insert(0, str(folder))
    return importlib.import_module("focalkit_then.functional")


def variants(then, commit: str) -> dict:
    """``{benchmark: (data cache, {variant: setup})}`` for both versions and the peers."""
    def sigmoid(module):
        return lambda shape: (focal.sigmoid_data(shape), lambda x, y: module.sigmoid_focal_loss(
            x, y, alpha=0.25, gamma=2.0))

    def softmax(module):
        return lambda shape: (focal.softmax_data(shape),
                              lambda x, t: module.softmax_focal_loss(x, t, gamma=2.0))

    def dice(module):
        return lambda shape: (region.data(shape), module.dice_loss)

    def lovasz(module, per_image):
        return lambda shape: (region.data(shape), lambda x, t: module.lovasz_softmax_loss(
            x, t, per_image=per_image))

    earlier = f"focalkit {commit}"
    return {
        "sigmoid_focal": (focal.sigmoid_data, {
            "focalkit": sigmoid(fk), earlier: sigmoid(then),
            "torch formula": focal.sig_plain, "kornia": focal.sig_kornia,
            "monai": focal.sig_monai, "smp": focal.sig_smp}),
        "softmax_focal": (focal.softmax_data, {
            "focalkit": softmax(fk), earlier: softmax(then),
            "torch formula": focal.soft_plain, "kornia": focal.soft_kornia}),
        "dice": (region.data, {
            "focalkit": dice(fk), earlier: dice(then),
            "smp": region.dice_smp, "monai": region.dice_monai}),
        "lovasz_softmax": (region.data, {
            "focalkit": lovasz(fk, False), earlier: lovasz(then, False),
            "smp": region.lovasz_smp(False)}),
        "lovasz_softmax_per_image": (region.data, {
            "focalkit": lovasz(fk, True), earlier: lovasz(then, True),
            "smp": region.lovasz_smp(True)}),
    }


def main() -> None:
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--commit", default="665f5e5")
    pre.add_argument("--only", default=",".join(SHAPES))
    known, rest = pre.parse_known_args()
    args = harness.cli(__doc__.splitlines()[0], rest)
    shapes = QUICK_SHAPES if args.quick else SHAPES
    with tempfile.TemporaryDirectory() as folder:
        then = load_commit(known.commit, Path(folder))
        table = variants(then, known.commit)
        for name in known.only.split(","):
            cache, group = table[name]
            shape = shapes[name]
            print(f"Agreement of the two versions, {name} {QUICK_SHAPES[name]}:")
            harness.agree(QUICK_SHAPES[name], {k: v for k, v in group.items()
                                               if k.startswith("focalkit")})
            cache.cache_clear()
            harness.compare(f"{name} vs {known.commit}", shape, group, rounds=args.rounds,
                            csv_path=args.csv, idle_wait=args.idle_wait,
                            notes={f"focalkit {known.commit}": "the earlier commit"})
            cache.cache_clear()
    if not args.no_render:
        harness.render(args.csv, args.md)


if __name__ == "__main__":
    main()
