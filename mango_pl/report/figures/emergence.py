"""Emergence (paper Fig. 8): per layer, when each unit first had a strong MEI, and how the units' MEI
activation grows over the epochs relative to their own peak."""

from __future__ import annotations

import numpy as np
import torch

from mango_pl.analysis import first_strong_epoch
from mango_pl.report.kind import DrawOptions, FigureKind, Tables
from mango_pl.report.run import ReportRun
from mango_pl.report.stats import mean_intervals
from mango_pl.report.style import MAX_MARKED_POINTS, band_line, color, epoch_axis, legend_outside, line_style, new_figure
from mango_pl.report.table import Table

#: the first-strong epoch of a unit that never had a strong MEI
NEVER = -1


def numbers(run: ReportRun) -> Tables:
    """``first_strong``: per layer and epoch (-1: never), how many units had their first strong MEI
    then (strong as the files' reports judged it). ``activation``: per layer and epoch, the mean and
    95% interval over units of the unit's best MEI activation divided by its maximum over the epochs
    (units never active are left out; layers searched at one epoch only are left out)."""
    first = Table(("layer", "first_strong_epoch", "units", "fraction"))
    normalized = Table(("layer", "epoch", "mean", "low", "high", "units"))
    for layer in run.layers:
        epochs = run.layer_epochs(layer)
        reports = [run.files[layer][epoch].report for epoch in epochs]
        strong = torch.stack([r.strong.float() for r in reports])  # [E, U]
        firsts = first_strong_epoch(strong, epochs, threshold=1.0)
        units = len(firsts)
        for epoch in (*epochs, NEVER):
            count = int((firsts == epoch).sum())
            first.add(layer, epoch, count, count / units)
        best = torch.stack([r.activation.max(0).values for r in reports]).double()  # [E, U]
        peak = best.max(0).values
        active = peak > 0
        if active.any() and len(epochs) >= 2:  # relative to the peak over one epoch, everything is 1
            mean, low, high = mean_intervals((best[:, active] / peak[active]).T)
            for epoch, values in zip(epochs, zip(mean.tolist(), low.tolist(), high.tolist())):
                normalized.add(layer, epoch, *values, int(active.sum()))
    return {"first_strong": first, "activation": normalized}


def draw(tables: Tables, run: ReportRun, options: DrawOptions):
    first, normalized = tables["first_strong"], tables["activation"]
    layers = first.unique("layer")
    figure = new_figure(11.0, 4.4)
    left, right = figure.subplots(1, 2)
    names = {}
    for i, layer in enumerate(layers):  # the distribution as its cumulative fraction: readable for any epochs
        part = first.select(layer=layer)
        counts = dict(zip(part.column("first_strong_epoch"), part.column("fraction")))
        epochs = sorted(e for e in counts if e != NEVER)
        cumulative = np.cumsum([counts[e] for e in epochs])
        left.step(epochs, cumulative, where="post", color=color(i), linestyle=line_style(i),
                  marker="o" if len(epochs) <= MAX_MARKED_POINTS else None,
                  label=names.setdefault(layer, f"{layer} (never strong: {counts.get(NEVER, 0.0):.0%})"))
    epoch_axis(left, [e for e in first.column("first_strong_epoch") if e != NEVER])
    left.set_ylabel("fraction of units with a strong MEI\n(first one at this epoch or before)")
    left.set_ylim(-0.02, 1.02)
    left.set_title("When strong MEIs first appear")
    for i, layer in enumerate(layers):
        part = normalized.select(layer=layer)
        if part:
            band_line(right, part.column("epoch"), part, i, names[layer], marker="o", series=len(layers))
    if normalized:
        epoch_axis(right, normalized.column("epoch"))
    else:
        right.text(0.5, 0.5, "needs MEIs of at least 2 epochs", ha="center", va="center", transform=right.transAxes)
        right.set_xticks([])
    right.set_ylabel("MEI activation / the unit's maximum")
    right.set_ylim(0, 1.05)
    right.set_title("Normalized MEI activation (mean, 95% CI over units)")
    legend_outside(figure, [left, right], columns=min(len(layers), 4))
    return figure


FIGURE = FigureKind(
    name="emergence",
    title="Emergence of strong MEIs (paper Fig. 8)",
    caption="Left: fraction of each layer's units whose MEI had turned strong by each epoch (the cumulative "
            "distribution of the first strong epoch; the legend gives the units never strong). Right: "
            "each unit's best MEI activation relative to its own maximum over the epochs, mean and 95% CI.",
    numbers=numbers,
    draw=draw,
)
