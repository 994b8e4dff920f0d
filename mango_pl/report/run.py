"""``load_run``: every MEI file under a run folder, checked and merged into one :class:`ReportRun`,
with the validation accuracy the run logged.

A run folder may hold several logger versions (``version_0/meis``, ``version_1/meis`` after a
resumed training) and a file saved again under a ``-v1`` suffix: all of them form one run. When an
epoch and layer have several files, the newest is kept — the one of the highest ``version_<N>``
folder, then the highest save suffix (``sn1-v2.pt`` after ``sn1-v1.pt`` after ``sn1.pt``), then the
latest modification time — and a note says which file was left out.

The validation accuracy is read from the run's TensorBoard event files. Lightning logs the scalar
``val/acc`` (mango-pl's ``ClassifierModule``) at the global step of each validation and, at every
step it logs anything, the scalar ``epoch``. An accuracy is given the epoch logged at its own step.
When an epoch has several accuracies (``val_check_interval`` < 1, or a resumed run that validated
an epoch again) the last one counts: the last in its event file, and the file of the newest logger
version (``version_<N>``, then the file's name, which starts with its creation time).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from mango_pl.mei import MEIFile, find_mei_files, load_meis
from mango_pl.report.errors import ReportError

ACCURACY_TAG = "val/acc"
EPOCH_TAG = "epoch"
_VERSION_FOLDER = re.compile(r"^version_(\d+)$")


def logger_version(path: Path, root: Path) -> int:
    """The ``N`` of the innermost ``version_<N>`` folder of ``path`` below ``root``; -1 when there is none."""
    parts = path.relative_to(root).parts if path.is_relative_to(root) else path.parts
    versions = [int(m.group(1)) for m in map(_VERSION_FOLDER.match, parts[:-1]) if m]
    return versions[-1] if versions else -1


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


@dataclass
class ReportRun:
    """One run's MEI files, by layer and epoch, and its validation accuracy.

    Attributes:
        root: the run folder.
        layers: the probed layers by depth (input to output; see ``_depth_order``).
        epochs: every epoch with a file, in order.
        files: ``{layer: {epoch: MEIFile}}``, epochs in order. To keep long runs in memory the query
            histories (``RunMEIs.history``) are kept only in each layer's last file.
        grid: ``(d, n)`` of the stimulus space every file was searched in.
        accuracy: the validation accuracy per epoch, when the run logged one.
        notes: what the reader should know (files left out for newer ones).
    """

    root: Path
    layers: list[str]
    epochs: list[int]
    files: dict[str, dict[int, MEIFile]]
    grid: tuple[int, int]
    accuracy: ValidationAccuracy
    notes: list[str] = field(default_factory=list)

    def layer_epochs(self, layer: str) -> list[int]:
        return list(self.files[layer])

    def last(self, layer: str) -> MEIFile:
        """The layer's file of its last searched epoch."""
        return self.files[layer][self.layer_epochs(layer)[-1]]


def load_run(root: str | Path) -> ReportRun:
    """Read, check and merge every MEI file under ``root`` (read with :func:`mango_pl.mei.load_meis`).

    Raises:
        ReportError: ``root`` is not a folder, holds no MEI files or an unreadable one, or files of
            different stimulus grids, or of different unit sets for one layer.
    """
    root = Path(root)
    if not root.is_dir():
        raise ReportError(f"no run folder at {str(root)!r}; give the folder of a run (e.g. runs/demo)")
    paths = find_mei_files(root)
    if not paths:
        raise ReportError(f"no MEI files under {str(root)!r}: a run folder holds meis/epoch=E/<layer>.pt files "
                          f"(written by MEISearchCallback or mango-pl search); give such a folder")
    loaded, latest = [], {}
    for path in paths:
        try:
            found = load_meis(path)
        except (ValueError, FileNotFoundError) as error:
            raise ReportError(f"{error}; move it out of {str(root)!r} or give another run folder") from error
        loaded.append(found)
        previous = latest.setdefault(found.meis.layer, found)
        if found.meis.epoch > previous.meis.epoch:  # only the last epoch's query histories are drawn
            _drop_histories(previous)
            latest[found.meis.layer] = found
        elif found.meis.epoch < previous.meis.epoch:
            _drop_histories(found)
    _check_one_grid(loaded, root)
    _check_unit_sets(loaded, root)
    kept, notes = _newest_per_epoch_and_layer(loaded, root)
    files: dict[str, dict[int, MEIFile]] = {}
    for found in sorted(kept, key=lambda f: f.meis.epoch):
        files.setdefault(found.meis.layer, {})[found.meis.epoch] = found
    layers = sorted(files, key=lambda layer: _depth_order(files[layer], layer))
    epochs = sorted({epoch for by_epoch in files.values() for epoch in by_epoch})
    return ReportRun(root, layers, epochs, {layer: files[layer] for layer in layers}, loaded[0].meis.grid,
                     read_validation_accuracy(root), notes)


def _drop_histories(found: MEIFile) -> None:
    """Free the query histories of a file that is not its layer's last (long runs stay in memory)."""
    for label, run in found.meis.runs.items():
        found.meis.runs[label] = replace(run, history=run.history[:, :0])


def _where(found: MEIFile, root: Path) -> str:
    try:
        return str(found.path.relative_to(root))
    except ValueError:
        return str(found.path)


def _short(units: list[int]) -> str:
    if len(units) <= 6:
        return str(units)
    return f"[{units[0]}, {units[1]}, {units[2]}, ..., {units[-1]}] ({len(units)} units)"


def _check_one_grid(loaded: list[MEIFile], root: Path) -> None:
    first = loaded[0]
    for found in loaded[1:]:
        if tuple(found.meis.grid) != tuple(first.meis.grid):
            raise ReportError(f"MEI files of different stimulus grids under {str(root)!r}: (d, n) = "
                              f"{tuple(first.meis.grid)} in {_where(first, root)} but {tuple(found.meis.grid)} in "
                              f"{_where(found, root)}; a report covers one run: give the folder of one run")


def _check_unit_sets(loaded: list[MEIFile], root: Path) -> None:
    first_of_layer: dict[str, MEIFile] = {}
    for found in loaded:
        first = first_of_layer.setdefault(found.meis.layer, found)
        if list(found.meis.units) != list(first.meis.units):
            raise ReportError(f"layer {found.meis.layer!r} has files for different units under {str(root)!r}: "
                              f"{_short(list(first.meis.units))} in {_where(first, root)} but "
                              f"{_short(list(found.meis.units))} in {_where(found, root)}; a report covers one run "
                              f"(same units per layer): give the folder of one run")


def _recency(found: MEIFile, root: Path) -> tuple[int, int, float]:
    """(logger version folder, save suffix, modification time): larger is newer."""
    stem, layer = found.path.stem, found.meis.layer
    suffix = stem[len(layer) + 2:] if stem.startswith(layer + "-v") else ""
    return (logger_version(found.path, root), int(suffix) if suffix.isdigit() else 0, found.path.stat().st_mtime)


def _newest_per_epoch_and_layer(loaded: list[MEIFile], root: Path) -> tuple[list[MEIFile], list[str]]:
    groups: dict[tuple[int, str], list[MEIFile]] = {}
    for found in loaded:
        groups.setdefault((found.meis.epoch, found.meis.layer), []).append(found)
    kept, notes = [], []
    for (epoch, layer), group in sorted(groups.items()):
        group.sort(key=lambda f: _recency(f, root))
        kept.append(group[-1])
        for older in group[:-1]:
            notes.append(f"epoch {epoch}, layer {layer}: kept the newest file {_where(group[-1], root)}, "
                         f"left out {_where(older, root)}")
    return kept, notes


def _depth_order(by_epoch: dict[int, MEIFile], layer: str) -> tuple[int, int, float, str]:
    """Layers by depth: the module position the files record (input to output); for files written
    before mango-pl recorded it, the order they were searched in (the files of a layer's first epoch
    were written in turn; a copy that does not keep modification times loses that order)."""
    epoch = min(by_epoch)
    depth = by_epoch[epoch].meis.depth
    return (0, depth, 0.0, layer) if depth is not None else (1, epoch, by_epoch[epoch].path.stat().st_mtime, layer)
