"""The paper's MEI sweep on one GPU: whole-layer vs per-unit search, LIF backends, float precision,
the extrapolated time of a searched epoch, and the DDP check — one script, under 8 minutes.

Network: the paper's spiking ResNet18 (T=50, base width 64, 3x32x32 inputs; random weights unless
``--checkpoint`` gives a trained one). Space: an SN-GAN generator (d=128 latents, n=64 grid points,
random weights) decoding 3x32x32 images. Rows (one markdown table, also written as markdown and CSV
to ``--out``):

1. ``batched`` / ``loop``: stimuli per second and peak GPU memory of one layer's 64 units searched
   as one batch (the MEI engine, ``search_layers``) vs the same search one unit at a time (a few
   units timed, scaled to 64); the default searcher and ``tt-s``; an early and a late spiking layer.
   One stimulus = one image scored for one unit: ``stimuli/s = units x queries per unit / seconds``.
2. ``backend``: the torch vs the CuPy LIF kernels (where CuPy imports and CUDA is there).
3. ``precision``: the float32 vs the float64 path (``ProbeSettings(precision=...)``).
4. ``extrapolation``: the paper's sweep per searched epoch (9 layers x 64 units x 3 runs x 10^4
   queries) from the measured whole-layer throughput of the default searcher.
5. ``ddp``: with >= 2 GPUs, the callback's DDP path on 2 GPUs gives the same MEIs as on 1.

Budget (``--budget auto``, the default): every row's time is first estimated from two short
warm-up searches of its own configuration (fixed cost + cost per query); the budget is the largest of
2000, 1000, 500, 250, 100 queries per unit whose batched and loop rows together are estimated to
take at most half of ``--time-limit`` (450 s), leaving the rest for the backend, precision and DDP
rows, which use ``--side-budget`` (default budget / 8). Before every row a guard compares the time
so far plus the row's estimate with ``--time-limit`` and skips the row, with a note, if it would
pass it; so the run stays under 8 minutes whatever the GPU.

    python benchmarks/gpu_sweep.py                    # on a GPU machine: the table, ~5-7 minutes
    python benchmarks/gpu_sweep.py --budget 2000      # a fixed budget (rows that would not fit are skipped)
    python benchmarks/gpu_sweep.py --smoke            # the same code paths on the CPU in seconds, tiny sizes
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # callbacks/ for the DDP worker

from mango_pl.mei import MEIRequest, SearchSettings, search_layers
from mango_pl.models import SNGANGenerator, SpikingResNet18
from mango_pl.models.lif import lif_takes_backend
from mango_pl.probe import ProbeSettings
from mango_pl.search import DEFAULT_METHOD
from mango_pl.stimuli import GeneratorSpace

#: budgets ``--budget auto`` chooses from (queries per unit), largest first
AUTO_BUDGETS = (2000, 1000, 500, 250, 100)
#: ... under ``--smoke``
SMOKE_BUDGETS = (8, 4)
#: share of ``--time-limit`` the batched and loop rows may take under ``--budget auto``
MAIN_SHARE = 0.5
#: estimates are multiplied by this (searcher costs that grow with the history, GPU clocks)
SAFETY = 1.3
#: the paper's sweep per searched epoch: layers x units x runs x queries per unit
PAPER_LAYERS, PAPER_UNITS, PAPER_RUNS, PAPER_QUERIES = 9, 64, 3, 10_000
COLUMNS = ["kind", "method", "layer", "setting", "units", "queries_per_unit", "seconds", "stimuli_per_s",
           "peak_gpu_mib", "ratio", "note"]


@dataclass
class Config:
    """What the network, the space and the rows are sized as (the paper's, or ``--smoke``'s)."""

    time_steps: int = 50
    base_width: int = 64
    image_size: int = 32
    channels: int = 3
    generator_channels: int = 256
    units: int = 64
    loop_units: int = 4
    layers: tuple[str, ...] = ("layer1.0.sn1", "layer4.1.sn2")
    warmup: tuple[int, int] = (16, 48)  # queries per unit of the two warm-up searches of a main row
    side_warmup: tuple[int, int] = (2, 8)  # ... of a backend or precision row (float64 may be slow)
    ddp_units: int = 8
    ddp_budget: int = 40


SMOKE = Config(time_steps=2, base_width=4, image_size=8, generator_channels=8, units=4, loop_units=2,
               warmup=(2, 4), side_warmup=(2, 4), ddp_units=4, ddp_budget=6)


@dataclass
class Row:
    kind: str
    method: str = ""
    layer: str = ""
    setting: str = ""
    units: int | str = ""
    queries_per_unit: int | str = ""
    seconds: float | None = None
    stimuli_per_s: float | None = None
    peak_gpu_mib: float | None = None
    ratio: float | None = None
    note: str = ""

    def cells(self, markdown: bool) -> list[str]:
        def number(value, digits):
            if value is None:
                return "-"
            return f"{value:,.{digits}f}" if markdown else f"{value:.{max(digits, 3)}f}"
        return [self.kind, self.method, self.layer, self.setting, str(self.units), str(self.queries_per_unit),
                number(self.seconds, 2), number(self.stimuli_per_s, 0), number(self.peak_gpu_mib, 0),
                number(self.ratio, 2), self.note]


@dataclass
class Guard:
    """Skips a row when the time so far plus its estimate would pass the limit."""

    limit: float
    started: float = field(default_factory=time.perf_counter)

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def refuses(self, estimate: float) -> str:
        """'' if a row of ``estimate`` seconds fits, else the note of its skip."""
        if self.elapsed() + estimate <= self.limit:
            return ""
        return (f"skipped: time guard ({self.elapsed():.0f} s so far + {estimate:.0f} s estimated "
                f"> {self.limit:.0f} s limit)")


@dataclass
class Measured:
    seconds: float
    peak_mib: float | None
    meis: object  # LayerMEIs's first run


class Bench:
    """The network, the space and the timed searches of every row."""

    def __init__(self, network, space, device: torch.device, batch_limit: int, guard: Guard, warmup: tuple[int, int],
                 side_warmup: tuple[int, int] | None = None):
        self.network, self.space, self.device = network, space, device
        self.batch_limit, self.guard, self.warmup = batch_limit, guard, warmup
        self.side_warmup = side_warmup or warmup  # configurations of the backend and precision rows
        self.costs: dict[tuple, tuple[float, float]] = {}  # config -> (fixed seconds, seconds per query)

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def search(self, layer: str, units: list[int], method: str, budget: int, precision: str = "float32",
               network=None) -> Measured:
        """One engine search of ``units`` of ``layer`` (one run of ``method``), timed."""
        settings = SearchSettings((method,), repeats=1, budget=budget)
        probe = ProbeSettings(batch_limit=self.batch_limit, precision=precision, device=str(self.device))
        request = MEIRequest((layer,), self.space, {layer: units}, settings, probe)
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        self.sync()
        started = time.perf_counter()
        result = search_layers(network if network is not None else self.network, request)
        self.sync()
        seconds = time.perf_counter() - started
        peak = torch.cuda.max_memory_allocated(self.device) / 2**20 if self.device.type == "cuda" else None
        return Measured(seconds, peak, next(iter(result[layer].runs.values())))

    def cost(self, layer: str, units: list[int], method: str, precision: str = "float32", network=None,
             backend: str = "torch", side: bool = False) -> tuple[float, float]:
        """(fixed seconds, seconds per query) of a search of this configuration, from two short
        warm-up searches (which also warm up the kernels); measured once per configuration. The
        second is left out (and the first's cost taken as all per query) if the guard refuses it."""
        key = (layer, len(units), method, precision, backend)
        if key not in self.costs:
            small, large = self.side_warmup if side else self.warmup
            first = self.search(layer, units, method, small, precision, network).seconds
            if self.guard.refuses(SAFETY * first * large / small):
                self.costs[key] = (0.0, first / small)
            else:
                second = self.search(layer, units, method, large, precision, network).seconds
                per_query = max((second - first) / (large - small), second / large / 4, 1e-9)
                self.costs[key] = (max(first - small * per_query, 0.0), per_query)
        return self.costs[key]

    def estimate(self, layer, units, method, budget, precision="float32", network=None, backend="torch",
                 side: bool = False) -> float:
        """Seconds a search of this configuration is expected to take (with :data:`SAFETY`)."""
        fixed, per_query = self.cost(layer, units, method, precision, network, backend, side)
        return SAFETY * (fixed + per_query * budget)


def main_rows(bench: Bench, cfg: Config, methods: list[str], budget: int, rows: list[Row], rates: dict) -> None:
    """Rows 1: whole-layer batched search vs the per-unit loop, per method and layer."""
    units = list(range(cfg.units))
    timed = units[: cfg.loop_units]
    for method in methods:
        for layer in cfg.layers:
            batched = Row("batched", method, layer, f"{cfg.units} units, one search", cfg.units, budget)
            estimate = bench.estimate(layer, units, method, budget)
            batched.note = bench.guard.refuses(estimate)
            measured = None
            if not batched.note:
                measured = bench.search(layer, units, method, budget)
                batched.seconds, batched.peak_gpu_mib = measured.seconds, measured.peak_mib
                batched.stimuli_per_s = cfg.units * budget / measured.seconds
                rates[(method, layer)] = batched.stimuli_per_s
                batched.note = f"estimated {estimate:.1f} s"
            rows.append(batched)
            print_row(batched)

            loop = Row("loop", method, layer, f"one unit at a time ({len(timed)} timed, scaled to {cfg.units})",
                       cfg.units, budget)
            estimate = len(timed) * bench.estimate(layer, [0], method, budget)
            loop.note = bench.guard.refuses(estimate)
            if not loop.note:
                seconds, peak, same = 0.0, 0.0, 0
                for unit in timed:
                    one = bench.search(layer, [unit], method, budget)
                    seconds += one.seconds
                    peak = None if one.peak_mib is None else max(peak, one.peak_mib)
                    if measured is not None:
                        same += int(torch.equal(one.meis.index[0], measured.meis.index[unit]))
                loop.seconds = seconds * cfg.units / len(timed)
                loop.stimuli_per_s = len(timed) * budget / seconds
                loop.peak_gpu_mib = peak
                loop.note = f"scaled x{cfg.units / len(timed):g}; estimated {estimate:.1f} s"
                if batched.stimuli_per_s:
                    loop.ratio = batched.stimuli_per_s / loop.stimuli_per_s
                    loop.note = (f"ratio = batched speed-up; same MEI as batched for {same}/{len(timed)} units; "
                                 + loop.note)
            rows.append(loop)
            print_row(loop)


def backend_rows(args, bench: Bench, cfg: Config, budget: int, rows: list[Row], make_network) -> None:
    """Row 2: the plain-torch vs the fused-GPU LIF kernel, the late layer, the default searcher.

    SpikingJelly 0.0.0.0.14: ``SpikingResNet18(backend="torch")`` vs ``backend="cupy"`` (CuPy kernels),
    in this process. SpikingJelly >= 2.0 has no CuPy kernels: it picks its own CUDA/Triton LIF kernel
    from the device (what both backends run), read from ``SJ_LIF_CUDA_IMPLEMENTATION`` at import, so
    the plain-torch kernel is measured in a subprocess with ``SJ_LIF_CUDA_IMPLEMENTATION=torch``."""
    layer, units = cfg.layers[-1], list(range(cfg.units))
    old_api = lif_takes_backend()
    if bench.device.type != "cuda" or (old_api and importlib.util.find_spec("cupy") is None):
        row = Row("backend", DEFAULT_METHOD, layer, "cupy vs torch", cfg.units, budget,
                  note="skipped: no cupy/CUDA")
        rows.append(row)
        print_row(row)
        return
    if old_api:
        kinds = [("torch", "backend='torch'"), ("cupy", "backend='cupy' (CuPy kernels)")]
    else:
        chosen = os.environ.get("SJ_LIF_CUDA_IMPLEMENTATION", "auto")
        kinds = [("torch", "SJ_LIF_CUDA_IMPLEMENTATION=torch (subprocess)"),
                 ("fused", (f"SJ_LIF_CUDA_IMPLEMENTATION={chosen} (spikingjelly's own kernel; backend='cupy' "
                            "runs the same)"))]
    measured = {}
    for kind, setting in kinds:
        row = Row("backend", DEFAULT_METHOD, layer, setting, cfg.units, budget)
        try:
            if kind == "torch" and not old_api:
                row.note = bench.guard.refuses(args.backend_estimate)
                if not row.note:
                    found = _backend_subprocess(args, bench, budget)
            else:
                network = bench.network if kind != "cupy" else make_network("cupy")
                estimate = bench.estimate(layer, units, DEFAULT_METHOD, budget, network=network, backend=kind,
                                          side=True)
                row.note = bench.guard.refuses(estimate)
                if not row.note:
                    found = bench.search(layer, units, DEFAULT_METHOD, budget, network=network)
                    row.note = f"estimated {estimate:.1f} s"
            if not row.note.startswith("skipped"):
                measured[kind] = found
                row.seconds, row.peak_gpu_mib = found.seconds, found.peak_mib
                row.stimuli_per_s = cfg.units * budget / found.seconds
                if kind != "torch" and "torch" in measured:
                    row.ratio = measured["torch"].seconds / found.seconds
                    same = int((found.meis.index == measured["torch"].meis.index).all(1).sum())
                    row.note = f"ratio = speed-up over torch; same MEI for {same}/{cfg.units} units; " + row.note
        except Exception as error:  # noqa: BLE001 - a broken kernel install is a finding, not a crash
            row.note = f"failed: {type(error).__name__}: {error}"[:300]
        rows.append(row)
        print_row(row)


@dataclass
class _Run:  # the first run of a LayerMEIs, as far as the rows need it
    index: torch.Tensor


def _backend_subprocess(args, bench: Bench, budget: int) -> Measured:
    """The backend row's search in a fresh process with ``SJ_LIF_CUDA_IMPLEMENTATION=torch``."""
    folder = Path(tempfile.mkdtemp(prefix="gpu_sweep_backend_"))
    target = folder / "backend-torch.pt"
    command = [sys.executable, str(Path(__file__).resolve()), "--backend-worker", str(target), str(budget),
               "--device", str(bench.device), "--batch-limit", str(args.batch_limit)]
    command += ["--smoke"] * args.smoke + (["--checkpoint", args.checkpoint] if args.checkpoint else [])
    env = dict(os.environ, SJ_LIF_CUDA_IMPLEMENTATION="torch")
    try:
        done = subprocess.run(command, check=False, env=env, capture_output=True, text=True,
                              timeout=max(bench.guard.limit - bench.guard.elapsed(), 30))
        if done.returncode != 0:
            raise RuntimeError(f"subprocess exited {done.returncode}: {done.stderr[-300:]}")
        found = torch.load(target, weights_only=False)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return Measured(found["seconds"], found["peak_mib"], _Run(found["index"]))


def backend_worker(args, cfg: Config) -> None:
    """The backend row's warm-up and search, in this process's LIF kernel; saves seconds, peak, MEIs."""
    target, budget = args.backend_worker[0], int(args.backend_worker[1])
    device = torch.device(args.device)
    bench = Bench(build_network(args, cfg, "torch", device), build_space(cfg), device, args.batch_limit,
                  Guard(args.time_limit), cfg.warmup, cfg.side_warmup)
    layer, units = cfg.layers[-1], list(range(cfg.units))
    bench.cost(layer, units, DEFAULT_METHOD, side=True)  # warm-up
    found = bench.search(layer, units, DEFAULT_METHOD, budget)
    torch.save({"seconds": found.seconds, "peak_mib": found.peak_mib, "index": found.meis.index}, target)


def precision_rows(bench: Bench, cfg: Config, budget: int, rows: list[Row]) -> None:
    """Row 3: the float32 vs the float64 path, both layers, the default searcher."""
    units = list(range(cfg.units))
    for layer in cfg.layers:
        measured = {}
        for precision in ("float32", "float64"):
            row = Row("precision", DEFAULT_METHOD, layer, precision, cfg.units, budget)
            estimate = bench.estimate(layer, units, DEFAULT_METHOD, budget, precision, side=True)
            row.note = bench.guard.refuses(estimate)
            if not row.note:
                measured[precision] = found = bench.search(layer, units, DEFAULT_METHOD, budget, precision)
                row.seconds, row.peak_gpu_mib = found.seconds, found.peak_mib
                row.stimuli_per_s = cfg.units * budget / found.seconds
                row.note = f"estimated {estimate:.1f} s"
                if precision == "float64" and "float32" in measured:
                    row.ratio = found.seconds / measured["float32"].seconds
                    same = int((found.meis.index == measured["float32"].meis.index).all(1).sum())
                    row.note = (f"ratio = float64 time / float32 time; same MEI as float32 for "
                                f"{same}/{cfg.units} units; " + row.note)
            rows.append(row)
            print_row(row)


def extrapolation_row(cfg: Config, rates: dict, rows: list[Row]) -> None:
    """Row 4: the paper's sweep per searched epoch from the default searcher's batched throughput."""
    measured = [rates[(DEFAULT_METHOD, layer)] for layer in cfg.layers if (DEFAULT_METHOD, layer) in rates]
    stimuli = PAPER_LAYERS * PAPER_UNITS * PAPER_RUNS * PAPER_QUERIES
    row = Row("extrapolation", DEFAULT_METHOD, " + ".join(cfg.layers), "paper sweep per searched epoch",
              PAPER_LAYERS * PAPER_UNITS, PAPER_QUERIES)
    if not measured:
        row.note = "skipped: no batched row of the default searcher was measured"
    else:
        seconds_per_stimulus = sum(1 / rate for rate in measured) / len(measured)
        row.seconds = stimuli * seconds_per_stimulus
        row.stimuli_per_s = 1 / seconds_per_stimulus
        row.note = (f"seconds = {PAPER_LAYERS} layers x {PAPER_UNITS} units x {PAPER_RUNS} runs x {PAPER_QUERIES} "
                    f"queries / stimuli_per_s = {row.seconds / 3600:.2f} h; stimuli_per_s = harmonic mean of the "
                    f"measured layers' batched rates (each = units x queries per unit / seconds); searcher "
                    f"cost growing with 10^4-query histories is not in it")
    rows.append(row)
    print_row(row)


def ddp_row(args, cfg: Config, guard: Guard, rows: list[Row]) -> None:
    """Row 5: MEISearchCallback on 2 GPUs (DDP) gives the same MEIs as on 1."""
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    row = Row("ddp", DEFAULT_METHOD, cfg.layers[0], "2 processes vs 1", cfg.ddp_units, cfg.ddp_budget)
    if gpus < 2 and not args.ddp_cpu:
        row.note = f"skipped: {gpus} GPU" + ("s" if gpus != 1 else "")
        rows.append(row)
        print_row(row)
        return
    row.note = guard.refuses(args.ddp_estimate)
    if not row.note:
        out = Path(tempfile.mkdtemp(prefix="gpu_sweep_ddp_"))  # the fits' MEI files go there, then away
        started = time.perf_counter()
        results = {}
        try:
            for devices in (1, 2):
                target = out / f"ddp-{devices}.pt"
                command = [sys.executable, str(Path(__file__).resolve()), "--ddp-worker", str(target), str(devices)]
                command += ["--smoke"] * args.smoke + ["--ddp-cpu"] * args.ddp_cpu
                command += ["--checkpoint", args.checkpoint] if args.checkpoint else []
                env = dict(os.environ, MASTER_PORT=str(_free_port()))
                done = subprocess.run(command, check=False, env=env, capture_output=True, text=True,
                                      timeout=max(guard.limit - guard.elapsed(), 30))
                if done.returncode != 0:
                    raise RuntimeError(f"{devices}-process fit exited {done.returncode}: {done.stderr[-300:]}")
                results[devices] = torch.load(target, weights_only=False)
            row.seconds = time.perf_counter() - started
            one, two = results[1], results[2]
            same = sum(int(torch.equal(one["index"][u], two["index"][u])
                           and torch.equal(one["activation"][u], two["activation"][u]))
                       for u in range(len(one["units"])))
            row.ratio = same / len(one["units"])
            verdict = "same MEIs" if same == len(one["units"]) and two["world_size"] == 2 else "DIFFERENT MEIs"
            row.note = (f"{verdict}: index and activation equal for {same}/{len(one['units'])} units "
                        f"(world sizes {one['world_size']} and {two['world_size']}; float64; ratio = fraction equal)")
        except Exception as error:  # noqa: BLE001 - reported in the table
            row.note = f"failed: {type(error).__name__}: {error}"[:300]
        finally:
            shutil.rmtree(out, ignore_errors=True)
    rows.append(row)
    print_row(row)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ddp_worker(args, cfg: Config) -> None:
    """One fit (1 or 2 processes) of an untrained network with the callback; rank 0 saves the MEIs."""
    import lightning.pytorch as pl
    import torch.nn.functional as F
    from torch.utils.data import DataLoader, TensorDataset

    from callbacks import MEISearchCallback
    from mango_pl.models import reset_states

    out, devices = args.ddp_worker[0], int(args.ddp_worker[1])
    torch.set_num_threads(1)
    pl.seed_everything(0)
    network = build_network(args, cfg, "torch", "cpu")
    for module in network.modules():  # lr 0 and frozen BatchNorm statistics: the same weights on 1 or 2 GPUs
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.momentum = 0.0

    class Frozen(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.model = network

        def training_step(self, batch, _):
            images, labels = batch
            loss = F.cross_entropy(self.model(images), labels)
            reset_states(self.model)
            return loss

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.0)

    images = torch.rand(8, cfg.channels, cfg.image_size, cfg.image_size, generator=torch.Generator().manual_seed(0))
    loader = DataLoader(TensorDataset(images, torch.arange(8) % 10), batch_size=4)
    mei = MEISearchCallback(layers=[cfg.layers[0]], units=cfg.ddp_units, methods=[DEFAULT_METHOD], repeats=1,
                            budget=cfg.ddp_budget, space=build_space(cfg), seed=3, precision="float64",
                            save_dir=str(Path(out).parent / f"ddp-meis-{devices}"), progress=False, log_images=False)
    trainer = pl.Trainer(max_epochs=1, accelerator="cpu" if args.ddp_cpu else "gpu", devices=devices,
                         strategy="ddp" if devices > 1 else "auto", logger=False, callbacks=[mei],
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         use_distributed_sampler=False)
    trainer.fit(Frozen(), loader)
    if trainer.is_global_zero:
        run = next(iter(mei.last_results[cfg.layers[0]].meis.runs.values()))
        torch.save({"units": mei.last_results[cfg.layers[0]].meis.units, "world_size": trainer.world_size,
                    "index": run.index, "activation": run.activation}, out)


def build_network(args, cfg: Config, backend: str, device) -> torch.nn.Module:
    """The spiking ResNet18: random weights (seed 0), or ``--checkpoint``'s (rebuilt with ``backend``)."""
    torch.manual_seed(0)
    network = SpikingResNet18(num_classes=10, in_channels=cfg.channels, time_steps=cfg.time_steps,
                              base_width=cfg.base_width, backend=backend)
    if args.checkpoint:
        from mango_pl.models.checkpoint import load_classifier

        trained = load_classifier(args.checkpoint)[0]
        if backend != "torch":
            network = type(trained)(**{**_init_args(trained), "backend": backend})
        else:
            network = trained
        network.load_state_dict(trained.state_dict())
    return network.to(device).eval()


def _init_args(network) -> dict:
    names = ("num_classes", "in_channels", "time_steps", "base_width", "stem", "decay", "stem_once")
    kwargs = {name: getattr(network, name) for name in names if hasattr(network, name)}
    normalize = getattr(network, "normalize", None)  # its mean and std are not in the state dict
    for name in ("mean", "std"):
        if isinstance(getattr(normalize, name, None), torch.Tensor):
            kwargs[name] = getattr(normalize, name).flatten().tolist()
    return kwargs


def build_space(cfg: Config) -> GeneratorSpace:
    """The SN-GAN space, random weights (seed 1): d=128 latents, n=64 grid points on [-4, 4]."""
    torch.manual_seed(1)
    generator = SNGANGenerator(latent_dim=128, channels=cfg.generator_channels, out_channels=cfg.channels,
                               image_size=cfg.image_size, grid_points=64, grid_range=4.0)
    return GeneratorSpace(generator=generator)


def print_row(row: Row) -> None:
    print("| " + " | ".join(row.cells(markdown=True)) + " |", flush=True)


def header_lines(args, cfg: Config, device: torch.device, network) -> list[str]:
    from importlib.metadata import PackageNotFoundError, version

    try:
        spikingjelly = version("spikingjelly")
    except PackageNotFoundError:
        spikingjelly = "?"
    cupy = "not installed"
    if importlib.util.find_spec("cupy") is not None:
        try:
            import cupy

            cupy = cupy.__version__
        except Exception as error:  # noqa: BLE001
            cupy = f"fails to import ({type(error).__name__})"
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else (platform.processor() or "CPU")
    lif = ("backend argument (CuPy kernels with backend='cupy')" if lif_takes_backend() else
           f"kernel chosen from the device, SJ_LIF_CUDA_IMPLEMENTATION="
           f"{os.environ.get('SJ_LIF_CUDA_IMPLEMENTATION', 'auto')}")
    lines = [f"device: {name} ({device}); GPUs visible: {torch.cuda.device_count() if torch.cuda.is_available() else 0}",
             (f"versions: python {platform.python_version()}, torch {torch.__version__}, CUDA {torch.version.cuda}, "
              f"cuDNN {torch.backends.cudnn.version()}, spikingjelly {spikingjelly} (LIF: {lif}), "
              f"cupy {cupy}; cuDNN TF32 {torch.backends.cudnn.allow_tf32}, matmul TF32 "
              f"{torch.backends.cuda.matmul.allow_tf32}, CPU threads {torch.get_num_threads()}")]
    weights = f"trained weights from {args.checkpoint}" if args.checkpoint else "random weights"
    lines.append(f"network: SpikingResNet18 ({weights}), T={network.time_steps}, base width {network.base_width}, "
                 f"{cfg.channels}x{cfg.image_size}x{cfg.image_size} inputs; space: SN-GAN generator (random weights, "
                 f"{cfg.generator_channels} channels), d=128, n=64 on [-4, 4]; batch limit {args.batch_limit}")
    return lines


def parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--budget", default="auto",
                        help="queries per unit of the batched and loop rows, or 'auto' (see above; --smoke: 8)")
    parser.add_argument("--side-budget", type=int, default=None,
                        help="queries per unit of the backend and precision rows (default: budget / 8, at least 16; "
                             "--smoke: the budget)")
    parser.add_argument("--time-limit", type=float, default=450.0, help="seconds; rows that would pass it are skipped")
    parser.add_argument("--batch-limit", type=int, default=256, help="images per forward pass")
    parser.add_argument("--checkpoint", default=None, help="a Lightning checkpoint of a trained SpikingResNet18")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes on the CPU: the same code paths in seconds")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "gpu_sweep"))
    parser.add_argument("--ddp-cpu", action="store_true", help="run the DDP row on 2 CPU processes (gloo)")
    parser.add_argument("--ddp-estimate", type=float, default=120.0, help=argparse.SUPPRESS)
    parser.add_argument("--ddp-worker", nargs=2, metavar=("OUT", "DEVICES"), help=argparse.SUPPRESS)
    parser.add_argument("--backend-estimate", type=float, default=60.0, help=argparse.SUPPRESS)
    parser.add_argument("--backend-worker", nargs=2, metavar=("OUT", "BUDGET"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.smoke:
        args.device = "cpu"
    return args


def main(argv=None) -> None:
    args = parse(argv)
    cfg = SMOKE if args.smoke else Config()
    if args.ddp_worker:
        ddp_worker(args, cfg)
        return
    if args.backend_worker:
        backend_worker(args, cfg)
        return
    guard = Guard(args.time_limit)
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.cuda.init()
    network = build_network(args, cfg, "torch", device)
    space = build_space(cfg)
    bench = Bench(network, space, device, args.batch_limit, guard, cfg.warmup, cfg.side_warmup)
    methods = list(dict.fromkeys([DEFAULT_METHOD, "tt-s"]))
    title = (f"## MEI search on one {'GPU' if device.type == 'cuda' else 'CPU'}: SpikingResNet18 "
             f"({'trained' if args.checkpoint else 'random'} weights) x SN-GAN space (random weights)")
    lines = header_lines(args, cfg, device, network)
    print(title + "\n")
    for line in lines:
        print(f"- {line}", flush=True)

    units = list(range(cfg.units))
    if args.budget == "auto":
        candidates = SMOKE_BUDGETS if args.smoke else AUTO_BUDGETS
        for layer in cfg.layers:  # warm up and measure every main configuration
            for method in methods:
                bench.cost(layer, units, method)
                bench.cost(layer, [0], method)
        budget = candidates[-1]
        left = MAIN_SHARE * (args.time_limit - guard.elapsed())
        for candidate in candidates:
            total = sum(bench.estimate(layer, units, method, candidate)
                        + cfg.loop_units * bench.estimate(layer, [0], method, candidate)
                        for layer in cfg.layers for method in methods)
            if total <= left:
                budget = candidate
                break
        why = (f"auto: the largest of {list(candidates)} whose batched and loop rows are estimated to fit in "
               f"{left:.0f} s ({MAIN_SHARE:g} of the time left after {guard.elapsed():.0f} s of warm-up)")
    else:
        budget, why = int(args.budget), "--budget"
    side = args.side_budget or (budget if args.smoke else max(budget // 8, 16))
    more = [(f"budget: {budget} queries per unit ({why}); backend and precision rows: {side}; "
             f"loop: {cfg.loop_units} units timed, scaled to {cfg.units}; time limit {args.time_limit:.0f} s"),
            ("stimuli/s = units x queries per unit / seconds (one stimulus = one image scored for one unit); "
             "peak GPU MiB = torch.cuda.max_memory_allocated, reset per row ('-' on CPU); 'estimated' = the "
             "guard's estimate of the row from its warm-up searches")]
    for line in more:
        print(f"- {line}")
    lines += more
    print("\n| " + " | ".join(COLUMNS) + " |\n|" + "---|" * len(COLUMNS), flush=True)

    rows: list[Row] = []
    rates: dict = {}
    main_rows(bench, cfg, methods, budget, rows, rates)
    backend_rows(args, bench, cfg, side, rows, lambda backend: build_network(args, cfg, backend, device))
    precision_rows(bench, cfg, side, rows)
    extrapolation_row(cfg, rates, rows)
    ddp_row(args, cfg, guard, rows)
    print(f"\ntotal {guard.elapsed():.0f} s")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    table += ["| " + " | ".join(row.cells(markdown=True)) + " |" for row in rows]
    text = "\n".join([title, ""] + [f"- {line}" for line in lines] + ["", *table, "",
                                                                       f"total {guard.elapsed():.0f} s", ""])
    _write(out / "gpu_sweep.md", text)
    with open(out / "gpu_sweep.csv.tmp", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(row.cells(markdown=False) for row in rows)
    os.replace(out / "gpu_sweep.csv.tmp", out / "gpu_sweep.csv")
    print(f"written: {out / 'gpu_sweep.md'}, {out / 'gpu_sweep.csv'}")


def _write(path: Path, text: str) -> None:
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


if __name__ == "__main__":
    main()
