"""Figure helpers: matplotlib's object-oriented API, so no GUI backend is ever needed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

# Colour-blind-friendly palette (Okabe & Ito, then Tol's wine and grey), in the order the
# losses are listed.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#000000",
           "#F0E442", "#882255", "#999999")

_STYLE = {
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "figure.dpi": 100,
    "savefig.dpi": 110,
    "savefig.bbox": "tight",
}


def figure(width: float, height: float, nrows: int = 1, ncols: int = 1, **kwargs: Any
           ) -> tuple[Any, Any]:
    """A new :class:`matplotlib.figure.Figure` and its axes, in the demos' style.

    Args:
        width: width in inches.
        height: height in inches.
        nrows: rows of axes. Default: 1.
        ncols: columns of axes. Default: 1.
        **kwargs: passed to :meth:`matplotlib.figure.Figure.subplots`.

    Returns:
        tuple: the figure and the axes (one, or an array as ``subplots`` returns).
    """
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(_STYLE):
        fig = Figure(figsize=(width, height), layout="constrained")
        axes = fig.subplots(nrows, ncols, **kwargs)
        for ax in (axes.flat if hasattr(axes, "flat") else [axes]):
            _apply_style(ax)
    return fig, axes


def _apply_style(ax: Any) -> None:
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)
    ax.grid(True, alpha=0.3, linewidth=0.6)
    ax.set_axisbelow(True)
    ax.tick_params(labelsize=9)


def save(fig: Any, path: str | Path) -> Path:
    """Save a figure as PNG and return its path."""
    import matplotlib

    path = Path(path)
    with matplotlib.rc_context(_STYLE):
        fig.savefig(path, format="png", dpi=110, bbox_inches="tight",
                    metadata={"Software": "focalkit"})
    return path


def colour(i: int) -> str:
    """The i-th palette colour (cycling)."""
    return PALETTE[i % len(PALETTE)]
