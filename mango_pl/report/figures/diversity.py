"""Diversity (paper Fig. 11): how far apart the different runs' MEIs of a unit lie in the latent
space, per layer across the epochs (Euclidean and cosine distance)."""

from __future__ import annotations

from mango_pl.report.errors import CannotDraw
from mango_pl.report.figures._epoch_metrics import draw_epoch_metrics, epoch_metric_table
from mango_pl.report.kind import DrawOptions, FigureKind, Tables
from mango_pl.report.run import ReportRun

PANELS = {"euclidean": ("Euclidean distance between runs' MEI latents", "Euclidean distance (latent units)"),
          "cosine": ("Cosine distance between runs' MEI latents", "cosine distance (1 − cos)")}


def numbers(run: ReportRun) -> Tables:
    """Per layer, epoch and distance: mean and 95% interval over units of the unit's mean pairwise
    distance between its runs' MEI latents (the means are TensorBoard's ``diversity_*`` scalars)."""
    if all(len(run.last(layer).report.labels) < 2 for layer in run.layers):
        raise CannotDraw("diversity compares the MEIs of different runs; every layer was searched by one run only")
    return {"": epoch_metric_table(run, {"euclidean": lambda report: report.diversity_euclidean,
                                         "cosine": lambda report: report.diversity_cosine})}


def draw(tables: Tables, run: ReportRun, options: DrawOptions):
    return draw_epoch_metrics(tables[""], PANELS, "Diversity of MEIs across search runs (mean, 95% CI over units)")


FIGURE = FigureKind(
    name="diversity",
    title="Diversity of MEIs (paper Fig. 11)",
    caption="Mean pairwise Euclidean (left) and cosine (right) distance between the latents of the different "
            "runs' MEIs of a unit, per layer and epoch; band: 95% CI over units.",
    numbers=numbers,
    draw=draw,
)
