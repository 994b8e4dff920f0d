"""``mango-pl report RUN_DIR``: the paper's figures of a run, as PNGs, CSVs and an index.html.

    mango-pl report runs/demo                       # -> runs/demo/report/index.html
    mango-pl report runs/search --output figures --overwrite --log-x
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def parser() -> argparse.ArgumentParser:
    command = argparse.ArgumentParser(
        prog="mango-pl report",
        description="Draw the paper's figures (activation vs queries, class entropy, selective fraction, emergence, "
                    "dynamics, stable/labile units, diversity, complexity, MEI gallery) from the MEI files of a run "
                    "of MEISearchCallback or mango-pl search: one PNG and CSV per figure and an index.html. "
                    "Every meis/epoch=E/<layer>.pt under RUN_DIR (all logger versions) forms one run; the "
                    "validation accuracy is read from TensorBoard event files under RUN_DIR (scalar val/acc).")
    command.add_argument("run_dir", metavar="RUN_DIR", help="the run folder, e.g. runs/demo or runs/search")
    command.add_argument("--output", metavar="DIR", default=None, help="the report folder (default: RUN_DIR/report)")
    command.add_argument("--overwrite", action="store_true", help="replace a report already in the output folder")
    command.add_argument("--log-x", action="store_true", help="logarithmic query axis in the activation-vs-queries "
                                                              "figure")
    return command


def main(argv: Sequence[str]) -> int:
    """Parse and write the report; bad input is a one-line error (exit code 2) before anything is written."""
    options = parser().parse_args(list(argv))
    from mango_pl.report.errors import ReportError
    from mango_pl.report.write import write_report

    try:
        report = write_report(options.run_dir, options.output, overwrite=options.overwrite, log_x=options.log_x)
    except ReportError as error:
        print(f"mango-pl report: error: {error}", file=sys.stderr)
        return 2
    for note in report.notes:
        print(f"mango-pl report: note: {note}")
    for figure in report.skipped:
        print(f"mango-pl report: skipped {figure.name}: {figure.skipped}")
    print(f"mango-pl report: {len(report.drawn)} figures (PNG + CSV) written to {report.output}; open {report.index}")
    return 0
