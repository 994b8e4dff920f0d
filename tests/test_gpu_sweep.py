"""benchmarks/gpu_sweep.py --smoke: the GPU sweep's code paths on the CPU, in a real subprocess.

Checks that every row kind is in the printed table and in the markdown and CSV files, that skipped
rows say why, and that measured numbers are positive. Speeds are never asserted.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_sweep.py"


def test_smoke_run_writes_every_row_kind(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, str(SCRIPT), "--smoke", "--out", str(tmp_path)], check=False, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "device:" in done.stdout and "versions:" in done.stdout and "random weights" in done.stdout

    with open(tmp_path / "gpu_sweep.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    markdown = (tmp_path / "gpu_sweep.md").read_text()
    assert "random weights" in markdown
    table_lines = [line for line in markdown.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert len(table_lines) == len(rows)
    for line in table_lines:
        assert line in done.stdout  # the printed table is the written one

    def find(kind, **match):
        return [row for row in rows if row["kind"] == kind and all(row[k] == v for k, v in match.items())]

    measured = []
    for method in ("surrogate", "tt-s"):
        for layer in ("layer1.0.sn1", "layer4.1.sn2"):
            (batched,) = find("batched", method=method, layer=layer)
            (loop,) = find("loop", method=method, layer=layer)
            assert float(loop["ratio"]) > 0 and "scaled" in loop["note"]
            measured += [batched, loop]
    (backend,) = find("backend")
    assert backend["note"] == "skipped: no cupy/CUDA" and backend["seconds"] == "-"
    for layer in ("layer1.0.sn1", "layer4.1.sn2"):
        (single,) = find("precision", layer=layer, setting="float32")
        (double,) = find("precision", layer=layer, setting="float64")
        assert float(double["ratio"]) > 0
        measured += [single, double]
    for row in measured:
        assert float(row["seconds"]) > 0 and float(row["stimuli_per_s"]) > 0, row
        assert row["peak_gpu_mib"] == "-"  # CPU
        assert int(row["queries_per_unit"]) == 8 and not row["note"].startswith("skipped")
    (extrapolation,) = find("extrapolation")
    assert float(extrapolation["seconds"]) > 0 and float(extrapolation["stimuli_per_s"]) > 0
    assert "9 layers x 64 units x 3 runs x 10000 queries / stimuli_per_s" in extrapolation["note"]
    rate = 2 / sum(1 / float(find("batched", method="surrogate", layer=layer)[0]["stimuli_per_s"])
                   for layer in ("layer1.0.sn1", "layer4.1.sn2"))
    assert abs(float(extrapolation["seconds"]) - 9 * 64 * 3 * 10_000 / rate) < 1e-3 * float(extrapolation["seconds"])
    (ddp,) = find("ddp")
    assert ddp["note"].startswith("skipped: 0 GPU")
