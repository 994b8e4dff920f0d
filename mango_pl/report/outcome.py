"""Typed result of ``write_report``: what was drawn, what was not and why, where it all went."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class FigureOutcome:
    """One figure of a written report.

    Attributes:
        name, title, caption: the figure (see :class:`~mango_pl.report.kind.FigureKind`).
        png: the image written, ``None`` when the figure was not drawn.
        csvs: the CSV files of its numbers.
        skipped: why it was not drawn (``None`` when it was).
    """

    name: str
    title: str
    caption: str
    png: Path | None = None
    csvs: list[Path] = field(default_factory=list)
    skipped: str | None = None


@dataclass
class Report:
    """A written report.

    Attributes:
        run_dir: the run folder read.
        output: the report folder.
        index: its ``index.html``.
        figures: every figure, drawn or not, in page order.
        notes: what the reader should know (files left out for newer ones).
    """

    run_dir: Path
    output: Path
    index: Path
    figures: list[FigureOutcome]
    notes: list[str] = field(default_factory=list)

    @property
    def drawn(self) -> list[FigureOutcome]:
        return [f for f in self.figures if f.png is not None]

    @property
    def skipped(self) -> list[FigureOutcome]:
        return [f for f in self.figures if f.png is None]
