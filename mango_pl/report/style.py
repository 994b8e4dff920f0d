"""How the report's figures look: the Okabe–Ito colour-blind-safe palette, font sizes, the Agg
canvas (no display, no pyplot state), PNG output, and the drawing pieces the figures share (one
panel per layer, a line with its 95% band, epoch ticks, one legend under the figure)."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import matplotlib
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from mango_pl.report.table import Table

#: Okabe & Ito (2008), ordered so that neighbours differ most; yellow last (faint on white)
OKABE_ITO = ("#E69F00", "#56B4E9", "#009E73", "#D55E00", "#0072B2", "#CC79A7", "#000000", "#F0E442")
#: after the 8 colours, lines repeat them with another dash pattern
LINE_STYLES = ("-", "--", ":", "-.")
#: the colour map of heatmaps (perceptually uniform, colour-blind safe)
HEATMAP = "viridis"
DPI = 110
#: units of the activation axis (a spiking layer's activation is its spike rate)
ACTIVATION_LABEL = "MEI activation (spike rate)"
#: lines of more points than this are drawn without markers
MAX_MARKED_POINTS = 15

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


def layer_panels(count: int, panel_width: float = 4.2, panel_height: float = 3.2,
                 max_columns: int = 3) -> tuple[Figure, list[Axes]]:
    """A figure with ``count`` panels in rows of at most ``max_columns`` (unused cells hidden)."""
    columns = min(count, max_columns)
    rows = math.ceil(count / columns)
    figure = new_figure(panel_width * columns, panel_height * rows + 0.5)
    axes = figure.subplots(rows, columns, squeeze=False).flatten().tolist()
    for extra in axes[count:]:
        extra.set_visible(False)
    return figure, axes[:count]


def band_line(axes: Axes, x: Sequence[float], table: Table, position: int, label: str, marker: str | None = None,
              series: int = 1) -> None:
    """``table``'s ``mean`` against ``x`` with its ``low``–``high`` band, in the ``position``-th colour of
    ``series``. A single point gets an error bar instead, set apart from the other series' points."""
    mean, low, high = table.column("mean"), table.column("low"), table.column("high")
    if len(x) == 1:
        x = [x[0] + 0.6 * (position - (series - 1) / 2) / max(series, 2)]
        axes.errorbar(x, mean, yerr=[[mean[0] - low[0]], [high[0] - mean[0]]], color=color(position),
                      marker=marker or "o", capsize=4, label=label)
        return
    marker = marker if len(x) <= MAX_MARKED_POINTS else None
    axes.plot(x, mean, color=color(position), linestyle=line_style(position), marker=marker, label=label)
    axes.fill_between(x, low, high, color=color(position), alpha=0.2, linewidth=0)


def epoch_axis(axes: Axes, epochs: Sequence[int]) -> None:
    """An x axis of whole epochs: a tick at every plotted epoch when there are few, else whole numbers."""
    epochs = sorted(set(epochs))
    if len(epochs) <= 12:
        axes.set_xticks(epochs)
    else:
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlim(epochs[0] - 0.5, epochs[-1] + 0.5)
    axes.set_xlabel("epoch")


def legend_outside(figure: Figure, axes: Sequence[Axes], columns: int | None = None) -> None:
    """One legend of every series of ``axes`` (each label once), under the figure, so it hides no data."""
    entries: dict[str, object] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    if entries:
        figure.legend(list(entries.values()), list(entries), loc="outside lower center",
                      ncols=columns or legend_columns(list(entries), figure.get_figwidth()))


def legend_columns(labels: Sequence[str], width: float, most: int = 6) -> int:
    """How many legend entries fit side by side in a figure ``width`` inches wide (at most ``most``):
    each takes its marker and about 0.075 in per character of its label at the report's font size."""
    entry = 0.55 + 0.075 * max(len(label) for label in labels)
    return max(1, min(len(labels), most, int(width // entry)))
