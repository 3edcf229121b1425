"""The GPU benchmark script runs end to end on the CPU (``--device cpu --quick``); no timing is
checked."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def test_gpu_benchmark_quick_on_cpu(tmp_path, monkeypatch):
    pytest.importorskip("triton")
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    for name in ("gpu", "harness"):
        sys.modules.pop(name, None)
    import gpu

    csv_path, md_path = tmp_path / "gpu.csv", tmp_path / "benchmarks.md"
    gpu.main(["--device", "cpu", "--quick", "--rounds", "1", "--warmup", "1",
              "--compile-backend", "aot_eager", "--csv", str(csv_path), "--md", str(md_path)])
    with open(csv_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    problems = {row["benchmark"] for row in rows}
    assert problems == {"sigmoid_focal", "softmax_focal", "dice", "lovasz_softmax",
                        "linear_head"}
    variants = {row["variant"] for row in rows}
    assert {"focalkit triton", "focalkit plain", "torch formula",
            "torch.compile(torch formula)"} <= variants
    assert all(float(row["bandwidth_gbs"]) >= 0 for row in rows)
    text = md_path.read_text()
    assert "## GPU" in text and "### sigmoid_focal, shape 2 x 300 x 8, bfloat16" in text


def test_unmeasured_gpu_section(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    sys.modules.pop("harness", None)
    import harness

    text = harness.render(None, tmp_path / "b.md", gpu_csv_path=tmp_path / "absent.csv")
    assert "Not measured on a GPU yet" in text
