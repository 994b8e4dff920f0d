"""Class entropy (paper Fig. 6): the distribution of the normalized class entropy of the MEIs (every
run's MEI of every unit) per layer, at the layer's first and last searched epoch."""

from __future__ import annotations

import numpy as np

from mango_pl.report.errors import CannotDraw
from mango_pl.report.kind import DrawOptions, FigureKind, Tables, need_epochs
from mango_pl.report.run import ReportRun
from mango_pl.report.style import color, legend_outside, new_figure
from mango_pl.report.table import Table

STAGES = ("early", "late")


def numbers(run: ReportRun) -> Tables:
    """The entropy of every MEI (layer, stage, epoch, run label, unit) at each layer's first ("early")
    and last ("late") epoch."""
    need_epochs(run, "early vs late")
    table = Table(("layer", "stage", "epoch", "label", "unit", "entropy"))
    for layer in run.layers:
        epochs = run.layer_epochs(layer)
        if len(epochs) < 2:
            continue
        for stage, epoch in zip(STAGES, (epochs[0], epochs[-1])):
            report = run.files[layer][epoch].report
            for m, label in enumerate(report.labels):
                for u, unit in enumerate(report.units):
                    table.add(layer, stage, epoch, label, unit, float(report.entropy[m, u]))
    if not table:
        raise CannotDraw("early vs late needs a layer searched at 2 epochs or more")
    return {"": table}


def draw(tables: Tables, run: ReportRun, options: DrawOptions):
    table = tables[""]
    layers = table.unique("layer")
    figure = new_figure(max(5.0, 1.6 * len(layers) + 1.5), 4.2)
    ax = figure.subplots()
    rng = np.random.default_rng(0)  # the jitter of the points: the same picture every time
    width = 0.36
    for s, stage in enumerate(STAGES):
        for i, layer in enumerate(layers):
            values = table.select(layer=layer, stage=stage).column("entropy")
            x = i + (s - 0.5) * (width + 0.04)
            parts = ax.boxplot([values], positions=[x], widths=width, patch_artist=True, showfliers=False,
                               medianprops={"color": "black"})
            for box in parts["boxes"]:
                box.set(facecolor=color(s), alpha=0.45, edgecolor=color(s))
            ax.scatter(x + rng.uniform(-width / 4, width / 4, len(values)), values, s=9, color=color(s),
                       edgecolors="none", label=f"{stage} (layer's {'first' if s == 0 else 'last'} searched epoch)")
    ticks = []
    for layer in layers:
        epochs = table.select(layer=layer)
        ticks.append(f"{layer}\nepoch {epochs.select(stage='early').rows[0][2]} vs "
                     f"{epochs.select(stage='late').rows[0][2]}")
    ax.set_xticks(range(len(layers)), ticks)
    ax.set_xlim(-0.6, len(layers) - 0.4)
    ax.set_ylim(-0.03, 1.03)
    ax.set_ylabel("normalized class entropy\n(0: one class, 1: uniform)")
    ax.set_title("Class entropy of the MEIs, early vs late in training\n"
                 "(boxes: quartiles and range; dots: one MEI per unit and run)")
    legend_outside(figure, [ax])
    return figure


FIGURE = FigureKind(
    name="class_entropy",
    title="Class entropy (paper Fig. 6)",
    caption="Normalized entropy of the network's class probabilities on each MEI (every unit and run), per "
            "layer, at its first and last searched epoch; lower = the MEI looks like one class.",
    numbers=numbers,
    draw=draw,
)
