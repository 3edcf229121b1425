"""The ``focalkit`` command line: help, option errors, output folders, missing extras."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from focalkit import cli

COMMANDS = [["demo"], ["demo", "classify"], ["demo", "segment"], ["demo", "detect"], ["plot"],
            ["plot", "curves"], ["plot", "schedule"]]


def _subparser(parser: argparse.ArgumentParser, words: list[str]) -> argparse.ArgumentParser:
    for word in words:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[word]
    return parser


def test_top_level_help(capsys):
    with pytest.raises(SystemExit) as exit:
        cli.main(["--help"])
    assert exit.value.code == 0
    out = capsys.readouterr().out
    assert "demo" in out and "plot" in out and 'pip install "focalkit[demo]"' in out


@pytest.mark.parametrize("words", COMMANDS, ids=" ".join)
def test_every_option_is_explained(words, capsys):
    with pytest.raises(SystemExit) as exit:
        cli.main([*words, "--help"])
    assert exit.value.code == 0
    out = capsys.readouterr().out
    parser = _subparser(cli.build_parser(), words)
    for action in parser._actions:
        if action.option_strings:
            assert action.help, f"{words} {action.option_strings} has no help"
            assert any(s in out for s in action.option_strings)
    assert parser.description


def test_demo_without_name_is_classify():
    parser = cli.build_parser()
    bare = parser.parse_args(["demo", "--epochs", "3", "--losses", "ce", "focal"])
    named = parser.parse_args(["demo", "classify", "--epochs", "3", "--losses", "ce,focal"])
    assert bare.run is named.run
    assert bare.epochs == named.epochs == 3
    assert cli._flatten(bare.losses, ()) == cli._flatten(named.losses, ()) == ["ce", "focal"]


@pytest.mark.parametrize("argv,reason", [
    ([], "required: COMMAND"),
    (["bogus"], "invalid choice"),
    (["plot"], "required: FIGURE"),
    (["demo", "--epochs", "0"], "--epochs: expected a positive integer"),
    (["demo", "--epochs", "two"], "--epochs: expected a positive integer"),
    (["demo", "--losses", "ce,nope"], "unknown loss 'nope'"),
    (["demo", "--imbalance", "0.5"], "--imbalance: expected a number in [1, inf)"),
    (["demo", "--beta", "1"], "--beta: expected a number in [0, 1)"),
    (["demo", "--dataset", "cifar"], "--dataset: invalid choice"),
    (["demo", "--no-such-option"], "unrecognized arguments"),
    (["demo", "segment", "--size", "8"], "--size: expected an integer in [16, 1024]"),
    (["demo", "detect", "--steps", "-1"], "--steps: expected a positive integer"),
    (["demo", "segment", "--threads", "0"], "--threads: expected a positive integer"),
    (["plot", "curves", "--gammas", "-1"], "--gammas: expected a number in [0, inf)"),
    (["plot", "schedule", "--schedule", "exp"], "--schedule: invalid choice"),
])
def test_bad_options_exit_2_with_one_line_reason(argv, reason, capsys):
    with pytest.raises(SystemExit) as exit:
        cli.main(argv)
    assert exit.value.code == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and reason in errors[0], err


def _fails(argv, capsys, status):
    assert cli.main(argv) == status
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("focalkit: error: "), err
    return lines[0]


@pytest.mark.parametrize("words", [["demo"], ["demo", "segment"], ["demo", "detect"]],
                         ids=" ".join)
def test_unwritable_out_is_one_clear_line(words, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    line = _fails([*words, "--quiet", "--out", str(blocker / "run")], capsys, 2)
    assert "cannot write to --out" in line and "a-file" in line


def test_plot_out_must_be_png(tmp_path, capsys):
    line = _fails(["plot", "curves", "--out", str(tmp_path / "curves.jpg")], capsys, 2)
    assert "--out must name a .png file" in line


def test_mnist_needs_data_dir(tmp_path, capsys):
    line = _fails(["demo", "--dataset", "mnist", "--quiet", "--out", str(tmp_path)], capsys, 2)
    assert "--data-dir" in line


def test_mnist_missing_file_is_named(tmp_path, capsys):
    data = tmp_path / "mnist"
    data.mkdir()
    line = _fails(["demo", "--dataset", "mnist", "--data-dir", str(data), "--quiet",
                   "--out", str(tmp_path / "out")], capsys, 2)
    assert "train-images-idx3-ubyte" in line and "never downloads" in line


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="CUDA is available")
def test_cuda_unavailable_is_one_line(tmp_path, capsys):
    line = _fails(["demo", "--device", "cuda", "--quiet", "--out", str(tmp_path)], capsys, 2)
    assert "CUDA is not available" in line


@pytest.mark.parametrize("module,name", [("sklearn", "scikit-learn"),
                                         ("matplotlib", "matplotlib"), ("tqdm", "tqdm")])
def test_missing_extra_names_the_install_command(module, name, monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
    line = _fails(["demo", "--quiet", "--out", str(tmp_path)], capsys, 1)
    assert name in line and 'pip install "focalkit[demo]"' in line


def test_plot_needs_only_matplotlib(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    line = _fails(["plot", "curves", "--out", str(tmp_path / "c.png")], capsys, 1)
    assert "matplotlib" in line and "scikit-learn" not in line


def test_python_m_and_lazy_imports():
    """``python -m focalkit`` works; import, parser and help work without the demo extra."""
    code = ("import sys\n"
            "for name in ('sklearn', 'matplotlib', 'tqdm'):\n"
            "    sys.modules[name] = None  # any import of them now fails\n"
            "import focalkit, focalkit.cli\n"
            "focalkit.cli.build_parser().format_help()\n"
            "print(focalkit.cli.main(['demo', '--quiet']))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1"
    assert 'pip install "focalkit[demo]"' in result.stderr
    result = subprocess.run([sys.executable, "-m", "focalkit", "--version"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.startswith("focalkit ")


def test_data_dir_implies_mnist(tmp_path, capsys):
    """--data-dir alone trains on MNIST (here: reports the missing file), never on digits."""
    data = tmp_path / "mnist"
    data.mkdir()
    line = _fails(["demo", "--data-dir", str(data), "--quiet", "--out", str(tmp_path / "o")],
                  capsys, 2)
    assert "MNIST file missing" in line


def test_data_dir_with_digits_is_an_error(tmp_path, capsys):
    line = _fails(["demo", "--dataset", "digits", "--data-dir", str(tmp_path), "--quiet",
                   "--out", str(tmp_path / "o")], capsys, 2)
    assert "--data-dir is for --dataset mnist" in line


def test_corrupt_idx_file_exits_2(tmp_path, capsys):
    from focalkit.demos.data import MNIST_FILES

    data = tmp_path / "mnist"
    data.mkdir()
    for stem in MNIST_FILES.values():
        (data / stem).write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x05\x01")  # 5 promised, 1 given
    line = _fails(["demo", "--data-dir", str(data), "--quiet", "--out", str(tmp_path / "o")],
                  capsys, 2)
    assert "truncated" in line


@pytest.mark.parametrize("argv,title", [
    (["demo", "--help", "segment"], "focalkit demo segment"),
    (["demo", "-h", "detect"], "focalkit demo detect"),
    (["plot", "--help", "schedule"], "focalkit plot schedule"),
])
def test_help_before_the_name_shows_that_commands_help(argv, title, capsys):
    with pytest.raises(SystemExit) as exit:
        cli.main(argv)
    assert exit.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: {title}")


@pytest.mark.parametrize("argv,loss,demo,other", [
    (["demo", "--losses", "dice"], "dice", "classify", "segment"),
    (["demo", "--losses", "vfl-prior"], "vfl-prior", "classify", "detect"),
    (["demo", "detect", "--losses", "ldam-drw"], "ldam-drw", "detect", "classify"),
])
def test_a_loss_of_another_demo_is_pointed_to(argv, loss, demo, other, capsys):
    with pytest.raises(SystemExit):
        cli.main(argv)
    err = capsys.readouterr().err
    assert f"unknown loss '{loss}' for {demo}" in err and f"focalkit demo {other}" in err


@pytest.mark.parametrize("words,losses", [
    (["demo"], ["logit-adjusted", "ldam-drw", "poly1", "asl"]),
    (["demo", "detect"], ["qfl-prior", "vfl-prior"]),
])
def test_the_long_tail_and_quality_losses_are_listed_and_explained(words, losses, capsys):
    with pytest.raises(SystemExit):
        cli.main([*words, "--help"])
    out = " ".join(capsys.readouterr().out.split())
    for loss in losses:
        assert f"{loss} =" in out.replace("- ", "-")
    args = cli.build_parser().parse_args([*words, "--losses", ",".join(losses)])
    assert cli._flatten(args.losses, ()) == losses


@pytest.mark.parametrize("words,option,default", [
    (["plot", "schedule"], "--gamma-start", "(default: 0.0)"),
    (["demo", "segment"], "--seed", "(default: 0)"),
])
def test_zero_defaults_are_shown(words, option, default, capsys):
    with pytest.raises(SystemExit):
        cli.main([*words, "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert default in out[out.rindex(option):out.rindex(option) + 200]


def test_plot_out_creates_missing_folders_and_says_so(tmp_path, capsys):
    path = tmp_path / "a" / "b" / "curves.png"
    assert cli.main(["plot", "curves", "--out", str(path)]) == 0
    assert path.is_file()
    with pytest.raises(SystemExit):
        cli.main(["plot", "curves", "--help"])
    assert "missing folders are created" in " ".join(capsys.readouterr().out.split())
