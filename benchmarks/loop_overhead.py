"""What a closed-loop session costs per batch, beside the rig: ask (search, decode, image files, manifest,
journal fsync) and tell (read and check the responses, tell the searcher, journal fsync), in one process;
and what opening a session costs (replaying its journal), as every ``mango-pl loop`` command does.

    python benchmarks/loop_overhead.py                 # 20 stimuli per batch, the digits SN-GAN (d=128, n=64)
    python benchmarks/loop_overhead.py --batches 20 --batch-size 50 --targets 4

The responses are written by a stand-in (random spike counts), so only the session's own work is timed.
The target: ask + tell of a batch of 20 stimuli at d=128 under 0.2 s on a CPU.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from mango_pl.loop import Session

ROOT = Path(__file__).resolve().parents[1]
SNGAN = ROOT / "mango_pl" / "assets" / "digits_sngan.pt"


def write_config(path: Path, batch_size: int, targets: int, cells: int, budget: int, references: int) -> None:
    reference_files = []
    for r in range(references):
        from PIL import Image

        name = path.parent / f"reference_{r}.png"
        Image.fromarray((np.random.default_rng(r).random((16, 16)) * 255).astype(np.uint8)).save(name)
        reference_files.append(str(name))
    path.write_text(
        f"space:\n  class_path: mango_pl.stimuli.GeneratorSpace\n  init_args: {{checkpoint: {SNGAN}}}\n"
        f"budget: {budget}\ncells: {cells}\ntargets: {list(range(targets))}\nbatch_size: {batch_size}\n"
        f"references: {{files: {reference_files}}}\nseed: 0\n")


def write_responses(path: Path, batch, cells: int, generator: np.random.Generator) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["stimulus_id", "cell", "response"])
        for sid in batch.presentations:
            for cell in range(cells):
                writer.writerow([sid, cell, int(generator.poisson(3.0))])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=20)
    parser.add_argument("--targets", type=int, default=1)
    parser.add_argument("--cells", type=int, default=8)
    parser.add_argument("--references", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    options = parser.parse_args()
    torch.set_num_threads(options.threads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        config = tmp / "session.yaml"
        budget = options.batches * options.batch_size
        write_config(config, options.batch_size, options.targets, options.cells, budget, options.references)
        session = Session.create(tmp / "session", config)
        _ = session.space.decode(torch.zeros(1, 128, dtype=torch.long))  # load the generator (and its float64 copy)
        generator = np.random.default_rng(0)
        for _ in range(options.batches):
            start = time.perf_counter()
            asked = session.ask()
            middle = time.perf_counter()
            path = tmp / asked.batch.responses_name
            write_responses(path, asked.batch, options.cells, generator)
            before_tell = time.perf_counter()
            session.tell(path)
            end = time.perf_counter()
            rows.append((middle - start, end - before_tell))
        session.close()
        start = time.perf_counter()
        Session.open(tmp / "session").close()
        replay = time.perf_counter() - start
    ask = [r[0] for r in rows]
    tell = [r[1] for r in rows]
    total = [a + t for a, t in rows]
    stimuli = options.batch_size * options.targets
    print(f"loop overhead: {stimuli} stimuli per batch (+{options.references} references), d=128, n=64, "
          f"{options.cells} cells, method elite, {options.threads} torch thread(s), {options.batches} batches")
    print(f"| {'step':28} | {'median ms':>9} | {'max ms':>7} |")
    print(f"|{'-' * 30}|{'-' * 11}|{'-' * 9}|")
    for name, values in (("ask (search, decode, files)", ask), ("tell (read, check, search)", tell),
                         ("ask + tell", total)):
        print(f"| {name:28} | {statistics.median(values) * 1e3:>9.1f} | {max(values) * 1e3:>7.1f} |")
    print(f"| {'open + replay ' + str(options.batches) + ' batches':28} | {replay * 1e3:>9.1f} | {'':>7} |")
    verdict = "meets" if statistics.median(total) < 0.2 else "misses"
    print(f"ask + tell median {statistics.median(total) * 1e3:.0f} ms: {verdict} the 200 ms target")


if __name__ == "__main__":
    main()
