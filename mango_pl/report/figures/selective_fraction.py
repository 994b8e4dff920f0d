"""Selective fraction (paper Fig. 7): layer × epoch heatmaps of the fraction of units with a strong MEI
and of the fraction of selective units."""

from __future__ import annotations

import numpy as np

from mango_pl.report.kind import DrawOptions, FigureKind, Tables
from mango_pl.report.run import ReportRun
from mango_pl.report.style import HEATMAP, new_figure
from mango_pl.report.table import Table

#: above this many epochs the cells are not annotated with their values (too small to read)
MAX_ANNOTATED_EPOCHS = 20
PANELS = (("strong_fraction", "strong MEIs (activation ≥ threshold)"),
          ("selective_fraction", "selective units (strong, confident, one class)"))


def numbers(run: ReportRun) -> Tables:
    """Per layer and epoch: the strong and the selective fraction of its units (from the files' reports)."""
    table = Table(("layer", "epoch", "units", "strong_fraction", "selective_fraction"))
    for layer in run.layers:
        for epoch, found in run.files[layer].items():
            report = found.report
            table.add(layer, epoch, len(report.units), report.strong_fraction, report.selective_fraction)
    return {"": table}


def draw(tables: Tables, run: ReportRun, options: DrawOptions):
    table = tables[""]
    layers, epochs = table.unique("layer"), sorted(table.unique("epoch"))
    annotate = len(epochs) <= MAX_ANNOTATED_EPOCHS
    panel_width = min(max(3.5, 0.55 * len(epochs) + 2.0), 8.0)
    figure = new_figure(2 * panel_width + 1.5, max(2.6, 0.45 * len(layers) + 1.6))
    axes = figure.subplots(1, 2, sharey=True)
    for ax, (column, title) in zip(axes, PANELS):
        cells = np.full((len(layers), len(epochs)), np.nan)
        for layer, epoch, value in zip(table.column("layer"), table.column("epoch"), table.column(column)):
            cells[layers.index(layer), epochs.index(epoch)] = value
        image = ax.imshow(cells, cmap=HEATMAP, vmin=0.0, vmax=1.0, aspect="auto", interpolation="nearest")
        ax.grid(False)
        if annotate:
            for (row, col), value in np.ndenumerate(cells):
                if np.isfinite(value):
                    ax.text(col, row, f"{value:.2f}", ha="center", va="center", fontsize=8,
                            color="white" if value < 0.6 else "black")
        step = max(1, len(epochs) // MAX_ANNOTATED_EPOCHS)
        ax.set_xticks(range(0, len(epochs), step), [str(e) for e in epochs[::step]])
        ax.set_yticks(range(len(layers)), layers)
        ax.set_xlabel("epoch")
        ax.set_title(title)
    axes[0].set_ylabel("layer")
    figure.colorbar(image, ax=list(axes), label="fraction of the layer's units", shrink=0.9)
    figure.suptitle("Strong and selective units per layer and epoch")
    return figure


FIGURE = FigureKind(
    name="selective_fraction",
    title="Strong and selective fractions (paper Fig. 7)",
    caption="Fraction of each layer's units whose MEI is strong (left) and that are selective — strong, "
            "confident and the same class for every run (right) — at each searched epoch.",
    numbers=numbers,
    draw=draw,
)
