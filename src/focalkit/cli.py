"""The ``focalkit`` command: training demos and figures.

Run ``focalkit --help`` for the commands, ``focalkit demo --help`` for the demos. The demos need
the ``demo`` extra: ``pip install "focalkit[demo]"``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from . import __version__

_EPILOG_DEMO = """\
examples:
  focalkit demo                              long-tailed digits, all nine losses
  focalkit demo --losses ce focal --epochs 20
  focalkit demo --dataset mnist --data-dir ~/data/mnist --epochs 5
  focalkit demo segment                      small-object segmentation
  focalkit demo detect                       1-in-1000 positive anchors
  focalkit demo lmhead                       a 32k-token head, fused vs materialised logits

'focalkit demo' with no DEMO runs classify; 'focalkit demo DEMO --help' shows a demo's options."""


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows every option's default; wraps prose but keeps indented example lines as they are."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        lines = []
        for line in text.splitlines():
            if not line.strip() or line.startswith(" "):
                lines.append(indent + line)
            else:
                lines.append(super()._fill_text(line, width, indent))
        return "\n".join(lines)

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "default" in text or action.default is None or action.default is False or (
                action.default == argparse.SUPPRESS):
            return text
        return super()._get_help_string(action)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def _int_range(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected an integer in [{low}, {high}], got "
                                             f"{text!r}")
        return value

    return parse


def _real(low: float, high: float | None = None, *, low_open: bool = False,
          high_open: bool = False) -> Callable[[str], float]:
    left, right = "(" if low_open else "[", ")" if high_open or high is None else "]"
    interval = f"{left}{low:g}, {'inf' if high is None else format(high, 'g')}{right}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number in {interval}, got "
                                             f"{text!r}") from None
        bad = (value <= low if low_open else value < low) or value != value or (
            high is not None and (value >= high if high_open else value > high)) or (
            high is None and value == float("inf"))
        if bad:
            raise argparse.ArgumentTypeError(f"expected a number in {interval}, got {text!r}")
        return value

    return parse


def _other_demos(demo: str) -> dict[str, str]:
    """Loss name -> the other demo that trains it, for the hint of ``--losses``."""
    from .demos import classify, detect, lmhead, segment

    found: dict[str, str] = {}
    for name, module in (("segment", segment), ("detect", detect), ("lmhead", lmhead),
                         ("classify", classify)):
        if name != demo:
            for key in module.LOSSES:
                found.setdefault(key, name)
    return found


def _choices_list(choices: Sequence[str], demo: str) -> Callable[[str], list[str]]:
    """Parse ``a,b`` (or one name per argument, flattened later) against ``choices``."""

    def parse(text: str) -> list[str]:
        names = [name.strip() for name in text.split(",") if name.strip()]
        unknown = [name for name in names if name not in choices]
        if unknown or not names:
            elsewhere = _other_demos(demo)
            hints = [f"{name!r} is a loss of 'focalkit demo {elsewhere[name]}'"
                     for name in unknown if name in elsewhere]
            raise argparse.ArgumentTypeError(
                f"unknown loss {', '.join(map(repr, unknown or [text]))} for {demo}; choose "
                f"from {', '.join(choices)}" + "".join(f" ({hint})" for hint in hints))
        return names

    return parse


def _flatten(lists: list[list[str]] | None, default: Sequence[str]) -> list[str]:
    if not lists:
        return list(default)
    seen: list[str] = []
    for names in lists:
        for name in names:
            if name not in seen:
                seen.append(name)
    return seen


def _add_common(p: argparse.ArgumentParser, losses: dict[str, tuple[str, str]],
                seed_help: str, demo: str) -> None:
    names = ", ".join(losses)
    p.add_argument("--losses", nargs="+", type=_choices_list(tuple(losses), demo),
                   metavar="LOSS",
                   help=f"losses to train, in this order, as separate words or comma-separated "
                        f"(default: all of {names})")
    p.add_argument("--seed", type=_non_negative_int, default=0,
                   help=f"random seed: {seed_help} (default: %(default)s)")
    p.add_argument("--device", default=None,
                   help="torch device to train on, e.g. cpu, cuda, cuda:1 "
                        "(default: cuda when available, else cpu)")
    p.add_argument("--out", metavar="DIR", default=None,
                   help="folder for results.csv, results.json and the PNG figures; created if "
                        "needed (default: focalkit-runs/<timestamp>/)")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bars (the table is still printed)")
    p.add_argument("--threads", type=_positive_int, default=1, metavar="N",
                   help="CPU threads for torch (default: 1; small models gain little from more, "
                        "and one thread keeps run times steady when other programs share the "
                        "cores; try the number of idle cores on a quiet machine)")


def _add_synthetic(p: argparse.ArgumentParser, defaults: dict[str, int],
                   losses: dict[str, tuple[str, str]], size_help: str, demo: str) -> None:
    """The options of a demo on synthetic images, then the common ones."""
    p.add_argument("--train-images", type=_positive_int, default=defaults["train_images"],
                   help="number of synthetic training images")
    p.add_argument("--test-images", type=_positive_int, default=defaults["test_images"],
                   help="number of synthetic held-out images")
    p.add_argument("--size", type=_int_range(16, 1024), default=defaults["size"],
                   help=size_help)
    _add_common(p, losses, "images, initial weights and batch order", demo)


_CLASSIFY_DESCRIPTION = (
    "Train a small MLP (input -> 500 -> C, ReLU; SGD lr=0.01, momentum=0.9, batch 64) on "
    "handwritten digits made long-tailed, once per loss, every run from the same initial "
    "weights and with the same batch order, and compare accuracy, balanced accuracy, macro-F1 "
    "and the recall of the three rarest classes on a balanced held-out split. Losses: ce = "
    "cross entropy; ce-weighted = cross entropy with inverse-frequency class weights; focal = "
    "softmax focal loss (gamma=2); focal-cb = focal with class-balanced alpha from the "
    "effective number of samples; focal-warmup = focal with gamma raised from 0 to 2 over the "
    "first quarter of training by a GammaScheduler; logit-adjusted = cross entropy of the "
    "logits plus the log prior of the training counts (Balanced Softmax, tau=1); ldam-drw = "
    "LDAM margins (scale=1 on the MLP's plain linear logits) with class-balanced weights "
    "switched on for the last fifth of training (deferred re-weighting); poly1 = Poly-1 cross "
    "entropy (epsilon=1); asl = the multi-label asymmetric loss on one-hot targets.")


def _classify_options(p: argparse.ArgumentParser) -> None:
    from .demos.classify import DATASETS, DEFAULT_EPOCHS, LOSSES

    p.add_argument("--dataset", choices=DATASETS, default=None,
                   help="digits: scikit-learn's bundled 8x8 digits (1,797 images, nothing to "
                        "download); mnist: MNIST from local IDX files in --data-dir (default: "
                        "mnist when --data-dir is given, else digits)")
    p.add_argument("--data-dir", metavar="DIR", default=None,
                   help="folder with train-images-idx3-ubyte, train-labels-idx1-ubyte, "
                        "t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (each may be .gz); "
                        "implies --dataset mnist; nothing is ever downloaded")
    p.add_argument("--imbalance", metavar="RHO", type=_real(1.0), default=50.0,
                   help="imbalance ratio: class k keeps n_max * RHO**(-k/(C-1)) training "
                        "images; 1 keeps the classes balanced")
    p.add_argument("--epochs", type=_positive_int, default=DEFAULT_EPOCHS,
                   help="passes over the training set for each loss")
    p.add_argument("--beta", type=_real(0.0, 1.0, high_open=True), default=0.99,
                   help="beta of the effective number of samples, (1 - beta**n) / (1 - beta), "
                        "for focal-cb and the deferred weights of ldam-drw")
    _add_common(p, LOSSES, "data split, initial weights and batch order", "classify")
    p.set_defaults(run=_run_classify, all_losses=tuple(LOSSES))


def _add_classify(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("classify", help="MLP on long-tailed handwritten digits (the default)",
                       description=_CLASSIFY_DESCRIPTION,
                       formatter_class=_HelpFormatter)
    _classify_options(p)


def _add_segment(sub: argparse._SubParsersAction) -> None:
    from .demos.segment import DEFAULTS, LOSSES

    p = sub.add_parser(
        "segment", help="small FCN on synthetic small-object segmentation",
        description="Generate seeded synthetic images with a few small shapes of three "
                    "foreground classes on a noisy background (about 2% foreground pixels), "
                    "train a small fully convolutional net once per loss from the same initial "
                    "weights, and compare the IoU of every foreground class on held-out "
                    "images. Losses: ce = cross entropy; dice = Dice; dice-ce = Dice + cross "
                    "entropy; focal = softmax focal (gamma=2); lovasz = Lovasz-Softmax; "
                    "focal-dice = focal + Dice; dice-cldice = Dice + soft-clDice. The rings, "
                    "thin structures, are also scored by their clDice.",
        formatter_class=_HelpFormatter)
    p.add_argument("--epochs", type=_positive_int, default=DEFAULTS["epochs"],
                   help="passes over the training images for each loss")
    _add_synthetic(p, DEFAULTS, LOSSES, "image side in pixels (at least 16)", "segment")
    p.set_defaults(run=_run_segment, all_losses=tuple(LOSSES))


def _add_detect(sub: argparse._SubParsersAction) -> None:
    from .demos.detect import DEFAULTS, LOSSES

    p = sub.add_parser(
        "detect", help="dense detection head with 1 positive anchor in 1,000",
        description="A RetinaNet-style toy: a small convolutional head scores 3 anchors at "
                    "every position of a 64x64 grid (12,288 anchors per image), about one in a "
                    "thousand of them positive. The loss is summed over anchors and divided "
                    "by the number of positives, as in RetinaNet. It is trained with bce = "
                    "binary cross entropy, bce-prior = BCE with the classifier bias set by "
                    "prior_bias_ (sigmoid(b) = 0.01), focal = sigmoid focal loss (gamma=2, "
                    "alpha=0.25), focal-prior = focal with prior_bias_, qfl-prior = quality "
                    "focal loss (beta=2) and vfl-prior = varifocal loss (alpha=0.75, gamma=2), "
                    "both with prior_bias_ and with the 0/1 anchor label as their quality "
                    "target (the head predicts no boxes). Reports the loss at the first step, "
                    "whether training diverged, and average precision on held-out images.",
        formatter_class=_HelpFormatter)
    p.add_argument("--steps", type=_positive_int, default=DEFAULTS["steps"],
                   help="SGD steps for each loss")
    _add_synthetic(p, DEFAULTS, LOSSES, "side of the anchor grid; 3 anchors per position",
                   "detect")
    p.set_defaults(run=_run_detect, all_losses=tuple(LOSSES))


def _add_lmhead(sub: argparse._SubParsersAction) -> None:
    from .demos.lmhead import DEFAULTS, LOSSES

    p = sub.add_parser(
        "lmhead", help="language-model-style head over a long-tailed 32k vocabulary",
        description="Draw tokens of a large vocabulary with Zipf frequencies, give each a "
                    "random code, and train a 2-layer MLP with a linear head of one output "
                    "per token to recover the token from a noisy copy of its code, once per "
                    "loss from the same initial weights and batches. Losses: ce = "
                    "cross entropy of the materialised logits; linear-ce = the same through "
                    "LinearSoftmaxFocalLoss (gamma=0), which never holds the logits; "
                    "linear-focal = LinearSoftmaxFocalLoss with gamma=2. Reports the peak "
                    "memory of a forward + backward of the loss and the held-out accuracy "
                    "of frequent, medium and rare tokens.",
        formatter_class=_HelpFormatter)
    p.add_argument("--vocab", type=_int_range(2, 1 << 20), default=DEFAULTS["vocab"],
                   help="tokens in the vocabulary (outputs of the head)")
    p.add_argument("--train-tokens", type=_positive_int, default=DEFAULTS["train_tokens"],
                   help="training examples")
    p.add_argument("--epochs", type=_positive_int, default=DEFAULTS["epochs"],
                   help="passes over the training examples for each loss")
    _add_common(p, LOSSES, "codes, tokens, initial weights and batch order", "lmhead")
    p.set_defaults(run=_run_lmhead, all_losses=tuple(LOSSES))


def _add_plot(sub: argparse._SubParsersAction) -> None:
    from .demos.plots import SCHEDULES

    plot = sub.add_parser("plot", help="figures of the focal loss and of gamma schedules",
                          description="Draw figures that explain the losses (needs matplotlib, "
                                      "part of the demo extra).")
    kinds = plot.add_subparsers(dest="figure", metavar="FIGURE", required=True)
    p = kinds.add_parser(
        "curves", help="focal loss against p_t for several gammas",
        description="Draw the focal loss -(1 - p_t)**gamma * log(p_t) against the probability "
                    "of the true class p_t, one curve per gamma (Lin et al. 2017, figure 1); "
                    "gamma=0 is cross entropy.",
        formatter_class=_HelpFormatter)
    p.add_argument("--gammas", nargs="+", type=_real(0.0), default=[0.0, 0.5, 1.0, 2.0, 5.0],
                   metavar="GAMMA", help="focusing parameters, one curve each")
    p.add_argument("--out", metavar="PNG", default="focal_loss_curves.png",
                   help="file to write the figure to; missing folders are created, as for the "
                        "demos' --out")
    p.add_argument("--table", action="store_true",
                   help="also print the loss values at a few p_t as a text table")
    p.set_defaults(run=_run_curves)

    p = kinds.add_parser(
        "schedule", help="gamma over training steps for GammaScheduler schedules",
        description="Draw the gamma that a focalkit.GammaScheduler sets at every step, one "
                    "line per schedule.",
        formatter_class=_HelpFormatter)
    p.add_argument("--schedule", nargs="+", choices=SCHEDULES, default=list(SCHEDULES),
                   help="schedules to draw")
    p.add_argument("--gamma-start", type=_real(0.0), default=0.0, help="gamma at step 0")
    p.add_argument("--gamma-end", type=_real(0.0), default=2.0, help="final gamma")
    p.add_argument("--total-steps", type=_positive_int, default=1000,
                   help="steps to reach --gamma-end (linear and cosine)")
    p.add_argument("--milestones", nargs="+", type=_positive_int, default=None,
                   metavar="STEP",
                   help="increasing step counts at which the step schedule raises gamma "
                        "(default: 1/4, 2/4, 3/4 and 4/4 of --total-steps)")
    p.add_argument("--steps", type=_positive_int, default=None,
                   help="steps to draw (default: 1.25 x --total-steps)")
    p.add_argument("--out", metavar="PNG", default="gamma_schedule.png",
                   help="file to write the figure to; missing folders are created, as for the "
                        "demos' --out")
    p.add_argument("--table", action="store_true",
                   help="also print gamma at a few steps as a text table")
    p.set_defaults(run=_run_schedule)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``focalkit`` command."""
    parser = argparse.ArgumentParser(
        prog="focalkit",
        description="focalkit: loss functions for class-imbalanced learning in PyTorch. "
                    "These commands train small demonstrations and draw figures; they need "
                    'the demo extra: pip install "focalkit[demo]".',
        epilog="Run 'focalkit demo --help' or 'focalkit plot --help' for the options.")
    parser.add_argument("--version", action="version", version=f"focalkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    demo = sub.add_parser(
        "demo", help="train a model once per loss and compare (default demo: classify)",
        usage="focalkit demo [DEMO] [options]",
        description="Train a small model once per loss on an imbalanced problem, print a table "
                    "and write results.csv, results.json and PNG figures to --out. Without a "
                    "DEMO name this runs classify, whose options are listed below.\n\n"
                    "classify: " + _CLASSIFY_DESCRIPTION,
        epilog=_EPILOG_DEMO, formatter_class=_HelpFormatter)
    _classify_options(demo)
    demos = demo.add_subparsers(dest="demo", metavar="DEMO", required=False, prog="focalkit demo",
                                title="demos (default: classify)")
    _add_classify(demos)
    _add_segment(demos)
    _add_detect(demos)
    _add_lmhead(demos)
    _add_plot(sub)
    return parser


def _common_config(args: argparse.Namespace) -> dict:
    """The settings of the options every demo has (see _add_common)."""
    return dict(losses=_flatten(args.losses, args.all_losses), seed=args.seed,
                device=args.device, out=args.out, quiet=args.quiet, threads=args.threads)


def _dataset(args: argparse.Namespace) -> str:
    """The dataset to train on: ``--dataset``, else mnist when ``--data-dir`` is given."""
    from .demos.common import DemoError

    if args.dataset is None:
        return "digits" if args.data_dir is None else "mnist"
    if args.dataset == "digits" and args.data_dir is not None:
        raise DemoError("--data-dir is for --dataset mnist; the digits ship with scikit-learn "
                        "(drop --data-dir, or use --dataset mnist)", status=2)
    return args.dataset


def _run_classify(args: argparse.Namespace) -> None:
    from .demos.classify import ClassifyConfig, run

    run(ClassifyConfig(dataset=_dataset(args), data_dir=args.data_dir, imbalance=args.imbalance,
                       epochs=args.epochs, beta=args.beta, **_common_config(args)))


def _run_segment(args: argparse.Namespace) -> None:
    from .demos.segment import SegmentConfig, run

    run(SegmentConfig(epochs=args.epochs, train_images=args.train_images,
                      test_images=args.test_images, size=args.size, **_common_config(args)))


def _run_detect(args: argparse.Namespace) -> None:
    from .demos.detect import DetectConfig, run

    run(DetectConfig(steps=args.steps, train_images=args.train_images,
                     test_images=args.test_images, size=args.size, **_common_config(args)))


def _run_lmhead(args: argparse.Namespace) -> None:
    from .demos.lmhead import LMHeadConfig, run

    run(LMHeadConfig(vocab=args.vocab, train_tokens=args.train_tokens, epochs=args.epochs,
                     **_common_config(args)))


def _run_curves(args: argparse.Namespace) -> None:
    from .demos.plots import focal_curves

    focal_curves(args.gammas, args.out, table=args.table)


def _run_schedule(args: argparse.Namespace) -> None:
    from .demos.plots import gamma_schedules

    gamma_schedules(args.schedule, args.out, gamma_start=args.gamma_start,
                    gamma_end=args.gamma_end, total_steps=args.total_steps,
                    milestones=args.milestones, steps=args.steps, table=args.table)


_SUBCOMMANDS = {"demo": ("classify", "segment", "detect", "lmhead"),
                "plot": ("curves", "schedule")}


def _help_last(argv: list[str]) -> list[str]:
    """``focalkit demo --help segment`` asks for segment's help: move the name before it."""
    if not argv or argv[0] not in _SUBCOMMANDS or not {"-h", "--help"} & set(argv):
        return argv
    help_at = min(argv.index(flag) for flag in ("-h", "--help") if flag in argv)
    names = [word for word in argv[help_at + 1:] if word in _SUBCOMMANDS[argv[0]]]
    if not names or any(word in _SUBCOMMANDS[argv[0]] for word in argv[1:help_at]):
        return argv
    return [argv[0], names[0], "--help"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``focalkit`` command.

    Args:
        argv: the arguments after the program name. Default: ``sys.argv[1:]``.

    Returns:
        int: the exit status: 0 on success, 2 for a bad option, output folder or data file
        (missing, unreadable or corrupt), 1 for a missing optional package; such problems are
        reported on one line of stderr, without a traceback.
    """
    from .demos.common import DemoError

    argv = _help_last(list(sys.argv[1:] if argv is None else argv))
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.run(args)
    except DemoError as err:
        print(f"focalkit: error: {err}", file=sys.stderr)
        return err.status
    except KeyboardInterrupt:
        print("focalkit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader of stdout went away (``focalkit plot curves --table | head``)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    return 0
