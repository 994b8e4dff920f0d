"""A batch of stimuli: what one ask shows the rig, how it maps onto the searcher's ask, and its manifest.

Stimulus order: the searcher's points in slot order (slot ``k`` of every target before slot
``k + 1``; population mode: stimulus ``k``), equal grid points shown once, then the reference
images. Stimulus ids follow it (``b0003s000``, ``b0003s001``, ..., ``b0003r00``). Presentation
order: every stimulus ``repeats`` times, shuffled with a generator seeded by the session seed and
the batch number, so a batch is shown in the same order whenever it is asked.

A stimulus is a *re-test* when its grid point was shown in an earlier batch (the default searcher
re-measures its leading candidates under noise).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

#: spawn-key entry of the stream that shuffles the presentation order (apart from the searchers' streams)
PRESENTATION_STREAM = 1 << 21
SEARCH, REFERENCE = "search", "reference"


@dataclass(frozen=True)
class Stimulus:
    """One image of a batch.

    Attributes:
        id: the stimulus id (``b0003s012``; references ``b0003r00``).
        kind: ``"search"`` (proposed by the searcher) or ``"reference"`` (shown in every batch).
        file: the image file's name inside the batch folder.
        sha256: the hash of the image file's bytes.
        index: the grid index (search stimuli), else ``None``.
        reference: the reference number (references), else ``None``.
        retest: the grid point was shown in an earlier batch.
        cells: the target cells whose search asked for it (population mode: every target).
    """

    id: str
    kind: str
    file: str
    sha256: str
    index: tuple[int, ...] | None = None
    reference: int | None = None
    retest: bool = False
    cells: tuple[int, ...] = ()

    def as_record(self) -> dict:
        record = {"id": self.id, "kind": self.kind, "file": self.file, "sha256": self.sha256}
        if self.kind == SEARCH:
            record.update(index=list(self.index), retest=self.retest, cells=list(self.cells))
        else:
            record.update(reference=self.reference)
        return record

    @classmethod
    def from_record(cls, record: dict) -> "Stimulus":
        index = record.get("index")
        return cls(record["id"], record["kind"], record["file"], record["sha256"],
                   None if index is None else tuple(index), record.get("reference"), bool(record.get("retest", False)),
                   tuple(record.get("cells", ())))


@dataclass(frozen=True)
class Batch:
    """One asked batch.

    Attributes:
        number: the batch number (0, 1, ...).
        stimuli: search stimuli in stimulus order, then the references.
        slots: which stimulus (position in ``stimuli``) answers each shown slot of the ask:
            ``[P][shown]`` (one row per target), population mode ``[shown]``.
        shown: how many of the ask's points per target (population mode: stimuli) are shown; fewer
            than the batch size when the budget ends inside the batch.
        asked_sha256: the hash of the asked index tensor, as the search run gave it (cut to the budget;
            checked when the session is replayed).
        presentations: stimulus ids in presentation order (each stimulus ``repeats`` times).
    """

    number: int
    stimuli: tuple[Stimulus, ...]
    slots: tuple
    shown: int
    asked_sha256: str
    presentations: tuple[str, ...]

    @property
    def folder(self) -> str:
        """The batch folder's name inside ``<session>/batches``."""
        return f"batch_{self.number:04d}"

    @property
    def responses_name(self) -> str:
        """The name of the responses file a rig drops for this batch (``run --watch``)."""
        return f"responses_{self.number:04d}.csv"

    @property
    def ids(self) -> dict[str, Stimulus]:
        return {stimulus.id: stimulus for stimulus in self.stimuli}

    @property
    def search_stimuli(self) -> tuple[Stimulus, ...]:
        return tuple(s for s in self.stimuli if s.kind == SEARCH)

    def as_entry(self) -> dict:
        """The journal entry of this ask (without its time)."""
        return {"type": "ask", "batch": self.number, "shown": self.shown, "asked_sha256": self.asked_sha256,
                "slots": _nested_list(self.slots), "stimuli": [s.as_record() for s in self.stimuli],
                "presentations": list(self.presentations)}

    @classmethod
    def from_entry(cls, entry: dict) -> "Batch":
        slots = entry["slots"]
        slots = tuple(tuple(row) for row in slots) if slots and isinstance(slots[0], list) else tuple(slots)
        return cls(entry["batch"], tuple(Stimulus.from_record(r) for r in entry["stimuli"]), slots, entry["shown"],
                   entry["asked_sha256"], tuple(entry["presentations"]))


def _nested_list(value) -> list:
    return [_nested_list(v) if isinstance(v, tuple) else v for v in value]


def asked_hash(index: Tensor) -> str:
    """The sha256 of an asked index tensor (shape and values), to check a replayed ask against the journal."""
    index = index.detach().to("cpu", torch.int64).contiguous()
    digest = hashlib.sha256(str(tuple(index.shape)).encode())
    digest.update(index.numpy().tobytes())
    return digest.hexdigest()


def compose_search_stimuli(index: Tensor, shown: int, shared: bool,
                           targets: tuple[int, ...]) -> tuple[list[tuple[int, ...]], list[tuple[int, ...]], tuple]:
    """The distinct grid points of an ask's first ``shown`` slots in stimulus order.

    Args:
        index: the ask, ``[P, K, d]`` (population mode ``[N, d]``).
        shown: slots per target (population mode: stimuli) shown.
        shared: population mode.
        targets: the target cell of each problem.

    Returns:
        ``(points, cells, slots)``: each distinct point, the target cells that asked for it, and the
        position of the point answering each slot (``[P][shown]``, population mode ``[shown]``).
    """
    rows = index[:shown].tolist() if shared else index[:, :shown].tolist()
    position: dict[tuple[int, ...], int] = {}
    points: list[tuple[int, ...]] = []
    cells: list[list[int]] = []

    def place(point: list[int], asking: tuple[int, ...]) -> int:
        key = tuple(point)
        if key not in position:
            position[key] = len(points)
            points.append(key)
            cells.append([])
        at = position[key]
        cells[at].extend(c for c in asking if c not in cells[at])
        return at

    if shared:
        slots = tuple(place(rows[k], targets) for k in range(shown))
    else:
        table = [[0] * shown for _ in targets]
        for k in range(shown):
            for p, cell in enumerate(targets):
                table[p][k] = place(rows[p][k], (cell,))
        slots = tuple(tuple(row) for row in table)
    return points, [tuple(sorted(c)) for c in cells], slots


def stimulus_id(batch: int, kind: str, position: int, count: int) -> str:
    """``b0003s012`` (search stimulus 12 of batch 3) or ``b0003r01`` (reference 1)."""
    width = max(3 if kind == SEARCH else 2, len(str(max(count - 1, 0))))
    return f"b{batch:04d}{'s' if kind == SEARCH else 'r'}{position:0{width}d}"


def presentation_order(ids: list[str], repeats: int, seed: int, batch: int) -> tuple[str, ...]:
    """Every id ``repeats`` times, shuffled by a generator seeded with ``(seed, batch)``."""
    shown = [i for i in ids for _ in range(repeats)]
    generator = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(PRESENTATION_STREAM, batch)))
    return tuple(shown[j] for j in generator.permutation(len(shown)))


def manifest_rows(batch: Batch) -> list[dict]:
    """One row per presentation, in presentation order."""
    stimuli = batch.ids
    rows = []
    for order, sid in enumerate(batch.presentations):
        s = stimuli[sid]
        rows.append({"presentation": order, "stimulus_id": sid, "file": s.file, "kind": s.kind,
                     "retest": int(s.retest), "grid_index": " ".join(map(str, s.index)) if s.index else "",
                     "cells": " ".join(map(str, s.cells)), "reference": "" if s.reference is None else s.reference})
    return rows


def manifest_csv(batch: Batch) -> bytes:
    """The manifest as CSV: presentation, stimulus_id, file, kind, retest, grid_index, cells, reference."""
    rows = manifest_rows(batch)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def manifest_json(batch: Batch, cells: int, repeats: int, responses: str) -> bytes:
    """The manifest as JSON: the batch, what the responses file must hold, every stimulus and presentation."""
    record = {
        "format": "mango-pl-loop-batch", "version": 1, "batch": batch.number,
        "responses_file": batch.responses_name,
        "responses": {"columns": ["stimulus_id", "cell", "response"], "optional_columns": ["presentation"],
                      "cells": cells, "kind": responses, "repeats": repeats},
        "stimuli": [s.as_record() for s in batch.stimuli],
        "presentations": manifest_rows(batch),
    }
    return (json.dumps(record, indent=1) + "\n").encode()
