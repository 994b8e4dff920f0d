"""The session journal: an append-only JSON-lines file, the single record of a closed-loop session.

Each line is one JSON object (an entry) ending in a newline. An entry is committed once its whole
line, newline included, is on disk: :meth:`Journal.append` writes it, flushes and ``fsync``-s
before it returns. A process killed mid-write leaves at most a torn last line (no newline, or
not JSON); :meth:`Journal.entries` ignores it, and the next append first moves those bytes aside
(``journal.jsonl.torn-<offset>``, nothing is thrown away) and cuts the journal back to its last
whole line. A bad line anywhere before the last one is damage, not a torn write, and is an error.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from mango_pl.loop.files import fsync_directory


class JournalError(ValueError):
    """A journal that cannot be read: a damaged line before the last one."""


class Journal:
    """The JSON-lines journal at ``path``.

    Args:
        path: the journal file (created by the first append).

    Example:
        >>> journal = Journal(Path("session/journal.jsonl"))
        >>> journal.append({"type": "ask", "batch": 0})
        >>> journal.entries()
        [{'type': 'ask', 'batch': 0}]
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self._committed: int | None = None  # byte length of the committed part, once read (one writer: the lock)

    def _read(self) -> tuple[list[dict[str, Any]], int]:
        """The committed entries and the byte length of the committed part."""
        if not self.path.exists():
            return [], 0
        data = self.path.read_bytes()
        *complete, tail = data.split(b"\n")  # tail: what follows the last newline (a torn line, or b"")
        entries: list[dict[str, Any]] = []
        offset = 0
        for number, line in enumerate(complete, 1):
            try:
                entry = json.loads(line)
            except ValueError:
                entry = None
            if not isinstance(entry, dict):
                if number == len(complete) and not tail:
                    break  # the last line is damaged: a write that was cut off, never committed
                raise JournalError(f"{self.path}: line {number} is damaged (not a JSON object) and is not the last "
                                   f"line; restore the journal from a backup")
            entries.append(entry)
            offset += len(line) + 1
        self._committed = offset
        return entries, offset

    def entries(self) -> list[dict[str, Any]]:
        """Every committed entry, in order (a torn last line is left out).

        Raises:
            JournalError: a damaged line that is not the last one.
        """
        return self._read()[0]

    @staticmethod
    def line(entry: dict[str, Any]) -> bytes:
        """The journal line of ``entry``: compact JSON (no NaN / inf) and a newline."""
        return (json.dumps(entry, separators=(",", ":"), allow_nan=False) + "\n").encode()

    def append(self, entry: dict[str, Any]) -> None:
        """Commit ``entry``: write its line, flush and ``fsync`` (a torn tail is first moved aside).

        Args:
            entry: a JSON-serialisable mapping.
        """
        line = self.line(entry)
        committed = self._committed if self._committed is not None else self._read()[1]
        created = not self.path.exists()
        if not created and self.path.stat().st_size > committed:
            self._set_aside_tail(committed)
        with open(self.path, "ab") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        self._committed = committed + len(line)
        if created:
            fsync_directory(self.path.parent)

    def _set_aside_tail(self, committed: int) -> None:
        """Move the torn bytes after ``committed`` into a file of their own and cut the journal there."""
        with open(self.path, "rb+") as handle:
            handle.seek(committed)
            tail = handle.read()
            aside = self.path.with_name(f"{self.path.name}.torn-{committed}")
            with open(aside, "ab") as out:
                out.write(tail)
                out.flush()
                os.fsync(out.fileno())
            handle.truncate(committed)
            handle.flush()
            os.fsync(handle.fileno())
