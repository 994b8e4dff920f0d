"""A closed-loop session: the searcher asks, a rig shows the stimuli, the recorded responses are told.

A session lives in one directory::

    DIR/session.yaml            the config, copied at init (fixed for the session's life)
    DIR/journal.jsonl           every ask and tell, appended and fsync-ed (the session's only record)
    DIR/references/             the reference images, resolved at init
    DIR/batches/batch_0003/     a batch's stimulus files and manifest.csv / manifest.json
    DIR/inbox/                  where a rig drops responses_0003.csv (``run --watch``; the simulation writes here)

Nothing but the journal holds state. Opening a session rebuilds the search from the config and
seed and replays the journal (:mod:`mango_pl.loop.state`), so a session killed at any moment
resumes exactly: the same pending batch, the same next batch, the same best stimuli. This module
creates, opens and locks sessions; asking is in :mod:`~mango_pl.loop.asking`, telling in
:mod:`~mango_pl.loop.telling`, what the session found in :mod:`~mango_pl.loop.findings`.

Example:
    >>> session = Session.create("runs/cell7", "session.yaml")
    >>> asked = session.ask()                              # batches/batch_0000/*.png + manifest
    >>> session.tell("rig/responses_0000.csv")             # recorded responses
    >>> session.summary().best[0].mean
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import mango_pl
from mango_pl.loop import asking, findings, telling
from mango_pl.loop.batch import Batch
from mango_pl.checks import check_choice
from mango_pl.loop.config import (SessionConfig, SessionConfigError, check_config, instantiate, load_session_config,
                                  parse_session_yaml)
from mango_pl.loop.errors import SessionError
from mango_pl.loop.files import write_new_file
from mango_pl.loop.header import FORMAT, VERSION, ImageRecord, ReferenceRecord, SessionHeader
from mango_pl.loop.journal import Journal
from mango_pl.loop.lock import take_lock
from mango_pl.loop.results import AskResult, BatchSummary, BestStimulus, SessionSummary, TellResult
from mango_pl.loop.state import SessionState, build_searcher
from mango_pl.loop.statistics import StimulusStatistics

if TYPE_CHECKING:
    from mango_pl.stimuli import StimulusSpace

__all__ = ["CONFIG_NAME", "FORMAT", "JOURNAL_NAME", "VERSION", "Session", "SessionError", "load_space",
           "working_directory"]

JOURNAL_NAME = "journal.jsonl"
CONFIG_NAME = "session.yaml"


@contextmanager
def working_directory(path: Path) -> Iterator[None]:
    """Run the block in ``path`` (relative paths of a config resolve where the session was created);
    if ``path`` is gone (the session was moved), in the current directory."""
    before = Path.cwd()
    if not Path(path).is_dir():
        yield
        return
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def load_space(config: SessionConfig, channels: int | None = None, size: int | None = None) -> StimulusSpace:
    """The config's stimulus space, adapted to the stimulus files' channels and size, decoding in float64."""
    import torch

    from mango_pl.stimuli import StimulusSpace

    space = instantiate(config.space, "space")
    if not isinstance(space, StimulusSpace):
        raise SessionConfigError(f"space: {config.space['class_path']} is not a mango_pl.stimuli.StimulusSpace")
    return space.with_channels(channels or config.image.channels).with_size(size or config.image.size).to(
        dtype=torch.float64)


class Session(SessionState):
    """A closed-loop session directory, opened: its config, search and record, replayed from the journal.

    Use :meth:`create` (``mango-pl loop init``) and :meth:`open`. A writing session holds an
    exclusive lock on the directory (``DIR/.lock``) until :meth:`close` or the process ends.
    """

    def __init__(self, directory: Path, config: SessionConfig, header: SessionHeader, journal: Journal):
        self.directory = directory
        self.base_dir = Path(header.base_dir)
        self._space: StimulusSpace | None = None
        self._lock: int | None = None
        super().__init__(config, header, journal, features=lambda: self.space.grid_features())

    # -- creating and opening --------------------------------------------------------------------

    @classmethod
    def create(cls, directory: str | Path, config_path: str | Path) -> "Session":
        """Start a session in ``directory`` from ``config_path`` (``mango-pl loop init``).

        Everything is checked first (the config, the space, the method and its options, the
        simulated network, the reference images); only then is the directory written: the
        references, a copy of the config, and the journal's first entry.

        Raises:
            SessionError: ``directory`` already holds a session.
            SessionConfigError, FileNotFoundError: a bad config (one line naming the key and the fix).
        """
        from mango_pl.loop.images import encode_images, reference_images, render_stimuli, sha256

        directory = Path(directory)
        for name in (JOURNAL_NAME, CONFIG_NAME):
            if (directory / name).exists():
                raise SessionError(f"{directory} already holds a session ({name} exists); a session is never "
                                   f"overwritten: choose a new directory (or continue it with mango-pl loop ask)")
        if directory.exists() and not directory.is_dir():
            raise SessionError(f"{directory} is a file; give a directory for the session")
        config_path = Path(config_path)
        if not config_path.is_file():
            raise FileNotFoundError(f"no session config at {str(config_path)!r}")
        data = config_path.read_bytes()
        config = parse_session_yaml(data, str(config_path))
        space = load_space(config)
        channels, size = space.channels, space.image_size
        check_config(check_choice, "image.channels", channels, (1, 3),
                     hint=f"the space makes {channels}-channel images; set image.channels to 1 or 3")
        try:
            render_stimuli(space, [tuple([0] * space.grid.d)], config.image.format)
        except (RuntimeError, ValueError, TypeError) as error:
            raise SessionConfigError(f"space: decoding a stimulus failed: {str(error).splitlines()[0]}") from error
        build_searcher(config, space.grid.d, space.grid.n)
        if config.simulate is not None:
            from mango_pl.loop.simulation import SimulatedRig

            SimulatedRig(config.simulate, config.cells, config.responses, space)
        references = encode_images(reference_images(config.references, channels, size), config.image.format) \
            if config.references.count else []
        directory.mkdir(parents=True, exist_ok=True)
        records = []
        for r, image in enumerate(references):
            name = f"references/reference_{r:02d}{config.image.suffix}"
            write_new_file(directory / name, image)
            records.append(ReferenceRecord(name, sha256(image)))
        write_new_file(directory / CONFIG_NAME, data)
        header = SessionHeader(config.sha256, str(Path.cwd()), space.grid.d, space.grid.n,
                               ImageRecord(size, channels, config.image.format), tuple(records), mango_pl.__version__)
        Journal(directory / JOURNAL_NAME).append(header.as_entry())
        session = cls.open(directory)
        session._space = space
        return session

    @classmethod
    def open(cls, directory: str | Path, lock: bool = True) -> "Session":
        """Open the session in ``directory`` and replay its journal.

        Args:
            directory: the session directory.
            lock: take the directory's lock (for commands that write); ``False`` for read-only use.

        Raises:
            SessionError: not a session, locked by another process, a journal of another version
                (:mod:`mango_pl.loop.header`), a config edited since init, or a journal the search
                does not reproduce.
        """
        directory = Path(directory)
        journal = Journal(directory / JOURNAL_NAME)
        if not journal.path.exists():
            hint = " (session.yaml is there: an init that was interrupted; remove DIR and init again)" \
                if (directory / CONFIG_NAME).exists() else ""
            raise SessionError(f"{directory} is not a mango-pl loop session (no {JOURNAL_NAME}){hint}; create one with "
                               f"mango-pl loop init {directory} --config session.yaml")
        lock_fd = take_lock(directory) if lock else None
        try:
            entries = journal.entries()
            header = SessionHeader.from_entry(entries[0] if entries else None, journal.path)
            config = load_session_config(directory / CONFIG_NAME)
            if config.sha256 != header.config_sha256:
                raise SessionError(f"{directory / CONFIG_NAME} was edited after init; a session's config is fixed (the "
                                   f"journal is replayed with it): restore it, or start a new session for new settings")
            session = cls(directory, config, header, journal)
            session._lock = lock_fd
            session.replay(entries[1:])
        except BaseException:
            if lock_fd is not None:
                os.close(lock_fd)
            raise
        return session

    def close(self) -> None:
        """Release the directory's lock."""
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- where things are ------------------------------------------------------------------------

    @property
    def space(self) -> StimulusSpace:
        """The stimulus space (loaded on first use: replaying, telling and reporting never need it,
        unless the searcher models the responses on the grid's features)."""
        if self._space is None:
            with working_directory(self.base_dir):
                self._space = load_space(self.config, self.header.image.channels, self.header.image.size)
        return self._space

    def batch_folder(self, batch: Batch) -> Path:
        """The folder of ``batch``'s stimulus files and manifests."""
        return self.directory / "batches" / batch.folder

    @property
    def inbox(self) -> Path:
        """Where a rig drops its responses files by default (``run --watch``) and the simulation writes them."""
        return self.directory / "inbox"

    # -- the commands ----------------------------------------------------------------------------

    def ask(self) -> AskResult:
        """The next batch (see :func:`mango_pl.loop.asking.ask`)."""
        return asking.ask(self)

    def tell(self, path: str | Path, partial: bool = False) -> TellResult:
        """Tell the responses in ``path`` to the pending batch (see :func:`mango_pl.loop.telling.tell`)."""
        return telling.tell(self, path, partial)

    # -- what the session found ------------------------------------------------------------------

    def stimulus_statistics(self) -> dict[tuple, StimulusStatistics]:
        """Every stimulus shown and answered (see :func:`mango_pl.loop.findings.stimulus_statistics`)."""
        return findings.stimulus_statistics(self)

    def best_stimuli(self) -> list[BestStimulus]:
        """Each recorded cell's best stimulus (see :func:`mango_pl.loop.findings.best_stimuli`)."""
        return findings.best_stimuli(self)

    def batch_summaries(self) -> list[BatchSummary]:
        """The told batches, in order (see :class:`BatchSummary`)."""
        return findings.batch_summaries(self)

    def summary(self) -> SessionSummary:
        """Where the session stands: queries used, best stimuli, responses per batch."""
        return findings.session_summary(self)
