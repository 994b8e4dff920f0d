"""The paper's figures drawn from any run's MEI files: ``mango-pl report RUN_DIR``.

    >>> from mango_pl.report import write_report
    >>> report = write_report("runs/demo")            # runs/demo/report/index.html, one PNG + CSV per figure
    >>> [figure.name for figure in report.skipped]    # figures the run has no data for (with .skipped reasons)

Reads the files only through the MEI engine's file format (:func:`mango_pl.mei.find_mei_files`,
:func:`mango_pl.mei.load_meis`), and the validation accuracy from TensorBoard event files.
"""

from mango_pl.lazy_exports import lazy_exports

#: submodule -> the public names it defines (imported on first use: ``mango-pl report --help`` needs
#: neither matplotlib nor torch)
_EXPORTS = {
    "errors": ("CannotDraw", "ReportError"),
    "figures": ("FIGURES",),
    "kind": ("DrawOptions", "FigureKind"),
    "run": ("ReportRun", "ValidationAccuracy", "load_run", "read_validation_accuracy"),
    "table": ("Table",),
    "write": ("FigureOutcome", "Report", "write_report"),
}

__all__ = [name for names in _EXPORTS.values() for name in names]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
