"""How the report's figures look: the Okabe–Ito colour-blind-safe palette, font sizes, the Agg
canvas (no display, no pyplot state), and PNG output."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

#: Okabe & Ito (2008), ordered so that neighbours differ most; yellow last (faint on white)
OKABE_ITO = ("#E69F00", "#56B4E9", "#009E73", "#D55E00", "#0072B2", "#CC79A7", "#000000", "#F0E442")
#: after the 8 colours, lines repeat them with another dash pattern
LINE_STYLES = ("-", "--", ":", "-.")
#: the colour map of heatmaps (perceptually uniform, colour-blind safe)
HEATMAP = "viridis"
DPI = 110

STYLE = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "figure.titlesize": 12,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.frameon": False,
}


def color(position: int) -> str:
    """The colour of the ``position``-th series (layer, run or stage)."""
    return OKABE_ITO[position % len(OKABE_ITO)]


def line_style(position: int) -> str:
    """Solid for the first 8 series, then another dash pattern for every further 8."""
    return LINE_STYLES[(position // len(OKABE_ITO)) % len(LINE_STYLES)]


@contextmanager
def report_style() -> Iterator[None]:
    """Draw and save inside this: the report's font sizes and grid, whatever the user's rcParams."""
    with matplotlib.rc_context(STYLE):
        yield


def new_figure(width: float, height: float) -> Figure:
    """A figure on an Agg canvas (never a window; safe without a display and in threads)."""
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def save_png(figure: Figure, path: str | Path) -> None:
    figure.savefig(path, format="png", dpi=DPI)
