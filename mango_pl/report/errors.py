"""The report's two kinds of trouble: bad input (nothing written) and a figure without its data."""

from __future__ import annotations


class ReportError(ValueError):
    """Bad input to ``mango-pl report``, raised before anything is written; the message says the fix."""


class CannotDraw(Exception):
    """A figure the run has no data for; the message is the reason, shown in index.html and printed."""
