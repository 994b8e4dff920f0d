"""Dynamics (paper Fig. 9): the mean MEI activation of every layer across the epochs, beside the
network's validation accuracy."""

from __future__ import annotations

from mango_pl.report.figures._epoch_metrics import epoch_metric_table
from mango_pl.report.kind import DrawOptions, FigureKind, Tables, need_accuracy, need_epochs
from mango_pl.report.run import ReportRun
from mango_pl.report.style import ACTIVATION_LABEL, band_line, epoch_axis, legend_outside, new_figure
from mango_pl.report.table import Table

ACCURACY_COLOR = "#000000"


def numbers(run: ReportRun) -> Tables:
    """``activation``: per layer and epoch, the mean over units (and 95% interval) of each unit's MEI
    activation averaged over runs — the mean is the ``mei/<layer>/mean_activation`` TensorBoard shows.
    ``accuracy``: the validation accuracy per epoch."""
    need_epochs(run, "the course over training")
    need_accuracy(run)
    activation = epoch_metric_table(run, {"mean_activation": lambda report: report.activation.mean(0)})
    accuracy = Table(("epoch", "val_acc"))
    for epoch, value in run.accuracy.by_epoch.items():
        accuracy.add(epoch, value)
    return {"activation": activation, "accuracy": accuracy}


def draw(tables: Tables, run: ReportRun, options: DrawOptions):
    activation, accuracy = tables["activation"], tables["accuracy"]
    figure = new_figure(7.5, 4.6)
    ax = figure.subplots()
    layers = activation.unique("layer")
    for i, layer in enumerate(layers):
        part = activation.select(layer=layer)
        band_line(ax, part.column("epoch"), part, i, layer, marker="o", series=len(layers))
    epoch_axis(ax, activation.column("epoch") + accuracy.column("epoch"))
    ax.set_ylabel(f"mean {ACTIVATION_LABEL}")
    ax.set_ylim(bottom=0)
    right = ax.twinx()
    right.plot(accuracy.column("epoch"), accuracy.column("val_acc"), color=ACCURACY_COLOR, linestyle="--",
               marker="s", label="validation accuracy (right axis)")
    right.set_ylabel("validation accuracy (fraction correct)")
    right.set_ylim(0, 1)
    right.grid(False)
    right.spines["right"].set_visible(True)
    ax.set_title("MEI activation per layer (mean, 95% CI over units) and validation accuracy")
    legend_outside(figure, [ax, right])
    return figure


FIGURE = FigureKind(
    name="dynamics",
    title="Dynamics during training (paper Fig. 9)",
    caption="Mean MEI activation of each layer at each searched epoch (band: 95% CI over units) and the "
            "validation accuracy (dashed, right axis).",
    numbers=numbers,
    draw=draw,
)
