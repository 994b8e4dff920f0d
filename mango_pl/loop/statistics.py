"""Pure functions from recorded responses to what the searcher is told and what the session reports.

* Repeats are averaged before telling: the searcher gets one value per asked slot, the mean of the
  stimulus's presentations in that batch (a repeated stimulus is a less noisy measurement).
* Partial batches: the searcher's ``tell`` takes a prefix of its last ask, so a batch with
  aborted trials tells the slots before the first stimulus (in stimulus order) without responses;
  the responses after it are kept and count in the statistics, but are not told.
* Normalization by the references (``normalize``): with ``r_b`` a cell's mean response to the
  reference images in batch ``b`` and ``r_0`` the same in the first batch that has reference
  responses, ``ratio`` scales every response of batch ``b`` by ``r_0 / r_b`` (where both are
  positive), ``difference`` adds ``r_0 - r_b``; a batch without reference responses is left as
  it is. The references' own responses stay raw (they show the drift).
* The best stimulus of a cell is chosen on its mean over every presentation, in every batch, with
  its uncertainty: for a target cell the searcher's ``recommend()`` (which chooses on repeated
  measurements); otherwise, and for methods without ``recommend()``, the highest lower bound
  ``mean - s`` where ``s`` is the cell's pooled within-stimulus standard deviation over
  ``sqrt(presentations)`` (the mean alone until some stimulus was shown twice).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from mango_pl.loop.batch import REFERENCE, SEARCH, Batch


@dataclass(frozen=True)
class Normalization:
    """``normalized = raw * scale + offset`` for each cell of one batch."""

    scale: np.ndarray
    offset: np.ndarray

    def apply(self, values: np.ndarray) -> np.ndarray:
        return values * self.scale + self.offset

    @classmethod
    def identity(cls, cells: int) -> "Normalization":
        return cls(np.ones(cells), np.zeros(cells))


def reference_means(batch: Batch, responses: dict[str, list[list[float]]]) -> np.ndarray | None:
    """Each cell's mean raw response to the batch's reference images, ``[cells]``, or ``None`` (no responses)."""
    rows = [row for s in batch.stimuli if s.kind == REFERENCE for row in responses.get(s.id, [])]
    return np.asarray(rows, dtype=np.float64).mean(0) if rows else None


def normalization(how: str, baseline: np.ndarray | None, current: np.ndarray | None, cells: int) -> Normalization:
    """The correction of one batch from its reference means ``current`` and the first batch's ``baseline``."""
    if how == "none" or baseline is None or current is None:
        return Normalization.identity(cells)
    if how == "ratio":
        usable = (baseline > 0) & (current > 0)
        return Normalization(np.where(usable, baseline / np.where(usable, current, 1.0), 1.0), np.zeros(cells))
    if how == "difference":
        return Normalization(np.ones(cells), baseline - current)
    raise ValueError(f"unknown normalization {how!r}")


def responded_prefix(batch: Batch, responded: set[str], shared: bool) -> int:
    """How many slots per target (population mode: stimuli) lie before the first one without responses."""
    ids = [s.id for s in batch.stimuli]
    if shared:
        for k, position in enumerate(batch.slots):
            if ids[position] not in responded:
                return k
        return batch.shown
    for k in range(batch.shown):
        if any(ids[row[k]] not in responded for row in batch.slots):
            return k
    return batch.shown


def stimulus_means(batch: Batch, responses: dict[str, list[list[float]]], norm: Normalization) -> dict[str, np.ndarray]:
    """Each responded search stimulus's normalized mean over its presentations in this batch, ``[cells]``."""
    return {s.id: norm.apply(np.asarray(responses[s.id], dtype=np.float64)).mean(0)
            for s in batch.stimuli if s.kind == SEARCH and s.id in responses}


def told_values(batch: Batch, means: dict[str, np.ndarray], targets: tuple[int, ...], shared: bool,
                count: int) -> Tensor:
    """The values told for the first ``count`` slots: ``[P, count]`` (population mode ``[count, P]``), float64."""
    ids = [s.id for s in batch.stimuli]
    if shared:
        rows = [[float(means[ids[position]][cell]) for cell in targets] for position in batch.slots[:count]]
    else:
        rows = [[float(means[ids[position]][cell]) for position in batch.slots[p][:count]]
                for p, cell in enumerate(targets)]
    return torch.tensor(rows, dtype=torch.float64)


@dataclass
class StimulusStatistics:
    """Every presentation of one stimulus (one grid point, or one reference image) over the session.

    Attributes:
        id: the id it had when first shown; ``file`` its image, relative to the session folder.
        index: its grid point (``None`` for a reference image); ``reference`` its number.
        cells: the target cells whose search asked for it.
        batches: the batches it was shown in.
        responses: ``[presentations, cells]`` (search stimuli normalized, references raw).
    """

    id: str
    file: str
    index: tuple[int, ...] | None
    reference: int | None
    cells: set[int] = field(default_factory=set)
    batches: list[int] = field(default_factory=list)
    rows: list[np.ndarray] = field(default_factory=list)

    @property
    def responses(self) -> np.ndarray:
        return np.stack(self.rows)

    @property
    def count(self) -> int:
        return len(self.rows)

    @property
    def mean(self) -> np.ndarray:
        return self.responses.mean(0)

    @property
    def sem(self) -> np.ndarray:
        """Standard error of the mean per cell (NaN with one presentation)."""
        if self.count < 2:
            return np.full(self.responses.shape[1], math.nan)
        return self.responses.std(0, ddof=1) / math.sqrt(self.count)


def pooled_sd(stimuli: list[StimulusStatistics], cell: int) -> float | None:
    """The cell's within-stimulus standard deviation pooled over stimuli shown twice or more (``None``: none was)."""
    squares, freedom = 0.0, 0
    for s in stimuli:
        if s.count >= 2:
            column = s.responses[:, cell]
            squares += float(((column - column.mean()) ** 2).sum())
            freedom += s.count - 1
    return math.sqrt(squares / freedom) if freedom else None


def best_by_lower_bound(stimuli: list[StimulusStatistics], cell: int) -> StimulusStatistics | None:
    """The stimulus with the highest ``mean - pooled_sd / sqrt(presentations)`` for ``cell`` (first shown wins ties)."""
    if not stimuli:
        return None
    sd = pooled_sd(stimuli, cell) or 0.0
    scores = [float(s.mean[cell]) - sd / math.sqrt(s.count) for s in stimuli]
    return stimuli[int(np.argmax(scores))]
