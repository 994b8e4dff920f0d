"""Query efficiency on a fixed bank of real units: which method reaches a unit's MEI with fewest stimuli.

The bank (see ``bank_networks.py``): an early, a middle and a late layer of three networks trained
on the offline digits by this script (spiking ResNet18, snnTorch conv SNN, AlexNet; cached), six
responsive units per layer and grid (54 per grid) plus up to two silent ones (reported apart),
probed through both shipped grids: the digits SN-GAN (d=128, n=64, a discretized continuous
latent) and the digits VQ-VAE (d=64, n=512 codes, categorical).

Every method searches every unit (a layer's units as P problems of one batched search) for 2,000
queries, and what it would return after 100, 250, 500, 1,000 and 2,000 queries is recorded (the
batches are cut there). Noise: none; multiplicative ``r * max(0, 1 + sigma * eps)`` with sigma 0.2
and 0.5 (Wang & Ponce); spike-count noise ``Poisson(10 r / s) * s / 10`` (``s``: the unit's peak
response to the random probe set; 1 spike per slot). A method's score is the **noise-free**
response of the stimulus it returns, divided by the best noise-free response any method's query
reached for that unit (at any budget, any noise); the tables give the mean over units and seeds
with a 95 % interval (1.96 standard errors), the default method's win rate against each baseline
(ties count half), and the optimizer's milliseconds per step and problem.

Baselines, each with its documented settings: ``random``; the paper's PROTES presets ``tt``,
``tt-s``, ``tt-b``; Nevergrad ``ng:Portfolio``, ``ng:CMA``, ``ng:DiagonalCMA`` (10 parallel asks);
XDream's genetic algorithm ``ga``; CMA-ES in the continuous SN-GAN latent snapped to the grid
``cma`` (SN-GAN grid only: a categorical grid has no continuous latent).

Results are cached per job (grid, network, layer, method, noise, seed) under ``--cache``, keyed by
the bank's settings and the source of the method's searcher, so a re-run only computes what
changed; ``--workers`` processes run jobs in parallel (one torch thread each).

    python benchmarks/neuron_bank.py                 # the full run (see README for its time)
    python benchmarks/neuron_bank.py --quick         # a few minutes: 2 units per layer, 500 queries
    python benchmarks/neuron_bank.py --methods elite random ga --noise none mult0.5
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import inspect
import json
import multiprocessing
import re
import sys
import time
import warnings
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bank_networks as bank  # noqa: E402
import bank_report as report  # noqa: E402

from mango_pl.probe import LayerObjective, natural_warm_start  # noqa: E402
from mango_pl.search import DEFAULT_METHOD, maximize  # noqa: E402
from mango_pl.search.noise import NoisyObjective, noise_model  # noqa: E402
from mango_pl.search.registry import _resolve  # noqa: E402

BASELINES = ["random", "tt", "tt-s", "tt-b", "ng:Portfolio", "ng:CMA", "ng:DiagonalCMA", "ga", "cma"]
#: settings per method (anything not given is the method's documented default)
METHOD_OPTIONS = {"ng:Portfolio": {"k": 10}, "ng:CMA": {"k": 10}, "ng:DiagonalCMA": {"k": 10}}
#: methods that need a continuous latent (an ordinal grid)
ORDINAL_ONLY = {"cma"}
NOISES = ["none", "mult0.2", "mult0.5", "poisson10"]
#: noise levels every baseline runs at; at the others (for time) the baselines of NOISE_BASELINES
FULL_NOISES = ("none", "mult0.5")
NOISE_BASELINES = ("random", "tt-s", "ng:Portfolio", "ga", "cma")
#: population mode: 64-unit layers, stimuli in all, and where the shared search is recorded
POPULATION_LAYERS = [("alexnet", "features.1"), ("spiking_resnet18", "layer4.1.sn1")]
POPULATION_STIMULI, POPULATION_MARKS = 20000, [640, 1280, 3200, 6400, 12800, 20000]
#: natural-image warm start (methods ``<method>+warm``): digits shown first, start points per unit
WARM_IMAGES, WARM_STARTS = 50, 3
BUDGETS = [100, 250, 500, 1000, 2000]


@dataclass(frozen=True)
class Job:
    """One batched search: all bank units of one layer, one method, noise model and seed."""

    grid: str
    network: str
    layer: str
    method: str
    noise: str
    seed: int
    #: "units": the bank's units of the layer; population benchmark: "layer", every unit of the
    #: layer searched on its own; "shared", every unit of the layer on shared stimuli
    mode: str = "units"

    @property
    def label(self) -> str:
        mode = "" if self.mode == "units" else f"/{self.mode}"
        return f"{self.grid}/{self.network}/{self.layer}/{self.method}/{self.noise}/seed{self.seed}{mode}"


def split_method(method: str) -> tuple[str, bool]:
    """``"elite+warm"`` -> ``("elite", True)``: a search method, and whether a natural-image warm start
    precedes it."""
    base, _, variant = method.partition("+")
    if variant not in ("", "warm"):
        raise ValueError(f"unknown method variant {method!r}: use '<method>' or '<method>+warm'")
    return base, variant == "warm"


def method_version(method: str) -> str:
    """A hash of the source of ``method``'s searcher (and the search modules it imports), so cached
    results are recomputed when the method changes."""
    base, warm = split_method(method)
    cls, _ = _resolve(base)
    seen, todo, text = set(), [cls.__module__] + (["mango_pl.probe.warm_start", "mango_pl.stimuli.inversion"]
                                                  if warm else []), []
    infrastructure = {"mango_pl.search.base", "mango_pl.search.seeding", "mango_pl.search.qtt"}
    while todo:
        name = todo.pop()
        if name in seen or name in infrastructure:
            continue
        seen.add(name)
        source = inspect.getsource(importlib.import_module(name))
        text.append(source)
        todo += re.findall(r"from (mango_pl\.search\.\w+) import", source)
    return hashlib.sha1("".join(sorted(text)).encode()).hexdigest()[:12]


def job_key(job: Job, settings: dict) -> str:
    fields = asdict(job)
    if fields["mode"] == "units":
        del fields["mode"]
    record = {**fields, **{k: v for k, v in settings.items() if k != "cache"}, "options": METHOD_OPTIONS.get(job.method, {}),
              "version": method_version(job.method)}
    return hashlib.sha1(json.dumps(record, sort_keys=True).encode()).hexdigest()[:16]


def unit_seeds(job: Job, units: list[int]) -> list[int]:
    """Search seed of each unit: depends on (seed, network, layer, grid, unit) only."""
    key = zlib.crc32(f"{job.network}/{job.layer}/{job.grid}".encode())
    return [int(np.random.SeedSequence([job.seed, key, u]).generate_state(1)[0]) for u in units]


def run_job(args: tuple[Job, dict]) -> dict:
    """Search one job's units; the noise-free response of what the method returns at each budget."""
    job, settings = args
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    if job.mode != "units":
        return run_population_job(job, settings)
    cache = Path(settings["cache"])
    chosen = bank.select_units(cache, job.network, job.layer, job.grid, settings["units"], settings["silent"])
    units = chosen.units + chosen.silent
    model = bank.load_network(str(cache), job.network)
    space = bank.load_space(job.grid)
    objective = LayerObjective(model, job.layer, units, space, batch_limit=2048, precision="float32")
    seeds = unit_seeds(job, units)
    noisy = NoisyObjective(objective, noise_model(job.noise, chosen.scale), len(units),
                           seed=[s ^ 0x5EED for s in seeds])
    steps = [0]

    def count_step(done: int, budget: int) -> None:
        steps[0] += 1

    budgets = [b for b in settings["budgets"] if b <= settings["budget"]]
    started = time.perf_counter()
    method, warm = split_method(job.method)
    spent, start = 0, None
    if warm:  # natural images first, counted as queries; each unit starts from its best ones, encoded
        warmed = natural_warm_start(objective, bank.natural_images(WARM_IMAGES, job.seed), starts=WARM_STARTS,
                                    seed=job.seed, measure=noisy.measure)
        spent, start = warmed.queries, warmed.start
    result = maximize(noisy, method, space.grid.d, space.grid.n, settings["budget"] - spent, problems=len(units),
                      seed=seeds, record_at=[b - spent for b in budgets], progress=count_step, start=start,
                      **METHOD_OPTIONS.get(job.method, {}))
    returned = torch.stack([c.best_index for c in result.checkpoints], 1)  # [P, B, d]
    with torch.no_grad():
        true_at = objective(returned).double()  # [P, B], noise-free
    return {
        **asdict(job),
        "units": units,
        "silent": [False] * len(chosen.units) + [True] * len(chosen.silent),
        "budgets": budgets,
        "true_at": true_at.tolist(),
        "true_max": noisy.true_max.tolist(),
        "optimizer_seconds": result.optimizer_seconds,
        "objective_seconds": result.objective_seconds,
        "steps": steps[0],
        "wall_seconds": time.perf_counter() - started,
    }


def run_population_job(job: Job, settings: dict) -> dict:
    """Every unit of a layer: searched one by one (``layer``: ``budget`` queries each) or on shared
    stimuli (``shared``: ``POPULATION_STIMULI`` in all, recorded at ``POPULATION_MARKS``)."""
    cache = Path(settings["cache"])
    model = bank.load_network(str(cache), job.network)
    space = bank.load_space(job.grid)
    channels = bank.select_units(cache, job.network, job.layer, job.grid, settings["units"], settings["silent"]).channels
    units = list(range(channels))
    objective = LayerObjective(model, job.layer, units, space, batch_limit=2048, precision="float32")
    true_max = torch.full((channels,), -torch.inf, dtype=torch.float64)
    shared = job.mode == "shared"

    def recorded(index: torch.Tensor) -> torch.Tensor:
        nonlocal true_max
        values = objective.responses(index).T if shared else objective(index)  # [P, N]
        true_max = torch.maximum(true_max, values.double().max(1).values)
        return values.T if shared else values

    budget = POPULATION_STIMULI if shared else settings["budget"]
    marks = POPULATION_MARKS if shared else settings["budgets"]
    started = time.perf_counter()
    result = maximize(recorded, job.method, space.grid.d, space.grid.n, budget, problems=channels,
                      seed=unit_seeds(job, units), record_at=marks, shared=shared)
    returned = torch.stack([c.best_index for c in result.checkpoints], 1)
    with torch.no_grad():
        true_at = objective(returned).double()
    return {**asdict(job), "units": units, "silent": [False] * channels, "budgets": marks,
            "true_at": true_at.tolist(), "true_max": true_max.tolist(), "optimizer_seconds": result.optimizer_seconds,
            "objective_seconds": result.objective_seconds, "steps": 0,
            "wall_seconds": time.perf_counter() - started}


def plan(args: argparse.Namespace) -> list[Job]:
    jobs = []
    for grid in args.grids:
        for network in args.networks:
            for layer in bank.NETWORKS[network].layers:
                if args.layers and f"{network}/{layer}" not in args.layers:
                    continue
                for method in args.methods:
                    if split_method(method)[0] in ORDINAL_ONLY and grid != "sngan":
                        continue
                    for noise in args.noise:
                        if (noise not in FULL_NOISES and method in BASELINES and method not in NOISE_BASELINES
                                and not args.all_baselines):
                            continue
                        for seed in range(args.seeds if noise == "none" else args.noisy_seeds):
                            jobs.append(Job(grid, network, layer, method, noise, seed))
    if args.population:
        for grid in args.grids:
            for network, layer in POPULATION_LAYERS:
                if network in args.networks and (not args.layers or f"{network}/{layer}" in args.layers):
                    jobs += [Job(grid, network, layer, args.default, "none", 0, mode) for mode in ("layer", "shared")]
    # the costliest first (SN-GAN decodes are ~6x dearer; Nevergrad's Python overhead), for balance
    return sorted(jobs, key=lambda j: (j.grid != "sngan", not j.method.startswith("ng:"), j.method))


def run_all(jobs: list[Job], settings: dict, workers: int, reuse_any_version: bool = False) -> list[dict]:
    results_dir = Path(settings["cache"]) / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    reusable = newest_cached(jobs, settings) if reuse_any_version else {}
    done, todo = [], []
    for job in jobs:
        path = results_dir / f"{job_key(job, settings)}.json"
        if path.exists():
            done.append(json.loads(path.read_text()))
        elif job.label in reusable:
            done.append(reusable[job.label])
        else:
            todo.append((job, path))
    records = done
    print(f"{len(jobs)} jobs: {len(done)} cached, {len(todo)} to run on {workers} worker(s)", flush=True)
    started = time.perf_counter()
    paths = {job: path for job, path in todo}
    work = [(job, settings) for job, _ in todo]
    if workers > 1 and len(work) > 1:
        context = multiprocessing.get_context("spawn")
        with context.Pool(workers, maxtasksperchild=40) as pool:
            outputs = pool.imap_unordered(run_job, work)
            records += _collect(outputs, paths, len(work), started)
    else:
        records += _collect(map(run_job, work), paths, len(work), started)
    return records


def newest_cached(jobs: list[Job], settings: dict) -> dict[str, dict]:
    """The newest cached result of each planned job, by job label, whatever the code version that
    made it; jobs never run are absent."""
    wanted = {job.label for job in jobs}
    newest: dict[str, tuple[float, dict]] = {}
    for path in (Path(settings["cache"]) / "results").glob("*.json"):
        record = json.loads(path.read_text())
        job = Job(*(record[f] for f in ("grid", "network", "layer", "method", "noise", "seed")), record.get("mode", "units"))
        if job.label not in wanted or record["budgets"] != (settings["budgets"] if job.mode != "shared" else record["budgets"]):
            continue
        if job.mode == "units" and len(record["units"]) != settings["units"] + sum(record["silent"]):
            continue
        mtime = path.stat().st_mtime
        if job.label not in newest or mtime > newest[job.label][0]:
            newest[job.label] = (mtime, record)
    return {label: record for label, (_, record) in newest.items()}


def cached_records(jobs: list[Job], settings: dict) -> list[dict]:
    """``--report-only``: the tables from what is cached (any code version), nothing recomputed."""
    newest = newest_cached(jobs, settings)
    missing = len({job.label for job in jobs}) - len(newest)
    print(f"{len(newest)} of {len(jobs)} planned jobs found in the cache" + (f" ({missing} missing)" if missing else ""))
    return list(newest.values())


def _collect(outputs, paths: dict, total: int, started: float) -> list[dict]:
    records = []
    for i, record in enumerate(outputs, 1):
        job = Job(*(record[f] for f in ("grid", "network", "layer", "method", "noise", "seed")), record.get("mode", "units"))
        path = paths[job]
        path.with_suffix(".tmp").write_text(json.dumps(record))
        path.with_suffix(".tmp").replace(path)
        records.append(record)
        elapsed = time.perf_counter() - started
        print(f"[{i}/{total}] {job.label}: {record['wall_seconds']:.0f} s "
              f"(elapsed {elapsed / 60:.1f} min, left ~{elapsed / i * (total - i) / 60:.0f} min)", flush=True)
    return records


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--methods", nargs="+", default=[DEFAULT_METHOD, DEFAULT_METHOD + "+warm"] + BASELINES)
    parser.add_argument("--default", default=DEFAULT_METHOD, help="the method the win rates are for")
    parser.add_argument("--grids", nargs="+", default=list(bank.GRIDS), choices=list(bank.GRIDS))
    parser.add_argument("--networks", nargs="+", default=list(bank.NETWORKS), choices=list(bank.NETWORKS))
    parser.add_argument("--layers", nargs="+", metavar="NETWORK/LAYER",
                        help="only these layers of the bank (e.g. units held out while a method was tuned)")
    parser.add_argument("--noise", nargs="+", default=NOISES)
    parser.add_argument("--budget", type=int, default=2000)
    parser.add_argument("--units", type=int, default=6, help="responsive units per layer and grid")
    parser.add_argument("--silent", type=int, default=1, help="silent units per layer and grid, reported apart")
    parser.add_argument("--seeds", type=int, default=2, help="seeds without noise")
    parser.add_argument("--noisy-seeds", type=int, default=1, help="seeds per noise model")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "mango-pl" / "neuron_bank")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/neuron_bank"))
    parser.add_argument("--all-baselines", action="store_true",
                        help=f"every baseline at every noise level (default: at {', '.join(NOISES[1::2])} only "
                             f"{', '.join(NOISE_BASELINES)})")
    parser.add_argument("--population", action="store_true",
                        help="also the population benchmark: every unit of two 64-unit layers, searched one by one "
                             "(2,000 queries each) and on 20,000 shared stimuli")
    parser.add_argument("--report-only", action="store_true",
                        help="make the tables from the cached results of the planned jobs, whatever code version made "
                             "them (nothing is searched)")
    parser.add_argument("--reuse-any-version", action="store_true",
                        help="search only the planned jobs with no cached result of any code version (finish a run "
                             "after a change that does not alter a method's behaviour)")
    parser.add_argument("--quick", action="store_true",
                        help="2 units per layer, no silent units, 500 queries, one seed, no noise and sigma=0.5")
    args = parser.parse_args(argv)
    if args.quick:
        args.units, args.silent, args.budget, args.seeds, args.noisy_seeds = 2, 0, 500, 1, 1
        if args.noise == NOISES:
            args.noise = ["none", "mult0.5"]
    for method in args.methods:
        _resolve(split_method(method)[0])
    known = [f"{network}/{layer}" for network in args.networks for layer in bank.NETWORKS[network].layers]
    unknown = sorted(set(args.layers or []) - set(known))
    if unknown:
        parser.error(f"unknown layers {unknown}: choose among {known}")
    settings = {"cache": str(args.cache), "units": args.units, "silent": args.silent, "budget": args.budget,
                "budgets": [b for b in BUDGETS if b <= args.budget]}
    accuracy = bank.ensure_networks(args.cache, args.networks)
    for grid in args.grids:  # choose (and cache) every layer's units once, before the workers start
        for network in args.networks:
            for layer in bank.NETWORKS[network].layers:
                bank.select_units(args.cache, network, layer, grid, args.units, args.silent)
    jobs = plan(args)
    records = cached_records(jobs, settings) if args.report_only else run_all(jobs, settings, args.workers,
                                                                               args.reuse_any_version)
    args.out.mkdir(parents=True, exist_ok=True)
    text = report.write_report(records, args.default, settings["budgets"], accuracy, args.out)
    print(text)


if __name__ == "__main__":
    main()
