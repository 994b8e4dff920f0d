"""``tell``: a rig's responses to the pending batch, checked whole, told to the search and committed to the journal.

The journal entry is the commit point of a tell; it is written last (a torn line is ignored on replay).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from mango_pl.loop.batch import Batch
from mango_pl.loop.errors import SessionError
from mango_pl.loop.responses import ResponsesError, read_responses
from mango_pl.loop.results import TellResult
from mango_pl.loop.statistics import responded_prefix

if TYPE_CHECKING:
    from mango_pl.loop.session import Session


def tell(session: Session, path: str | Path, partial: bool = False) -> TellResult:
    """Tell the search the responses in ``path`` to the pending batch, and commit them to the journal.

    Repeats are averaged; with ``normalize`` the batch is corrected by its reference responses.
    The file is checked completely before anything changes, and is never moved or changed.

    Args:
        session: an open session.
        path: the responses CSV (``stimulus_id,cell,response[,presentation]``).
        partial: accept a batch with aborted trials: the slots before the first stimulus (in
            stimulus order) without responses are told, later responses are kept but not told.

    Raises:
        SessionError: no batch waits for responses.
        ResponsesError: the file does not fit the batch (nothing is told).
    """
    session.check_fresh()
    config, batch = session.config, session.pending
    if batch is None:
        raise SessionError(f"no batch of {session.directory} waits for responses; run mango-pl loop ask "
                           f"{session.directory} first" + (" (the budget is spent)" if session.run.done else ""))
    responses = read_responses(path, batch, session.earlier_ids(), config.cells, config.repeats, config.responses,
                               partial)
    count = responded_prefix(batch, set(responses.values), config.shared)
    if count == 0:
        first = batch.stimuli[batch.slots[0] if config.shared else batch.slots[0][0]].id
        raise ResponsesError(f"{responses.source}: the first stimulus in stimulus order ({first}) has no responses, "
                             f"so nothing can be told (the searcher takes the responded stimuli up to the first "
                             f"one without); record the batch again (mango-pl loop ask shows it again)")
    source = Path(path).resolve()
    try:
        source_name = str(source.relative_to(session.directory.resolve()))
    except ValueError:
        source_name = str(source)
    entry = {"type": "tell", "batch": batch.number, "told": count, "partial": bool(partial),
             "source": source_name, "source_sha256": responses.sha256, "responses": responses.values,
             "missing": list(responses.missing), "incomplete": list(responses.incomplete), "time": time.time()}
    untold = untold_ids(batch, count, responses.values, config.shared)
    session.stale = True  # until the tell is committed
    session.apply_tell(entry)
    session.journal.append(entry)  # the commit point of the tell
    session.stale = False
    return TellResult(batch.number, count, batch.shown, untold, responses.missing, session.remaining)


def untold_ids(batch: Batch, count: int, responded: dict, shared: bool) -> tuple[str, ...]:
    """The ids of stimuli with responses that lie after the first ``count`` slots (kept, not told)."""
    ids = [s.id for s in batch.stimuli]
    slots = batch.slots if shared else [position for row in batch.slots for position in row]
    told = set(batch.slots[:count]) if shared else {p for row in batch.slots for p in row[:count]}
    return tuple(ids[p] for p in dict.fromkeys(slots) if p not in told and ids[p] in responded)
