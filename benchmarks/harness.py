"""Shared benchmark harness: alternating rounds, medians, saved-for-backward bytes, CSV, markdown.

Run the benchmark scripts from the repository root, e.g. ``python benchmarks/focal.py``; they
import this module as ``harness``.

A *variant* is a callable ``setup(shape) -> (inputs, fn)``: ``inputs`` is a tuple of tensors and
``fn(*inputs)`` returns a scalar loss. Tensors in ``inputs`` that require grad are the
parameters; their ``.grad`` is reset to None before every call, as
``optimizer.zero_grad(set_to_none=True)`` does in training.

:func:`compare` runs every variant of one problem in the same process: one warm-up call each,
then ``rounds`` rounds in which every variant runs once, the order rotating from round to round
so that none always runs right after the same neighbour. Each call is timed as forward plus
``loss.backward()``; the forward part is taken from the same call. Memory saved for backward
is measured in a separate, untimed call with :func:`torch.autograd.graph.saved_tensors_hooks`.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import importlib.util
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

Variant = Callable[[tuple], tuple[tuple, Callable[..., torch.Tensor]]]

COLUMNS = [
    "timestamp", "machine", "torch", "threads", "benchmark", "shape", "variant", "rounds",
    "median_ms", "spread", "min_ms", "max_ms", "forward_ms", "warmup_ms", "saved_bytes",
    "extra_saved_bytes", "input_bytes", "baseline_speedup", "loss", "load", "busy_calls",
    "peak_bytes", "note",
]


def cli(description: str, argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the flags every benchmark script shares and apply ``--threads``.

    Flags: ``--threads`` (default 2), ``--rounds`` (default 7), ``--quick`` (small shapes, for
    a smoke run; its results go to the temporary directory unless ``--csv``/``--md`` say
    otherwise), ``--csv`` and ``--md`` (output paths), ``--no-render``, ``--idle-wait``
    (see :func:`compare`).
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (2)")
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds per variant (7)")
    parser.add_argument("--quick", action="store_true", help="small shapes, for a smoke run")
    parser.add_argument("--csv", help="CSV to append to (default benchmarks/results.csv; "
                        "with --quick, a file in the temporary directory)")
    parser.add_argument("--md", help="markdown to render (default docs/benchmarks.md; with "
                        "--quick, a file in the temporary directory)")
    parser.add_argument("--no-render", action="store_true", help="do not rewrite the markdown")
    parser.add_argument("--idle-wait", type=float, default=0.0, metavar="SECONDS",
                        help="before each round, wait up to SECONDS for an idle CPU (0)")
    args = parser.parse_args(argv)
    scratch = Path(tempfile.gettempdir())
    if args.csv is None:
        args.csv = str(scratch / "focalkit-quick.csv") if args.quick else "benchmarks/results.csv"
    if args.md is None:
        args.md = str(scratch / "focalkit-quick.md") if args.quick else "docs/benchmarks.md"
    torch.set_num_threads(args.threads)
    return args


def machine() -> str:
    """Host name, CPU model, architecture and logical CPU count."""
    model = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{platform.node()}: {model}, {platform.machine()}, {os.cpu_count()} CPUs"


def load_smp_losses():
    """``segmentation_models_pytorch.losses`` loaded without the package's ``__init__``.

    The package ``__init__`` imports the model zoo and its dependencies; the losses
    sub-package needs only torch and numpy. It is loaded under a private module name so the
    real package name stays free. Raises ImportError when smp is not installed.
    """
    name = "_smp_losses"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec("segmentation_models_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("segmentation_models_pytorch is not installed")
    folder = Path(next(iter(spec.submodule_search_locations))) / "losses"
    losses_spec = importlib.util.spec_from_file_location(
        name, folder / "__init__.py", submodule_search_locations=[str(folder)])
    if losses_spec is None or losses_spec.loader is None:
        raise ImportError(f"cannot load {folder}")
    module = importlib.util.module_from_spec(losses_spec)
    sys.modules[name] = module
    try:
        losses_spec.loader.exec_module(module)
    except Exception:
        del sys.modules[name]
        raise
    return module


def _cpu_busy(interval: float = 0.5) -> float:
    """Fraction of the machine's CPU time spent outside the idle task over ``interval`` s."""
    def sample():
        with open("/proc/stat") as handle:
            fields = [int(v) for v in handle.readline().split()[1:]]
        return fields[3] + fields[4], sum(fields)

    idle0, total0 = sample()
    time.sleep(interval)
    idle1, total1 = sample()
    return 1.0 - (idle1 - idle0) / max(total1 - total0, 1)


def wait_idle(max_wait: float, threshold: float = 0.1) -> bool:
    """Wait up to ``max_wait`` s for the CPU to be idle (other processes use < ``threshold``).

    Returns whether it was. On a machine shared with other jobs this keeps their bursts out
    of the timed rounds; without ``/proc/stat`` it returns True at once.
    """
    if max_wait <= 0 or not os.path.exists("/proc/stat"):
        return True
    deadline = time.monotonic() + max_wait
    while True:
        if _cpu_busy() < threshold:
            return True
        if time.monotonic() >= deadline:
            return False


def _load() -> float:
    """One-minute load average (0 where the platform has none)."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0


def _params(inputs: tuple) -> list[torch.Tensor]:
    return [t for t in inputs if isinstance(t, torch.Tensor) and t.requires_grad]


def _step(inputs: tuple, fn) -> tuple[float, float, float]:
    """One forward+backward call: (total seconds, forward seconds, loss value)."""
    for t in _params(inputs):
        t.grad = None
    start = time.perf_counter()
    loss = fn(*inputs)
    middle = time.perf_counter()
    loss.backward()
    end = time.perf_counter()
    return end - start, middle - start, float(loss.detach())


def saved_bytes(inputs: tuple, fn) -> tuple[int, int]:
    """Bytes of the distinct storages saved for backward: (all, those not among ``inputs``)."""
    storages: dict[int, int] = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    for t in _params(inputs):
        t.grad = None
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        loss = fn(*inputs)
    loss.backward()
    given = {t.untyped_storage().data_ptr() for t in inputs if isinstance(t, torch.Tensor)}
    total = sum(storages.values())
    extra = sum(size for ptr, size in storages.items() if ptr not in given)
    return total, extra


def _status_bytes(key: str) -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    raise OSError(f"no {key} in /proc/self/status")


def peak_growth(inputs: tuple, fn, calls: int = 2) -> int:
    """Peak growth of the resident memory over ``calls`` forward+backward calls, in bytes.

    After one warm-up call (compilation, thread pools, allocator arenas), the gradients are
    dropped, free memory is handed back to the system (``malloc_trim``) and the peak resident
    size is reset (``/proc/self/clear_refs``); the growth is the peak over the calls minus
    the resident size before them. It includes everything the calls leave behind, the
    gradients among them. Run it in a fresh process per variant: memory one variant frees
    may stay in the allocator and hide another's growth. Linux only.
    """
    import ctypes
    import gc

    _step(inputs, fn)
    for t in _params(inputs):
        t.grad = None
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")
    base = _status_bytes("VmRSS")
    for _ in range(calls):
        _step(inputs, fn)
    return _status_bytes("VmHWM") - base


def _input_bytes(inputs: tuple) -> int:
    """Bytes of the tensors that require grad (the logits), or of all tensors if none do."""
    tensors = _params(inputs) or [t for t in inputs if isinstance(t, torch.Tensor)]
    return sum({t.untyped_storage().data_ptr(): t.untyped_storage().nbytes()
                for t in tensors}.values())


def agree(shape: tuple, variants: dict[str, Variant], *, baseline: str = "focalkit",
          scales: dict[str, float] | None = None) -> dict[str, tuple[float, float]]:
    """Max absolute difference of loss and gradient between each variant and the baseline.

    ``scales`` multiplies a variant's loss and gradient before comparing (for peers whose
    "mean" divides by a different count). Variants whose setup raises ImportError are left
    out. Prints one line per variant and returns ``{name: (loss_diff, grad_diff)}``.
    """
    scales = scales or {}
    results = {}
    for name, setup in variants.items():
        try:
            inputs, fn = setup(shape)
        except ImportError as error:
            print(f"  {name}: skipped ({error})")
            continue
        for t in _params(inputs):
            t.grad = None
        loss = fn(*inputs)
        loss.backward()
        grads = [t.grad.detach().clone() for t in _params(inputs)]
        results[name] = (float(loss.detach()) * scales.get(name, 1.0),
                         [g * scales.get(name, 1.0) for g in grads])
    if baseline not in results:
        raise ValueError(f"baseline {baseline!r} is not among the variants that ran")
    ref_loss, ref_grads = results[baseline]
    diffs = {}
    for name, (loss, grads) in results.items():
        grad_diff = max((float((g - r).abs().max()) for g, r in zip(grads, ref_grads,
                                                                    strict=True)),
                        default=0.0)
        diffs[name] = (abs(loss - ref_loss), grad_diff)
        print(f"  {name:<28} loss {loss:.7g}  |dloss| {diffs[name][0]:.2e}  "
              f"max|dgrad| {grad_diff:.2e}")
    return diffs


def compare(benchmark: str, shape: tuple, variants: dict[str, Variant], *, rounds: int = 7,
            baseline: str = "focalkit", csv_path: str | os.PathLike = "benchmarks/results.csv",
            notes: dict[str, str] | None = None, idle_wait: float = 0.0,
            peak: Callable[[str], int] | None = None) -> list[dict]:
    """Time forward+backward of each variant on one problem and append the rows to a CSV.

    Args:
        benchmark: name of the problem, e.g. ``"sigmoid_focal"``.
        shape: the shape passed to every ``setup``.
        variants: ``{name: setup}``; see the module docstring.
        rounds: timed rounds; every round runs every variant once, in rotated order.
        baseline: the variant the others are compared with.
        csv_path: CSV file the rows are appended to (created with a header if missing).
        notes: optional ``{name: text}`` stored in the ``note`` column.
        idle_wait: before each timed call, wait up to this many seconds for the CPU to be
            idle (see :func:`wait_idle`); calls that started on a busy CPU anyway are counted
            in the ``busy_calls`` column.
        peak: optional ``peak(name) -> bytes``, the peak memory growth of a call of the
            variant (measured by the caller, e.g. in a fresh process; see
            :func:`peak_growth`), stored in the ``peak_bytes`` column.

    Returns:
        One dict per variant that ran, with the keys of :data:`COLUMNS`: ``median_ms`` (median
        forward+backward time), ``spread`` (interquartile range, ms), ``min_ms``, ``max_ms``,
        ``forward_ms`` (median forward part), ``warmup_ms`` (first call, including any
        compilation), ``saved_bytes`` / ``extra_saved_bytes`` (distinct storages saved for
        backward, all / not among the inputs), ``input_bytes`` (the tensors that require
        grad), ``baseline_speedup``
        (this variant's median divided by the baseline's: how many times faster the
        baseline is), ``loss`` (value of the last call).
    """
    notes = notes or {}
    prepared = {}
    for name, setup in variants.items():
        try:
            prepared[name] = setup(shape)
        except ImportError as error:
            print(f"[{benchmark}] {name}: skipped ({error})")
    names = list(prepared)
    if not names:
        return []
    stats = {name: {"total": [], "forward": []} for name in names}
    load_start = _load()
    for name in names:
        inputs, fn = prepared[name]
        warm, _, _ = _step(inputs, fn)
        stats[name]["warmup_ms"] = warm * 1e3
        stats[name]["saved"] = saved_bytes(inputs, fn)
        print(f"[{benchmark}] {name}: warm-up {warm * 1e3:.1f} ms", flush=True)
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            inputs, fn = prepared[name]
            if not wait_idle(idle_wait):
                stats[name]["busy"] = stats[name].get("busy", 0) + 1
            total, forward, value = _step(inputs, fn)
            stats[name]["total"].append(total * 1e3)
            stats[name]["forward"].append(forward * 1e3)
            stats[name]["loss"] = value
        print(f"[{benchmark}] round {r + 1}/{rounds}: "
              + ", ".join(f"{n} {stats[n]['total'][-1]:.1f}" for n in names), flush=True)

    stamp = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="microseconds")
    load = max(load_start, _load())
    if load > 0.5 + torch.get_num_threads():
        print(f"[{benchmark}] warning: load average {load:.1f} while timing; other processes "
              "compete for the CPU, so these times are inflated and noisy")
    common = {
        "timestamp": stamp, "machine": machine(), "torch": torch.__version__,
        "threads": torch.get_num_threads(), "benchmark": benchmark,
        "shape": "x".join(str(s) for s in shape), "rounds": rounds,
    }
    base = statistics.median(stats[baseline]["total"]) if baseline in stats else None
    rows = []
    for name in names:
        times = sorted(stats[name]["total"])
        median = statistics.median(times)
        quartiles = statistics.quantiles(times, n=4) if len(times) > 1 else [median] * 3
        inputs, _ = prepared[name]
        rows.append({
            **common,
            "variant": name,
            "median_ms": round(median, 2),
            "spread": round(quartiles[2] - quartiles[0], 2),
            "min_ms": round(times[0], 2),
            "max_ms": round(times[-1], 2),
            "forward_ms": round(statistics.median(stats[name]["forward"]), 2),
            "warmup_ms": round(stats[name]["warmup_ms"], 2),
            "saved_bytes": stats[name]["saved"][0],
            "extra_saved_bytes": stats[name]["saved"][1],
            "input_bytes": _input_bytes(inputs),
            "baseline_speedup": round(median / base, 3) if base else "",
            "loss": f"{stats[name]['loss']:.7g}",
            "load": round(load, 2),
            "busy_calls": stats[name].get("busy", 0) if idle_wait > 0 else "",
            "peak_bytes": peak(name) if peak is not None else "",
            "note": notes.get(name, ""),
        })
    _append(Path(csv_path), rows)
    for row in rows:
        print(f"[{benchmark}] {row['variant']:<28} median {row['median_ms']:9.2f} ms "
              f"(IQR {row['spread']:.2f}, forward {row['forward_ms']:.2f})  "
              f"x{row['baseline_speedup'] or float('nan'):.2f}  "
              f"saved {row['saved_bytes'] / 2**20:.1f} MiB "
              f"(extra {row['extra_saved_bytes'] / 2**20:.1f})")
    return rows


def _append(path: Path, rows: list[dict]) -> None:
    """Append ``rows`` to the CSV at ``path``, rewriting it first if its columns are older."""
    path.parent.mkdir(parents=True, exist_ok=True)
    old = []
    if path.exists() and path.stat().st_size:
        with open(path, newline="") as handle:
            reader = csv.DictReader(handle)
            if reader.fieldnames != COLUMNS:
                old = list(reader)
    if old or not path.exists() or not path.stat().st_size:
        with open(path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS, restval="")
            writer.writeheader()
            writer.writerows({k: v for k, v in row.items() if k in COLUMNS} for row in old)
    with open(path, "a", newline="") as handle:
        csv.DictWriter(handle, fieldnames=COLUMNS).writerows(rows)


def _ms(value: str | float) -> str:
    value = float(value)
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 1000 else f"{value:.0f}"


def _mib(value: str) -> str:
    return f"{int(value) / 2**20:.1f}"


METHOD = """\
## Method

* Every variant of a problem runs in one process. After one warm-up call each, the variants
  run in alternating rounds: each round calls every variant once, rotating the order, so
  slow drifts (allocator state, page cache, frequency) hit all of them alike. The table gives
  the median over the rounds; "IQR" is the interquartile range and "range" the fastest and
  slowest round.
* A call is the forward pass plus `loss.backward()`, with the input's `.grad` reset to None
  before it (as `zero_grad(set_to_none=True)` does); "forward" is the median of the forward
  part of the same calls. "warm-up" is the first call, which includes any compilation.
* "load average" is the larger of the one-minute load averages at the start and the end of
  the timing; above the thread count, other processes were competing for the cores and the
  times are inflated. Work split into many short multi-threaded operations suffers most, as
  every operation waits for its slowest thread: focalkit's blocked kernels run thousands of
  them per call, and on a busy machine they can fall behind the peers. With `--idle-wait`,
  each timed call first waits for an idle CPU; "busy" counts the calls that started on a
  busy CPU anyway.
* "vs focalkit" is the variant's median divided by focalkit's: how many times faster
  focalkit is.
* "saved" is the total size of the distinct storages that autograd keeps for the backward
  pass, recorded with `torch.autograd.graph.saved_tensors_hooks`; "extra" counts only those
  that are not the inputs themselves (logits and target), and "extra / input" relates it to
  the size of the logits.
* "peak MiB" (where measured) is the peak growth of the resident memory over two
  forward+backward calls, in a fresh process per variant after one warm-up call
  (`harness.peak_growth`); it includes the gradients the calls leave behind.
* Peers are timed as installed, with their own conventions; where a peer's "mean" divides by a
  different count (per class), its value is rescaled only for the agreement check printed by
  the script, not in the timing.
"""


def finish(args: argparse.Namespace, start: float) -> None:
    """Print the run's wall time since ``start`` (a ``time.perf_counter()``) and, unless
    ``--no-render``, render ``args.csv`` into ``args.md``."""
    print(f"benchmark time {time.perf_counter() - start:.0f} s")
    if not args.no_render:
        render(args.csv, args.md)


def render(csv_path: str | os.PathLike | None = "benchmarks/results.csv",
           md_path: str | os.PathLike = "docs/benchmarks.md",
           gpu_csv_path: str | os.PathLike = "benchmarks/results-gpu.csv") -> str:
    """Write the latest run of every (benchmark, shape) in ``csv_path`` as markdown tables,
    followed by the GPU section from ``gpu_csv_path`` (written by ``benchmarks/gpu.py``).

    Returns the markdown text.
    """
    rows = []
    if csv_path is not None:
        with open(csv_path, newline="") as handle:
            rows = list(csv.DictReader(handle))
    latest: dict[tuple[str, str], str] = {}
    for row in rows:
        key = (row["benchmark"], row["shape"])
        latest[key] = max(latest.get(key, ""), row["timestamp"])
    lines = [
        "# Benchmarks",
        "",
        "Generated by `benchmarks/harness.py` from `benchmarks/results.csv`; rerun with "
        "`python benchmarks/<name>.py` from the repository root. Times are forward+backward "
        "in milliseconds.",
        "",
    ]
    for (benchmark, shape), stamp in latest.items():
        group = [r for r in rows if (r["benchmark"], r["shape"]) == (benchmark, shape)
                 and r["timestamp"] == stamp]
        first = group[0]
        peaks = any(r.get("peak_bytes") for r in group)
        lines += [
            f"## {benchmark}, shape {shape.replace('x', ' x ')}",
            "",
            f"Machine: {first['machine']}; torch {first['torch']}; {first['threads']} threads; "
            f"{first['rounds']} rounds; run {stamp[:19]}; load average up to {first['load']}"
            + ("; every call waited for an idle CPU" if first.get("busy_calls") else "")
            + ".",
            "",
            "| variant | median ms | IQR | range | forward ms | warm-up ms | vs focalkit "
            "| saved MiB | extra MiB | extra / input |"
            + (" peak MiB |" if peaks else "") + " busy | note |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
            + ("---:|" if peaks else "") + "---:|---|",
        ]
        for r in sorted(group, key=lambda r: float(r["median_ms"])):
            ratio = f"{float(r['baseline_speedup']):.2f}x" if r["baseline_speedup"] else ""
            inputs = int(r["input_bytes"]) or 1
            peak = f" {_mib(r['peak_bytes'])} |" if r.get("peak_bytes") else " |"
            lines.append(
                f"| {r['variant']} | {_ms(r['median_ms'])} | {_ms(r['spread'])} "
                f"| {_ms(r['min_ms'])}-{_ms(r['max_ms'])} "
                f"| {_ms(r['forward_ms'])} | {_ms(r['warmup_ms'])} | {ratio} "
                f"| {_mib(r['saved_bytes'])} | {_mib(r['extra_saved_bytes'])} "
                f"| {int(r['extra_saved_bytes']) / inputs:.2f} |" + (peak if peaks else "")
                + f" {r.get('busy_calls', '')} | {r['note']} |")
        lines.append("")
    lines.append(METHOD)
    lines += _gpu_section(gpu_csv_path)
    text = "\n".join(lines)
    path = Path(md_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return text


def _gpu_section(csv_path: str | os.PathLike) -> list[str]:
    """The GPU section: the latest run of every (benchmark, shape, dtype), or a note that none
    was measured."""
    lines = ["## GPU", ""]
    path = Path(csv_path)
    rows = []
    if path.exists() and path.stat().st_size:
        with open(path, newline="") as handle:
            rows = list(csv.DictReader(handle))
    if not rows:
        return lines + [
            "Not measured on a GPU yet. On a CUDA machine, `python benchmarks/gpu.py` times "
            "focalkit's Triton kernels against the plain formulas, `torch.compile` and the "
            "peers (CUDA events, interleaved rounds, peak memory and achieved bandwidth) and "
            "writes this section.", ""]
    latest: dict[tuple[str, str, str], str] = {}
    for row in rows:
        key = (row["benchmark"], row["shape"], row["dtype"])
        latest[key] = max(latest.get(key, ""), row["timestamp"])
    lines += [
        "Forward + backward, median of interleaved rounds timed with CUDA events. \"floor\" "
        "is the traffic the loss must minimally move (every input read once, the gradient "
        "written once); \"GB/s\" is that divided by the median time, \"of peak\" its "
        "fraction of the device's datasheet bandwidth; \"peak extra\" the memory allocated "
        "above the inputs during the call; \"vs focalkit\" the variant's time over focalkit's "
        "Triton time. Compilation is timed apart (\"compile s\").", ""]
    for (benchmark, shape, dtype), stamp in latest.items():
        group = [r for r in rows if (r["benchmark"], r["shape"], r["dtype"])
                 == (benchmark, shape, dtype) and r["timestamp"] == stamp]
        first = group[0]
        lines += [
            f"### {benchmark}, shape {shape.replace('x', ' x ')}, {dtype}",
            "",
            f"Device: {first['device']}; torch {first['torch']}; triton {first['triton']}; "
            f"{first['rounds']} rounds; run {stamp[:19]}.",
            "",
            "| variant | median ms | IQR | GB/s | of peak | peak extra MiB | vs focalkit "
            "| compile s |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in sorted(group, key=lambda r: float(r["median_ms"])):
            peak = f"{float(r['fraction_of_peak']):.0%}" if r["fraction_of_peak"] else ""
            ratio = f"{float(r['vs_focalkit']):.2f}x" if r["vs_focalkit"] else ""
            lines.append(f"| {r['variant']} | {float(r['median_ms']):.3f} "
                         f"| {float(r['spread']):.3f} | {r['bandwidth_gbs']} | {peak} "
                         f"| {r['peak_extra_mib']} | {ratio} | {r['compile_s']} |")
        lines.append("")
    return lines
