"""GPU benchmark: focalkit's Triton kernels against the plain formulas, torch.compile and peers.

Each problem times forward + ``loss.backward()`` with CUDA events (``time.perf_counter`` on the
CPU), after warm-up calls, in interleaved rounds (every round calls every variant once, the
order rotating), and reports the median. For each variant it also records

* the peak memory above what the inputs already hold (``torch.cuda.max_memory_allocated``),
* the achieved bandwidth: the bytes the loss must minimally move (read every input once, write
  the gradient once; Dice reads its input twice, since its gradient needs the global sums)
  divided by the median time, and that as a fraction of the device's peak bandwidth,
* the compile time of ``torch.compile`` variants, apart from the timing.

Problems: sigmoid focal ``(16, 100000, 80)`` in float32 and bfloat16; softmax focal
``(32, 19, 512, 512)`` and ``(4096, 32000)``; Dice ``(32, 19, 512, 512)``; Lovasz-Softmax
``(8, 19, 512, 512)``; the loss over a linear layer, shape ``(N, H, C)`` = ``(8192, 4096,
131072)`` in bfloat16 and float32, against the materialised logits, ``torch.compile``, torch's
chunked ``linear_cross_entropy`` and, when installed, Liger-Kernel's fused linear
cross-entropy and cut-cross-entropy. Results are appended to ``benchmarks/results-gpu.csv``
and rendered into the GPU section of ``docs/benchmarks.md``.

Run from the repository root: ``python benchmarks/gpu.py`` on a CUDA machine (about five
minutes on an H100-class GPU), or ``python benchmarks/gpu.py --device cpu --quick`` for a
smoke run of the whole script on small shapes.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import harness
import torch
import torch.nn.functional as F

import focalkit.functional as fk
from focalkit import backends

GPU_COLUMNS = [
    "timestamp", "device", "peak_gbs", "torch", "triton", "benchmark", "shape", "dtype",
    "variant", "rounds", "median_ms", "spread", "min_ms", "max_ms", "compile_s",
    "peak_extra_mib", "input_mib", "floor_bytes", "bandwidth_gbs", "fraction_of_peak",
    "vs_focalkit", "note",
]

#: Peak memory bandwidth in GB/s of devices by name (datasheet figures).
PEAK_GBS = {
    "H200": 4800, "H100 SXM": 3350, "H100 80GB HBM3": 3350, "H100 PCIe": 2000, "H100": 3350,
    "A100-SXM4-80GB": 2039, "A100 80GB PCIe": 1935, "A100": 1555, "L40S": 864, "L4": 300,
    "A10": 600, "V100": 900, "RTX 4090": 1008, "RTX 3090": 936,
}

FULL = {
    "sigmoid_focal": [((16, 100000, 80), torch.float32), ((16, 100000, 80), torch.bfloat16)],
    "softmax_focal": [((32, 19, 512, 512), torch.float32), ((4096, 32000), torch.float32)],
    "dice": [((32, 19, 512, 512), torch.float32)],
    "lovasz_softmax": [((8, 19, 512, 512), torch.float32)],
    "linear_head": [((8192, 4096, 131072), torch.bfloat16),
                    ((8192, 4096, 131072), torch.float32)],
}
QUICK = {
    "sigmoid_focal": [((2, 300, 8), torch.float32), ((2, 300, 8), torch.bfloat16)],
    "softmax_focal": [((2, 5, 16, 16), torch.float32), ((64, 300), torch.float32)],
    "dice": [((2, 5, 16, 16), torch.float32)],
    "lovasz_softmax": [((2, 5, 16, 16), torch.float32)],
    "linear_head": [((64, 16, 300), torch.float32)],
}

Setup = Callable[[tuple, torch.dtype, str], tuple[tuple, Callable[..., torch.Tensor]]]


class Skip(Exception):
    """A variant that cannot run here (peer not installed, backend unavailable)."""


# ---------------------------------------------------------------------------------------------
# Inputs and formulas
# ---------------------------------------------------------------------------------------------


def sigmoid_inputs(shape, dtype, device):
    gen = torch.Generator().manual_seed(0)
    x = (torch.randn(shape, generator=gen) * 2.0 - 4.0).to(device, dtype).requires_grad_()
    y = (torch.rand(shape, generator=gen) < 0.02).to(device, dtype)
    return x, y


def class_inputs(shape, dtype, device):
    gen = torch.Generator().manual_seed(0)
    x = (torch.randn(shape, generator=gen) * 2.0).to(device, dtype).requires_grad_()
    t = torch.randint(0, shape[1], (shape[0], *shape[2:]), generator=gen).to(device)
    return x, t


def linear_inputs(shape, dtype, device):
    """Features ``(N, H)`` and a weight ``(C, H)`` that both require grad, and targets."""
    rows, features, classes = shape
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(rows, features, generator=gen).to(device, dtype).requires_grad_()
    w = (torch.randn(classes, features, generator=gen) / features ** 0.5).to(device, dtype)
    t = torch.randint(0, classes, (rows,), generator=gen).to(device)
    return x, w.requires_grad_(), t


def torch_linear_ce(x, w, t):
    return F.cross_entropy((x @ w.T).float(), t)


def torch_sigmoid_focal(x, y, alpha=0.25, gamma=2.0):
    """The formula as torchvision.ops.sigmoid_focal_loss writes it."""
    p = torch.sigmoid(x)
    ce = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    p_t = p * y + (1 - p) * (1 - y)
    loss = ce * (1 - p_t) ** gamma
    return ((alpha * y + (1 - alpha) * (1 - y)) * loss).mean()


def torch_softmax_focal(x, t, gamma=2.0):
    log_pt = torch.log_softmax(x.float(), dim=1).gather(1, t.unsqueeze(1)).squeeze(1)
    return (-(1 - log_pt.exp()) ** gamma * log_pt).mean()


def torch_dice(x, t, smooth=0.0, eps=1e-7):
    p = torch.softmax(x.float(), dim=1)
    onehot = F.one_hot(t, x.shape[1]).movedim(-1, 1).to(p.dtype)
    dims = (0, *range(2, x.dim()))
    tp = (p * onehot).sum(dims)
    score = (2 * tp + smooth) / (p.sum(dims) + onehot.sum(dims) + smooth).clamp_min(eps)
    return (1 - score).mean()


# ---------------------------------------------------------------------------------------------
# Variants
# ---------------------------------------------------------------------------------------------


def with_backend(name: str, loss: Callable) -> Callable:
    def fn(*args):
        with backends.use(name):
            return loss(*args)
    return fn


def triton_ready(device: str) -> None:
    from focalkit._dispatch import triton_status

    reason = triton_status(torch.device(device))
    if reason is not None:
        raise Skip(reason)


def compiled(loss: Callable, compile_backend: str) -> Callable:
    return torch.compile(loss, backend=compile_backend, dynamic=False)


def _kornia():
    try:
        import kornia.losses
    except ImportError as error:
        raise Skip("kornia is not installed") from error
    return kornia.losses


def _monai():
    try:
        import monai.losses
    except ImportError as error:
        raise Skip("monai is not installed") from error
    return monai.losses


def _smp():
    try:
        return harness.load_smp_losses()
    except ImportError as error:
        raise Skip(f"smp is not installed ({error})") from error


def variants(problem: str, compile_backend: str) -> dict[str, Callable]:
    """``{name: make(shape, dtype, device) -> (inputs, fn)}`` for one problem."""
    if problem == "sigmoid_focal":
        make_inputs, ours, formula = sigmoid_inputs, fk.sigmoid_focal_loss, torch_sigmoid_focal

        def kornia_loss(shape, dtype, device):
            focal = _kornia().binary_focal_loss_with_logits
            return make_inputs(shape, dtype, device), lambda x, y: focal(
                x, y, alpha=0.25, gamma=2.0, reduction="mean")

        def monai_loss(shape, dtype, device):
            loss = _monai().FocalLoss(gamma=2.0, alpha=0.25, use_softmax=False)
            return make_inputs(shape, dtype, device), loss

        peers = {"kornia": kornia_loss, "monai": monai_loss}
    elif problem == "softmax_focal":
        make_inputs, ours, formula = class_inputs, fk.softmax_focal_loss, torch_softmax_focal

        def kornia_loss(shape, dtype, device):
            losses = _kornia()
            return make_inputs(shape, dtype, device), lambda x, t: losses.focal_loss(
                x, t, alpha=None, gamma=2.0, reduction="mean")

        def cross_entropy(shape, dtype, device):
            return make_inputs(shape, dtype, device), F.cross_entropy

        peers = {"kornia": kornia_loss, "F.cross_entropy (gamma=0, for scale)": cross_entropy}
    elif problem == "dice":
        make_inputs, ours, formula = class_inputs, fk.dice_loss, torch_dice

        def monai_loss(shape, dtype, device):
            loss = _monai().DiceLoss(softmax=True, to_onehot_y=True, batch=True)
            return make_inputs(shape, dtype, device), lambda x, t: loss(x, t.unsqueeze(1))

        def smp_loss(shape, dtype, device):
            loss = _smp().DiceLoss("multiclass")
            return make_inputs(shape, dtype, device), loss

        peers = {"monai": monai_loss, "smp": smp_loss}
    elif problem == "lovasz_softmax":
        make_inputs, ours = class_inputs, fk.lovasz_softmax_loss
        formula = None

        def smp_loss(shape, dtype, device):
            loss = _smp().LovaszLoss("multiclass", per_image=False)
            return make_inputs(shape, dtype, device), loss

        peers = {"smp": smp_loss}
    elif problem == "linear_head":
        make_inputs, formula = linear_inputs, torch_linear_ce

        def ours(x, w, t):
            return fk.linear_softmax_focal_loss(x, w, t, gamma=0.0)

        def focal(shape, dtype, device):
            triton_ready(device)
            return make_inputs(shape, dtype, device), with_backend(
                "triton", lambda x, w, t: fk.linear_softmax_focal_loss(x, w, t, gamma=2.0))

        def torch_chunked(shape, dtype, device):
            return make_inputs(shape, dtype, device), lambda x, w, t: F.linear_cross_entropy(
                x, w, t, options=torch.nn.LinearCrossEntropyOptions())

        def liger(shape, dtype, device):
            try:
                from liger_kernel.transformers import LigerFusedLinearCrossEntropyLoss
            except ImportError as error:
                raise Skip("liger-kernel is not installed") from error
            loss = LigerFusedLinearCrossEntropyLoss()
            return make_inputs(shape, dtype, device), lambda x, w, t: loss(w, x, t)

        def cut(shape, dtype, device):
            try:
                from cut_cross_entropy import linear_cross_entropy
            except ImportError as error:
                raise Skip("cut-cross-entropy is not installed") from error
            return make_inputs(shape, dtype, device), linear_cross_entropy

        peers = {"focalkit triton, gamma=2": focal,
                 "torch linear_cross_entropy, chunked": torch_chunked,
                 "liger fused linear CE": liger, "cut-cross-entropy": cut}
    else:
        raise ValueError(f"unknown problem {problem!r}")

    def focalkit_triton(shape, dtype, device):
        triton_ready(device)
        return make_inputs(shape, dtype, device), with_backend("triton", ours)

    def focalkit_plain(shape, dtype, device):
        return make_inputs(shape, dtype, device), with_backend("plain", ours)

    found = {"focalkit triton": focalkit_triton, "focalkit plain": focalkit_plain}
    if formula is not None:
        found["torch formula"] = lambda s, d, dev: (make_inputs(s, d, dev), formula)
        found["torch.compile(torch formula)"] = lambda s, d, dev: (
            make_inputs(s, d, dev), compiled(formula, compile_backend))
    found.update(peers)
    return found


def _params(inputs: tuple) -> list[torch.Tensor]:
    return [t for t in inputs if t.requires_grad]


def floor_bytes(problem: str, inputs: tuple) -> int:
    """Bytes forward+backward must move at least: every input read once, the gradients written
    once (Dice reads its logits twice: the gradient needs the global sums)."""
    x = inputs[0]
    reads = sum(t.numel() * t.element_size() for t in inputs)
    grad = sum(t.numel() * t.element_size() for t in _params(inputs))
    if problem == "dice":
        reads += x.numel() * x.element_size()
    return reads + grad


# ---------------------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------------------


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _call(inputs: tuple, fn, device: str) -> float:
    """One forward+backward call; its time in milliseconds."""
    for t in _params(inputs):
        t.grad = None
    if device == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn(*inputs).backward()
        end.record()
        end.synchronize()
        return start.elapsed_time(end)
    begin = time.perf_counter()
    fn(*inputs).backward()
    return (time.perf_counter() - begin) * 1e3


def _peak_extra(inputs: tuple, fn, device: str) -> float:
    """Peak memory above what is allocated before the call, in MiB (CUDA only)."""
    if device != "cuda":
        return float("nan")
    for t in _params(inputs):
        t.grad = None
    _sync(device)
    before = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    fn(*inputs).backward()
    _sync(device)
    return (torch.cuda.max_memory_allocated() - before) / 2**20


def device_name(device: str) -> tuple[str, float | None]:
    if device != "cuda":
        return harness.machine(), None
    name = torch.cuda.get_device_name()
    peak = next((gbs for key, gbs in PEAK_GBS.items() if key in name), None)
    return name, peak


def run(problem: str, shape: tuple, dtype: torch.dtype, device: str, rounds: int,
        warmup: int, compile_backend: str) -> list[dict]:
    prepared, compile_s = {}, {}
    for name, make in variants(problem, compile_backend).items():
        try:
            inputs, fn = make(shape, dtype, device)
            begin = time.perf_counter()
            for _ in range(warmup):
                _call(inputs, fn, device)
            _sync(device)
            if "compile" in name:
                compile_s[name] = time.perf_counter() - begin
            prepared[name] = (inputs, fn)
        except Skip as reason:
            print(f"[{problem} {shape} {dtype}] {name}: skipped ({reason})", flush=True)
        except (RuntimeError, TypeError, ValueError) as error:
            print(f"[{problem} {shape} {dtype}] {name}: failed ({error})", flush=True)
    times = {name: [] for name in prepared}
    names = list(prepared)
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            times[name].append(_call(*prepared[name], device))
    device_label, peak = device_name(device)
    stamp = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    try:
        import triton
        triton_version = triton.__version__
    except ImportError:
        triton_version = ""
    base = statistics.median(times["focalkit triton"]) if "focalkit triton" in times else None
    rows = []
    for name in names:
        inputs, fn = prepared[name]
        ordered = sorted(times[name])
        median = statistics.median(ordered)
        quartiles = statistics.quantiles(ordered, n=4) if len(ordered) > 1 else [median] * 3
        moved = floor_bytes(problem, inputs)
        bandwidth = moved / (median * 1e-3) / 1e9
        rows.append({
            "timestamp": stamp, "device": device_label, "peak_gbs": peak or "",
            "torch": torch.__version__, "triton": triton_version, "benchmark": problem,
            "shape": "x".join(map(str, shape)), "dtype": str(dtype).replace("torch.", ""),
            "variant": name, "rounds": rounds, "median_ms": round(median, 4),
            "spread": round(quartiles[2] - quartiles[0], 4), "min_ms": round(ordered[0], 4),
            "max_ms": round(ordered[-1], 4),
            "compile_s": round(compile_s[name], 2) if name in compile_s else "",
            "peak_extra_mib": round(_peak_extra(inputs, fn, device), 1),
            "input_mib": round(inputs[0].numel() * inputs[0].element_size() / 2**20, 1),
            "floor_bytes": moved, "bandwidth_gbs": round(bandwidth, 1),
            "fraction_of_peak": round(bandwidth / peak, 3) if peak else "",
            "vs_focalkit": round(median / base, 3) if base else "", "note": "",
        })
        print(f"[{problem} {shape} {dtype}] {name:<36} {median:9.3f} ms  "
              f"{bandwidth:8.1f} GB/s  peak extra {rows[-1]['peak_extra_mib']} MiB", flush=True)
    for name in names:
        del prepared[name]
    if device == "cuda":
        torch.cuda.empty_cache()
    return rows


def append(path: str, rows: list[dict]) -> None:
    path = Path(path)
    new = not path.exists() or not path.stat().st_size
    with open(path, "a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=GPU_COLUMNS)
        if new:
            writer.writeheader()
        writer.writerows(rows)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    parser.add_argument("--quick", action="store_true", help="small shapes, for a smoke run")
    parser.add_argument("--rounds", type=int, default=20, help="timed rounds (20)")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up calls per variant (3)")
    parser.add_argument("--compile-backend", default="inductor",
                        help="torch.compile backend of the compiled variants (inductor)")
    parser.add_argument("--only", nargs="*", choices=list(FULL), help="problems to run")
    parser.add_argument("--csv", help="CSV to append to (default benchmarks/results-gpu.csv; "
                        "with --quick, a file in the temporary directory)")
    parser.add_argument("--md", help="markdown to render (default docs/benchmarks.md; with "
                        "--quick, a file in the temporary directory)")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda needs a CUDA device; use --device cpu for a smoke run")
    scratch = Path(tempfile.gettempdir())
    csv_path = args.csv or (str(scratch / "focalkit-gpu-quick.csv") if args.quick
                            else "benchmarks/results-gpu.csv")
    md_path = args.md or (str(scratch / "focalkit-gpu-quick.md") if args.quick
                          else "docs/benchmarks.md")
    start = time.perf_counter()
    for problem, cases in (QUICK if args.quick else FULL).items():
        if args.only and problem not in args.only:
            continue
        for shape, dtype in cases:
            append(csv_path, run(problem, shape, dtype, args.device, args.rounds, args.warmup,
                                 args.compile_backend))
    print(f"benchmark time {time.perf_counter() - start:.0f} s")
    cpu_csv = "benchmarks/results.csv" if not args.quick else None
    harness.render(cpu_csv, md_path, gpu_csv_path=csv_path)


if __name__ == "__main__":
    main()
