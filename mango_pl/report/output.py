"""The report's output folder: checked before anything is written, files replaced atomically."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from mango_pl.atomic_files import write_atomically as atomic_write

from mango_pl.report.errors import ReportError

#: the file that makes a folder a report (written last)
INDEX = "index.html"


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
