"""Shared pieces of the closed-loop tests: session configs, a rig stand-in, directory snapshots, the CLI."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
SNGAN = ROOT / "mango_pl" / "assets" / "digits_sngan.pt"
CONVSNN = ROOT / "mango_pl" / "assets" / "digits_convsnn.pt"
#: lif3 units of the shipped digits network that stand in for the recorded cells: unit 130 (cell 0)
#: rarely responds to random SN-GAN images and a search finds much stronger stimuli for it
SIMULATED_UNITS = [130, 16, 92, 185]


def write_config(folder: Path, name: str = "session.yaml", **settings) -> Path:
    """A session config in ``folder``: a grating space and 3 cells unless ``settings`` say otherwise."""
    config = {"space": {"class_path": "mango_pl.stimuli.GratingSpace", "init_args": {"image_size": 8, "n": 16}},
              "budget": 24, "cells": 3, "targets": [1], "batch_size": 6, "seed": 0}
    config.update(settings)
    path = folder / name
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def vqvae_config(folder: Path, method: str) -> Path:
    """A session of ``method`` on the shipped VQ-VAE's grid (gray 16x16 stimuli), grating defaults otherwise."""
    return write_config(folder, method=method, image={"channels": 1, "size": 16},
                        space={"class_path": "mango_pl.stimuli.GeneratorSpace",
                               "init_args": {"checkpoint": str(ROOT / "mango_pl" / "assets" / "digits_vqvae.pt")}})


def simulated_config(folder: Path, budget: int, **settings) -> Path:
    """A session of the shipped SN-GAN, 4 simulated lif3 units of the shipped digits network, target cell 0."""
    reference = folder / "reference.png"
    if not reference.exists():
        from PIL import Image

        Image.fromarray((np.random.default_rng(0).random((16, 16)) * 255).astype(np.uint8)).save(reference)
    options = {"space": {"class_path": "mango_pl.stimuli.GeneratorSpace", "init_args": {"checkpoint": str(SNGAN)}},
               "budget": budget, "cells": 4, "targets": [0], "batch_size": 20,
               "references": {"files": [str(reference)]}, "seed": 0,
               "simulate": {"checkpoint": str(CONVSNN), "layer": "lif3", "units": SIMULATED_UNITS, "window": 10,
                            "seed": 0}}
    options.update(settings)
    return write_config(folder, **options)


def write_responses(path: Path, rows: list[tuple], header=("stimulus_id", "cell", "response")) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def rig_rows(batch, cells: int, seed: int = 0) -> list[tuple[str, int, int]]:
    """Spike counts for every presentation of ``batch`` and every cell: a stand-in for a rig."""
    generator = np.random.default_rng([seed, batch.number])
    return [(sid, cell, int(generator.poisson(2 + cell))) for sid in batch.presentations for cell in range(cells)]


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (relative path -> sha256 of its bytes)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def journal_without_times(folder: Path) -> list[dict]:
    """The committed journal entries of a session, without their wall-clock times and absolute paths."""
    entries = []
    for line in (folder / "journal.jsonl").read_bytes().split(b"\n"):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        entry.pop("time", None)
        entry.pop("base_dir", None)
        entries.append(entry)
    return entries


def loop(*args: str, cwd: Path = ROOT, env: dict | None = None, via_mango_pl: bool = False,
         crash_at: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``mango-pl loop ARGS`` (``python -m mango_pl.cli loop``) or the same without Lightning
    (``python -m mango_pl.loop``) as a separate process; ``crash_at="POINT@BATCH"``: one that kills
    itself there (``python -m tests.loop_crash``, run from the repository root)."""
    module = ["mango_pl.cli", "loop"] if via_mango_pl else ["mango_pl.loop"]
    if crash_at is not None:
        module = ["tests.loop_crash", crash_at]
    environment = dict(os.environ, OMP_NUM_THREADS="1", **(env or {}))
    return subprocess.run([sys.executable, "-m", *module, *args], cwd=cwd, env=environment, capture_output=True,
                          text=True, timeout=timeout)
