"""Which logger version a file of a run belongs to (``.../version_<N>/...``), to tell newer from older."""

from __future__ import annotations

import re
from pathlib import Path

_VERSION_FOLDER = re.compile(r"^version_(\d+)$")


def logger_version(path: Path, root: Path) -> int:
    """The ``N`` of the innermost ``version_<N>`` folder of ``path`` below ``root``; -1 when there is none."""
    parts = path.relative_to(root).parts if path.is_relative_to(root) else path.parts
    versions = [int(m.group(1)) for m in map(_VERSION_FOLDER.match, parts[:-1]) if m]
    return versions[-1] if versions else -1
