"""``mango-pl loop export``: each cell's best stimulus as an image file, with its statistics (CSV and JSON).

The files go to ``DIR/export/after_batch_<N>/`` (``N``: the last told batch) unless another
folder is given. An export is a function of the journal, so exporting again writes nothing new;
a file that exists with other content is never overwritten (an error says so).
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

from mango_pl.loop.files import write_new_file
from mango_pl.loop.results import BestStimulus
from mango_pl.loop.session import Session, SessionError

COLUMNS = ("cell", "target", "stimulus_id", "image", "source_file", "grid_index", "mean", "sem", "presentations",
           "batches", "chosen_by")


@dataclass(frozen=True)
class ExportResult:
    """Where the export went and what it holds."""

    folder: Path
    best: tuple[BestStimulus, ...]
    written: int


def _row(best: BestStimulus, image: str) -> dict:
    return {"cell": best.cell, "target": best.target, "stimulus_id": best.id, "image": image, "source_file": best.file,
            "grid_index": list(best.index), "mean": best.mean, "sem": None if math.isnan(best.sem) else best.sem,
            "presentations": best.presentations, "batches": list(best.batches), "chosen_by": best.chosen_by}


def export_best(session: Session, folder: str | Path | None = None) -> ExportResult:
    """Write every cell's best stimulus (``cell_<c>.<format>``) and ``best_stimuli.csv`` / ``.json``.

    Raises:
        SessionError: nothing told yet.
        FileExistsError: a file of the export exists with other content.
    """
    best = session.best_stimuli()
    if not best:
        raise SessionError(f"{session.directory} has no told responses yet; export after a tell")
    last = max(session.responses)
    folder = Path(folder) if folder is not None else session.directory / "export" / f"after_batch_{last:04d}"
    width = len(str(session.config.cells - 1))
    rows, written = [], 0
    for item in best:
        source = session.directory / item.file
        image = f"cell_{item.cell:0{width}d}{source.suffix}"
        written += write_new_file(folder / image, source.read_bytes())
        rows.append(_row(item, image))
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "grid_index": " ".join(map(str, row["grid_index"])),
                         "batches": " ".join(map(str, row["batches"])), "sem": "" if row["sem"] is None else row["sem"]})
    written += write_new_file(folder / "best_stimuli.csv", table.getvalue().encode())
    record = {"session": str(session.directory), "after_batch": last, "told": session.told,
              "budget": session.config.budget, "best": rows}
    written += write_new_file(folder / "best_stimuli.json", (json.dumps(record, indent=1) + "\n").encode())
    return ExportResult(folder, tuple(best), written)
