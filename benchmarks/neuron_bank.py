"""Query efficiency on a fixed bank of real units: which method reaches a unit's MEI with fewest stimuli.

The bank (see ``bank_networks.py``): an early, a middle and a late layer of three networks trained
on the offline digits by this script (spiking ResNet18, snnTorch conv SNN, AlexNet; cached), six
responsive units per layer and grid (54 per grid) plus up to one silent one (reported apart),
probed through both shipped grids: the digits SN-GAN (d=128, n=64, a discretized continuous
latent) and the digits VQ-VAE (d=64, n=512 codes, categorical). Searchers are given what the
grid's values stand for (``space.grid_features()``: latent values, codebook vectors).

Every method searches every unit (a layer's units as P problems of one batched search) for 2,000
queries, and what it would return after 100, 250, 500, 1,000 and 2,000 queries is recorded (the
batches are cut there). Noise: none (every method); multiplicative ``r * max(0, 1 + sigma * eps)``
with sigma 0.5 (Wang & Ponce's strongest) for the default method and ``NOISE_BASELINES`` only, on
the first ``--noisy-units`` (3) responsive units of each layer (for time); sigma 0.2, spike-count
noise ``Poisson(10 r / s) * s / 10`` (``s``: the unit's peak response to the random probe set;
1 spike per slot), more units and every method on request. A method's score is the **noise-free**
response of the stimulus it returns, divided by the unit's **reference**: the larger of its
reference run (``bank_reference.py``: one 10,000-query run of the strongest method for the grid,
a committed table) and the best noise-free response any bank method's query reached (any budget,
noise, seed). The report (``bank_report.py``) gives the mean over units and seeds with a 95 %
Student-t interval, the fraction of units within 5 % of their reference, tables per depth (the
early, middle, late layer), the default method's win rate against each baseline (ties count
half), population mode and the optimizer's milliseconds per step and problem.

Baselines (``BASELINES``, the strongest a lab could pick), each with its documented settings:
``random``; the paper's PROTES preset ``tt-s``; Nevergrad ``ng:Portfolio`` (10 parallel asks);
XDream's genetic algorithm ``ga`` and the elitist GA ``elitist-ga``; CMA-ES in the continuous
SN-GAN latent snapped to the grid ``cma`` (SN-GAN grid only: a categorical grid has no continuous
latent); ``catcma``, ``cma-margin``, ``cholesky-cma``, ``sphere-cma`` (both grids).
``EXTRA_BASELINES`` (``tt``, ``tt-b``, ``ng:CMA``, ``ng:DiagonalCMA``) run when named in
``--methods``. The default method and ``<default>+warm`` (a natural-image warm start; noise-free
only) come first.

Seeds: a unit's search seed is ``mango_pl.mei.seeds.unit_seeds(seed, 0, "<network>/<layer>/<grid>",
[unit])``, a function of (seed, network, layer, grid, unit) only; the reference runs use seed
``bank_reference.REFERENCE_SEED``, never a bank seed.

Results are cached per job (grid, network, layer, method, noise, seed) under ``--cache``, keyed by
the bank's settings and ``PROTOCOL`` and the source of the method's searcher, so a re-run only
computes what changed; ``--workers`` processes run jobs in parallel (one torch thread each), the
dearest first by a cost model (``estimate_seconds``; ``--plan-only`` prints the plan and its
estimated time without searching).

    python benchmarks/bank_reference.py --workers 2        # the reference table (once; timed apart)
    python benchmarks/neuron_bank.py --population          # the full run (1.5-2 h on 2 cores)
    python benchmarks/neuron_bank.py --quick               # < 10 min: 2 units per layer, 500 queries
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
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bank_networks as bank  # noqa: E402
import bank_reference  # noqa: E402
import bank_report as report  # noqa: E402

from mango_pl.mei.seeds import unit_seeds  # noqa: E402
from mango_pl.probe import LayerObjective, natural_warm_start  # noqa: E402
from mango_pl.search import DEFAULT_METHOD, LOOP_METHOD, RunPlan, maximize  # noqa: E402
from mango_pl.loop.noise import NoisyObjective, noise_model  # noqa: E402
from mango_pl.search.registry import _resolve  # noqa: E402

#: the default list of baselines: the strongest a lab could pick (the default method comes first)
BASELINES = ["random", "tt-s", "ng:Portfolio", "ga", "cma", "elitist-ga", "catcma", "cma-margin", "cholesky-cma",
             "sphere-cma"]
#: baselines of earlier runs (weaker, or costlier for what they show), run when named in ``--methods``
EXTRA_BASELINES = ["tt", "tt-b", "ng:CMA", "ng:DiagonalCMA"]
#: settings per method (anything not given is the method's documented default)
METHOD_OPTIONS = {"ng:Portfolio": {"k": 10}, "ng:CMA": {"k": 10}, "ng:DiagonalCMA": {"k": 10}}
#: methods that need a continuous latent (an ordinal grid)
ORDINAL_ONLY = {"cma"}
#: noise models of the full run: none and the strong multiplicative noise the targets are set at;
#: ``mult0.2``, ``poisson10`` (any ``mult<sigma>`` / ``poisson<window>``) on request
NOISES = ["none", "mult0.5"]
#: noise levels every method runs at; at the others only the default method and NOISE_BASELINES
FULL_NOISES = ("none",)
NOISE_BASELINES = ("random", "ga", "elitist-ga", "cma", "cma-margin", "cholesky-cma")
#: population mode: 64-unit layers, stimuli in all, and where the shared search is recorded
POPULATION_LAYERS = [("alexnet", "features.1")]
POPULATION_STIMULI, POPULATION_MARKS = 8000, [500, 1000, 2000, 3000, 5000, 8000]
#: natural-image warm start (methods ``<method>+warm``): digits shown first, start points per unit
WARM_IMAGES, WARM_STARTS = 50, 3
BUDGETS = [100, 250, 500, 1000, 2000]
#: the bank's own protocol; bumped whenever it changes (seeds, what searchers are given), so that
#: no result of an older protocol is reused (2: mango_pl.mei.seeds.unit_seeds, grid features)
PROTOCOL = 2

#: cost model of a job, to run the dearest first and for ``--plan-only``: the objective (decode +
#: network) costs ~2.5 ms per unit and query on one thread; the optimizer, per method, (ms per step
#: and problem, queries per step): measured on the last bank (its report's optimizer time), the
#: newer baselines on a synthetic objective at d=64, n=512 (their dearer grid; a loaded machine,
#: scaled by the ~3x that elite and cma were slower there); other methods get ``OPTIMIZER_GUESS``;
#: a warm start's inversion ~5 s per job
UNIT_QUERY_SECONDS = 2.5e-3
OPTIMIZER_COST = {"surrogate": (14.0, 10), "surrogate-image": (62.6, 10), "elite": (1.5, 10), "random": (0.12, 100),
                  "ga": (0.41, 30), "cma": (4.8, 18), "tt": (9.2, 10), "tt-s": (11.3, 5), "tt-b": (27.8, 25), "ng:Portfolio": (25.7, 10),
                  "ng:CMA": (11.3, 10), "ng:DiagonalCMA": (9.2, 10), "elitist-ga": (0.3, 10),
                  "catcma": (3.5, 18), "cholesky-cma": (7.3, 40), "sphere-cma": (9.4, 40)}
OPTIMIZER_GUESS = (5.0, 10)
WARM_SECONDS = 5.0


@dataclass(frozen=True)
class Job:
    """One batched search: all bank units of one layer, one method, noise model and seed."""

    grid: str
    network: str
    layer: str
    method: str
    noise: str
    seed: int
    #: "units": the bank's units of the layer; "reference": its responsive units, searched long for
    #: the reference table (``bank_reference.py``); population benchmark: "layer", every unit of the
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


def job_settings(job: Job, settings: dict) -> dict:
    """The settings a job's result depends on (no paths): noisy jobs search the first
    ``noisy_units`` responsive units of the layer and no silent one."""
    fields = {k: v for k, v in settings.items() if k not in ("cache", "noisy_units")}
    if job.mode == "units" and job.noise != "none":
        fields["units"], fields["silent"] = min(settings.get("noisy_units", settings["units"]), settings["units"]), 0
    return fields


def job_key(job: Job, settings: dict) -> str:
    fields = asdict(job)
    if fields["mode"] == "units":
        del fields["mode"]
    record = {**fields, **job_settings(job, settings), "options": METHOD_OPTIONS.get(job.method, {}),
              "version": method_version(job.method), "protocol": PROTOCOL}
    return hashlib.sha1(json.dumps(record, sort_keys=True).encode()).hexdigest()[:16]


def job_seeds(job: Job, units: list[int]) -> list[int]:
    """Search seed of each unit, as every mango-pl search seeds its units
    (``mango_pl.mei.seeds.unit_seeds``): a function of (seed, network, layer, grid, unit) only."""
    return unit_seeds(job.seed, 0, f"{job.network}/{job.layer}/{job.grid}", units)


def estimate_seconds(job: Job, settings: dict) -> float:
    """One thread's seconds for ``job`` by the cost model (``UNIT_QUERY_SECONDS``, ``OPTIMIZER_COST``)."""
    method, warm = split_method(job.method)
    ms, per_step = OPTIMIZER_COST.get(method, OPTIMIZER_GUESS)
    if job.mode == "shared":  # one image per stimulus for the whole layer; steps of ~32 stimuli, 64 units
        return POPULATION_STIMULI * (UNIT_QUERY_SECONDS + ms * 64 / 32 / 1e3)
    fields = job_settings(job, settings)
    units = 64 if job.mode == "layer" else fields["units"] + fields["silent"]
    return units * fields["budget"] * (UNIT_QUERY_SECONDS + ms / per_step / 1e3) + (WARM_SECONDS if warm else 0.0)


def run_job(args: tuple[Job, dict]) -> dict:
    """Search one job's units; the noise-free response of what the method returns at each budget."""
    job, settings = args
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    if job.mode not in ("units", "reference"):
        return run_population_job(job, settings)
    cache = Path(settings["cache"])
    fields = job_settings(job, settings)
    chosen = bank.select_units(cache, job.network, job.layer, job.grid, settings["units"], settings["silent"])
    units = chosen.units[:fields["units"]] + chosen.silent[:fields["silent"]]
    scale = chosen.scale[:fields["units"]] + chosen.scale[len(chosen.units):][:fields["silent"]]
    model = bank.load_network(str(cache), job.network)
    space = bank.load_space(job.grid)
    objective = LayerObjective(model, job.layer, units, space, batch_limit=2048, precision="float32")
    seeds = job_seeds(job, units)
    noisy = NoisyObjective(objective, noise_model(job.noise, scale), len(units), seed=[s ^ 0x5EED for s in seeds])
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
                      seed=seeds, start=start, features=space.grid_features(),
                      plan=RunPlan(record_at=[b - spent for b in budgets], progress=count_step),
                      **METHOD_OPTIONS.get(job.method, {}))
    returned = torch.stack([c.best_index for c in result.checkpoints], 1)  # [P, B, d]
    with torch.no_grad():
        true_at = objective(returned).double()  # [P, B], noise-free
    return {
        **asdict(job),
        "units": units,
        "silent": [u in chosen.silent for u in units],
        "budgets": budgets,
        "true_at": true_at.tolist(),
        "true_max": noisy.true_max.tolist(),
        "optimizer_seconds": result.optimizer_seconds,
        "objective_seconds": result.objective_seconds,
        "steps": steps[0],
        "wall_seconds": time.perf_counter() - started,
        "protocol": PROTOCOL,
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
                      seed=job_seeds(job, units), shared=shared, features=space.grid_features(),
                      plan=RunPlan(record_at=marks))
    returned = torch.stack([c.best_index for c in result.checkpoints], 1)
    with torch.no_grad():
        true_at = objective(returned).double()
    return {**asdict(job), "units": units, "silent": [False] * channels, "budgets": marks,
            "true_at": true_at.tolist(), "true_max": true_max.tolist(), "optimizer_seconds": result.optimizer_seconds,
            "objective_seconds": result.objective_seconds, "steps": 0,
            "wall_seconds": time.perf_counter() - started, "protocol": PROTOCOL}


def runs_at(method: str, noise: str, default: str, every_method: bool = False) -> bool:
    """Whether ``method`` runs at noise level ``noise``: noise-free every method; under noise the
    default method, ``NOISE_BASELINES`` and methods named in ``--methods`` that are neither a bank
    baseline nor a warm-start variant (unless ``every_method``)."""
    if every_method or noise in FULL_NOISES or method == default or method in NOISE_BASELINES:
        return True
    return method not in BASELINES + EXTRA_BASELINES and not split_method(method)[1]


def plan(args: argparse.Namespace, settings: dict) -> list[Job]:
    """The jobs of the run, the dearest first by the cost model (so that the last ones finish together)."""
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
                        if not runs_at(method, noise, args.default, args.all_baselines):
                            continue
                        for seed in range(args.seeds if noise == "none" else args.noisy_seeds):
                            jobs.append(Job(grid, network, layer, method, noise, seed))
    if args.population:
        for grid in args.grids:
            for network, layer in POPULATION_LAYERS:
                if network in args.networks and (not args.layers or f"{network}/{layer}" in args.layers):
                    jobs += [Job(grid, network, layer, args.default, "none", 0, mode) for mode in ("layer", "shared")]
    return sorted(jobs, key=lambda j: (-estimate_seconds(j, settings), j.label))


def estimated_wall(jobs: list[Job], settings: dict, workers: int) -> tuple[float, float]:
    """(CPU seconds, wall seconds on ``workers`` processes taking the jobs in order) by the cost model."""
    loads = [0.0] * max(1, workers)
    for job in jobs:
        loads[loads.index(min(loads))] += estimate_seconds(job, settings)
    return sum(loads), max(loads)


def plan_summary(jobs: list[Job], settings: dict, workers: int) -> str:
    """``--plan-only``: the jobs per grid, noise and mode, and the estimated time."""
    counts: dict[tuple, list[Job]] = {}
    for job in jobs:
        counts.setdefault((job.grid, job.noise if job.mode == "units" else job.mode), []).append(job)
    lines = [f"{'grid':6} {'noise/mode':10} {'jobs':>5} {'CPU-min':>8}  methods"]
    for (grid, kind), group in sorted(counts.items()):
        methods = sorted({job.method for job in group})
        cpu = sum(estimate_seconds(job, settings) for job in group)
        lines.append(f"{grid:6} {kind:10} {len(group):5d} {cpu / 60:8.1f}  {', '.join(methods)}")
    cpu, wall = estimated_wall(jobs, settings, workers)
    lines.append(f"{len(jobs)} jobs, ~{cpu / 3600:.2f} CPU-hours by the cost model: ~{wall / 60:.0f} min on {workers} "
                 f"worker(s) (the previous bank took ~0.7x what the model gives for it: ~8 CPU-hours for 809 "
                 f"jobs, model 11.1)")
    return "\n".join(lines)


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
    _, wall = estimated_wall([job for job, _ in todo], settings, workers)
    print(f"{len(jobs)} jobs: {len(done)} cached, {len(todo)} to run on {workers} worker(s), "
          f"~{wall / 60:.0f} min by the cost model", flush=True)
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
    """The newest cached result of each planned job, by job label, whatever the code version of its
    method that made it (of this ``PROTOCOL`` and these settings); jobs never run are absent."""
    wanted = {job.label: job for job in jobs}
    newest: dict[str, tuple[float, dict]] = {}
    for path in (Path(settings["cache"]) / "results").glob("*.json"):
        record = json.loads(path.read_text())
        job = Job(*(record[f] for f in ("grid", "network", "layer", "method", "noise", "seed")), record.get("mode", "units"))
        if job.label not in wanted or record.get("protocol") != PROTOCOL:
            continue
        if record["budgets"] != (POPULATION_MARKS if job.mode == "shared" else settings["budgets"]):
            continue
        if job.mode in ("units", "reference"):
            fields = job_settings(job, settings)
            silent = sum(record["silent"])
            if len(record["units"]) != fields["units"] + silent or silent > fields["silent"]:
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


def layer_depths() -> dict[tuple[str, str], str]:
    """``{(network, layer): "early" | "middle" | "late"}`` of every bank layer."""
    return {(name, layer): report.DEPTHS[i]
            for name, spec in bank.NETWORKS.items() for i, layer in enumerate(spec.layers)}


def select_all_units(cache: Path, grids: list[str], networks: list[str], units: int, silent: int) -> None:
    """Choose (and cache) every layer's units once, before the workers start."""
    for grid in grids:
        for network in networks:
            for layer in bank.NETWORKS[network].layers:
                bank.select_units(cache, network, layer, grid, units, silent)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--methods", nargs="+",
                        default=list(dict.fromkeys([DEFAULT_METHOD, LOOP_METHOD, DEFAULT_METHOD + "+warm"] + BASELINES)),
                        help=f"default: {DEFAULT_METHOD}, {LOOP_METHOD}, {DEFAULT_METHOD}+warm and the baselines "
                             f"{', '.join(BASELINES)}; also e.g. {', '.join(EXTRA_BASELINES)}")
    parser.add_argument("--default", default=DEFAULT_METHOD, help="the method the win rates are for")
    parser.add_argument("--grids", nargs="+", default=list(bank.GRIDS), choices=list(bank.GRIDS))
    parser.add_argument("--networks", nargs="+", default=list(bank.NETWORKS), choices=list(bank.NETWORKS))
    parser.add_argument("--layers", nargs="+", metavar="NETWORK/LAYER",
                        help="only these layers of the bank (e.g. units held out while a method was tuned)")
    parser.add_argument("--noise", nargs="+", default=NOISES)
    parser.add_argument("--budget", type=int, default=2000)
    parser.add_argument("--units", type=int, default=6, help="responsive units per layer and grid")
    parser.add_argument("--silent", type=int, default=1, help="silent units per layer and grid, reported apart")
    parser.add_argument("--noisy-units", type=int, default=3,
                        help="responsive units per layer and grid in the noisy jobs (the first of --units; no silent "
                             "ones)")
    parser.add_argument("--seeds", type=int, default=1, help="seeds without noise")
    parser.add_argument("--noisy-seeds", type=int, default=1, help="seeds per noise model")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "mango-pl" / "neuron_bank")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/neuron_bank"))
    parser.add_argument("--reference", type=Path, default=bank_reference.TABLE,
                        help="the reference table of bank_reference.py (units missing from it are normalized by "
                             "the best any bank method reached)")
    parser.add_argument("--all-baselines", action="store_true",
                        help=f"every method at every noise level (default: under noise only the default method and "
                             f"{', '.join(NOISE_BASELINES)})")
    parser.add_argument("--population", action="store_true",
                        help=f"also the population benchmark: every unit of two 64-unit layers, searched one by one "
                             f"(--budget queries each) and on {POPULATION_STIMULI:,} shared stimuli (recorded at "
                             f"{', '.join(map(str, POPULATION_MARKS))})")
    parser.add_argument("--plan-only", action="store_true",
                        help="print the planned jobs and their estimated time by the cost model, and stop")
    parser.add_argument("--report-only", action="store_true",
                        help="make the tables from the cached results of the planned jobs, whatever code version made "
                             "them (nothing is searched)")
    parser.add_argument("--reuse-any-version", action="store_true",
                        help="search only the planned jobs with no cached result of any code version (finish a run "
                             "after a change that does not alter a method's behaviour)")
    parser.add_argument("--quick", action="store_true",
                        help="2 units per layer, no silent units, 500 queries, one seed")
    args = parser.parse_args(argv)
    if args.quick:
        args.units, args.silent, args.budget, args.seeds, args.noisy_seeds = 2, 0, 500, 1, 1
    for method in args.methods:
        _resolve(split_method(method)[0])
    for noise in args.noise:
        noise_model(noise)
    known = [f"{network}/{layer}" for network in args.networks for layer in bank.NETWORKS[network].layers]
    unknown = sorted(set(args.layers or []) - set(known))
    if unknown:
        parser.error(f"unknown layers {unknown}: choose among {known}")
    settings = {"cache": str(args.cache), "units": args.units, "silent": args.silent, "budget": args.budget,
                "budgets": [b for b in BUDGETS if b <= args.budget], "noisy_units": args.noisy_units}
    jobs = plan(args, settings)
    if args.plan_only:
        print(plan_summary(jobs, settings, args.workers))
        return
    accuracy = bank.ensure_networks(args.cache, args.networks)
    select_all_units(args.cache, args.grids, args.networks, args.units, args.silent)
    records = cached_records(jobs, settings) if args.report_only else run_all(jobs, settings, args.workers,
                                                                               args.reuse_any_version)
    reference = bank_reference.read_table(args.reference) if args.reference.exists() else None
    if reference is not None:
        reference, stale = bank_reference.rows_for_weights(reference, args.cache)
        for line in stale:
            print(f"warning: {line}")
    if reference is None:
        print(f"no reference table {args.reference}: units are normalized by the best any bank method reached "
              f"(make it with benchmarks/bank_reference.py)")
    args.out.mkdir(parents=True, exist_ok=True)
    text = report.write_report(records, args.default, settings["budgets"], accuracy, args.out, reference,
                               layer_depths(), baselines=BASELINES, also=[LOOP_METHOD])
    print(text)


if __name__ == "__main__":
    main()
