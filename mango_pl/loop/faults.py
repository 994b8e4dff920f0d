"""Crash points for testing that a session survives being killed (off unless the variable is set).

``MANGO_PL_LOOP_KILL_AT=<point>@<batch>`` makes a loop command kill itself with SIGKILL (no clean-up,
as a power cut or ``kill -9`` would) at that point of that batch. Points:

* ``ask-journaled``: the ask is committed to the journal, no stimulus file written yet;
* ``ask-files``: half of the batch's stimulus files written, no manifest yet;
* ``asked``: the batch is complete on disk, nothing told (between ask and tell);
* ``tell-torn``: half of the tell's journal line is on disk (a torn write).

Example: ``MANGO_PL_LOOP_KILL_AT=tell-torn@2 mango-pl loop run DIR --simulate``.
"""

from __future__ import annotations

import os
import signal

KILL_AT_VARIABLE = "MANGO_PL_LOOP_KILL_AT"
POINTS = ("ask-journaled", "ask-files", "asked", "tell-torn")


def armed(point: str, batch: int) -> bool:
    """Whether the variable asks for a kill at ``point`` of ``batch``."""
    return os.environ.get(KILL_AT_VARIABLE, "") == f"{point}@{batch}"


def kill_if_armed(point: str, batch: int) -> None:
    """SIGKILL this process if the variable asks for it at ``point`` of ``batch``."""
    if armed(point, batch):
        kill_now()


def kill_now() -> None:
    """SIGKILL this process at once."""
    os.kill(os.getpid(), signal.SIGKILL)
