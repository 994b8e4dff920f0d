"""Optimizer overhead per problem and step (ask + tell) on one CPU thread, at d=128, n=64.

The objective is a cheap planted function, so the table is the searcher's own time. Each
searcher first runs 300 queries per problem (so ``elite``'s archive, noise estimate and linear
model memory are full), then the next steps are timed. Target for the default searcher: at most
5 ms per problem and step.

    python benchmarks/optimizer_overhead.py
    python benchmarks/optimizer_overhead.py --methods elite ga cma random --problems 1 16 64
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import torch

from mango_pl.search import make_searcher


def ms_per_problem_step(method: str, d: int, n: int, problems: int, warmup: int, steps: int) -> float:
    target = torch.randint(0, n, (problems, d), generator=torch.Generator().manual_seed(0))
    searcher = make_searcher(method, d, n, problems=problems, seed=0, budget=warmup + 10_000)

    def step() -> int:
        index = searcher.ask()
        searcher.tell(index, -(index - target[:, None]).abs().sum(-1).double())
        return index.shape[1]

    done = 0
    while done < warmup:
        done += step()
    times = []
    for _ in range(steps):
        started = time.perf_counter()
        step()
        times.append((time.perf_counter() - started) / problems * 1e3)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--methods", nargs="+", default=["elite", "ga", "cma", "tt", "random"])
    parser.add_argument("--problems", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--d", type=int, default=128)
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    print(f"d={args.d}, n={args.n}, one thread, median of {args.steps} steps after {args.warmup} queries\n")
    print("| method | " + " | ".join(f"P={p}: ms per problem and step" for p in args.problems) + " |")
    print("|---|" + "---:|" * len(args.problems))
    for method in args.methods:
        cells = [f"{ms_per_problem_step(method, args.d, args.n, p, args.warmup, args.steps):.2f}" for p in args.problems]
        print(f"| {method} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
