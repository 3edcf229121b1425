"""What every demo shares: optional imports, output folders, devices, tables and records."""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime
import importlib
import json
import math
import platform
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

INSTALL_HINT = 'pip install "focalkit[demo]"'

# import name -> distribution name, for the message when the demo extra is missing
_EXTRAS = {"sklearn": "scikit-learn", "matplotlib": "matplotlib", "tqdm": "tqdm"}


class DemoError(Exception):
    """A problem the user can fix, reported as one line without a traceback.

    Args:
        message: what went wrong and what to do about it.
        status: the exit status the command line should return. Default: 1.
    """

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def require(*modules: str) -> None:
    """Check that the optional packages of the ``demo`` extra can be imported.

    Args:
        *modules: import names, among ``"sklearn"``, ``"matplotlib"`` and ``"tqdm"``.

    Raises:
        DemoError: naming the missing packages and the command that installs them.

    Example:
        >>> from focalkit.demos.common import require
        >>> require("sklearn", "matplotlib")
    """
    missing = []
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(_EXTRAS.get(name, name))
    if missing:
        raise DemoError(f"this command needs {', '.join(missing)}, which "
                        f"{'is' if len(missing) == 1 else 'are'} not installed; "
                        f"install the demo extra with: {INSTALL_HINT}")


def default_out_dir(root: str | Path = "focalkit-runs") -> Path:
    """A fresh folder name ``root/<YYYYmmdd-HHMMSS>`` (suffixed if it exists already)."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = Path(root) / stamp
    suffix = 1
    while path.exists():
        suffix += 1
        path = Path(root) / f"{stamp}-{suffix}"
    return path


def prepare_out_dir(path: str | Path | None) -> Path:
    """Create the output folder and check that files can be written into it.

    Args:
        path: the folder, or None for :func:`default_out_dir`.

    Returns:
        Path: the folder.

    Raises:
        DemoError: (status 2) if the folder cannot be created or written to.
    """
    out = default_out_dir() if path is None else Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise DemoError(f"cannot write to --out {str(out)!r}: {reason}", status=2) from None
    return out


def resolve_device(name: str | None) -> Any:
    """The :class:`torch.device` to train on: ``name``, or CUDA when available, else CPU.

    Raises:
        DemoError: (status 2) for an unknown device or CUDA requested but unavailable.
    """
    import torch

    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise DemoError(f"--device must be a torch device such as 'cpu' or 'cuda'; got "
                        f"{name!r}", status=2) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DemoError("--device cuda was requested but CUDA is not available on this machine",
                        status=2)
    return device


@contextlib.contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """Run the body with ``count`` intra-op CPU threads and deterministic algorithms in torch.

    A fixed thread count fixes the order of the floating-point sums inside each kernel, and
    :func:`torch.use_deterministic_algorithms` (``warn_only``) picks the deterministic kernels
    where torch has both, so that a demo repeats its numbers exactly on one machine. Another
    CPU or library build may still round differently. ``count`` None leaves the threads as
    they are; both settings are restored afterwards.
    """
    import torch

    before = torch.get_num_threads()
    deterministic = (torch.are_deterministic_algorithms_enabled(),
                     torch.is_deterministic_algorithms_warn_only_enabled())
    if count is not None:
        torch.set_num_threads(count)
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.set_num_threads(before)
        torch.use_deterministic_algorithms(deterministic[0], warn_only=deterministic[1])


def run_demo(train: Callable[[Any, TextIO], dict], cfg: Any, stream: TextIO | None) -> dict:
    """``train(cfg, stream)`` under the config's thread count (:func:`torch_threads`), the
    table going to ``stream`` or, when it is None, to standard output."""
    with torch_threads(cfg.threads):
        return train(cfg, sys.stdout if stream is None else stream)


def library_versions() -> dict[str, str]:
    """Versions of Python, focalkit and the libraries the demos use."""
    versions = {"python": platform.python_version(), "platform": platform.platform()}
    for name in ("focalkit", "torch", "numpy", "sklearn", "matplotlib", "tqdm"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        key = "scikit-learn" if name == "sklearn" else name
        versions[key] = str(getattr(module, "__version__", "unknown"))
    return versions


class _LogLine:
    """Stands in for a progress bar when stderr is not a terminal: one line when done."""

    def __init__(self, total: int, desc: str, stream: Any) -> None:
        self.total, self.desc, self.stream = total, desc, stream
        self.n, self.postfix = 0, ""

    def __enter__(self) -> _LogLine:
        return self

    def __exit__(self, *exc: object) -> None:
        line = f"{self.desc}: {self.n}/{self.total}"
        print(line + (f", {self.postfix}" if self.postfix else ""), file=self.stream,
              flush=True)

    def update(self, n: int = 1) -> None:
        self.n += n

    def set_postfix_str(self, text: str) -> None:
        self.postfix = text


def progress(total: int, desc: str, quiet: bool) -> Any:
    """A tqdm progress bar on stderr; nothing when ``quiet``.

    When stderr is not a terminal (a log file, a pipe), the bar's carriage-return redraws
    would fill the log, so a single line is written when the run ends instead.
    """
    from tqdm.auto import tqdm

    if not quiet and not sys.stderr.isatty():
        return _LogLine(total, desc, sys.stderr)
    return tqdm(total=total, desc=desc, disable=quiet, leave=True, dynamic_ncols=True,
                bar_format="{desc:<24} {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} "
                           "[{elapsed}<{remaining}{postfix}]")


def _cell(value: Any, fmt: str) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else format(value, fmt)
    return str(value)


def format_table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str, str]]) -> str:
    """Rows as an aligned text table.

    Args:
        rows: one dict per row.
        columns: ``(key, header, format)`` triples; floats use ``format``, NaN shows as ``-``.

    Returns:
        str: the table, first line the headers.

    Example:
        >>> from focalkit.demos.common import format_table
        >>> print(format_table([{"loss": "ce", "acc": 0.5}],
        ...                    [("loss", "loss", ""), ("acc", "accuracy", ".3f")]))
        loss  accuracy
        ----  --------
        ce       0.500
    """
    cells = [[_cell(row[key], fmt) for key, _, fmt in columns] for row in rows]
    headers = [header for _, header, _ in columns]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) if i == 0 else h.rjust(w)
                       for i, (h, w) in enumerate(zip(headers, widths, strict=True))).rstrip(),
             "  ".join("-" * w for w in widths)]
    for r in cells:
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip())
    return "\n".join(lines)


CSV_DIGITS = 6


def write_csv(path: Path, rows: Sequence[dict[str, Any]], keys: Iterable[str]) -> None:
    """Write the ``keys`` of each row to a CSV file with a header line.

    Floats are rounded to :data:`CSV_DIGITS` decimals, so that a recall of 333 / 400 reads
    ``0.8325`` rather than ``0.8325000000000001``.
    """
    keys = list(keys)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=keys, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: round(row[k], CSV_DIGITS) if isinstance(row[k], float)
                             else row[k] for k in keys})


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def write_json(path: Path, record: dict[str, Any]) -> None:
    """Write a record as indented JSON; NaN and infinities become ``null``."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump(_jsonable(record), f, indent=2)
        f.write("\n")


def synthetic_split(make: Callable[[int, int, int], tuple[Any, Any]], cfg: Any,
                    device: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Training and held-out images of a synthetic demo, as arrays and as tensors on ``device``.

    Args:
        make: ``make(count, size, seed) -> (images, targets)`` as NumPy arrays.
        cfg: the demo's settings (``train_images``, ``test_images``, ``size``, ``seed``); the
            held-out images use seed ``seed + 10_000``.
        device: where the tensors go.

    Returns:
        tuple: two dicts with keys ``x_train``, ``y_train``, ``x_test``, ``y_test``: the
        arrays, and the same as tensors on ``device``.
    """
    import torch

    x_train, y_train = make(cfg.train_images, cfg.size, cfg.seed)
    x_test, y_test = make(cfg.test_images, cfg.size, cfg.seed + 10_000)
    arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    return arrays, {name: torch.from_numpy(array).to(device) for name, array in arrays.items()}


def finish(demo: str, cfg: Any, device: Any, out: Path, *, data: dict[str, Any],
           rows: list[dict[str, Any]], columns: Sequence[tuple[str, str, str]],
           csv_keys: Sequence[str], draw: Callable[[], list[Path]], note: str,
           stream: Any) -> dict[str, Any]:
    """Write a demo's results and figures to ``out`` and print its table.

    Args:
        demo: the demo's name.
        cfg: its settings (a dataclass with ``seed``).
        device: the device it trained on.
        out: the output folder.
        data: what the record says about the data.
        rows: one result per loss.
        columns: the table's columns, as :func:`format_table` takes them.
        csv_keys: the keys of each row written to ``results.csv``.
        draw: draws the figures and returns their paths.
        note: printed under the table.
        stream: where the table goes.

    Returns:
        dict: the record written to ``results.json``, with the paths of the figures added.
    """
    table = format_table(rows, columns)
    record = {
        "demo": demo,
        "config": {**dataclasses.asdict(cfg), "out": str(out), "device": str(device)},
        "seed": cfg.seed,
        "versions": library_versions(),
        "data": data,
        "results": rows,
        "table": table,
    }
    write_csv(out / "results.csv", rows, csv_keys)
    write_json(out / "results.json", record)
    figures = draw()
    print(f"\n{table}\n\n{note}", file=stream)
    print(f"\nwrote results.csv, results.json, {', '.join(p.name for p in figures)} to {out}",
          file=stream)
    record["figures"] = [str(p) for p in figures]
    return record
