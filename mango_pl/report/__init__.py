"""The paper's figures drawn from any run's MEI files: ``mango-pl report RUN_DIR``.

    >>> from mango_pl.report import write_report
    >>> report = write_report("runs/demo")            # runs/demo/report/index.html, one PNG + CSV per figure
    >>> [figure.name for figure in report.skipped]    # figures the run has no data for (with .skipped reasons)

Reads the files only through the MEI engine's file format (:func:`mango_pl.mei.find_mei_files`,
:func:`mango_pl.mei.load_meis`), and the validation accuracy from TensorBoard event files.
"""

from mango_pl.report.errors import CannotDraw, ReportError
from mango_pl.report.figures import FIGURES
from mango_pl.report.kind import DrawOptions, FigureKind
from mango_pl.report.run import ReportRun, ValidationAccuracy, load_run, read_validation_accuracy
from mango_pl.report.table import Table
from mango_pl.report.write import FigureOutcome, Report, write_report

__all__ = [
    "FIGURES",
    "CannotDraw",
    "DrawOptions",
    "FigureKind",
    "FigureOutcome",
    "Report",
    "ReportError",
    "ReportRun",
    "Table",
    "ValidationAccuracy",
    "load_run",
    "read_validation_accuracy",
    "write_report",
]
