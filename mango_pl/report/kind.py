"""``FigureKind``: what one figure of the report is — its file name, title, caption, how its numbers
are computed from a run and how it is drawn from them — and what a figure needs from a run,
checked before its numbers are computed (a reason when it is missing)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from matplotlib.figure import Figure

from mango_pl.report.errors import CannotDraw
from mango_pl.report.run import ReportRun
from mango_pl.report.table import Table

#: the tables behind one figure, by part ("" when there is one)
Tables = dict[str, Table]


@dataclass(frozen=True)
class DrawOptions:
    """Choices of the user that change how figures are drawn (not their numbers).

    Attributes:
        log_x: a logarithmic query axis in the activation-vs-queries figure.
    """

    log_x: bool = False


@dataclass(frozen=True)
class FigureKind:
    """One figure of the report.

    Attributes:
        name: file stem of its PNG and CSV (``<name>.png``, ``<name>.csv``).
        title: its heading in index.html (with the paper figure it follows).
        caption: one line under it saying what it shows.
        numbers: the run -> the tables behind the figure, ``{part: Table}`` (pure); each is written
            to ``<name>.csv`` (part ``""``) or ``<name>_<part>.csv``. Raises
            :class:`~mango_pl.report.errors.CannotDraw` with the reason when the run lacks the data.
        draw: (tables, run, options) -> the figure, drawn from the tables (and the MEI images).
    """

    name: str
    title: str
    caption: str
    numbers: Callable[[ReportRun], Tables]
    draw: Callable[[Tables, ReportRun, DrawOptions], Figure]

    def csv_name(self, part: str) -> str:
        return f"{self.name}.csv" if not part else f"{self.name}_{part}.csv"


def need_epochs(run: ReportRun, purpose: str, count: int = 2) -> None:
    """Raise :class:`CannotDraw` unless the run has MEIs of ``count`` epochs or more."""
    if len(run.epochs) < count:
        has = f"only epoch {run.epochs[0]}" if len(run.epochs) == 1 else f"epochs {run.epochs}"
        raise CannotDraw(f"{purpose} needs MEIs of at least {count} epochs; the run has {has}")


def need_accuracy(run: ReportRun) -> None:
    """Raise :class:`CannotDraw` unless the run logged a validation accuracy."""
    if not run.accuracy.by_epoch:
        raise CannotDraw(f"needs the run's validation accuracy: {run.accuracy.missing}")
