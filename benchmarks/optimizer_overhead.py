"""Optimizer overhead per problem and step (ask + tell) on one CPU thread, at d=128, n=64.

The objective is a cheap planted function, so the table is the searcher's own time. Each
searcher first runs 300 queries per problem (so ``elite``'s archive, noise estimate and linear
model memory are full, and ``surrogate``'s model has data), then the next steps are timed. The
searchers get the grid features of an SN-GAN latent grid (``[n, 1]`` values on [-4, 4]), as the
engine hands them over. Target for the default searcher: at most 20 ms per problem and step.
Methods that model the decoded images (``surrogate-image``) get the shipped digits SN-GAN's
features, images included, and units that match a template to its images (so every candidate is
decoded: the dearest case); the objective's own time is never counted.

Population mode (``--population``): the default searcher choosing shared stimuli for all 64
channels of a conv layer (the bank's AlexNet ``features.1``, through the bank's SN-GAN and VQ-VAE
grids), in milliseconds per stimulus, beside the milliseconds per stimulus the network (and the
generator's decoding) takes to answer. Target: choosing costs no more than answering.

    python benchmarks/optimizer_overhead.py
    python benchmarks/optimizer_overhead.py --methods elite ga cma random --problems 1 16 64
    python benchmarks/optimizer_overhead.py --population
    python benchmarks/optimizer_overhead.py --population --grids vqvae --stimuli 8000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the bank's networks and grids, imported when used
from mango_pl.search import DEFAULT_METHOD, GridFeatures, make_searcher, maximize  # noqa: E402


def ms_per_problem_step(method: str, d: int, n: int, problems: int, warmup: int, steps: int) -> float:
    """Median ms of one ask + tell per problem (the objective's time is not counted)."""
    searcher = make_searcher(method, d, n, problems=problems, seed=0, budget=warmup + 10_000)
    if getattr(searcher, "image", False):  # decoded images: a real generator, a unit that reads its images
        features, objective = image_unit(d, n, problems)
    else:
        features = GridFeatures(torch.linspace(-4, 4, n)[:, None], "latent grid")
        target = torch.randint(0, n, (problems, d), generator=torch.Generator().manual_seed(0))

        def objective(index: torch.Tensor) -> torch.Tensor:
            return -(index - target[:, None]).abs().sum(-1).double()
    searcher.use_features(features)

    def step() -> tuple[int, float]:
        started = time.perf_counter()
        index = searcher.ask()
        asked = time.perf_counter()
        values = objective(index)
        told = time.perf_counter()
        searcher.tell(index, values)
        return index.shape[1], asked - started + time.perf_counter() - told

    done = 0
    while done < warmup:
        done += step()[0]
    return statistics.median(step()[1] / problems * 1e3 for _ in range(steps))


def image_unit(d: int, n: int, problems: int):
    """The bank's digits SN-GAN grid's features (with its decoded 16 x 16 images) and units that match
    a template to its images, so that the image views predict best and every candidate is decoded
    (the dearest case)."""
    import bank_networks as bank

    space = bank.load_space("sngan")
    if (space.grid.d, space.grid.n) != (d, n):
        raise SystemExit(f"methods on decoded images are timed on the digits SN-GAN grid: use --d "
                         f"{space.grid.d} --n {space.grid.n}")
    templates = torch.randn(problems, bank.IMAGE_SIZE, bank.IMAGE_SIZE, generator=torch.Generator().manual_seed(0))

    def objective(index: torch.Tensor) -> torch.Tensor:
        images = torch.stack([space.decode(row)[:, 0] for row in index])  # [P, K, side, side]
        return torch.relu((images * templates[:, None]).sum((-1, -2))).double()
    return space.grid_features(), objective


def population_ms_per_stimulus(method: str, stimuli: int, grid: str) -> tuple[float, float, int]:
    """(optimizer ms per stimulus, network ms per stimulus, units) of a population-mode search of the
    bank's AlexNet ``features.1`` (64 channels) through the bank's ``grid`` (``sngan``, ``vqvae``)."""
    import bank_networks as bank

    from mango_pl.probe import LayerObjective

    cache = Path.home() / ".cache" / "mango-pl" / "neuron_bank"
    bank.ensure_networks(cache, ["alexnet"])
    model = bank.load_network(str(cache), "alexnet")
    space = bank.load_space(grid)
    units = list(range(64))
    objective = LayerObjective(model, "features.1", units, space, batch_limit=2048, precision="float32")
    result = maximize(lambda index: objective.responses(index), method, space.grid.d, space.grid.n, stimuli,
                      problems=len(units), seed=0, shared=True, features=space.grid_features())
    return result.optimizer_seconds / stimuli * 1e3, result.objective_seconds / stimuli * 1e3, len(units)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--methods", nargs="+", default=[DEFAULT_METHOD, "surrogate-image", "elite", "elitist-ga",
                                                         "cma-margin", "cholesky-cma", "cma", "ga", "random"])
    parser.add_argument("--population", action="store_true", help="population mode on a 64-channel conv layer")
    parser.add_argument("--stimuli", type=int, default=3000, help="population mode: stimuli shown")
    parser.add_argument("--grids", nargs="+", choices=["sngan", "vqvae"], default=["sngan", "vqvae"],
                        help="population mode: the bank's generator grids the stimuli come from")
    parser.add_argument("--problems", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--d", type=int, default=128)
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    if args.population:
        print(f"population mode, {args.stimuli} shared stimuli, one thread\n")
        print("| method | grid | units | optimizer ms per stimulus | network ms per stimulus | choosing / answering |")
        print("|---|---|---:|---:|---:|---:|")
        for method in args.methods:
            for grid in args.grids:
                optimizer, network, units = population_ms_per_stimulus(method, args.stimuli, grid)
                print(f"| {method} | {grid} | {units} | {optimizer:.2f} | {network:.2f} | {optimizer / network:.2f} |",
                      flush=True)
        return
    print(f"d={args.d}, n={args.n}, one thread, median of {args.steps} steps after {args.warmup} queries\n")
    print("| method | " + " | ".join(f"P={p}: ms per problem and step" for p in args.problems) + " |")
    print("|---|" + "---:|" * len(args.problems))
    for method in args.methods:
        cells = [f"{ms_per_problem_step(method, args.d, args.n, p, args.warmup, args.steps):.2f}" for p in args.problems]
        print(f"| {method} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
