"""What a closed-loop session returns: typed results of ask, tell, status and export."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mango_pl.loop.batch import Batch


@dataclass(frozen=True)
class AskResult:
    """What ``ask`` did: the batch (``None`` when the budget is spent), its folder, whether it is
    new (``False``: the pending batch, asked again) and how many of its files were written now."""

    batch: Batch | None
    folder: Path | None
    new: bool
    written: int


@dataclass(frozen=True)
class TellResult:
    """What ``tell`` told: per target (population mode: in all) ``told`` of the ``shown`` stimuli;
    ``untold`` stimuli had responses after the first one without (kept, not told); ``missing`` had none."""

    batch: int
    told: int
    shown: int
    untold: tuple[str, ...]
    missing: tuple[str, ...]
    remaining: int


@dataclass(frozen=True)
class BestStimulus:
    """A cell's best stimulus: its mean response ± s.e.m. over all its presentations.

    ``chosen_by`` is ``"searcher"`` (the searcher's ``recommend()``, for a target) or
    ``"lower bound"`` (the highest mean minus pooled standard error); ``sem`` is NaN after one presentation.
    """

    cell: int
    target: bool
    id: str
    file: str
    index: tuple[int, ...]
    mean: float
    sem: float
    presentations: int
    batches: tuple[int, ...]
    chosen_by: str


@dataclass(frozen=True)
class BatchSummary:
    """One told batch: per target cell the best and the mean of its own stimuli's responses (normalized),
    and every cell's raw mean response to the reference images (``None``: none recorded)."""

    batch: int
    told: int
    stimuli: int
    retests: int
    presentations: int
    partial: bool
    best: tuple[float, ...]
    mean: tuple[float, ...]
    reference: tuple[float, ...] | None


@dataclass(frozen=True)
class SessionSummary:
    """Where a session stands (what ``mango-pl loop status`` prints)."""

    directory: Path
    shared: bool
    method: str
    cells: int
    targets: tuple[int, ...]
    budget: int
    told: int
    presentations: int
    pending: int | None
    best: tuple[BestStimulus, ...]
    batches: tuple[BatchSummary, ...]

    @property
    def done(self) -> bool:
        return self.told >= self.budget
