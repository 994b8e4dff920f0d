"""The MEI file: one layer at one epoch, its search result, analysis and tracking (versioned).

``<dir>/epoch=<EEEE>/<layer>.pt`` is a ``torch.save`` of a dict::

    {"format": "mango-pl-meis", "version": 2,
     "meis": {...LayerMEIs...}, "report": {...LayerReport...}, "tracking": {...Tracking...}}

written by :func:`save_meis` (atomically: a temporary file renamed into place; an existing file is
never overwritten) and read by :func:`load_meis` into typed objects. Files written by mango-pl
0.1's callback (no ``format`` key, "version 1") still load.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch

from mango_pl.atomic_files import write_atomically
from mango_pl.mei.results import LayerMEIs, LayerReport, RunMEIs, SearchSettings, Tracking
from mango_pl.probe.ablation import UnitImportance

FORMAT = "mango-pl-meis"
VERSION = 2


@dataclass
class MEIFile:
    """What one MEI file holds."""

    meis: LayerMEIs
    report: LayerReport
    tracking: Tracking | None
    path: Path | None = None


def mei_path(root: str | Path, epoch: int, layer: str) -> Path:
    """Where the file of ``layer`` at ``epoch`` goes under ``root`` (``<root>/epoch=0003/sn1.pt``)."""
    return Path(root) / f"epoch={epoch:04d}" / f"{layer}.pt"


def atomic_save(obj: Any, path: str | Path) -> Path:
    """``torch.save`` to a temporary file beside ``path``, then move it into place
    (:func:`mango_pl.atomic_files.write_atomically`).

    A crash mid-write leaves at most a ``.tmp`` file, never a half file under the final name.
    An existing file is never overwritten: the new one gets a ``-v1``, ``-v2``... suffix.
    Returns the path written.
    """
    path = Path(path)
    version = 0
    final = path
    while not write_atomically(final, lambda temporary: torch.save(obj, temporary), overwrite=False):
        version += 1
        final = path.with_name(f"{path.stem}-v{version}{path.suffix}")
    return final


def _run_record(run: RunMEIs) -> dict[str, Any]:
    return {f.name: getattr(run, f.name) for f in fields(run)}


def save_meis(path: str | Path, meis: LayerMEIs, report: LayerReport, tracking: Tracking | None = None) -> Path:
    """Write one layer's MEIs, analysis and tracking to ``path`` (see :func:`atomic_save`)."""
    record = {
        "format": FORMAT,
        "version": VERSION,
        "meis": {"layer": meis.layer, "epoch": meis.epoch, "units": list(meis.units), "grid": list(meis.grid),
                 "settings": meis.settings.as_record(), "nan_units": list(meis.nan_units),
                 "runs": {label: _run_record(run) for label, run in meis.runs.items()},
                 "importance": None if meis.importance is None else asdict(meis.importance), "depth": meis.depth},
        "report": asdict(report),
        "tracking": None if tracking is None else asdict(tracking),
    }
    return atomic_save(record, path)


def load_meis(path: str | Path) -> MEIFile:
    """Read an MEI file (this version or mango-pl 0.1's) into typed objects.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not an MEI file, or one from a newer mango-pl (the message says what to do).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"MEI file {str(path)!r} not found")
    try:
        record = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # a truncated or foreign file
        raise ValueError(f"{path} is not a readable MEI file ({type(error).__name__}: {error})") from error
    if not isinstance(record, dict):
        raise ValueError(f"{path} is not an MEI file (it holds a {type(record).__name__})")
    if record.get("format") == FORMAT:
        if record.get("version", 0) > VERSION:
            raise ValueError(f"{path} was written by a newer mango-pl (MEI file version {record['version']}, this "
                             f"one reads up to {VERSION}); upgrade mango-pl to read it")
        return _from_v2(record, path)
    if {"epoch", "layer", "units", "methods", "meis", "analysis"} <= set(record):
        return _from_v1(record, path)
    raise ValueError(f"{path} is not an MEI file written by mango-pl (keys: {sorted(record)[:8]}); MEI files are the "
                     f"meis/epoch=E/<layer>.pt files of MEISearchCallback or mango-pl search")


def _settings(record: dict[str, Any]) -> SearchSettings:
    return SearchSettings.restored(**record)


def _from_v2(record: dict[str, Any], path: Path) -> MEIFile:
    m = record["meis"]
    runs = {label: RunMEIs(**run) for label, run in m["runs"].items()}
    importance = m.get("importance")
    meis = LayerMEIs(m["layer"], m["epoch"], list(m["units"]), tuple(m["grid"]), _settings(m["settings"]), runs,
                     list(m["nan_units"]), None if importance is None else UnitImportance(**importance), m.get("depth"))
    tracking = None if record["tracking"] is None else Tracking(**record["tracking"])
    return MEIFile(meis, LayerReport(**record["report"]), tracking, path)


def _from_v1(record: dict[str, Any], path: Path) -> MEIFile:
    """mango-pl 0.1's callback file: ``meis[label]`` dicts, ``analysis`` dict, one run per method."""
    labels = list(record["methods"])
    runs = {}
    for label in labels:
        m = record["meis"][label]
        runs[label] = RunMEIs(label, label.split("#")[0], 0, index=m["index"], search_value=m["search_value"],
                              history=m["history"], activation=m["activation"], probs=m["probs"],
                              latents=m["latents"], images=m["images"],
                              objective_seconds=m.get("objective_seconds", 0.0),
                              optimizer_seconds=m.get("optimizer_seconds", 0.0))
    grid = record.get("grid", {})
    settings = SearchSettings.restored(methods=tuple(labels), repeats=1, budget=record.get("budget", 0))
    a = record["analysis"]
    meis = LayerMEIs(record["layer"], record["epoch"], list(record["units"]), (grid.get("d", 0), grid.get("n", 0)),
                     settings, runs, list(a.get("nan_units", [])))
    activation = torch.stack([runs[label].activation for label in labels]).float()
    probs = torch.stack([runs[label].probs for label in labels]).float()
    report = LayerReport(meis.layer, meis.epoch, meis.units, labels, activation, probs, a["entropy"], a["strong"],
                         a["selective"], a["top_class"], float(a["strong_fraction"]), float(a["selective_fraction"]),
                         a["jpeg_ratio"], a["zip_ratio"], a["diversity_euclidean"], a["diversity_cosine"],
                         list(a.get("nan_units", [])))
    tracking = Tracking([], a["first_strong_epoch"], float(a["stable_fraction"]), float(a["labile_fraction"]),
                        float(a["non_specialized_fraction"]))
    return MEIFile(meis, report, tracking, path)


def find_mei_files(root: str | Path) -> list[Path]:
    """Every MEI file under ``root`` (any depth), sorted by epoch folder then layer."""
    return sorted(Path(root).rglob("epoch=*/*.pt"), key=lambda p: (p.parent.name, p.name))

