"""A closed-loop session: the searcher asks, a rig shows the stimuli, the recorded responses are told.

A session lives in one directory::

    DIR/session.yaml            the config, copied at init (fixed for the session's life)
    DIR/journal.jsonl           every ask and tell, appended and fsync-ed (the session's only record)
    DIR/references/             the reference images, resolved at init
    DIR/batches/batch_0003/     a batch's stimulus files and manifest.csv / manifest.json
    DIR/inbox/                  where a rig drops responses_0003.csv (``run --watch``; the simulation writes here)

Nothing but the journal holds state. Opening a session rebuilds the searcher from the config and
seed and replays the journal: every ask is asked again and must reproduce the journaled stimuli
(checked by hash), every tell is told again from its journaled responses. A session killed at any
moment therefore resumes exactly: the same pending batch, the same next batch, the same best
stimuli. The journal entry is the commit point of an ask (written before its files, which a
repeated ask completes) and of a tell (written last; a torn line is ignored on replay).

Example:
    >>> session = Session.create("runs/cell7", "session.yaml")
    >>> asked = session.ask()                              # batches/batch_0000/*.png + manifest
    >>> session.tell("rig/responses_0000.csv")             # recorded responses
    >>> session.summary().best[0].mean
"""

from __future__ import annotations

import fcntl
import math
import os
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

import mango_pl
from mango_pl.loop import faults
from mango_pl.loop.batch import (REFERENCE, SEARCH, Batch, Stimulus, asked_hash, compose_search_stimuli,
                                 manifest_csv, manifest_json, presentation_order, stimulus_id)
from mango_pl.loop.config import (SessionConfig, SessionConfigError, instantiate, load_session_config,
                                  parse_session_yaml)
from mango_pl.loop.files import set_aside, write_new_file
from mango_pl.loop.images import encode_images, reference_images, render_stimuli, sha256
from mango_pl.loop.journal import Journal
from mango_pl.loop.responses import ResponsesError, read_responses
from mango_pl.loop.results import AskResult, BatchSummary, BestStimulus, SessionSummary, TellResult
from mango_pl.loop.statistics import (Normalization, StimulusStatistics, best_by_lower_bound, normalization,
                                      reference_means, responded_prefix, stimulus_means, told_values)
from mango_pl.search import Searcher, make_searcher
from mango_pl.stimuli import StimulusSpace

FORMAT = "mango-pl-loop"
VERSION = 1
JOURNAL_NAME = "journal.jsonl"
CONFIG_NAME = "session.yaml"
LOCK_NAME = ".lock"


class SessionError(ValueError):
    """The session directory cannot do what was asked (one line that says what to do)."""


@contextmanager
def working_directory(path: Path):
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


@contextmanager
def single_thread():
    """Run the block with one torch thread, so a searcher's float results never depend on the machine's threads."""
    threads = torch.get_num_threads()
    if threads != 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if threads != 1:
            torch.set_num_threads(threads)


def build_searcher(config: SessionConfig, d: int, n: int) -> Searcher:
    """The session's searcher: one problem per target cell, seeded by ``(seed, cell)`` so a cell's search
    does not depend on which other cells are targets.

    Raises:
        SessionConfigError: bad option values for the method.
    """
    seeds = [np.random.SeedSequence(config.seed, spawn_key=(cell,)) for cell in config.targets]
    try:
        return make_searcher(config.method, d=d, n=n, problems=config.problems, seed=seeds, budget=config.budget,
                             **config.searcher_options())
    except (TypeError, ValueError) as error:
        raise SessionConfigError(f"method_options: {error}") from error


def load_space(config: SessionConfig, channels: int | None = None, size: int | None = None) -> StimulusSpace:
    """The config's stimulus space, adapted to the stimulus files' channels and size, decoding in float64."""
    space = instantiate(config.space, "space")
    if not isinstance(space, StimulusSpace):
        raise SessionConfigError(f"space: {config.space['class_path']} is not a mango_pl.stimuli.StimulusSpace")
    return space.with_channels(channels or config.image.channels).with_size(size or config.image.size).to(
        dtype=torch.float64)


class Session:
    """A closed-loop session directory, opened: its config, searcher and record, replayed from the journal.

    Use :meth:`create` (``mango-pl loop init``) and :meth:`open`. A writing session holds an
    exclusive lock on the directory (``DIR/.lock``) until :meth:`close` or the process ends.
    """

    def __init__(self, directory: Path, config: SessionConfig, header: dict, journal: Journal):
        self.directory = directory
        self.config = config
        self.header = header
        self.journal = journal
        self.grid_d, self.grid_n = header["grid"]["d"], header["grid"]["n"]
        self.image = header["image"]
        self.base_dir = Path(header["base_dir"])
        self.searcher = build_searcher(config, self.grid_d, self.grid_n)
        self.batches: list[Batch] = []
        self.responses: dict[int, dict[str, list[list[float]]]] = {}
        self.normalizations: dict[int, Normalization] = {}
        self.tells: dict[int, dict] = {}
        self.baseline: np.ndarray | None = None
        self.pending: Batch | None = None
        self.told = 0
        self._asked: Tensor | None = None
        self._shown_points: set[tuple[int, ...]] = set()
        self._space: StimulusSpace | None = None
        self._lock: int | None = None
        self._stale = False  # an ask or tell failed between changing the searcher and its commit
        if self.searcher.uses_features:  # a searcher that models the cells' responses on what the
            features = self.space.grid_features()  # stimuli mean needs the space, even to replay
            if features is not None:
                self.searcher.use_features(features)

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
        if channels not in (1, 3):
            raise SessionConfigError(f"image.channels: the space makes {channels}-channel images; set image.channels "
                                     f"to 1 or 3")
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
            records.append({"file": name, "sha256": sha256(image)})
        write_new_file(directory / CONFIG_NAME, data)
        header = {"type": "session", "format": FORMAT, "version": VERSION, "mango_pl": mango_pl.__version__,
                  "config_sha256": config.sha256, "base_dir": str(Path.cwd()),
                  "grid": {"d": space.grid.d, "n": space.grid.n},
                  "image": {"size": size, "channels": channels, "format": config.image.format},
                  "references": records, "time": time.time()}
        Journal(directory / JOURNAL_NAME).append(header)
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
            SessionError: not a session, locked by another process, a config edited since init, or
                a journal the searcher does not reproduce.
        """
        directory = Path(directory)
        journal = Journal(directory / JOURNAL_NAME)
        if not journal.path.exists():
            hint = " (session.yaml is there: an init that was interrupted; remove DIR and init again)" \
                if (directory / CONFIG_NAME).exists() else ""
            raise SessionError(f"{directory} is not a mango-pl loop session (no {JOURNAL_NAME}){hint}; create one with "
                               f"mango-pl loop init {directory} --config session.yaml")
        lock_fd = _take_lock(directory) if lock else None
        try:
            entries = journal.entries()
            if not entries or entries[0].get("type") != "session" or entries[0].get("format") != FORMAT:
                raise SessionError(f"{journal.path} does not start with a session entry; an init that was interrupted: "
                                   f"remove {directory} and init again")
            header = entries[0]
            if header.get("version", 0) > VERSION:
                raise SessionError(f"{directory} was written by a newer mango-pl (loop journal version "
                                   f"{header['version']}); upgrade mango-pl to continue it")
            config = load_session_config(directory / CONFIG_NAME)
            if config.sha256 != header["config_sha256"]:
                raise SessionError(f"{directory / CONFIG_NAME} was edited after init; a session's config is fixed (the "
                                   f"journal is replayed with it): restore it, or start a new session for new settings")
            session = cls(directory, config, header, journal)
            session._lock = lock_fd
            session._replay(entries[1:])
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

    # -- state -----------------------------------------------------------------------------------

    @property
    def remaining(self) -> int:
        """Stimuli left to tell per target cell (population mode: in all)."""
        return max(0, self.config.budget - self.told)

    @property
    def done(self) -> bool:
        """Whether the budget is spent (and no batch waits for responses)."""
        return self.remaining == 0 and self.pending is None

    @property
    def space(self) -> StimulusSpace:
        """The stimulus space (loaded on first use: replaying, telling and reporting never need it)."""
        if self._space is None:
            with working_directory(self.base_dir):
                self._space = load_space(self.config, self.image["channels"], self.image["size"])
        return self._space

    def batch_folder(self, batch: Batch) -> Path:
        return self.directory / "batches" / batch.folder

    @property
    def inbox(self) -> Path:
        """Where a rig drops its responses files by default (``run --watch``) and the simulation writes them."""
        return self.directory / "inbox"

    def _check_fresh(self) -> None:
        if self._stale:
            raise SessionError(f"an ask or tell of {self.directory} failed half-way in this process; the journal is "
                               f"intact: open the session again (Session.open) to go on")

    def _earlier_ids(self) -> dict[str, int]:
        return {s.id: b.number for b in self.batches if b is not self.pending for s in b.stimuli}

    # -- replay ----------------------------------------------------------------------------------

    def _ask_searcher(self) -> Tensor:
        with single_thread():
            return self.searcher.ask_shared() if self.config.shared else self.searcher.ask()

    def _replay(self, entries: list[dict]) -> None:
        for entry in entries:
            kind = entry.get("type")
            if kind == "ask":
                if self.pending is not None or entry.get("batch") != len(self.batches):
                    raise SessionError(f"{self.journal.path}: ask of batch {entry.get('batch')} out of order; the "
                                       f"journal was edited: restore it from a backup")
                asked = self._ask_searcher()
                if asked_hash(asked) != entry["asked_sha256"]:
                    raise SessionError(
                        f"replaying {self.journal.path}: the searcher rebuilt from session.yaml asks other stimuli in "
                        f"batch {entry['batch']} than the journal holds (the session was started with mango-pl "
                        f"{self.header.get('mango_pl')}; this is {mango_pl.__version__}); continue it with the "
                        f"mango-pl it was started with")
                batch = Batch.from_entry(entry)
                points, _, slots = compose_search_stimuli(asked, batch.shown, self.config.shared, self.config.targets)
                if [s.index for s in batch.search_stimuli] != points or batch.slots != slots:
                    raise SessionError(f"{self.journal.path}: the stimuli of batch {batch.number} do not match its ask; "
                                       f"the journal was edited: restore it from a backup")
                self._register(batch, asked)
            elif kind == "tell":
                if self.pending is None or entry.get("batch") != self.pending.number:
                    raise SessionError(f"{self.journal.path}: tell of batch {entry.get('batch')} without its ask; the "
                                       f"journal was edited: restore it from a backup")
                self._apply_tell(entry)
            else:
                raise SessionError(f"{self.journal.path}: unknown entry type {kind!r}; written by a newer mango-pl?")

    def _register(self, batch: Batch, asked: Tensor) -> None:
        self.batches.append(batch)
        self.pending, self._asked = batch, asked
        self._shown_points.update(s.index for s in batch.search_stimuli)

    def _apply_tell(self, entry: dict) -> None:
        batch, asked = self.pending, self._asked
        responses = entry["responses"]
        current = reference_means(batch, responses)
        if current is not None and self.baseline is None:
            self.baseline = current
        norm = normalization(self.config.normalize, self.baseline, current, self.config.cells)
        count = entry["told"]
        values = told_values(batch, stimulus_means(batch, responses, norm), self.config.targets, self.config.shared,
                             count)
        with single_thread():
            if self.config.shared:
                self.searcher.tell_shared(asked[:count], values)
            else:
                self.searcher.tell(asked[:, :count], values)
        self.told += count
        self.responses[batch.number] = responses
        self.normalizations[batch.number] = norm
        self.tells[batch.number] = entry
        self.pending, self._asked = None, None

    # -- ask -------------------------------------------------------------------------------------

    def ask(self) -> AskResult:
        """The next batch: its stimulus files and manifest under ``batches/batch_<N>/``.

        Asking again before a tell returns the pending batch: the same ids, no file rewritten
        (files missing after a crash are written). When the budget is spent, ``batch`` is ``None``.
        """
        self._check_fresh()
        if self.pending is not None:
            return AskResult(self.pending, self.batch_folder(self.pending), False, self._write_files(self.pending))
        if self.remaining == 0:
            return AskResult(None, None, False, 0)
        number = len(self.batches)
        self._stale = True  # until the ask is committed
        asked = self._ask_searcher()
        shown = min(int(asked.shape[0] if self.config.shared else asked.shape[1]), self.remaining)
        points, cells, slots = compose_search_stimuli(asked, shown, self.config.shared, self.config.targets)
        images = render_stimuli(self.space, points, self.image["format"])
        suffix = "." + self.image["format"]
        stimuli = []
        for j, (point, asking, image) in enumerate(zip(points, cells, images)):
            sid = stimulus_id(number, SEARCH, j, len(points))
            stimuli.append(Stimulus(sid, SEARCH, sid + suffix, sha256(image), point, None,
                                    point in self._shown_points, asking))
        references = self.header["references"]
        for r, record in enumerate(references):
            sid = stimulus_id(number, REFERENCE, r, len(references))
            stimuli.append(Stimulus(sid, REFERENCE, sid + suffix, record["sha256"], None, r))
        order = presentation_order([s.id for s in stimuli], self.config.repeats, self.config.seed, number)
        batch = Batch(number, tuple(stimuli), slots, shown, asked_hash(asked), order)
        self.journal.append({**batch.as_entry(), "time": time.time()})  # the commit point of the ask
        self._register(batch, asked)
        self._stale = False
        faults.kill_if_armed("ask-journaled", number)
        written = self._write_files(batch, dict(zip((s.id for s in stimuli), images)))
        faults.kill_if_armed("asked", number)
        return AskResult(batch, self.batch_folder(batch), True, written)

    def _write_files(self, batch: Batch, rendered: dict[str, bytes] | None = None) -> int:
        """Write the batch's missing files (stimuli, then the manifests); good existing ones are left as they are.

        The files can be made again from the journal, so they are not fsync-ed one by one (the
        journal is the commit point); a file that a crash left damaged (its hash is not the
        journal's) is set aside as ``<name>.damaged`` and written again.
        """
        folder = self.batch_folder(batch)
        rendered = dict(rendered or {})
        manifests = {"manifest.csv": manifest_csv(batch),
                     "manifest.json": manifest_json(batch, self.config.cells, self.config.repeats,
                                                    self.config.responses)}
        if not rendered:  # asked again: keep what is whole, set aside what a crash damaged
            for name, digest in [(s.file, s.sha256) for s in batch.stimuli] + [
                    (name, sha256(data)) for name, data in manifests.items()]:
                path = folder / name
                if path.is_file() and sha256(path.read_bytes()) != digest:
                    set_aside(path)
        absent = [s for s in batch.stimuli if not (folder / s.file).exists()]
        redo = [s for s in absent if s.kind == SEARCH and s.id not in rendered]
        if redo:
            rendered.update(zip((s.id for s in redo), render_stimuli(self.space, [s.index for s in redo],
                                                                     self.image["format"])))
        written = 0
        for count, s in enumerate(absent):
            if count == len(absent) // 2:
                faults.kill_if_armed("ask-files", batch.number)
            if s.kind == SEARCH:
                data = rendered[s.id]
            else:
                data = (self.directory / self.header["references"][s.reference]["file"]).read_bytes()
            if sha256(data) != s.sha256:
                raise SessionError(f"stimulus {s.id} of batch {batch.number} does not decode to the image the journal "
                                   f"recorded; the space or its checkpoint changed since the batch was asked: restore "
                                   f"it (or {folder / s.file} from a backup)")
            written += write_new_file(folder / s.file, data, durable=False)
        for name, data in manifests.items():
            written += write_new_file(folder / name, data, durable=False)
        return written

    # -- tell ------------------------------------------------------------------------------------

    def tell(self, path: str | Path, partial: bool = False) -> TellResult:
        """Tell the searcher the responses in ``path`` to the pending batch, and commit them to the journal.

        Repeats are averaged; with ``normalize`` the batch is corrected by its reference responses.
        The file is checked completely before anything changes, and is never moved or changed.

        Args:
            path: the responses CSV (``stimulus_id,cell,response[,presentation]``).
            partial: accept a batch with aborted trials: the slots before the first stimulus (in
                stimulus order) without responses are told, later responses are kept but not told.

        Raises:
            SessionError: no batch waits for responses.
            ResponsesError: the file does not fit the batch (nothing is told).
        """
        self._check_fresh()
        batch = self.pending
        if batch is None:
            raise SessionError(f"no batch of {self.directory} waits for responses; run mango-pl loop ask "
                               f"{self.directory} first" + (" (the budget is spent)" if self.remaining == 0 else ""))
        responses = read_responses(path, batch, self._earlier_ids(), self.config.cells, self.config.repeats,
                                   self.config.responses, partial)
        count = responded_prefix(batch, set(responses.values), self.config.shared)
        if count == 0:
            first = batch.stimuli[batch.slots[0] if self.config.shared else batch.slots[0][0]].id
            raise ResponsesError(f"{responses.source}: the first stimulus in stimulus order ({first}) has no responses, "
                                 f"so nothing can be told (the searcher takes the responded stimuli up to the first "
                                 f"one without); record the batch again (mango-pl loop ask shows it again)")
        source = Path(path).resolve()
        try:
            source_name = str(source.relative_to(self.directory.resolve()))
        except ValueError:
            source_name = str(source)
        entry = {"type": "tell", "batch": batch.number, "told": count, "partial": bool(partial),
                 "source": source_name, "source_sha256": responses.sha256, "responses": responses.values,
                 "missing": list(responses.missing), "incomplete": list(responses.incomplete), "time": time.time()}
        untold = self._untold(batch, count, responses.values)
        self._stale = True  # until the tell is committed
        self._apply_tell(entry)
        interrupt = faults.kill_now if faults.armed("tell-torn", batch.number) else None
        self.journal.append(entry, interrupt=interrupt)  # the commit point of the tell
        self._stale = False
        return TellResult(batch.number, count, batch.shown, untold, responses.missing, self.remaining)

    def _untold(self, batch: Batch, count: int, responded: dict) -> tuple[str, ...]:
        ids = [s.id for s in batch.stimuli]
        slots = batch.slots if self.config.shared else [position for row in batch.slots for position in row]
        told = set(batch.slots[:count]) if self.config.shared else {p for row in batch.slots for p in row[:count]}
        return tuple(ids[p] for p in dict.fromkeys(slots) if p not in told and ids[p] in responded)

    # -- what the session found ------------------------------------------------------------------

    def stimulus_statistics(self) -> dict[tuple, StimulusStatistics]:
        """Every stimulus shown and answered, keyed ``("grid", index)`` or ``("reference", r)``, in first-shown order."""
        table: dict[tuple, StimulusStatistics] = {}
        for number, responses in self.responses.items():
            batch = self.batches[number]
            norm = self.normalizations[number]
            for s in batch.stimuli:
                if s.id not in responses:
                    continue
                key = ("grid", s.index) if s.kind == SEARCH else ("reference", s.reference)
                stats = table.get(key)
                if stats is None:
                    stats = table[key] = StimulusStatistics(s.id, f"batches/{batch.folder}/{s.file}", s.index,
                                                            s.reference)
                rows = np.asarray(responses[s.id], dtype=np.float64)
                stats.rows.extend(norm.apply(rows) if s.kind == SEARCH else rows)
                stats.cells.update(s.cells)
                if number not in stats.batches:
                    stats.batches.append(number)
        return table

    def best_stimuli(self) -> list[BestStimulus]:
        """Each recorded cell's best stimulus (targets: the searcher's recommendation), cells in order."""
        table = self.stimulus_statistics()
        search = [s for key, s in table.items() if key[0] == "grid"]
        recommended = self.searcher.recommend() if self.told else None
        best = []
        for cell in range(self.config.cells):
            target = cell in self.config.targets
            chosen, by = None, "lower bound"
            if target and recommended is not None:
                point = tuple(recommended[0][self.config.targets.index(cell)].tolist())
                chosen, by = table.get(("grid", point)), "searcher"
            if chosen is None:
                candidates = [s for s in search if cell in s.cells] if target else search
                chosen, by = best_by_lower_bound(candidates, cell), "lower bound"
            if chosen is None:
                continue
            best.append(BestStimulus(cell, target, chosen.id, chosen.file, chosen.index, float(chosen.mean[cell]),
                                     float(chosen.sem[cell]), chosen.count, tuple(chosen.batches), by))
        return best

    def batch_summaries(self) -> list[BatchSummary]:
        """The told batches, in order (see :class:`BatchSummary`)."""
        summaries = []
        for number, responses in self.responses.items():
            batch = self.batches[number]
            means = stimulus_means(batch, responses, self.normalizations[number])
            ids = [s.id for s in batch.stimuli]
            best, mean = [], []
            for p, cell in enumerate(self.config.targets):
                own = set(batch.slots) if self.config.shared else set(batch.slots[p])
                values = [means[ids[q]][cell] for q in sorted(own) if ids[q] in means]
                best.append(float(max(values)) if values else math.nan)
                mean.append(float(np.mean(values)) if values else math.nan)
            reference = reference_means(batch, responses)
            searched = batch.search_stimuli
            summaries.append(BatchSummary(
                number, self.tells[number]["told"], len(searched), sum(s.retest for s in searched),
                sum(len(rows) for rows in responses.values()), bool(self.tells[number]["partial"]), tuple(best),
                tuple(mean), None if reference is None else tuple(float(v) for v in reference)))
        return summaries

    def summary(self) -> SessionSummary:
        """Where the session stands: queries used, best stimuli, responses per batch."""
        return SessionSummary(
            self.directory, self.config.shared, self.config.method, self.config.cells, self.config.targets,
            self.config.budget, self.told, sum(len(rows) for r in self.responses.values() for rows in r.values()),
            None if self.pending is None else self.pending.number, tuple(self.best_stimuli()),
            tuple(self.batch_summaries()))


def _take_lock(directory: Path) -> int:
    fd = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise SessionError(f"another mango-pl loop process is working on {directory} (a run --watch?); wait for it "
                           f"to finish or stop it, then try again") from None
    return fd
