"""Writing a session's files safely: whole or not at all, and never over something else.

A file is written to a temporary name beside it, flushed, ``fsync``-ed and renamed into place, so a
crash never leaves half a file under the final name. A file that already exists is left alone
when it holds exactly the bytes to write (writing again is a no-op: asking twice rewrites
nothing), and is an error when it holds anything else (nothing existing is overwritten).
"""

from __future__ import annotations

import os
from pathlib import Path

from mango_pl.atomic_files import write_atomically

def fsync_directory(path: Path) -> None:
    """``fsync`` a directory, so that files created or renamed in it survive a crash."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # a platform without directory handles
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_new_file(path: Path, data: bytes, durable: bool = True) -> bool:
    """Write ``data`` to ``path`` atomically unless the file already holds it.

    Args:
        path: the file.
        data: its bytes.
        durable: ``fsync`` the file before it is renamed into place (``False`` for files that can
            be made again from the journal, e.g. a batch's stimuli: a crash may leave them empty,
            and :func:`set_aside` makes room for them to be written again).

    Returns:
        Whether the file was written (``False``: it existed with these bytes).

    Raises:
        FileExistsError: ``path`` exists with other content (it is left as it is).
    """
    path = Path(path)
    if not path.exists() and write_atomically(path, data, durable, overwrite=False):
        return True
    if path.is_file() and path.read_bytes() == data:
        return False
    raise FileExistsError(f"{path} exists with other content and is never overwritten; move it away (or write "
                          f"the output elsewhere) and run the command again")


def set_aside(path: Path) -> Path:
    """Rename a damaged file to ``<name>.damaged`` (``.damaged-1``, ... if taken), so nothing is lost; returns the new path."""
    target = path.with_name(path.name + ".damaged")
    count = 0
    while target.exists():
        count += 1
        target = path.with_name(f"{path.name}.damaged-{count}")
    os.replace(path, target)
    return target


def replace_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, replacing it: only for views a command regenerates
    (``status.txt``, ``status.png``), never for records or the user's files."""
    write_atomically(Path(path), data, durable=True, overwrite=True)
