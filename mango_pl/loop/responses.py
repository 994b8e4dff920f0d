"""Reading a rig's responses file and checking it against the batch it answers.

The file is CSV with a header: ``stimulus_id,cell,response`` and optionally ``presentation``
(the presentation number of the manifest). A stimulus shown ``repeats`` times has ``repeats``
rows per cell; without a ``presentation`` column the ``j``-th row of a (stimulus, cell) belongs
to the stimulus's ``j``-th presentation. Every presentation needs one row per recorded cell.

Every problem is a :class:`ResponsesError` with a one-line message that names the row and the fix;
the file is only read.
"""

from __future__ import annotations

import csv
import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

from mango_pl.loop.batch import Batch

REQUIRED_COLUMNS = ("stimulus_id", "cell", "response")
OPTIONAL_COLUMNS = ("presentation",)


class ResponsesError(ValueError):
    """A responses file that does not fit the batch: nothing was told."""


@dataclass(frozen=True)
class BatchResponses:
    """The checked responses to one batch.

    Attributes:
        batch: the batch number.
        values: stimulus id -> one row per presentation, each with one response per cell.
        missing: stimuli of the batch without any response (only with ``partial``).
        incomplete: stimuli with fewer presentations than ``repeats`` (only with ``partial``).
        source: the file read.
        sha256: the hash of its bytes.
    """

    batch: int
    values: dict[str, list[list[float]]]
    missing: tuple[str, ...]
    incomplete: tuple[str, ...]
    source: Path
    sha256: str


def _list(ids: list[str], limit: int = 4) -> str:
    shown = ", ".join(ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def read_responses(path: str | Path, batch: Batch, earlier: dict[str, int], cells: int, repeats: int, kind: str,
                   partial: bool = False) -> BatchResponses:
    """Read ``path`` and check it against ``batch``.

    Args:
        path: the responses CSV.
        batch: the batch waiting for responses.
        earlier: stimulus id -> batch number of every stimulus of an earlier batch.
        cells: recorded cells (ids 0..cells-1).
        repeats: presentations of each stimulus.
        kind: ``"spike_counts"`` (whole numbers >= 0) or ``"dff"`` (finite numbers).
        partial: accept stimuli without responses (aborted trials) and fewer presentations than
            ``repeats``.

    Raises:
        ResponsesError: the first problem, as one line.
        FileNotFoundError: no such file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no responses file at {str(path)!r}")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ResponsesError(f"{path} is not UTF-8 text ({error}); save the responses as CSV") from error
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing_columns = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing_columns:
        raise ResponsesError(f"{path}: the header must name the columns {', '.join(REQUIRED_COLUMNS)} (optionally "
                             f"presentation); found {header or 'no header'}")
    reader.fieldnames = header
    own = batch.ids
    grouped: dict[str, dict[object, dict[int, float]]] = {}  # id -> presentation key -> cell -> value
    counts: dict[tuple[str, int], int] = {}
    rows = 0
    for line, row in enumerate(reader, start=2):
        rows += 1
        sid = (row.get("stimulus_id") or "").strip()
        if sid not in own:
            if sid in earlier:
                raise ResponsesError(f"{path} line {line}: stimulus {sid} belongs to batch {earlier[sid]}, which was "
                                     f"told already; this tell takes batch {batch.number} (ids b{batch.number:04d}...)")
            raise ResponsesError(f"{path} line {line}: unknown stimulus id {sid!r}; the ids of batch {batch.number} "
                                 f"are in batches/{batch.folder}/manifest.csv")
        try:
            cell = int((row.get("cell") or "").strip())
        except ValueError:
            raise ResponsesError(f"{path} line {line}: cell {row.get('cell')!r} is not a cell number 0..{cells - 1}")
        if not 0 <= cell < cells:
            raise ResponsesError(f"{path} line {line}: cell {cell} is not a recorded cell; the session records "
                                 f"{cells} cells (0..{cells - 1}), see cells in session.yaml")
        text_value = (row.get("response") or "").strip()
        try:
            value = float(text_value)
        except ValueError:
            raise ResponsesError(f"{path} line {line}: response {text_value!r} is not a number")
        if not math.isfinite(value):
            raise ResponsesError(f"{path} line {line}: response {text_value} is not a finite number; leave out the "
                                 f"rows of an aborted trial (and tell with --partial) instead")
        if kind == "spike_counts" and (value < 0 or value != int(value)):
            raise ResponsesError(f"{path} line {line}: response {text_value} is not a spike count (a whole number "
                                 f">= 0); if the rig records ΔF/F, set responses: dff in session.yaml")
        if "presentation" in header and (row.get("presentation") or "").strip():
            try:
                key: object = int(row["presentation"].strip())
            except ValueError:
                raise ResponsesError(f"{path} line {line}: presentation {row['presentation']!r} is not a number")
        else:
            key = counts.get((sid, cell), 0)
            counts[(sid, cell)] = key + 1
        presentation = grouped.setdefault(sid, {}).setdefault(key, {})
        if cell in presentation:
            raise ResponsesError(f"{path} line {line}: a second response of cell {cell} to presentation {key} of "
                                 f"stimulus {sid}; give one row per stimulus, presentation and cell")
        presentation[cell] = value
    if not rows:
        raise ResponsesError(f"{path} holds no responses (only a header, or nothing)")
    values: dict[str, list[list[float]]] = {}
    incomplete = []
    for sid, presentations in grouped.items():
        for key, by_cell in presentations.items():
            if len(by_cell) != cells:
                absent = [c for c in range(cells) if c not in by_cell]
                raise ResponsesError(f"{path}: presentation {key} of stimulus {sid} has responses of {len(by_cell)} "
                                     f"cells but the session records {cells}; cells {_list([str(c) for c in absent])} "
                                     f"are missing (cells in session.yaml counts the recorded cells)")
        if len(presentations) > repeats:
            raise ResponsesError(f"{path}: stimulus {sid} has {len(presentations)} presentations but each stimulus is "
                                 f"shown {repeats} time(s) (repeats in session.yaml)")
        if len(presentations) < repeats:
            incomplete.append(sid)
        values[sid] = [[by_cell[c] for c in range(cells)] for _, by_cell in sorted(presentations.items(),
                                                                                      key=lambda kv: kv[0])]
    missing = [s.id for s in batch.stimuli if s.id not in values]
    if not partial:
        if missing:
            raise ResponsesError(f"{path}: {len(missing)} stimuli of batch {batch.number} have no responses "
                                 f"({_list(missing)}); record them, or pass --partial to tell only what was recorded")
        if incomplete:
            raise ResponsesError(f"{path}: stimuli {_list(incomplete)} have fewer than {repeats} presentations; give "
                                 f"them all, or pass --partial to tell what was recorded")
    ordered = {s.id: values[s.id] for s in batch.stimuli if s.id in values}
    return BatchResponses(batch.number, ordered, tuple(missing), tuple(incomplete), path,
                          hashlib.sha256(data).hexdigest())
