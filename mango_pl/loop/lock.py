"""The lock that keeps two writing processes off one session directory (``DIR/.lock``)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from mango_pl.loop.errors import SessionError

LOCK_NAME = ".lock"


def take_lock(directory: Path) -> int:
    """Take the exclusive lock of ``directory`` and return its file descriptor (``os.close`` releases it).

    Raises:
        SessionError: another process holds it.
    """
    fd = os.open(Path(directory) / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise SessionError(f"another mango-pl loop process is working on {directory} (a run --watch?); wait for it "
                           f"to finish or stop it, then try again") from None
    return fd
