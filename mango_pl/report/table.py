"""``Table``: the numbers behind one figure, in long form (one row per plotted value), written as CSV.

A figure is drawn from its table only (plus the MEI images, for the image figures), so the CSV
beside each PNG holds exactly what the figure shows and a user can re-plot it.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Table:
    """Rows of equal length under named columns.

    Example:
        >>> table = Table(("layer", "epoch", "value"))
        >>> table.add("sn1", 0, 0.5)
        >>> table.select(layer="sn1").column("value")
        [0.5]
    """

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]] = field(default_factory=list)

    def add(self, *values: Any) -> None:
        if len(values) != len(self.columns):
            raise ValueError(f"a row of {len(values)} values for the {len(self.columns)} columns {self.columns}")
        self.rows.append(tuple(values))

    def column(self, name: str) -> list[Any]:
        position = self.columns.index(name)
        return [row[position] for row in self.rows]

    def unique(self, name: str) -> list[Any]:
        """The distinct values of a column, in the order they first appear."""
        return list(dict.fromkeys(self.column(name)))

    def select(self, **equal: Any) -> "Table":
        """The rows whose columns equal the given values."""
        positions = [(self.columns.index(name), value) for name, value in equal.items()]
        return Table(self.columns, [row for row in self.rows if all(row[p] == v for p, v in positions)])

    def select_in(self, name: str, values) -> "Table":
        """The rows whose column ``name`` holds one of ``values``."""
        position, allowed = self.columns.index(name), set(values)
        return Table(self.columns, [row for row in self.rows if row[position] in allowed])

    def __len__(self) -> int:
        return len(self.rows)

    def write_csv(self, path: str | Path) -> None:
        """Write a header line and one line per row (floats in full precision, NaN as empty)."""
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(self.columns)
            writer.writerows([_cell(value) for value in row] for row in self.rows)


def _cell(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return ""
    return repr(value) if isinstance(value, float) else value

