"""``write_report``: a run's MEI files -> one PNG and CSV per figure and an ``index.html`` showing them.

The output folder is checked before anything is written; every file is replaced atomically (never
a half file), ``index.html`` last (it is what makes a folder a report); the figures of an earlier
report that are not drawn now are removed. The result is typed: :class:`Report`, one
:class:`FigureOutcome` per figure (what was drawn, what was not and why, where it all went).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from mango_pl.atomic_files import write_atomically as atomic_write
from mango_pl.report.errors import CannotDraw, ReportError
from mango_pl.report.figures import FIGURES
from mango_pl.report.kind import DrawOptions, FigureKind, Tables
from mango_pl.report.paper_claims import ClaimCheck, check_claims, claims_markdown, claims_table
from mango_pl.report.run import ReportRun, load_run
from mango_pl.report.style import report_style, save_png
from mango_pl.report.unit_pages import PAGE as UNIT_PAGE
from mango_pl.report.unit_pages import write_unit_page

#: the file that makes a folder a report (written last)
INDEX = "index.html"
#: the paper's findings checked on the run (see :mod:`mango_pl.report.paper_claims`)
CLAIMS_CSV, CLAIMS_MD = "claims.csv", "claims.md"


def check_output(output: Path, overwrite: bool) -> None:
    """Raise unless ``output`` can take a report: a folder (or a path under a writable folder) that
    holds no report yet, or one whose report may be replaced (``overwrite``).

    Raises:
        ReportError: ``output`` or a folder above it is a file, the nearest existing folder is not
            writable, or ``output`` holds a report and ``overwrite`` is off.
    """
    existing = output
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ReportError(f"cannot write the report to {str(output)!r}: {str(existing)!r} is a file, not a folder; "
                          f"give --output a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ReportError(f"cannot write the report to {str(output)!r}: {str(existing)!r} is not writable; give "
                          f"--output a folder you can write to")
    if (output / INDEX).exists() and not overwrite:
        raise ReportError(f"{str(output)!r} already holds a report ({INDEX}); give --overwrite to replace it, or "
                          f"another --output folder")


def write_atomically(path: Path, write: Callable[[Path], None]) -> Path:
    """``write(temporary path)`` beside ``path``, then rename it into place: never a half file."""
    atomic_write(path, write, durable=False, overwrite=True)
    return path


def remove_files(output: Path, name: str) -> None:
    """Remove the PNG and CSVs of figure ``name`` from an earlier report (a figure not drawn now)."""
    for stale in [output / f"{name}.png", output / f"{name}.csv", *output.glob(f"{name}_*.csv")]:
        if stale.is_file():
            stale.unlink()


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
        units: ``units.html``, every unit's MEIs across training (see :mod:`mango_pl.report.unit_pages`).
        claims: the paper's findings checked on the run (``claims.csv``, ``claims.md``, and a table in
            ``index.html``; see :mod:`mango_pl.report.paper_claims`).
    """

    run_dir: Path
    output: Path
    index: Path
    figures: list[FigureOutcome]
    notes: list[str] = field(default_factory=list)
    units: Path | None = None
    claims: list[ClaimCheck] = field(default_factory=list)

    @property
    def drawn(self) -> list[FigureOutcome]:
        return [f for f in self.figures if f.png is not None]

    @property
    def skipped(self) -> list[FigureOutcome]:
        return [f for f in self.figures if f.png is None]


def write_report(run_dir: str | Path, output: str | Path | None = None, overwrite: bool = False,
                 log_x: bool = False, figures: Sequence[FigureKind] = FIGURES) -> Report:
    """Draw the paper's figures from the MEI files of a run (a callback run or a ``mango-pl search``).

    Every MEI file under ``run_dir`` (any depth, every logger version) forms one run; its validation
    accuracy is read from TensorBoard event files under ``run_dir`` when there are any. Each figure
    is drawn only when the run has the data it needs; the others are listed with the reason.

    Args:
        run_dir: the run folder, e.g. ``runs/demo`` or ``runs/demo/version_0``.
        output: the report folder (default ``<run_dir>/report``).
        overwrite: replace a report already in ``output`` (else that is an error).
        log_x: a logarithmic query axis in the activation-vs-queries figure.
        figures: which figures, in page order (default: all of :data:`~mango_pl.report.figures.FIGURES`);
            the unit page (``units.html``) is written whatever the figures.

    Returns:
        What was written (:class:`Report`).

    Raises:
        ReportError: before anything is written: an output folder that is not writable or already
            holds a report (without ``overwrite``); a run folder without MEI files, with an
            unreadable one, or with files of different grids or unit sets for one layer.

    Example:
        >>> report = write_report("runs/demo")                     # doctest: +SKIP
        >>> [f.name for f in report.drawn], report.index           # doctest: +SKIP
    """
    run_dir = Path(run_dir)
    output = Path(output) if output is not None else run_dir / "report"
    check_output(output, overwrite)
    run = load_run(run_dir)
    output.mkdir(parents=True, exist_ok=True)
    options = DrawOptions(log_x=log_x)
    outcomes, computed = [], {}
    for kind in figures:
        outcome = FigureOutcome(kind.name, kind.title, kind.caption)
        outcomes.append(outcome)
        try:
            tables = kind.numbers(run)
        except CannotDraw as reason:
            outcome.skipped = str(reason)
            remove_files(output, kind.name)
            continue
        computed[kind.name] = tables
        with report_style():
            figure = kind.draw(tables, run, options)
            outcome.png = write_atomically(output / f"{kind.name}.png", lambda path: save_png(figure, path))
        for part, table in tables.items():
            outcome.csvs.append(write_atomically(output / kind.csv_name(part), table.write_csv))
    units = write_unit_page(run, output).page
    claims = _write_claims(run, computed, output)
    page = index_html(run, outcomes, claims)
    index = write_atomically(output / INDEX, lambda path: path.write_text(page, encoding="utf-8"))
    return Report(run_dir, output, index, outcomes, list(run.notes), units, claims)


def _write_claims(run: ReportRun, computed: dict[str, Tables], output: Path) -> list[ClaimCheck]:
    """The paper's findings checked on the run's figure tables, written as ``claims.csv`` and ``claims.md``."""
    claims = check_claims(run, computed)
    write_atomically(output / CLAIMS_CSV, claims_table(claims).write_csv)
    markdown = claims_markdown(claims)
    write_atomically(output / CLAIMS_MD, lambda path: path.write_text(markdown, encoding="utf-8"))
    return claims


# -- index.html: every figure with its caption and CSVs, and each figure not drawn with the reason

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1400px; margin: 1.5em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
img { max-width: 100%; border: 1px solid #ddd; }
p.caption { margin: 0.3em 0; } p.files, p.summary { color: #555; font-size: 0.9em; }
p.skipped { color: #a33; } ul.notes { color: #555; font-size: 0.9em; }
table.claims { border-collapse: collapse; font-size: 0.85em; }
table.claims td, table.claims th { border: 1px solid #ddd; padding: 0.3em 0.5em; vertical-align: top; text-align: left; }
td.verdict { font-weight: bold; white-space: nowrap; }
"""


def index_html(run: ReportRun, outcomes: list[FigureOutcome], claims: Sequence[ClaimCheck] = ()) -> str:
    """The page, figures in ``outcomes`` order (file links relative to the report folder)."""
    labels = list(dict.fromkeys(label for layer in run.layers for label in run.last(layer).report.labels))
    accuracy = (", ".join(f"{value:.3f} (epoch {epoch})" for epoch, value in run.accuracy.by_epoch.items())
                if run.accuracy.by_epoch else f"none: {run.accuracy.missing}")
    lines = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>mango-pl report: {escape(str(run.root))}</title><style>{_STYLE}</style></head><body>",
        f"<h1>MEIs of {escape(str(run.root))}</h1>",
        f'<p class="summary">Layers: {escape(", ".join(run.layers))}. Epochs: '
        f"{escape(', '.join(map(str, run.epochs)))}. Search runs: {escape(', '.join(labels))}. Grid: d={run.grid[0]}, "
        f"n={run.grid[1]}. Validation accuracy: {escape(accuracy)}.</p>",
    ]
    lines.append(f'<p class="units"><a href="{UNIT_PAGE}">Every unit\'s MEIs across training</a>: pick a layer '
                 f"and a unit and see its MEI at each searched epoch for each search run, with its stable / labile "
                 f"status.</p>")
    if claims:
        lines.extend(_claims_html(claims))
    if run.notes:
        lines.append('<ul class="notes">' + "".join(f"<li>{escape(note)}</li>" for note in run.notes) + "</ul>")
    skipped = [o for o in outcomes if o.png is None]
    if skipped:
        lines.append('<p class="skipped">Not drawn: ' + "; ".join(
            f'<a href="#{o.name}">{escape(o.title)}</a>' for o in skipped) + ".</p>")
    for outcome in outcomes:
        lines.append(f'<h2 id="{outcome.name}">{escape(outcome.title)}</h2>')
        if outcome.png is not None:
            png, alt = outcome.png.name, escape(outcome.title)
            lines.append(f'<a href="{png}"><img src="{png}" alt="{alt}"></a>')
            lines.append(f'<p class="caption">{escape(outcome.caption)}</p>')
            links = ", ".join(f'<a href="{path.name}">{path.name}</a>' for path in outcome.csvs)
            lines.append(f'<p class="files">Numbers: {links}</p>')
        else:
            lines.append(f'<p class="caption">{escape(outcome.caption)}</p>')
            lines.append(f'<p class="skipped">Not drawn: {escape(outcome.skipped)}.</p>')
    lines.append("</body></html>")
    return "\n".join(lines) + "\n"


def _claims_html(claims: Sequence[ClaimCheck]) -> list[str]:
    """The findings table: one row per claim of the paper, with this run's number and the verdict."""
    rows = "".join(f"<tr><td>{escape(c.paper)}</td><td>{escape(c.figure)}</td><td>{escape(c.measured)}</td>"
                   f'<td class="verdict">{escape(c.verdict)}</td><td>{escape(c.rule)}</td></tr>' for c in claims)
    return ['<h2 id="claims">The paper\'s findings on this run</h2>',
            f'<p class="caption">Each finding of the paper (sections 4.2-4.3) checked on this run by a fixed rule '
            f'(<a href="{CLAIMS_CSV}">{CLAIMS_CSV}</a>, <a href="{CLAIMS_MD}">{CLAIMS_MD}</a>).</p>',
            '<table class="claims"><tr><th>Paper</th><th>Figure</th><th>This run</th><th>Verdict</th>'
            f"<th>Rule</th></tr>{rows}</table>"]
