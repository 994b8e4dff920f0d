"""A per-unit metric of every layer across the epochs, as mean and 95% interval (the numbers of the
dynamics, diversity and complexity figures), and its drawing: one panel per metric, a line per layer."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from torch import Tensor

from mango_pl.mei import LayerReport
from mango_pl.report.run import ReportRun
from mango_pl.report.stats import mean_interval
from mango_pl.report.style import band_line, epoch_axis, legend_outside, new_figure
from mango_pl.report.table import Table

#: report -> the values whose mean and interval are plotted (e.g. ``[U]`` or ``[M, U]``)
Metric = Callable[[LayerReport], Tensor]


def epoch_metric_table(run: ReportRun, metrics: Mapping[str, Metric]) -> Table:
    """Per layer, epoch and metric: mean, low, high of the metric's values and how many there are."""
    table = Table(("layer", "epoch", "metric", "mean", "low", "high", "values"))
    for layer in run.layers:
        for epoch, found in run.files[layer].items():
            for name, metric in metrics.items():
                interval = mean_interval(metric(found.report))
                table.add(layer, epoch, name, interval.mean, interval.low, interval.high, interval.count)
    return table


def draw_epoch_metrics(table: Table, panels: Mapping[str, tuple[str, str]], title: str):
    """One panel per metric (``{metric: (panel title, y label)}``), a line and band per layer."""
    layers = table.unique("layer")
    figure = new_figure(5.0 * len(panels) + 0.5, 4.2)
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    for ax, (metric, (panel_title, y_label)) in zip(axes, panels.items()):
        for i, layer in enumerate(layers):
            part = table.select(layer=layer, metric=metric)
            band_line(ax, part.column("epoch"), part, i, layer, marker="o", series=len(layers))
        epoch_axis(ax, table.column("epoch"))
        ax.set_ylabel(y_label)
        ax.set_title(panel_title)
    figure.suptitle(title)
    legend_outside(figure, list(axes))
    return figure
