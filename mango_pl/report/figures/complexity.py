"""Complexity (paper Fig. 12): JPEG and ZIP compression ratios of the MEIs per layer across the epochs."""

from __future__ import annotations

from mango_pl.report.figures._epoch_metrics import draw_epoch_metrics, epoch_metric_table
from mango_pl.report.kind import DrawOptions, FigureKind, Tables
from mango_pl.report.run import ReportRun

PANELS = {"jpeg": ("JPEG", "compressed size / raw size"),
          "zip": ("ZIP (deflate)", "compressed size / raw size")}


def numbers(run: ReportRun) -> Tables:
    """Per layer, epoch and format: mean and 95% interval over every MEI (runs × units) of its compression
    ratio (the means are TensorBoard's ``jpeg_ratio`` / ``zip_ratio`` scalars)."""
    return {"": epoch_metric_table(run, {"jpeg": lambda report: report.jpeg_ratio,
                                         "zip": lambda report: report.zip_ratio})}


def draw(tables: Tables, run: ReportRun, options: DrawOptions):
    return draw_epoch_metrics(tables[""], PANELS, "Complexity of MEIs: compression ratio (mean, 95% CI over MEIs); "
                                                  "higher = more complex")


FIGURE = FigureKind(
    name="complexity",
    title="Complexity of MEIs (paper Fig. 12)",
    caption="JPEG (left) and ZIP (right) compressed size over raw size of the MEIs of each layer and epoch; "
            "higher = more complex image; band: 95% CI over MEIs.",
    numbers=numbers,
    draw=draw,
)
