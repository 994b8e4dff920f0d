"""Quality and speed of every search method on the PROTES paper's benchmark functions.

Prints markdown tables:

1. d=7, n=16, budget 10^4 (the PROTES paper's setting) on Ackley, Alpine, Exponential, Griewank,
   Michalewicz, Piston, Qing, Rastrigin, Schaffer, Schwefel, Rosenbrock: the best value found
   (the minimized function value as in the paper, so lower is better; mean +- std over seeds) and
   the mean seconds per run, ``protes`` and ``protes-ref`` side by side, ``random`` always in.
2. d=128, n=64, budget 2,000 on the dimension-free functions, same layout.
3. One batched search of P=64 problems against 64 searches of P=1 (same method and budget).
4. The time per optimizer step (ask + tell) of ``protes`` and ``protes-ref`` at d=128, n=64, k=10
   (one problem, in alternating rounds), and of ``protes`` with 64 problems in one batch.

Each function is minimized on a uniform grid of ``n`` points per dimension over its standard box
(the ends included); the searchers maximize its negative.

Usage::

    python benchmarks/search_quality.py                      # full run (long)
    python benchmarks/search_quality.py --quick              # smoke run, minutes
    python benchmarks/search_quality.py --seeds 3 --methods protes protes-ref tt random
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from mango_pl.search import make_searcher, maximize, problem_seeds
from mango_pl.stimuli.grid import Grid

DEFAULT_METHODS = ["protes", "protes-ref", "tt", "tt-s", "tt-b", "ttopt", "random", "ng:Portfolio", "ng:CMA",
                   "ng:DE", "ng:OnePlusOne", "ng:NGOpt"]


@dataclass(frozen=True)
class Benchmark:
    """A function to minimize over a box, ``f(x: [..., d]) -> [...]``."""

    name: str
    low: float | list[float]
    high: float | list[float]
    f: Callable[[Tensor], Tensor]
    dims: int | None = None  # fixed dimension (Piston), None for any d

    def grid(self, d: int, n: int) -> Grid:
        low = torch.tensor(self.low, dtype=torch.float64).expand(d)
        high = torch.tensor(self.high, dtype=torch.float64).expand(d)
        steps = torch.linspace(0, 1, n, dtype=torch.float64)
        return Grid(d, n, low[:, None] + (high - low)[:, None] * steps)


def ackley(x: Tensor) -> Tensor:
    return (-20 * torch.exp(-0.2 * x.square().mean(-1).sqrt()) - torch.cos(2 * math.pi * x).mean(-1).exp()
            + 20 + math.e)


def alpine(x: Tensor) -> Tensor:
    return (x * torch.sin(x) + 0.1 * x).abs().sum(-1)


def exponential(x: Tensor) -> Tensor:
    return -torch.exp(-0.5 * x.square().sum(-1))


def griewank(x: Tensor) -> Tensor:
    i = torch.arange(1, x.shape[-1] + 1, dtype=x.dtype)
    return x.square().sum(-1) / 4000 - torch.cos(x / i.sqrt()).prod(-1) + 1


def michalewicz(x: Tensor) -> Tensor:
    i = torch.arange(1, x.shape[-1] + 1, dtype=x.dtype)
    return -(torch.sin(x) * torch.sin(i * x.square() / math.pi) ** 20).sum(-1)


def piston(x: Tensor) -> Tensor:
    """Cycle time of a piston (7 inputs: M, S, V0, k, P0, Ta, T0)."""
    m, s, v0, k, p0, ta, t0 = x.unbind(-1)
    a = p0 * s + 19.62 * m - k * v0 / s
    v = s / (2 * k) * ((a.square() + 4 * k * p0 * v0 * ta / t0).sqrt() - a)
    return 2 * math.pi * (m / (k + s.square() * p0 * v0 * ta / (t0 * v.square()))).sqrt()


def qing(x: Tensor) -> Tensor:
    i = torch.arange(1, x.shape[-1] + 1, dtype=x.dtype)
    return (x.square() - i).square().sum(-1)


def rastrigin(x: Tensor) -> Tensor:
    return 10 * x.shape[-1] + (x.square() - 10 * torch.cos(2 * math.pi * x)).sum(-1)


def schaffer(x: Tensor) -> Tensor:
    r2 = x[..., :-1].square() + x[..., 1:].square()
    return (0.5 + (torch.sin(r2.sqrt()).square() - 0.5) / (1 + 0.001 * r2).square()).sum(-1)


def schwefel(x: Tensor) -> Tensor:
    return 418.9829 * x.shape[-1] - (x * torch.sin(x.abs().sqrt())).sum(-1)


def rosenbrock(x: Tensor) -> Tensor:
    return (100 * (x[..., 1:] - x[..., :-1].square()).square() + (1 - x[..., :-1]).square()).sum(-1)


BENCHMARKS = [
    Benchmark("Ackley", -32.768, 32.768, ackley),
    Benchmark("Alpine", -10.0, 10.0, alpine),
    Benchmark("Exponential", -1.0, 1.0, exponential),
    Benchmark("Griewank", -600.0, 600.0, griewank),
    Benchmark("Michalewicz", 0.0, math.pi, michalewicz),
    Benchmark("Piston", [30, 0.005, 0.002, 1000, 90000, 290, 340], [60, 0.020, 0.010, 5000, 110000, 296, 360],
              piston, dims=7),
    Benchmark("Qing", 0.0, 500.0, qing),
    Benchmark("Rastrigin", -5.12, 5.12, rastrigin),
    Benchmark("Schaffer", -100.0, 100.0, schaffer),
    Benchmark("Schwefel", -500.0, 500.0, schwefel),
    Benchmark("Rosenbrock", -2.048, 2.048, rosenbrock),
]
HIGH_DIMENSIONAL = ["Ackley", "Alpine", "Griewank", "Rastrigin", "Schwefel"]


def objective_of(benchmark: Benchmark, d: int, n: int) -> Callable[[Tensor], Tensor]:
    grid = benchmark.grid(d, n)
    return lambda index: -benchmark.f(grid.to_values(index))


def run_one(benchmark: Benchmark, method: str, d: int, n: int, budget: int, seed: int) -> tuple[float, float]:
    """(minimized value found, seconds) of one search."""
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = maximize(objective_of(benchmark, d, n), method, d=d, n=n, budget=budget, seed=seed)
    return -result.best_value.item(), time.perf_counter() - start


def ordered(methods: list[str]) -> list[str]:
    """protes and protes-ref side by side first, random always in."""
    first = [m for m in ("protes", "protes-ref") if m in methods]
    rest = [m for m in methods if m not in first]
    if "random" not in rest:
        rest.append("random")
    return first + rest


def quality_table(benchmarks: list[Benchmark], methods: list[str], d: int, n: int, budget: int,
                  seeds: list[int]) -> str:
    header = f"| function (d={d}, n={n}, budget={budget}; min found, lower is better) | " + " | ".join(methods) + " |"
    lines = [header, "|" + "---|" * (len(methods) + 1)]
    seconds = {m: [] for m in methods}
    for benchmark in benchmarks:
        cells = []
        for method in methods:
            runs = [run_one(benchmark, method, d, n, budget, seed) for seed in seeds]
            values = [v for v, _ in runs]
            seconds[method] += [s for _, s in runs]
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            cells.append(f"{statistics.mean(values):.4g} ± {spread:.2g}")
        lines.append(f"| {benchmark.name} | " + " | ".join(cells) + " |")
        print(f"  done {benchmark.name}", file=sys.stderr, flush=True)
    lines.append("| seconds per run (mean) | " + " | ".join(f"{statistics.mean(seconds[m]):.2f}" for m in methods) + " |")
    return "\n".join(lines)


def batched_vs_sequential(method: str, d: int, n: int, budget: int, problems: int) -> str:
    """One search of ``problems`` problems against one search per problem, with the same seeds."""
    target = torch.randint(0, n, (problems, d), generator=torch.Generator().manual_seed(0))

    def cheap(goal: Tensor) -> Callable[[Tensor], Tensor]:
        return lambda index: -(index - goal[:, None]).abs().sum(-1).double()

    seeds = problem_seeds(0, problems)
    start = time.perf_counter()
    batched = maximize(cheap(target), method, d=d, n=n, budget=budget, problems=problems, seed=seeds)
    batched_seconds = time.perf_counter() - start
    start = time.perf_counter()
    alone = [maximize(cheap(target[p:p + 1]), method, d=d, n=n, budget=budget, seed=[seeds[p]]).history
             for p in range(problems)]
    sequential_seconds = time.perf_counter() - start
    same = torch.equal(torch.cat(alone), batched.history)
    return "\n".join([
        f"| {method}, d={d}, n={n}, budget={budget}, cheap objective | seconds |",
        "|---|---|",
        f"| one batched search, P={problems} | {batched_seconds:.2f} |",
        f"| {problems} searches of P=1 | {sequential_seconds:.2f} |",
        f"| speed-up | {sequential_seconds / batched_seconds:.1f}x |",
        f"| identical histories (batch invariance) | {'yes' if same else 'NO'} |",
    ])


def step_times(d: int, n: int, k: int, steps: int, rounds: int) -> str:
    """Median ms per ask+tell, in alternating rounds so both see the same machine load."""
    searchers = {name: make_searcher(name, d, n, seed=0, k=k, k_top=1) for name in ("protes", "protes-ref")}
    searchers["protes (float64)"] = make_searcher("protes", d, n, seed=0, k=k, k_top=1, dtype="float64")
    target = torch.randint(0, n, (1, d), generator=torch.Generator().manual_seed(1))

    def step(searcher):
        index = searcher.ask()
        searcher.tell(index, -(index - target[:, None]).abs().sum(-1).double())

    for searcher in searchers.values():
        for _ in range(5):
            step(searcher)
    times = {name: [] for name in searchers}
    for _ in range(rounds):
        for name, searcher in searchers.items():
            start = time.perf_counter()
            for _ in range(steps):
                step(searcher)
            times[name].append((time.perf_counter() - start) / steps * 1e3)
    lines = [f"| optimizer step (ask + tell), d={d}, n={n}, k={k}, k_top=1, P=1 | ms per step (median) | min |",
             "|---|---|---|"]
    lines += [f"| {name} | {statistics.median(t):.2f} | {min(t):.2f} |" for name, t in times.items()]
    # the batched case the package is made for: one torch step serves P problems
    problems = 64
    batched = make_searcher("protes", d, n, problems=problems, seed=0, k=k, k_top=1)
    target = target.expand(problems, -1)  # the closure in step() sees this one from now on
    step(batched)
    per_problem = []
    for _ in range(rounds // 2 + 1):
        start = time.perf_counter()
        step(batched)
        per_problem.append((time.perf_counter() - start) / problems * 1e3)
    lines.append(f"| protes, P={problems} in one batch, per problem | {statistics.median(per_problem):.2f} "
                 f"| {min(per_problem):.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="seeds per function and method")
    parser.add_argument("--methods", nargs="+", default=DEFAULT_METHODS, help="search methods to compare")
    parser.add_argument("--budget", type=int, default=None, help="budget of the d=7 table (default 10^4)")
    parser.add_argument("--budget-high", type=int, default=None, help="budget of the d=128 table (default 2000)")
    parser.add_argument("--functions", nargs="+", default=None, help="benchmark names (default: all)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 seed, small budgets, 3 functions")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1: tiny ops run fastest)")
    parser.add_argument("--skip", nargs="*", default=[], choices=["low", "high", "batch", "step"],
                        help="parts to skip")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    seeds = list(range(1 if args.quick else args.seeds))
    budget = args.budget or (1000 if args.quick else 10_000)
    budget_high = args.budget_high or (200 if args.quick else 2000)
    names = args.functions or (["Ackley", "Piston", "Rastrigin"] if args.quick else [b.name for b in BENCHMARKS])
    unknown = sorted(set(names) - {b.name for b in BENCHMARKS})
    if unknown:
        parser.error(f"unknown function(s) {unknown}; valid: {[b.name for b in BENCHMARKS]}")
    methods = ordered(args.methods)
    print(f"# search quality (seeds {seeds}, torch threads {args.threads})\n")
    if "low" not in args.skip:
        benchmarks = [b for b in BENCHMARKS if b.name in names]
        print(quality_table(benchmarks, methods, 7, 16, budget, seeds), "\n", flush=True)
    if "high" not in args.skip:
        benchmarks = [b for b in BENCHMARKS if b.name in names and b.name in HIGH_DIMENSIONAL] or \
            [b for b in BENCHMARKS if b.name in HIGH_DIMENSIONAL[:1]]
        print(quality_table(benchmarks, methods, 128, 64, budget_high, seeds), "\n", flush=True)
    if "batch" not in args.skip:
        print(batched_vs_sequential("tt", 128, 64, 100 if args.quick else 500, 64), "\n", flush=True)
    if "step" not in args.skip:
        print(step_times(128, 64, 10, steps=5 if args.quick else 20, rounds=3 if args.quick else 8), flush=True)


if __name__ == "__main__":
    main()
