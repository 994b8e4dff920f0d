"""``write_report``: a run's MEI files -> one PNG and CSV per figure and an ``index.html`` showing them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mango_pl.report.errors import CannotDraw
from mango_pl.report.figures import FIGURES
from mango_pl.report.kind import DrawOptions, FigureKind
from mango_pl.report.outcome import FigureOutcome, Report
from mango_pl.report.output import INDEX, check_output, remove_files, write_atomically
from mango_pl.report.page import index_html
from mango_pl.report.run import load_run
from mango_pl.report.style import report_style, save_png


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
        figures: which figures, in page order (default: all of :data:`~mango_pl.report.figures.FIGURES`).

    Returns:
        What was written (:class:`~mango_pl.report.outcome.Report`).

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
    outcomes = []
    for kind in figures:
        outcome = FigureOutcome(kind.name, kind.title, kind.caption)
        outcomes.append(outcome)
        try:
            tables = kind.numbers(run)
        except CannotDraw as reason:
            outcome.skipped = str(reason)
            remove_files(output, kind.name)
            continue
        with report_style():
            figure = kind.draw(tables, run, options)
            outcome.png = write_atomically(output / f"{kind.name}.png", lambda path: save_png(figure, path))
        for part, table in tables.items():
            outcome.csvs.append(write_atomically(output / kind.csv_name(part), table.write_csv))
    page = index_html(run, outcomes)
    index = write_atomically(output / INDEX, lambda path: path.write_text(page, encoding="utf-8"))
    return Report(run_dir, output, index, outcomes, list(run.notes))
