"""Activation vs queries (paper Fig. 4): each run's best-so-far MEI activation against the number of
queries, mean and 95% interval over the layer's units, one panel per layer, at the last epoch."""

from __future__ import annotations

from mango_pl.report.errors import CannotDraw
from mango_pl.report.kind import DrawOptions, FigureKind, Tables
from mango_pl.report.run import ReportRun
from mango_pl.report.stats import mean_intervals, running_max
from mango_pl.report.style import band_line, layer_panels, legend_outside
from mango_pl.report.table import Table


def numbers(run: ReportRun) -> Tables:
    """Per layer (its last epoch) and run label, per query q: mean, low, high over units of the best
    value among the first q queries."""
    table = Table(("layer", "epoch", "label", "query", "mean", "low", "high", "units"))
    for layer in run.layers:
        found = run.last(layer)
        for label, search in found.meis.runs.items():
            if search.history.numel() == 0:
                continue
            mean, low, high = mean_intervals(running_max(search.history))
            units = search.history.shape[0]
            for query, values in enumerate(zip(mean.tolist(), low.tolist(), high.tolist()), start=1):
                table.add(layer, found.meis.epoch, label, query, *values, units)
    if not table:
        raise CannotDraw("the MEI files hold no query histories")
    return {"": table}


def draw(tables: Tables, run: ReportRun, options: DrawOptions):
    table = tables[""]
    layers = table.unique("layer")
    figure, axes = layer_panels(len(layers))
    labels = table.unique("label")
    for ax, layer in zip(axes, layers):
        part = table.select(layer=layer)
        for label in part.unique("label"):
            curve = part.select(label=label)
            band_line(ax, curve.column("query"), curve, labels.index(label), label)
        epoch, units = part.rows[0][1], part.rows[0][7]
        ax.set_title(f"{layer} (epoch {epoch}, {units} units)")
        ax.set_xlabel("queries (images shown per unit)" + (", log scale" if options.log_x else ""))
        ax.set_ylabel("best activation so far (spike rate)")
        if options.log_x:
            ax.set_xscale("log")
    figure.suptitle("Activation vs queries: best MEI activation so far, mean and 95% CI over units")
    legend_outside(figure, axes)
    return figure


FIGURE = FigureKind(
    name="activation_vs_queries",
    title="Activation vs queries (paper Fig. 4)",
    caption="Best activation found so far against the queries spent, per search run; line: mean over the "
            "layer's units, band: 95% confidence interval; last searched epoch.",
    numbers=numbers,
    draw=draw,
)
