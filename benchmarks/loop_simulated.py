"""Which searcher to run on a living neuron: simulated ``mango-pl loop`` sessions, end to end.

Each method runs the whole closed loop of a session config (by default the README's demo,
``examples/loop/digits_session.yaml``: the shipped SN-GAN's grid, a simulated animal of digits
ConvSNN units answering with Poisson spike counts, every stimulus shown ``repeats`` times, the
stimuli written as PNG files and read back by the rig), through the real CLI (``mango-pl loop init``
and ``run --simulate``), for several target cells and seeds. A session's score per target cell is
the **noise-free** activation of the stimulus the session reports as the cell's best (what an
experimenter would take away: ``mango-pl loop status``/``export``), read by the simulated rig from
its PNG file, divided by the best noise-free activation that any method's reported best reached
for that cell and seed. Each method proposes batches of its own size (the config's ``batch_size`` is
dropped, so that every method runs with the settings it was designed with).

    python benchmarks/loop_simulated.py                                   # elite, surrogate, surrogate-image, random
    python benchmarks/loop_simulated.py --methods surrogate-image --targets 0 1 --seeds 0
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def session_config(base: dict, method: str, seed: int, targets: list[int]) -> dict:
    """``base`` with the method (and its default options), the seed and the target cells replaced."""
    config = {key: value for key, value in base.items() if key not in ("method", "method_options", "batch_size")}
    config.update(method=method, seed=seed, targets=targets)
    config["simulate"] = {**config["simulate"], "seed": seed}
    return config


def run_session(config: dict, folder: Path) -> tuple[dict[int, float], float]:
    """Run one simulated session; the noise-free activation of each target cell's reported best
    stimulus, and the session's wall seconds."""
    from mango_pl.loop import Session
    from mango_pl.loop.simulation import SimulatedRig

    path = folder / "session.yaml"
    path.write_text(yaml.safe_dump(config))
    directory = folder / "session"
    started = time.perf_counter()
    for command in (["init", str(directory), "--config", str(path)], ["run", str(directory), "--simulate"]):
        subprocess.run([sys.executable, "-m", "mango_pl.cli", "loop", *command], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    session = Session.open(directory, lock=False)
    rig = SimulatedRig(session.config.simulate, session.config.cells, session.config.responses, session.space)
    best = {b.cell: b for b in session.best_stimuli() if b.target}
    activations = rig.activations([directory / best[cell].file for cell in config["targets"]])  # [targets, cells]
    return {cell: float(activations[i, cell]) for i, cell in enumerate(config["targets"])}, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=ROOT / "examples" / "loop" / "digits_session.yaml")
    parser.add_argument("--methods", nargs="+", default=["elite", "surrogate", "surrogate-image", "random"])
    parser.add_argument("--targets", type=int, nargs="+", default=[0, 1, 2, 3], help="target cells (one search each)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    base = yaml.safe_load(args.config.read_text())
    found: dict[tuple[str, int, int], float] = {}
    seconds: dict[str, list[float]] = {method: [] for method in args.methods}
    for seed in args.seeds:
        for method in args.methods:
            with tempfile.TemporaryDirectory() as folder:
                values, wall = run_session(session_config(base, method, seed, args.targets), Path(folder))
            seconds[method].append(wall)
            found.update({(method, seed, cell): value for cell, value in values.items()})
            print(f"seed {seed} {method}: " + ", ".join(f"cell {c} {v:.3f}" for c, v in values.items())
                  + f" ({wall:.0f} s)", flush=True)
    best = {(seed, cell): max(found[(m, seed, cell)] for m in args.methods) for seed in args.seeds
            for cell in args.targets}
    print(f"\n{base['budget']} stimuli per target cell, shown {base.get('repeats', 1)}x each; score = noise-free "
          f"activation of the reported best stimulus / the best any method reported (cell, seed); "
          f"{len(args.targets)} cells x {len(args.seeds)} seeds\n")
    print("| method | mean score | min | mean activation | session wall s |")
    print("|---|---:|---:|---:|---:|")
    for method in args.methods:
        scores = [found[(method, s, c)] / max(best[(s, c)], 1e-12) for s in args.seeds for c in args.targets]
        raw = [found[(method, s, c)] for s in args.seeds for c in args.targets]
        print(f"| {method} | {statistics.mean(scores):.3f} | {min(scores):.3f} | {statistics.mean(raw):.3f} | "
              f"{statistics.mean(seconds[method]):.0f} |")


if __name__ == "__main__":
    main()
