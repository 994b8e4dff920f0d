"""Gallery: the MEIs of the last epoch, per layer and run, captioned like TensorBoard's grids
(unit, activation, top class and its probability)."""

from __future__ import annotations

from mango_pl.mei import layer_images
from mango_pl.report.kind import DrawOptions, FigureKind, Tables
from mango_pl.report.run import ReportRun
from mango_pl.report.style import DPI, new_figure
from mango_pl.report.table import Table

#: height of a panel's title, in inches
TITLE_HEIGHT = 0.35


def numbers(run: ReportRun) -> Tables:
    """Per layer (its last epoch), run label and unit: the caption's numbers."""
    table = Table(("layer", "epoch", "label", "unit", "activation", "top_class", "probability"))
    for layer in run.layers:
        report = run.last(layer).report
        for m, label in enumerate(report.labels):
            probability, top_class = report.probs[m].max(-1)
            for u, unit in enumerate(report.units):
                table.add(layer, report.epoch, label, unit, float(report.activation[m, u]), int(top_class[u]),
                          float(probability[u]))
    return {"": table}


def draw(tables: Tables, run: ReportRun, options: DrawOptions):
    layers = tables[""].unique("layer")
    grids = {layer: layer_images(run.last(layer).meis, run.last(layer).report) for layer in layers}
    columns = max(len(images) for images in grids.values())
    # each grid at its own pixel size: the figure is as large as the largest grid in every cell
    cell_w = max(grid.shape[2] for images in grids.values() for _, grid, _ in images) / DPI
    cell_h = max(grid.shape[1] for images in grids.values() for _, grid, _ in images) / DPI + TITLE_HEIGHT
    figure = new_figure(columns * cell_w + 0.3, len(layers) * cell_h + 0.6)
    axes = figure.subplots(len(layers), columns, squeeze=False)
    for row, layer in zip(axes, layers):
        epoch = run.last(layer).meis.epoch
        for ax, (key, grid, _) in zip(row, grids[layer]):
            ax.imshow(grid.permute(1, 2, 0).numpy(), interpolation="nearest")
            ax.set_title(f"{layer}, {key.removeprefix(f'mei/{layer}/')} (epoch {epoch})")  # run label (/optima)
            ax.set_axis_off()
        for ax in row[len(grids[layer]):]:
            ax.set_visible(False)
    figure.suptitle("MEIs of the last epoch (caption: unit u, activation a, top class c : its probability)")
    return figure


FIGURE = FigureKind(
    name="gallery",
    title="MEI gallery",
    caption="The MEIs of each layer and search run at the last searched epoch, captioned u<unit> a<activation> "
            "c<class>:<probability> as in TensorBoard.",
    numbers=numbers,
    draw=draw,
)
