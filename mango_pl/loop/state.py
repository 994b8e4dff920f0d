"""A session's state, replayed from its journal: the search run, the batches asked, the responses told.

Nothing but the journal holds state. :class:`SessionState` rebuilds the session's search from the
config and seed (a :class:`~mango_pl.search.SearchRun`: the budget is counted there) and replays
the journal: every ask is asked again and must reproduce the journaled stimuli (checked by hash),
every tell is told again from its journaled responses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import Tensor

import mango_pl
from mango_pl.loop.batch import Batch, asked_hash, compose_search_stimuli
from mango_pl.loop.config import SessionConfig, SessionConfigError
from mango_pl.loop.errors import SessionError
from mango_pl.loop.header import SessionHeader
from mango_pl.loop.journal import Journal
from mango_pl.loop.statistics import Normalization, normalization, reference_means, stimulus_means, told_values
from mango_pl.search import Searcher, SearchRun, make_searcher
from mango_pl.grid_features import GridFeatures
from mango_pl.search.seeding import unit_seeds

#: the "layer" of a session's recorded cells for :func:`~mango_pl.search.seeding.unit_seeds` (cell ``c``
#: is its unit ``c``, epoch 0): a cell's search depends on the seed and the cell only
CELLS_LAYER = "cells"


@contextmanager
def single_thread() -> Iterator[None]:
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
    """The session's searcher: one problem per target cell, each seeded with
    ``unit_seeds(seed, 0, "cells", [cell])``, so a cell's search does not depend on which other cells are targets.

    Raises:
        SessionConfigError: bad option values for the method.
    """
    seeds = unit_seeds(config.seed, 0, CELLS_LAYER, config.targets)
    try:
        return make_searcher(config.method, d=d, n=n, problems=config.problems, seed=seeds, budget=config.budget,
                             **config.searcher_options())
    except (TypeError, ValueError) as error:
        raise SessionConfigError(f"method_options: {error}") from error


class SessionState:
    """What a session has asked and told, rebuilt from its config and journal.

    Args:
        config: the session config.
        header: the journal's first entry.
        journal: the journal (its entries after the header are replayed by :meth:`replay`).
        features: gives the space's grid features (loading the space), called only for a searcher
            that models the responses on them (``Searcher.uses_features``), even to replay.

    Attributes:
        run: the search: asks, tells and counts the budget.
        batches: every batch asked, in order.
        responses: each told batch's responses (stimulus id -> presentations x cells).
        normalizations: each told batch's normalization.
        tells: each told batch's journal entry.
        baseline: the first reference responses told (``normalize``).
        pending: the batch asked and not told yet.
    """

    def __init__(self, config: SessionConfig, header: SessionHeader, journal: Journal,
                 features: Callable[[], GridFeatures | None] = lambda: None):
        self.config = config
        self.header = header
        self.journal = journal
        searcher = build_searcher(config, header.grid_d, header.grid_n)
        self.run = SearchRun(searcher, header.grid_d, header.grid_n, config.budget, config.problems,
                             shared=config.shared, features=features() if searcher.uses_features else None)
        self.batches: list[Batch] = []
        self.responses: dict[int, dict[str, list[list[float]]]] = {}
        self.normalizations: dict[int, Normalization] = {}
        self.tells: dict[int, dict] = {}
        self.baseline: np.ndarray | None = None
        self.pending: Batch | None = None
        self.asked: Tensor | None = None  # the pending batch's points, as the searcher asked them
        self.shown_points: set[tuple[int, ...]] = set()
        self.stale = False  # an ask or tell failed between changing the searcher and its commit

    @property
    def searcher(self) -> Searcher:
        """The session's searcher (driven by :attr:`run`)."""
        return self.run.searcher

    @property
    def told(self) -> int:
        """Stimuli told per target cell (population mode: in all)."""
        return self.run.queries

    @property
    def remaining(self) -> int:
        """Stimuli left to tell per target cell (population mode: in all)."""
        return self.run.remaining

    @property
    def done(self) -> bool:
        """Whether the budget is spent (and no batch waits for responses)."""
        return self.run.done and self.pending is None

    def check_fresh(self) -> None:
        """Raise if an ask or tell of this process failed half-way (the state no longer matches the journal)."""
        if self.stale:
            raise SessionError(f"an ask or tell of {self.journal.path.parent} failed half-way in this process; the "
                               f"journal is intact: open the session again (Session.open) to go on")

    def earlier_ids(self) -> dict[str, int]:
        """The stimulus ids of the batches before the pending one (id -> batch number)."""
        return {s.id: b.number for b in self.batches if b is not self.pending for s in b.stimuli}

    def ask_run(self) -> Tensor:
        """The run's next batch, cut to the budget (one torch thread)."""
        with single_thread():
            return self.run.ask()

    def register(self, batch: Batch, asked: Tensor) -> None:
        """Record an asked batch (committed or replayed) as the pending one."""
        self.batches.append(batch)
        self.pending, self.asked = batch, asked
        self.shown_points.update(s.index for s in batch.search_stimuli)

    def apply_tell(self, entry: dict) -> None:
        """Tell the run the responses of a tell entry (committed or replayed) to the pending batch."""
        batch, asked = self.pending, self.asked
        responses = entry["responses"]
        current = reference_means(batch, responses)
        if current is not None and self.baseline is None:
            self.baseline = current
        norm = normalization(self.config.normalize, self.baseline, current, self.config.cells)
        count = entry["told"]
        values = told_values(batch, stimulus_means(batch, responses, norm), self.config.targets, self.config.shared,
                             count)
        with single_thread():
            self.run.tell(asked[:count] if self.config.shared else asked[:, :count], values)
        self.responses[batch.number] = responses
        self.normalizations[batch.number] = norm
        self.tells[batch.number] = entry
        self.pending, self.asked = None, None

    def replay(self, entries: list[dict]) -> None:
        """Ask and tell again what ``entries`` (the journal after its header) record.

        Raises:
            SessionError: entries out of order, or asks that the searcher does not reproduce.
        """
        path = self.journal.path
        for entry in entries:
            kind = entry.get("type")
            if kind == "ask":
                if self.pending is not None or entry.get("batch") != len(self.batches) or self.run.done:
                    raise SessionError(f"{path}: ask of batch {entry.get('batch')} out of order; the journal was "
                                       f"edited: restore it from a backup")
                asked = self.ask_run()
                if asked_hash(asked) != entry["asked_sha256"]:
                    raise SessionError(
                        f"replaying {path}: the searcher rebuilt from session.yaml asks other stimuli in batch "
                        f"{entry['batch']} than the journal holds (the session was started with mango-pl "
                        f"{self.header.mango_pl}; this is {mango_pl.__version__}); continue it with the mango-pl it "
                        f"was started with")
                batch = Batch.from_entry(entry)
                points, _, slots = compose_search_stimuli(asked, batch.shown, self.config.shared, self.config.targets)
                if [s.index for s in batch.search_stimuli] != points or batch.slots != slots:
                    raise SessionError(f"{path}: the stimuli of batch {batch.number} do not match its ask; the "
                                       f"journal was edited: restore it from a backup")
                self.register(batch, asked)
            elif kind == "tell":
                if self.pending is None or entry.get("batch") != self.pending.number:
                    raise SessionError(f"{path}: tell of batch {entry.get('batch')} without its ask; the journal was "
                                       f"edited: restore it from a backup")
                self.apply_tell(entry)
            else:
                raise SessionError(f"{path}: unknown entry type {kind!r}; written by a newer mango-pl?")
