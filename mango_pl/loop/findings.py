"""What a session found, from its told responses: every stimulus's statistics, each cell's best
stimulus, a summary per batch, and the whole session's summary (``mango-pl loop status`` / ``export``)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from mango_pl.loop.batch import SEARCH
from mango_pl.loop.results import BatchSummary, BestStimulus, SessionSummary
from mango_pl.loop.statistics import StimulusStatistics, best_by_lower_bound, reference_means, stimulus_means

if TYPE_CHECKING:
    from mango_pl.loop.session import Session
    from mango_pl.loop.state import SessionState


def stimulus_statistics(state: SessionState) -> dict[tuple, StimulusStatistics]:
    """Every stimulus shown and answered, keyed ``("grid", index)`` or ``("reference", r)``, in first-shown order."""
    table: dict[tuple, StimulusStatistics] = {}
    for number, responses in state.responses.items():
        batch = state.batches[number]
        norm = state.normalizations[number]
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


def best_stimuli(state: SessionState) -> list[BestStimulus]:
    """Each recorded cell's best stimulus (targets: the searcher's recommendation), cells in order."""
    config = state.config
    table = stimulus_statistics(state)
    search = [s for key, s in table.items() if key[0] == "grid"]
    recommended = state.searcher.recommend() if state.told else None
    best = []
    for cell in range(config.cells):
        target = cell in config.targets
        chosen, by = None, "lower bound"
        if target and recommended is not None:
            point = tuple(recommended[0][config.targets.index(cell)].tolist())
            chosen, by = table.get(("grid", point)), "searcher"
        if chosen is None:
            candidates = [s for s in search if cell in s.cells] if target else search
            chosen, by = best_by_lower_bound(candidates, cell), "lower bound"
        if chosen is None:
            continue
        best.append(BestStimulus(cell, target, chosen.id, chosen.file, chosen.index, float(chosen.mean[cell]),
                                 float(chosen.sem[cell]), chosen.count, tuple(chosen.batches), by))
    return best


def batch_summaries(state: SessionState) -> list[BatchSummary]:
    """The told batches, in order (see :class:`BatchSummary`)."""
    config = state.config
    summaries = []
    for number, responses in state.responses.items():
        batch = state.batches[number]
        means = stimulus_means(batch, responses, state.normalizations[number])
        ids = [s.id for s in batch.stimuli]
        best, mean = [], []
        for p, cell in enumerate(config.targets):
            own = set(batch.slots) if config.shared else set(batch.slots[p])
            values = [means[ids[q]][cell] for q in sorted(own) if ids[q] in means]
            best.append(float(max(values)) if values else math.nan)
            mean.append(float(np.mean(values)) if values else math.nan)
        reference = reference_means(batch, responses)
        searched = batch.search_stimuli
        summaries.append(BatchSummary(
            number, state.tells[number]["told"], len(searched), sum(s.retest for s in searched),
            sum(len(rows) for rows in responses.values()), bool(state.tells[number]["partial"]), tuple(best),
            tuple(mean), None if reference is None else tuple(float(v) for v in reference)))
    return summaries


def session_summary(session: Session) -> SessionSummary:
    """Where the session stands: queries used, best stimuli, responses per batch."""
    config = session.config
    return SessionSummary(
        session.directory, config.shared, config.method, config.cells, config.targets, config.budget, session.told,
        sum(len(rows) for r in session.responses.values() for rows in r.values()),
        None if session.pending is None else session.pending.number, tuple(best_stimuli(session)),
        tuple(batch_summaries(session)))
