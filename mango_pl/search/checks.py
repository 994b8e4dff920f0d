"""Validate a method name and its options before any search runs (e.g. at a callback's setup)."""

from __future__ import annotations

from typing import Any

from mango_pl.search.registry import make_searcher


def check_method(method: str, d: int | None = None, n: int | None = None, **options: Any) -> None:
    """Raise the error ``make_searcher`` would raise for ``method`` with ``options`` on the grid
    ``{0..n-1}^d`` (unknown method or option, QTT with ``n`` not a power of two, bad values),
    without running a search. With no grid given, only the name and options are checked.

    Raises:
        ValueError, TypeError: as :func:`mango_pl.search.make_searcher`.
    """
    make_searcher(method, d=d if d is not None else 2, n=n if n is not None else 4, problems=1, seed=0,
                  **options)
