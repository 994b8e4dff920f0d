"""The validation accuracy a run logged, per epoch, read from its TensorBoard event files.

Lightning logs the scalar ``val/acc`` (mango-pl's ``ClassifierModule``) at the global step of each
validation and, at every step it logs anything, the scalar ``epoch``. An accuracy is given the
epoch logged at its own step. When an epoch has several accuracies (``val_check_interval`` < 1, or
a resumed run that validated an epoch again) the last one counts: the last in its event file, and
the file of the newest logger version (``version_<N>``, then the file's name, which starts with its
creation time).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mango_pl.report.versions import logger_version

ACCURACY_TAG = "val/acc"
EPOCH_TAG = "epoch"


@dataclass
class ValidationAccuracy:
    """Validation accuracy per epoch (empty when the run has none, with the reason).

    Attributes:
        by_epoch: ``{epoch: accuracy}``, epochs in order.
        event_files: the event files it was read from.
        missing: why there is none (``None`` when ``by_epoch`` has values).
    """

    by_epoch: dict[int, float] = field(default_factory=dict)
    event_files: list[Path] = field(default_factory=list)
    missing: str | None = None


def read_validation_accuracy(root: str | Path, tag: str = ACCURACY_TAG) -> ValidationAccuracy:
    """The scalar ``tag`` of every TensorBoard event file under ``root``, mapped to epochs."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    root = Path(root)
    event_files = sorted(root.rglob("events.out.tfevents.*"), key=lambda p: (logger_version(p, root), p.name))
    if not event_files:
        return ValidationAccuracy(missing=f"no TensorBoard event files under {root}, so no `{tag}`")
    by_epoch: dict[int, float] = {}
    used, unmapped = [], 0
    for path in event_files:
        events = EventAccumulator(str(path), size_guidance={"scalars": 0, "images": 1, "histograms": 1,
                                                             "tensors": 1, "audio": 1})
        events.Reload()
        scalars = events.Tags().get("scalars", [])
        if tag not in scalars:
            continue
        used.append(path)
        epoch_at_step = {e.step: int(round(e.value)) for e in events.Scalars(EPOCH_TAG)} if EPOCH_TAG in scalars else {}
        for event in events.Scalars(tag):
            if event.step in epoch_at_step:
                by_epoch[epoch_at_step[event.step]] = float(event.value)
            else:
                unmapped += 1
    if by_epoch:
        return ValidationAccuracy(dict(sorted(by_epoch.items())), used)
    if used:
        return ValidationAccuracy(event_files=used, missing=f"`{tag}` was logged at {unmapped} steps but no "
                                                            f"`{EPOCH_TAG}` scalar at those steps maps them to epochs")
    return ValidationAccuracy(missing=f"no `{tag}` scalar in the TensorBoard event files under {root}")

