"""``mango-pl loop run``: ask, wait for the rig's ``responses_<batch>.csv``, tell, until the budget is spent.

A rig (or the simulation) drops the responses of batch ``N`` as ``<inbox>/responses_<NNNN>.csv``.
A file is read once its size and modification time stay the same for one poll interval (so a
file still being written is not read half; writing it under another name and renaming it is
safer still). A file that does not fit the batch is reported and left alone, and the run waits
for it to change; the session is unchanged meanwhile. Responses files are only read.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mango_pl.loop.responses import ResponsesError
from mango_pl.loop.session import Session


class WaitTimeout(TimeoutError):
    """No usable responses file arrived in time (the session is intact: run again to go on)."""


@dataclass(frozen=True)
class RunResult:
    """What a run did: the batches it told and whether the budget is spent."""

    told_batches: tuple[int, ...]
    done: bool


def _signature(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_size, stat.st_mtime_ns


def wait_for_file(path: Path, poll: float, deadline: float, rejected: tuple[int, int] | None = None) -> None:
    """Return once ``path`` exists, is unchanged for one poll interval and differs from ``rejected``.

    Raises:
        WaitTimeout: not so before ``deadline`` (a ``time.monotonic()`` value).
    """
    seen = None
    while True:
        current = _signature(path)
        if current is not None and current == seen and current != rejected:
            return
        seen = current
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"no usable {path} arrived in time; the session is intact: run again to go on")
        time.sleep(poll)


def run_session(session: Session, inbox: Path, rig=None, poll: float = 1.0, timeout: float = 3600.0,
                partial: bool = False, report: Callable[[str], None] = print, max_batches: int | None = None) -> RunResult:
    """Ask, wait for each batch's responses file in ``inbox``, tell, until the budget is spent.

    Args:
        session: an open (locked) session.
        inbox: the folder the rig drops ``responses_<batch>.csv`` into.
        rig: a :class:`~mango_pl.loop.simulation.SimulatedRig` that writes the files itself, or ``None``.
        poll: seconds between looks at the inbox.
        timeout: most seconds to wait for one batch's file.
        partial: tell batches with aborted trials (see :meth:`Session.tell`).
        report: where progress lines go.
        max_batches: stop after telling this many batches (``None``: run to the budget).

    Raises:
        WaitTimeout: a batch's file did not come (or stayed unusable) for ``timeout`` seconds.
        ResponsesError: a simulated file that does not fit (a bug, never waited on).
    """
    told = []
    inbox.mkdir(parents=True, exist_ok=True)
    while not session.done and (max_batches is None or len(told) < max_batches):
        asked = session.ask()
        batch = asked.batch
        path = inbox / batch.responses_name
        if rig is not None:
            rig.write_responses(batch, asked.folder, path)
        else:
            report(f"batch {batch.number}: {len(batch.presentations)} presentations in {asked.folder}; waiting for "
                   f"{path}")
        deadline = time.monotonic() + timeout
        rejected = None
        while True:
            if rig is None:
                wait_for_file(path, poll, deadline, rejected)
            try:
                result = session.tell(path, partial)
                break
            except ResponsesError as error:
                if rig is not None:
                    raise
                rejected = _signature(path)
                report(f"batch {batch.number}: {error} (the session is unchanged; waiting for a corrected file)")
        told.append(batch.number)
        untold = f", {len(result.untold)} responded but not told" if result.untold else ""
        report(f"batch {batch.number}: told {result.told} of {result.shown} stimuli{untold}; "
               f"{result.remaining} left of the budget")
    return RunResult(tuple(told), session.done)
