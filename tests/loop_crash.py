"""Run a ``mango-pl loop`` command that kills itself (SIGKILL: no clean-up, as a power cut or
``kill -9`` would) at one point of one batch, to test that a session survives it.

    python -m tests.loop_crash POINT@BATCH run DIR --simulate

Points (the crash hooks are installed here, by the test, never in mango-pl's own call path):

* ``ask-journaled``: the ask is committed to the journal, no stimulus file written yet;
* ``ask-files``: half of the batch's stimulus files written, no manifest yet;
* ``asked``: the batch is complete on disk, nothing told (between ask and tell);
* ``tell-torn``: half of the tell's journal line is on disk (a torn write).
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

from mango_pl.loop import asking
from mango_pl.loop.journal import Journal

POINTS = ("ask-journaled", "ask-files", "asked", "tell-torn")


def kill_now() -> None:
    """SIGKILL this process at once."""
    os.kill(os.getpid(), signal.SIGKILL)


def write_half_line(journal: Journal, entry: dict) -> None:
    """Put the first half of ``entry``'s journal line on disk (a write cut off by a crash)."""
    line = Journal.line(entry)
    with open(journal.path, "ab") as handle:
        handle.write(line[: len(line) // 2])
        handle.flush()
        os.fsync(handle.fileno())


def _stimulus_count(folder: Path, batch: int) -> int:
    """How many stimulus files batch ``batch`` has (from its journaled ask; ``folder`` is its batch folder)."""
    for line in (folder.parents[1] / "journal.jsonl").read_bytes().splitlines():
        entry = json.loads(line)
        if entry.get("type") == "ask" and entry.get("batch") == batch:
            return len(entry["stimuli"])
    raise AssertionError(f"batch {batch} was not asked")


def install(point: str, batch: int) -> None:
    """Make this process kill itself at ``point`` of ``batch`` (see the module docstring)."""
    if point not in POINTS:
        raise ValueError(f"unknown crash point {point!r}; valid points: {', '.join(POINTS)}")
    append, ask, write_new_file = Journal.append, asking.ask, asking.write_new_file

    def append_then_kill(journal: Journal, entry: dict) -> None:
        ours = entry.get("batch") == batch
        if point == "tell-torn" and ours and entry.get("type") == "tell":
            write_half_line(journal, entry)
            kill_now()
        append(journal, entry)
        if point == "ask-journaled" and ours and entry.get("type") == "ask":
            kill_now()

    def ask_then_kill(session):
        result = ask(session)
        if point == "asked" and result.new and result.batch.number == batch:
            kill_now()
        return result

    written = []

    def write_half_then_kill(path: Path, data: bytes, **options) -> int:
        path = Path(path)
        if point == "ask-files" and path.parent.name == f"batch_{batch:04d}" and not path.name.startswith("manifest"):
            if len(written) == _stimulus_count(path.parent, batch) // 2:
                kill_now()
            written.append(path)
        return write_new_file(path, data, **options)

    Journal.append = append_then_kill
    asking.ask = ask_then_kill
    asking.write_new_file = write_half_then_kill


def main(argv: list[str]) -> int:
    point, batch = argv[0].split("@")
    install(point, int(batch))
    from mango_pl.loop.command import main as loop_main

    return loop_main(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
