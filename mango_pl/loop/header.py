"""The journal's first entry: what a session was started with (its grid, image files, references).

The header is written once by ``mango-pl loop init`` and read by every command. Its ``version``
is the journal format: a journal is replayed only by the format that wrote it, because replaying
must reproduce every ask.

* version 1 (mango-pl up to 0.1.0): target cell ``c``'s search seeded with ``SeedSequence(seed, (c,))``;
* version 2: seeded with :func:`mango_pl.search.seeding.unit_seeds` (``seed``, epoch 0, layer
  ``"cells"``, unit ``c``), the rule of every other search in mango-pl.

A journal of another version is refused with a one-line error that says what to do.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mango_pl.loop.errors import SessionError

FORMAT = "mango-pl-loop"
VERSION = 2


@dataclass(frozen=True)
class ReferenceRecord:
    """A reference image of the session: its file inside the session directory and the hash of its bytes."""

    file: str
    sha256: str


@dataclass(frozen=True)
class ImageRecord:
    """The stimulus files of the session: side in pixels, 1 or 3 channels, ``png`` / ``tiff`` / ``bmp``."""

    size: int
    channels: int
    format: str


@dataclass(frozen=True)
class SessionHeader:
    """The first journal entry of a session.

    Attributes:
        config_sha256: the hash of ``session.yaml`` at init (the config may not change after).
        base_dir: the directory ``init`` ran in (relative paths of the config resolve there).
        grid_d: grid dimensions of the space.
        grid_n: grid points per dimension.
        image: the stimulus files' size, channels and format.
        references: the reference images, in order.
        mango_pl: the mango-pl version that started the session.
        time: when it was started (seconds since the epoch).
        version: the journal format (see the module docstring).

    Example:
        >>> header = SessionHeader("0" * 64, "/data", 128, 64, ImageRecord(64, 1, "png"), (), "0.1.0")
        >>> SessionHeader.from_entry(header.as_entry(), Path("journal.jsonl")) == header
        True
    """

    config_sha256: str
    base_dir: str
    grid_d: int
    grid_n: int
    image: ImageRecord
    references: tuple[ReferenceRecord, ...]
    mango_pl: str
    time: float = field(default_factory=time.time)
    version: int = VERSION

    def as_entry(self) -> dict[str, Any]:
        """The journal entry (a JSON object; the layout of every version)."""
        return {"type": "session", "format": FORMAT, "version": self.version, "mango_pl": self.mango_pl,
                "config_sha256": self.config_sha256, "base_dir": self.base_dir,
                "grid": {"d": self.grid_d, "n": self.grid_n},
                "image": {"size": self.image.size, "channels": self.image.channels, "format": self.image.format},
                "references": [{"file": r.file, "sha256": r.sha256} for r in self.references], "time": self.time}

    @classmethod
    def from_entry(cls, entry: dict[str, Any] | None, journal: Path) -> "SessionHeader":
        """The header in ``entry``, the first entry of ``journal``.

        Raises:
            SessionError: no session entry (an interrupted init), or a journal of another version.
        """
        directory = Path(journal).parent
        if not isinstance(entry, dict) or entry.get("type") != "session" or entry.get("format") != FORMAT:
            raise SessionError(f"{journal} does not start with a session entry; an init that was interrupted: "
                               f"remove {directory} and init again")
        version, writer = entry.get("version", 0), entry.get("mango_pl", "?")
        if version > VERSION:
            raise SessionError(f"{directory} was written by a newer mango-pl ({writer}, loop journal version "
                               f"{version}); upgrade mango-pl to continue it")
        if version < VERSION:
            raise SessionError(f"{directory} was written by an older mango-pl ({writer}, loop journal version "
                               f"{version}; the seeding of the cells' searches changed since): finish it with a "
                               f"mango-pl that writes loop journal version {version} (as {writer} did), or start a "
                               f"new session with `mango-pl loop init`")
        image = entry["image"]
        return cls(entry["config_sha256"], entry["base_dir"], entry["grid"]["d"], entry["grid"]["n"],
                   ImageRecord(image["size"], image["channels"], image["format"]),
                   tuple(ReferenceRecord(r["file"], r["sha256"]) for r in entry["references"]), writer,
                   entry["time"], version)
