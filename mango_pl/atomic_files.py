"""Writing files whole or not at all: a temporary file beside the target, flushed, renamed into place.

The one writer of every file mango-pl makes (MEI files, report figures and pages, closed-loop
session files): a crash never leaves half a file under the final name, and with
``overwrite=False`` an existing file is never replaced (the move is a hard link, which fails when
the name is taken).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

_UMASK = os.umask(0o022)
os.umask(_UMASK)


def write_atomically(path: str | Path, content: bytes | Callable[[Path], None], durable: bool = True,
                     overwrite: bool = True) -> bool:
    """Write ``content`` (bytes, or a function that writes the given temporary path) to ``path``.

    Args:
        path: the file (its folder is made).
        content: the bytes, or ``write(temporary_path)``.
        durable: ``fsync`` the file before it is moved into place.
        overwrite: replace an existing ``path``; with ``False`` an existing file is left alone.

    Returns:
        Whether ``path`` was written (``False``: ``overwrite=False`` and it existed).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # the permissions of a file made with open(), not mkstemp's 0600
        with os.fdopen(fd, "wb") as handle:
            if isinstance(content, (bytes, bytearray)):
                handle.write(content)
        if callable(content):
            content(Path(temporary))
        if durable:
            with open(temporary, "rb+") as handle:
                os.fsync(handle.fileno())
        if overwrite:
            os.replace(temporary, path)
            return True
        try:
            os.link(temporary, path)  # atomic, and never over an existing file
        except FileExistsError:
            return False
        except OSError:  # a file system without hard links: check, then rename
            if path.exists():
                return False
            os.replace(temporary, path)
        return True
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
