"""``focalkit plot``: the focal loss against p_t, and gamma schedules over training."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from .common import DemoError, format_table, require

SCHEDULES = ("constant", "step", "linear", "cosine")
TABLE_PT = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)


def focal_loss_values(gammas: Sequence[float], p_t: Sequence[float]) -> dict[float, list[float]]:
    r"""The focal loss :math:`-(1 - p_t)^\gamma \log p_t` of one example, for each gamma.

    Computed with :func:`focalkit.functional.sigmoid_focal_loss` on probabilities
    (``from_logits=False``, target 1, no alpha), in float64.

    Args:
        gammas: focusing parameters.
        p_t: probabilities of the true class, in (0, 1].

    Returns:
        dict: gamma -> list of losses, one per ``p_t``.

    Example:
        >>> from focalkit.demos.plots import focal_loss_values
        >>> values = focal_loss_values([0.0, 2.0], [0.5, 1.0])
        >>> [round(v, 4) for v in values[0.0]], [round(v, 4) for v in values[2.0]]
        ([0.6931, 0.0], [0.1733, 0.0])
    """
    import torch

    from focalkit.functional import sigmoid_focal_loss

    p = torch.tensor(list(p_t), dtype=torch.float64)
    ones = torch.ones_like(p)
    return {g: sigmoid_focal_loss(p, ones, alpha=None, gamma=g, from_logits=False,
                                  reduction="none").tolist() for g in gammas}


def _check_png_path(out: str | Path) -> Path:
    path = Path(out)
    if path.suffix.lower() != ".png":
        raise DemoError(f"--out must name a .png file; got {str(path)!r}", status=2)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab"):
            pass
    except OSError as err:
        raise DemoError(f"cannot write to --out {str(path)!r}: {err.strerror or err}",
                        status=2) from None
    return path


def focal_curves(gammas: Sequence[float], out: str | Path, *, table: bool = False,
                 stream: TextIO | None = None) -> Path:
    """Draw the focal loss against p_t for each gamma (Lin et al. 2017, figure 1).

    Args:
        gammas: focusing parameters, one curve each.
        out: the PNG file to write.
        table: also print the values at a few p_t. Default: False.
        stream: where the table and messages go. Default: ``sys.stdout``.

    Returns:
        Path: the PNG written.

    Raises:
        DemoError: if matplotlib is missing or ``out`` cannot be written.
    """
    stream = sys.stdout if stream is None else stream
    require("matplotlib")
    import numpy as np

    from .plotting import colour, figure, save

    path = _check_png_path(out)
    gammas = list(dict.fromkeys(float(g) for g in gammas))
    grid = np.linspace(0.0, 1.0, 401)[1:]
    values = focal_loss_values(gammas, grid.tolist())

    fig, ax = figure(7.6, 4.4)
    ax.axvspan(0.6, 1.0, color="#bbbbbb", alpha=0.25, lw=0)
    ax.text(0.8, 4.6, "well-classified\nexamples", ha="center", va="top", fontsize=9,
            color="#444444")
    for i, g in enumerate(gammas):
        label = f"γ = {g:g}" + (" (cross entropy)" if g == 0 else "")
        ax.plot(grid, values[g], color=colour(i), lw=2, label=label)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 5)
    ax.set_xlabel("probability of the true class, $p_t$")
    ax.set_ylabel("loss")
    ax.set_title(r"Focal loss $-(1-p_t)^\gamma\,\log p_t$")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0))  # beside the shaded band
    save(fig, path)

    if table:
        rows = focal_loss_values(gammas, TABLE_PT)
        records = [{"p_t": f"{p:g}", **{f"g{g:g}": rows[g][j] for g in gammas}}
                   for j, p in enumerate(TABLE_PT)]
        columns = [("p_t", "p_t", "")] + [(f"g{g:g}", f"gamma={g:g}", ".4g") for g in gammas]
        print(format_table(records, columns), file=stream)
    print(f"wrote {path}", file=stream)
    return path


def gamma_schedules(schedules: Sequence[str], out: str | Path, *, gamma_start: float = 0.0,
                    gamma_end: float = 2.0, total_steps: int = 1000,
                    milestones: Sequence[int] | None = None, steps: int | None = None,
                    table: bool = False, stream: TextIO | None = None) -> Path:
    """Draw the gamma a :class:`focalkit.GammaScheduler` sets at every step.

    Args:
        schedules: names among ``"constant"``, ``"step"``, ``"linear"``, ``"cosine"``.
        out: the PNG file to write.
        gamma_start: gamma at step 0. Default: 0.0.
        gamma_end: final gamma. Default: 2.0.
        total_steps: steps to reach ``gamma_end`` (linear, cosine). Default: 1000.
        milestones: the step schedule's milestones; None spreads four evenly up to
            ``total_steps``. Default: None.
        steps: steps to draw; None draws ``1.25 * total_steps``. Default: None.
        table: also print gamma at a few steps. Default: False.
        stream: where the table and messages go. Default: ``sys.stdout``.

    Returns:
        Path: the PNG written.

    Raises:
        DemoError: if matplotlib is missing, ``out`` cannot be written, or the scheduler
            rejects the settings.
    """
    stream = sys.stdout if stream is None else stream
    require("matplotlib")
    from focalkit import GammaScheduler, SoftmaxFocalLoss

    from .plotting import colour, figure, save

    path = _check_png_path(out)
    if milestones is None:
        milestones = sorted({max(1, total_steps * k // 4) for k in range(1, 5)})
    steps = steps if steps is not None else max(2, total_steps + total_steps // 4)
    curves = {}
    for name in dict.fromkeys(schedules):
        loss = SoftmaxFocalLoss(gamma=gamma_end)
        try:
            scheduler = GammaScheduler(loss, schedule=name, gamma_start=gamma_start,
                                       gamma_end=gamma_end, total_steps=total_steps,
                                       milestones=milestones)
        except ValueError as err:
            raise DemoError(str(err), status=2) from None
        values = [loss.gamma]
        for _ in range(steps):
            scheduler.step()
            values.append(loss.gamma)
        curves[name] = values

    fig, ax = figure(6.4, 4.0)
    x = list(range(steps + 1))
    for i, (name, values) in enumerate(curves.items()):
        ax.plot(x, values, color=colour(i), lw=2, label=name,
                drawstyle="steps-post" if name == "step" else "default")
    ax.axvline(total_steps, color="#777777", lw=1, ls="--")
    ax.annotate("total_steps", (total_steps, 0.5), xytext=(4, 0), textcoords="offset points",
                xycoords=("data", "axes fraction"), fontsize=8, color="#555555", rotation=90,
                va="center")
    ax.set_xlabel("training step (scheduler.step() calls)")
    ax.set_ylabel("γ (focusing parameter)")
    ax.set_title(f"GammaScheduler: γ from {gamma_start:g} to {gamma_end:g}")
    ax.legend(loc="lower right")
    save(fig, path)

    if table:
        marks = sorted({0, *(round(steps * k / 8) for k in range(1, 9))})
        records = [{"_step": s, **{name: values[s] for name, values in curves.items()}}
                   for s in marks]
        columns = [("_step", "step", "")] + [(name, name, ".3f") for name in curves]
        print(format_table(records, columns), file=stream)
    print(f"wrote {path}", file=stream)
    return path
