"""``ask``: the session's next batch, committed to the journal, then written as stimulus files and a manifest.

The journal entry is the commit point of an ask: it is written before the batch's files, and asking
again before a tell completes them (a crash may leave some missing or damaged).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from mango_pl.loop.batch import (REFERENCE, SEARCH, Batch, Stimulus, asked_hash, compose_search_stimuli,
                                 manifest_csv, manifest_json, presentation_order, stimulus_id)
from mango_pl.loop.errors import SessionError
from mango_pl.loop.files import set_aside, write_new_file
from mango_pl.loop.results import AskResult

if TYPE_CHECKING:
    from mango_pl.loop.session import Session


def ask(session: Session) -> AskResult:
    """The session's next batch: its stimulus files and manifest under ``batches/batch_<N>/``.

    Asking again before a tell returns the pending batch: the same ids, no file rewritten (files
    missing after a crash are written). When the budget is spent, ``batch`` is ``None``.
    """
    from mango_pl.loop.images import render_stimuli, sha256  # PIL and the stimulus spaces: only to ask

    session.check_fresh()
    if session.pending is not None:
        pending = session.pending
        return AskResult(pending, session.batch_folder(pending), False, write_files(session, pending))
    if session.run.done:
        return AskResult(None, None, False, 0)
    config, image_format = session.config, session.header.image.format
    number = len(session.batches)
    session.stale = True  # until the ask is committed
    asked = session.ask_run()
    shown = int(asked.shape[0] if config.shared else asked.shape[1])
    points, cells, slots = compose_search_stimuli(asked, shown, config.shared, config.targets)
    images = render_stimuli(session.space, points, image_format)
    suffix = "." + image_format
    stimuli = []
    for j, (point, asking, image) in enumerate(zip(points, cells, images)):
        sid = stimulus_id(number, SEARCH, j, len(points))
        stimuli.append(Stimulus(sid, SEARCH, sid + suffix, sha256(image), point, None,
                                point in session.shown_points, asking))
    references = session.header.references
    for r, record in enumerate(references):
        sid = stimulus_id(number, REFERENCE, r, len(references))
        stimuli.append(Stimulus(sid, REFERENCE, sid + suffix, record.sha256, None, r))
    order = presentation_order([s.id for s in stimuli], config.repeats, config.seed, number)
    batch = Batch(number, tuple(stimuli), slots, shown, asked_hash(asked), order)
    session.journal.append({**batch.as_entry(), "time": time.time()})  # the commit point of the ask
    session.register(batch, asked)
    session.stale = False
    written = write_files(session, batch, dict(zip((s.id for s in stimuli), images)))
    return AskResult(batch, session.batch_folder(batch), True, written)


def write_files(session: Session, batch: Batch, rendered: dict[str, bytes] | None = None) -> int:
    """Write the batch's missing files (stimuli, then the manifests); good existing ones are left as they are.

    The files can be made again from the journal, so they are not fsync-ed one by one (the
    journal is the commit point); a file that a crash left damaged (its hash is not the
    journal's) is set aside as ``<name>.damaged`` and written again.

    Returns:
        How many files were written.

    Raises:
        SessionError: a stimulus that no longer decodes to the image the journal recorded.
    """
    from mango_pl.loop.images import render_stimuli, sha256

    config, image_format = session.config, session.header.image.format
    folder = session.batch_folder(batch)
    rendered = dict(rendered or {})
    manifests = {"manifest.csv": manifest_csv(batch),
                 "manifest.json": manifest_json(batch, config.cells, config.repeats, config.responses)}
    if not rendered:  # asked again: keep what is whole, set aside what a crash damaged
        for name, digest in [(s.file, s.sha256) for s in batch.stimuli] + [
                (name, sha256(data)) for name, data in manifests.items()]:
            path = folder / name
            if path.is_file() and sha256(path.read_bytes()) != digest:
                set_aside(path)
    absent = [s for s in batch.stimuli if not (folder / s.file).exists()]
    redo = [s for s in absent if s.kind == SEARCH and s.id not in rendered]
    if redo:
        rendered.update(zip((s.id for s in redo), render_stimuli(session.space, [s.index for s in redo],
                                                                 image_format)))
    written = 0
    for s in absent:
        if s.kind == SEARCH:
            data = rendered[s.id]
        else:
            data = (session.directory / session.header.references[s.reference].file).read_bytes()
        if sha256(data) != s.sha256:
            raise SessionError(f"stimulus {s.id} of batch {batch.number} does not decode to the image the journal "
                               f"recorded; the space or its checkpoint changed since the batch was asked: restore "
                               f"it (or {folder / s.file} from a backup)")
        written += write_new_file(folder / s.file, data, durable=False)
    for name, data in manifests.items():
        written += write_new_file(folder / name, data, durable=False)
    return written
