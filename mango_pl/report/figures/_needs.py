"""What a figure needs from a run, checked before its numbers are computed (a reason when it is missing)."""

from __future__ import annotations

from mango_pl.report.errors import CannotDraw
from mango_pl.report.run import ReportRun


def need_epochs(run: ReportRun, purpose: str, count: int = 2) -> None:
    """Raise :class:`CannotDraw` unless the run has MEIs of ``count`` epochs or more."""
    if len(run.epochs) < count:
        has = f"only epoch {run.epochs[0]}" if len(run.epochs) == 1 else f"epochs {run.epochs}"
        raise CannotDraw(f"{purpose} needs MEIs of at least {count} epochs; the run has {has}")


def need_accuracy(run: ReportRun) -> None:
    """Raise :class:`CannotDraw` unless the run logged a validation accuracy."""
    if not run.accuracy.by_epoch:
        raise CannotDraw(f"needs the run's validation accuracy: {run.accuracy.missing}")
