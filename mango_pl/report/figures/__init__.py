"""The report's figures, in the order of the page (paper figure numbers in their titles)."""

from mango_pl.report.figures import (activation_queries, class_entropy, complexity, diversity, dynamics, emergence,
                                     gallery, selective_fraction, stable_labile)
from mango_pl.report.kind import FigureKind

FIGURES: tuple[FigureKind, ...] = (
    activation_queries.FIGURE,
    class_entropy.FIGURE,
    selective_fraction.FIGURE,
    emergence.FIGURE,
    dynamics.FIGURE,
    stable_labile.FIGURE,
    diversity.FIGURE,
    complexity.FIGURE,
    gallery.FIGURE,
)

__all__ = ["FIGURES"]
