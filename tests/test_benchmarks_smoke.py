"""The benchmark harness runs end to end on tiny inputs (no timing is checked)."""

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def harness():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        yield __import__("harness")
    finally:
        sys.path.remove(str(BENCHMARKS))


def _square(shape):
    x = torch.randn(shape, requires_grad=True)
    return (x,), lambda x: (x * x).sum()


def _missing(shape):
    raise ImportError("not installed")


def test_compare_and_render(harness, tmp_path):
    csv_path, md_path = tmp_path / "results.csv", tmp_path / "benchmarks.md"
    variants = {"focalkit": _square, "other": _square, "absent": _missing}
    rows = harness.compare("tiny", (3, 4), variants, rounds=1, csv_path=csv_path,
                           notes={"other": "a note"})
    assert [row["variant"] for row in rows] == ["focalkit", "other"]
    assert rows[0]["baseline_speedup"] == 1.0
    # x * x saves x twice (the input itself): nothing extra.
    assert rows[0]["saved_bytes"] == 12 * 4 and rows[0]["extra_saved_bytes"] == 0
    harness.compare("tiny", (3, 4), variants, rounds=1, csv_path=csv_path)
    assert len(csv_path.read_text().splitlines()) == 1 + 4
    text = harness.render(csv_path, md_path)
    assert md_path.read_text() == text
    assert "## tiny, shape 3 x 4" in text and "| other |" in text
    assert text.count("| focalkit |") == 1


def _fixed(shape):
    return torch.randn(shape, generator=torch.Generator().manual_seed(0)).requires_grad_()


def _fixed_square(shape):
    return (_fixed(shape),), lambda x: (x * x).sum()


def _half_gradient(shape):
    """The loss of _fixed_square with half its gradient: only the gradients differ."""
    return (_fixed(shape),), lambda x: (x * x.detach()).sum()


def test_agree_compares_gradients_as_well_as_losses(harness):
    diffs = harness.agree((3, 4), {"focalkit": _fixed_square, "half": _half_gradient})
    loss_diff, grad_diff = diffs["half"]
    assert loss_diff == 0.0
    assert grad_diff == pytest.approx(float(_fixed((3, 4)).detach().abs().max()), rel=1e-6)


def test_focal_benchmark_variants(harness, tmp_path):
    focal = importlib.import_module("focal")
    variants = {name: focal.SIGMOID_VARIANTS[name] for name in ("focalkit", "torch formula")}
    diffs = harness.agree((2, 8, 5), variants)
    assert diffs["focalkit"] == (0.0, 0.0)
    loss_diff, grad_diff = diffs["torch formula"]
    assert loss_diff < 1e-6 and grad_diff < 1e-6
    rows = harness.compare("sigmoid", (2, 8, 5), variants, rounds=1,
                           csv_path=tmp_path / "r.csv")
    assert len(rows) == 2


def test_smp_losses_load_without_package_init(harness):
    if importlib.util.find_spec("segmentation_models_pytorch") is None:
        pytest.skip("segmentation_models_pytorch is not installed")
    losses = harness.load_smp_losses()
    assert hasattr(losses, "FocalLoss")


@pytest.mark.parametrize("name", ["hausdorff_dt", "boundary", "soft_cldice"])
def test_boundary_benchmark_variants_agree(harness, name):
    pytest.importorskip("monai")
    region = importlib.import_module("region")
    diffs = harness.agree(region.QUICK_BOUNDARY_SHAPE, region.boundary_variants(name))
    loss_diff, grad_diff = diffs["monai"]
    assert loss_diff < 1e-6 and grad_diff < 1e-6
    region.regions.cache_clear()


def test_distance_transform_benchmark_variants(harness, tmp_path):
    pytest.importorskip("scipy")
    region = importlib.import_module("region")
    diffs = harness.agree(region.QUICK_BOUNDARY_3D_SHAPE, region.EDT_VARIANTS)
    assert diffs["scipy"][0] < 1e-3
    rows = harness.compare("edt", region.QUICK_BOUNDARY_SHAPE, region.EDT_VARIANTS, rounds=1,
                           csv_path=tmp_path / "r.csv")
    assert [row["variant"] for row in rows] == ["focalkit", "scipy"]
    region.regions.cache_clear()


def test_versions_benchmark_runs_an_earlier_commit(harness, tmp_path, monkeypatch):
    versions = importlib.import_module("versions")
    monkeypatch.chdir(BENCHMARKS.parent)
    monkeypatch.setattr(sys, "path", list(sys.path))
    then = versions.load_commit("HEAD", tmp_path / "then")
    assert then.__name__ == "focalkit_then.functional"
    group = {name: setup for name, setup in versions.variants(then, "HEAD")["dice"][1].items()
             if name.startswith("focalkit")}
    diffs = harness.agree(versions.QUICK_SHAPES["dice"], group)
    assert diffs["focalkit HEAD"] == (0.0, 0.0)
    for name in [m for m in sys.modules if m.startswith("focalkit_then")]:
        del sys.modules[name]
