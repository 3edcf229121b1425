"""Every demo end to end on tiny settings, and the helpers they are built from."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
import torch

pytest.importorskip("sklearn")
pytest.importorskip("tqdm")
image = pytest.importorskip("matplotlib.image")

from focalkit import cli  # noqa: E402
from focalkit.demos import data  # noqa: E402
from focalkit.demos.common import DemoError, format_table  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: a second thread only waits on the first
    yield
    torch.set_num_threads(threads)


def _check_png(path):
    assert path.read_bytes()[:8] == PNG_SIGNATURE, path
    pixels = image.imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 100 and pixels.shape[1] > 100
    assert path.stat().st_size < 300_000


def _rows(out):
    with open(out / "results.csv", newline="") as f:
        return list(csv.DictReader(f))


def _table_rows(text, labels):
    lines = text.splitlines()
    return [line for line in lines if any(line.startswith(label + " ") for label in labels)]


def _run(argv, capsys):
    assert cli.main(argv) == 0
    return capsys.readouterr()


def test_classify_end_to_end(tmp_path, capsys):
    from focalkit.demos.classify import LOSSES

    out = tmp_path / "run"
    printed = _run(["demo", "--epochs", "2", "--quiet", "--out", str(out)], capsys)
    rows = _rows(out)
    assert [r["loss"] for r in rows] == list(LOSSES)
    labels = [label for label, _ in LOSSES.values()]
    assert len(_table_rows(printed.out, labels)) == len(LOSSES)
    for row in rows:
        for key in ("accuracy", "balanced_accuracy", "macro_f1", "rare_recall"):
            assert 0.0 <= float(row[key]) <= 1.0
        assert float(row["seconds"]) > 0
    record = json.loads((out / "results.json").read_text())
    assert record["seed"] == 0 and record["config"]["epochs"] == 2
    assert record["config"]["imbalance"] == 50.0
    assert {"torch", "numpy", "scikit-learn", "focalkit"} <= set(record["versions"])
    counts = record["data"]["train_counts"]
    assert counts == sorted(counts, reverse=True) and counts[0] >= 40 * counts[-1]
    assert len(set(record["data"]["test_counts"])) == 1  # balanced test split
    for result in record["results"]:
        assert len(result["train_loss"]) == 2 and len(result["per_class_recall"]) == 10
    for name in ("training_loss.png", "per_class_recall.png"):
        _check_png(out / name)
    assert printed.err == ""  # --quiet: no progress bars


def test_classify_runs_share_initialisation_and_batch_order(tmp_path, capsys):
    """A loss gives the same numbers whether it is trained alone or after others."""
    _run(["demo", "--epochs", "2", "--quiet", "--losses", "ce", "focal", "--imbalance", "10",
          "--out", str(tmp_path / "a")], capsys)
    _run(["demo", "classify", "--epochs", "2", "--quiet", "--losses", "focal",
          "--imbalance", "10", "--out", str(tmp_path / "b")], capsys)
    a = json.loads((tmp_path / "a" / "results.json").read_text())["results"]
    b = json.loads((tmp_path / "b" / "results.json").read_text())["results"]
    assert [r["loss"] for r in a] == ["ce", "focal"]
    assert a[1]["train_loss"] == b[0]["train_loss"]
    assert a[1]["per_class_recall"] == b[0]["per_class_recall"]


def test_classify_progress_bars_and_default_out(tmp_path, capsys, monkeypatch):
    import sys

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    printed = _run(["demo", "--epochs", "3", "--losses", "focal-warmup"], capsys)
    assert "focal g: 0->2 warm-up" in printed.err and "\r" in printed.err  # the tqdm bar
    runs = list((tmp_path / "focalkit-runs").iterdir())
    assert len(runs) == 1 and (runs[0] / "results.json").is_file()


def test_a_log_gets_one_line_per_loss_and_rounded_metrics(tmp_path, capsys):
    """stderr redirected to a file: no carriage-return redraws; results.csv has no float noise."""
    out = tmp_path / "run"
    printed = _run(["demo", "--epochs", "3", "--losses", "ce", "focal", "--imbalance", "10",
                    "--out", str(out)], capsys)
    assert "\r" not in printed.err
    lines = printed.err.splitlines()
    assert len(lines) == 2 and lines[0].startswith("CE: 3/3, loss ")
    for row in _rows(out):
        for key in ("accuracy", "balanced_accuracy", "macro_f1", "rare_recall", "seconds"):
            assert len(row[key].partition(".")[2]) <= 6, (key, row[key])


def _write_tiny_mnist(folder, rng):
    folder.mkdir()
    for part, per_class, suffix in (("train", 6, ".gz"), ("t10k", 2, "")):
        labels = np.repeat(np.arange(10, dtype=np.uint8), per_class)
        images = rng.integers(0, 256, (len(labels), 28, 28), dtype=np.uint8)
        images[:, labels, labels] = 255  # make the classes separable
        data.write_idx(folder / f"{part}-images-idx3-ubyte{suffix}", images)
        data.write_idx(folder / f"{part}-labels-idx1-ubyte{suffix}", labels)


def test_classify_on_tiny_mnist_idx_files(tmp_path, capsys):
    _write_tiny_mnist(tmp_path / "mnist", np.random.default_rng(0))
    out = tmp_path / "run"
    printed = _run(["demo", "--dataset", "mnist", "--data-dir", str(tmp_path / "mnist"),
                    "--epochs", "1", "--losses", "ce,focal-cb", "--quiet", "--out", str(out)],
                   capsys)
    assert "MNIST (28x28)" in printed.out
    record = json.loads((out / "results.json").read_text())
    assert record["data"]["train_counts"][0] == 6 and record["data"]["train_counts"][-1] == 1
    assert record["data"]["test_counts"] == [2] * 10
    assert len(_rows(out)) == 2


def test_segment_end_to_end(tmp_path, capsys):
    from focalkit.demos.segment import LOSSES

    out = tmp_path / "seg"
    printed = _run(["demo", "segment", "--epochs", "1", "--train-images", "4",
                    "--test-images", "3", "--size", "16", "--quiet", "--out", str(out)], capsys)
    rows = _rows(out)
    assert [r["loss"] for r in rows] == list(LOSSES)
    assert len(_table_rows(printed.out, [label for label, _ in LOSSES.values()])) == len(LOSSES)
    assert {"miou", "iou_disk", "iou_square", "iou_ring", "seconds"} <= set(rows[0])
    assert json.loads((out / "results.json").read_text())["demo"] == "segment"
    _check_png(out / "segmentation.png")


def test_detect_end_to_end(tmp_path, capsys):
    from focalkit.demos.detect import LOSSES

    out = tmp_path / "det"
    printed = _run(["demo", "detect", "--steps", "3", "--train-images", "2", "--test-images",
                    "2", "--size", "32", "--quiet", "--out", str(out)], capsys)
    rows = _rows(out)
    assert [r["loss"] for r in rows] == list(LOSSES)
    assert len(_table_rows(printed.out, [label for label, _ in LOSSES.values()])) == len(LOSSES)
    first = {r["loss"]: float(r["first_loss"]) for r in rows}
    # same initial weights: the prior bias lowers the first loss, focal lowers it further
    assert first["focal-prior"] < first["bce-prior"] < first["bce"]
    assert first["focal-prior"] < first["focal"] < first["bce"]
    # QFL and VFL on 0/1 targets: no alpha on the positives, so above focal's start
    for key in ("qfl-prior", "vfl-prior"):
        assert first["focal-prior"] < first[key] < first["bce-prior"]
    assert all(r["diverged"] in ("yes", "no") for r in rows)
    _check_png(out / "detect_loss.png")


def test_lmhead_end_to_end(tmp_path, capsys):
    from focalkit.demos.lmhead import LOSSES

    out = tmp_path / "lm"
    printed = _run(["demo", "lmhead", "--vocab", "300", "--train-tokens", "400", "--epochs",
                    "2", "--quiet", "--out", str(out)], capsys)
    rows = _rows(out)
    assert [r["loss"] for r in rows] == list(LOSSES)
    assert len(_table_rows(printed.out, [label for label, _ in LOSSES.values()])) == len(LOSSES)
    record = json.loads((out / "results.json").read_text())
    results = {r["loss"]: r for r in record["results"]}
    # the same loss, fused or materialised: the same training, up to rounding
    np.testing.assert_allclose(results["linear-ce"]["train_loss"],
                               results["ce"]["train_loss"], rtol=1e-4)
    assert results["linear-focal"]["train_loss"][0] < results["ce"]["train_loss"][0]
    assert sum(record["data"]["bucket_tokens"].values()) == record["data"]["seen_tokens"]
    _check_png(out / "lmhead.png")


def test_ldam_drw_switches_its_class_weights_on_late():
    import focalkit
    from focalkit.demos.classify import DRW_FRACTION, build_loss

    counts = [40, 10, 2]
    loss, scheduler = build_loss("ldam-drw", counts, beta=0.99, total_steps=10)
    assert isinstance(loss, focalkit.LDAMLoss) and loss.scale == 1.0
    switched = []
    for _ in range(10):
        switched.append(loss.weight is not None)
        scheduler.step()
    assert switched.index(True) == int(DRW_FRACTION * 10)
    assert torch.allclose(loss.weight, focalkit.class_weights(
        counts=counts, method="effective_number", beta=0.99))


def test_asl_row_trains_on_one_hot_targets():
    from focalkit.demos.classify import build_loss
    from focalkit.functional import asymmetric_loss

    loss, scheduler = build_loss("asl", [5, 3, 1], beta=0.99, total_steps=1)
    x, y = torch.randn(4, 3), torch.tensor([0, 2, 1, 2])
    one_hot = torch.nn.functional.one_hot(y, 3).float()
    expected = asymmetric_loss(x, one_hot, reduction="sum") / 4
    assert scheduler is None and torch.allclose(loss(x, y), expected)


def test_regenerate_reruns_only_the_demos_named(tmp_path, monkeypatch):
    from focalkit.demos import plots, regenerate

    (tmp_path / "docs" / "images").mkdir(parents=True)
    page = "<!-- result: {0} -->\nold {0}\n<!-- /result -->\n"
    for path in regenerate.PAGES:
        (tmp_path / path).write_text("".join(page.format(name) for name in regenerate.DEMOS))
    ran = []
    for demo in regenerate.DEMOS:
        monkeypatch.setattr(regenerate, f"_{demo}",
                            lambda runs, images, demo=demo: ran.append(demo) or {demo: "new"})
    monkeypatch.setattr(plots, "focal_curves", lambda *args, **kwargs: None)
    assert regenerate.main(["--root", str(tmp_path), "--demos", "classify", "detect"]) == 0
    assert ran == ["classify", "detect"]
    text = (tmp_path / "README.md").read_text()
    assert "\nnew\n" in text and "old segment" in text and "old classify" not in text


def test_plot_curves_and_table(tmp_path, capsys):
    path = tmp_path / "figs" / "curves.png"
    printed = _run(["plot", "curves", "--table", "--out", str(path)], capsys)
    _check_png(path)
    lines = printed.out.splitlines()
    assert lines[0].split() == ["p_t", "gamma=0", "gamma=0.5", "gamma=1", "gamma=2", "gamma=5"]
    row = next(line.split() for line in lines if line.startswith("0.5 "))
    assert float(row[1]) == pytest.approx(np.log(2), abs=1e-4)  # gamma=0: cross entropy
    assert float(row[4]) == pytest.approx(0.25 * np.log(2), abs=1e-4)  # (1 - 0.5)**2


def test_plot_schedule(tmp_path, capsys):
    path = tmp_path / "schedule.png"
    printed = _run(["plot", "schedule", "--schedule", "linear", "step", "--total-steps", "8",
                    "--milestones", "2", "4", "--steps", "8", "--table", "--out", str(path)],
                   capsys)
    _check_png(path)
    lines = printed.out.splitlines()
    assert lines[0].split() == ["step", "linear", "step"]
    assert lines[-2].split() == ["8", "2.000", "2.000"]


def test_plot_schedule_rejects_bad_milestones(tmp_path, capsys):
    assert cli.main(["plot", "schedule", "--schedule", "step", "--milestones", "5", "3",
                     "--out", str(tmp_path / "s.png")]) == 2
    assert "milestones" in capsys.readouterr().err


def test_long_tail_counts():
    counts = data.long_tail_counts(500, 10, 100.0)
    assert counts[0] == 500 and counts[-1] == 5
    assert all(a >= b for a, b in zip(counts, counts[1:], strict=False))
    assert data.long_tail_counts(3, 5, 1e6)[-1] == 1  # never drops a class


def test_read_idx_errors(tmp_path):
    bad = tmp_path / "bad-idx1-ubyte"
    bad.write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(DemoError, match="not an IDX file"):
        data.read_idx(bad)
    short = tmp_path / "short-idx1-ubyte"
    short.write_bytes(bytes([0, 0, 8, 1]) + (10).to_bytes(4, "big") + b"\x00" * 3)
    with pytest.raises(DemoError, match="truncated"):
        data.read_idx(short)
    with pytest.raises(DemoError, match="file not found"):
        data.read_idx(tmp_path / "missing-idx1-ubyte")


def test_synthetic_data_is_seeded_and_sparse():
    images, masks = data.make_segmentation(8, 64, seed=3)
    again, masks_again = data.make_segmentation(8, 64, seed=3)
    assert np.array_equal(images, again) and np.array_equal(masks, masks_again)
    assert 0.005 < (masks > 0).mean() < 0.05
    _, targets = data.make_detection(4, 64, seed=3)
    assert targets[0].size >= 10_000
    assert 0.0005 < targets.mean() < 0.002


def test_format_table_shows_nan_as_dash():
    text = format_table([{"a": "x", "b": float("nan")}], [("a", "A", ""), ("b", "B", ".2f")])
    assert text.splitlines()[-1].split() == ["x", "-"]


def test_write_csv_rounds_floats(tmp_path):
    from focalkit.demos.common import write_csv

    write_csv(tmp_path / "r.csv", [{"name": "ce", "recall": 333 / 400 + 1e-16, "n": 3}],
              ["name", "recall", "n"])
    assert (tmp_path / "r.csv").read_text().splitlines() == ["name,recall,n", "ce,0.8325,3"]


@pytest.fixture
def saved_figures(monkeypatch):
    """The figures the demos save, kept for inspection."""
    from focalkit.demos import plotting

    figures = []
    save = plotting.save

    def keep(fig, path):
        figures.append(fig)
        return save(fig, path)

    monkeypatch.setattr(plotting, "save", keep)
    return figures


def test_recall_figure_says_which_loss_wins_on_the_rarest_classes(tmp_path, capsys,
                                                                   saved_figures):
    _run(["demo", "--epochs", "2", "--quiet", "--losses", "ce", "ce-weighted",
          "--out", str(tmp_path)], capsys)
    rows = json.loads((tmp_path / "results.json").read_text())["results"]
    ax = saved_figures[1].axes[0]
    texts = [t.get_text() for t in ax.texts]
    summary = next(t for t in texts if t.startswith("rarest 3 classes (7, 8, 9)"))
    best = max(rows, key=lambda r: r["rare_recall"])
    assert f"{best['rare_recall']:.2f}" in summary.split(";")[0]
    # a value label over each loss's bar of each of the three rarest classes
    assert sum(t.replace(".", "").isdigit() for t in texts) == 3 * len(rows)


def test_detect_precision_recall_curve_at_zero_precision_stays_visible(tmp_path,
                                                                       saved_figures):
    from focalkit.demos.detect import plot_results

    flat = {"precision": [0.0] * 5, "recall": [0.0, 0.25, 0.5, 0.75, 1.0]}
    rows = [{"loss": "bce", "losses": [3.0, 2.0], "diverged": "no", "pr_curve": flat,
             "average_precision": 0.0}]
    plot_results(rows, tmp_path, 100, 1.0)
    ax_pr = saved_figures[0].axes[1]
    assert ax_pr.get_ylim()[0] < 0 and ax_pr.get_xlim()[0] < 0
    line = ax_pr.get_lines()[0]
    assert not line.get_clip_on() and line.get_zorder() > 2.5


def test_curves_legend_stays_off_the_shaded_band(tmp_path, saved_figures):
    from focalkit.demos.plots import focal_curves

    focal_curves([0.0, 2.0], tmp_path / "c.png", stream=io.StringIO())
    fig = saved_figures[0]
    fig.draw_without_rendering()
    ax = fig.axes[0]
    legend = ax.get_legend().get_window_extent()
    assert legend.x0 >= ax.get_window_extent().x1  # beside the axes, band included


def test_demos_run_with_deterministic_algorithms_and_restore_the_settings():
    from focalkit.demos.common import torch_threads

    before = torch.are_deterministic_algorithms_enabled()
    with torch_threads(2):
        assert torch.get_num_threads() == 2 and torch.are_deterministic_algorithms_enabled()
    assert torch.get_num_threads() == 1 and torch.are_deterministic_algorithms_enabled() == before


def test_every_results_table_is_regenerated_by_one_command():
    """The README's and the docs' demo tables sit between the markers regenerate fills."""
    from pathlib import Path

    from focalkit.demos.regenerate import MARKER, replace_results

    root = Path(__file__).resolve().parent.parent
    for page in (root / "README.md", root / "docs" / "demo-results.md"):
        text = page.read_text()
        names = [m.group(1) for m in MARKER.finditer(text)]
        assert {"classify", "classify-seeds", "segment", "detect", "segment-time"} <= set(names)
        outside = MARKER.sub("", text)
        demo = outside[outside.index("## Demo"):]
        assert "| loss |" not in demo, f"{page.name}: a demo table outside the result markers"
    text = (root / "docs" / "large-classes.md").read_text()
    assert {"lmhead", "lmhead-time"} <= {m.group(1) for m in MARKER.finditer(text)}
    assert "| loss |" not in MARKER.sub("", text)
    text = "a <!-- result: t -->\n| old |\n<!-- /result --> b <!-- result: s -->9 s<!-- /result -->"
    assert replace_results(text, {"t": "| new |", "s": "7 s"}) == (
        "a <!-- result: t -->\n| new |\n<!-- /result --> b <!-- result: s -->7 s<!-- /result -->")
