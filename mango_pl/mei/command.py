"""``mango-pl search``: the MEIs of saved checkpoints (one, or an epoch series), without training.

    mango-pl search --checkpoints 'runs/digits/version_0/checkpoints/epoch=*.ckpt' \\
        --layers '[sn1, layer4.1.sn2]' --units 16 --budget 500 \\
        --space.class_path mango_pl.stimuli.GeneratorSpace \\
        --space.init_args.checkpoint mango_pl/assets/digits_sngan.pt --output runs/search
    mango-pl search --config configs/digits/search.yaml       # the same options in YAML
    tensorboard --logdir runs/search                          # scalars and MEI grids, x-axis: epoch

Writes ``<output>/meis/epoch=E/<layer>.pt`` (the callback's MEI files) and TensorBoard events under
``<output>/tensorboard``. Started again after a kill it redoes only the unfinished layer.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import torch
from lightning.pytorch import LightningDataModule
from torch import nn

from mango_pl.search import DEFAULT_METHOD
from mango_pl.stimuli import StimulusSpace


def search(
    checkpoints: str | list[str],
    layers: list[str],
    space: StimulusSpace,
    output: str = "runs/search",
    units: int | list[int] | dict[str, int | list[int]] = 16,
    methods: list[str] = [DEFAULT_METHOD],  # noqa: B006 (jsonargparse reads the default from here)
    repeats: int | None = None,
    budget: int = 2000,
    shared: bool = False,
    warm_start: int = 0,
    data: LightningDataModule | None = None,
    method_options: dict[str, dict[str, Any]] | None = None,
    seed: int = 0,
    batch_limit: int = 256,
    precision: str = "auto",
    device: str = "cpu",
    center_only: bool = False,
    network_attr: str = "model",
    model: nn.Module | None = None,
    activation_threshold: float = 0.75,
    confidence_threshold: float = 0.75,
    readout: str = "rate",
    optima: int = 1,
    optima_distance: float | None = None,
    optima_budget: int | None = None,
    ablation_samples: int = 0,
    progress: bool = True,
    accelerator: str | None = None,
    devices: int | str | list[int] = 1,
    num_nodes: int = 1,
    strategy: str = "auto",
) -> None:
    """Search the MEIs of saved network states: every checkpoint x layer x method run.

    Args:
        checkpoints: Lightning checkpoints: files, folders (every *.ckpt inside) or globs; the epoch
            is read from each checkpoint, files of one epoch are searched once.
        layers: dotted names of the probed layers (e.g. [sn1, layer4.1.sn2]).
        space: the stimulus space (class_path/init_args), e.g. mango_pl.stimuli.GeneratorSpace with
            init_args.checkpoint.
        output: output folder: meis/epoch=E/<layer>.pt and tensorboard/.
        units: units per layer (a count from 0, a list of channels, or {layer: count or list}).
        methods: search methods (default: the default searcher, run 3 times).
        repeats: independent runs per method (default: 3 with one method, else 1).
        budget: queries per unit and run (shared: stimuli per layer and run).
        shared: population mode: every stimulus scored on every unit of the layer.
        warm_start: natural images shown first (from data's validation set); 0: off.
        data: a LightningDataModule whose validation images the warm start shows.
        method_options: extra options per method, e.g. {tt: {r: 7}}.
        seed: base seed; unit u of run r at epoch E of layer L is seeded from (seed, E, L, u, r), as
            MEISearchCallback does, so a checkpoint's MEIs equal those the callback found at that epoch.
        batch_limit: most images per forward pass.
        precision: auto (float64 on CPU, batch-independent scores), float32 or float64.
        device: where the network and the space compute (cpu, cuda, cuda:1, ...).
        center_only: read only the centre position of each unit.
        network_attr: attribute of the LightningModule that holds the network ("" for the module itself).
        model: the network (class_path/init_args) when the checkpoints do not record it.
        activation_threshold: activation of a strong MEI.
        confidence_threshold: top-class probability of a confident MEI.
        readout: rate, or current (spiking layers): ties among equal spike rates broken by the neurons'
            input current; the logged activation stays the rate.
        optima: distinct optima per unit and run (each further one costs optima_budget queries).
        optima_distance: least latent distance between a unit's optima (default: half the median
            distance between two random stimuli).
        optima_budget: queries per unit for each further optimum (default: budget).
        ablation_samples: silence each unit in turn and measure the accuracy it costs on this many
            labelled validation images of data; 0: off.
        progress: show a progress bar over checkpoints x layers x runs.
        accelerator: search on several processes, as Lightning names it (cpu, cuda, gpu, auto); with
            it, each process takes its device from Lightning Fabric (leave ``device`` out).
        devices: processes per node (an int, auto, or a list of device indices), e.g. 8 GPUs.
        num_nodes: machines (launched by SLURM's srun or by torchrun on each).
        strategy: how processes start and talk, as Lightning names it (auto, ddp, ddp_spawn, ...).
            The units of every layer (population mode: whole layers) are split across the processes,
            each unit keeps its seed, and process 0 writes the same files as one process would.
    """
    from lightning.pytorch.loggers import TensorBoardLogger

    from mango_pl.lit.loggers import flush, log_histogram, log_image, log_scalars
    from mango_pl.mei import MEIRequest, layer_images, layer_scalars
    from mango_pl.mei.parallel import ParallelSettings
    from mango_pl.mei.post_hoc import search_checkpoints
    from mango_pl.models.checkpoint import load_classifier

    request = MEIRequest.from_options(
        layers, space, units, methods=tuple(methods), repeats=repeats, budget=budget, shared=shared,
        warm_start=warm_start, seed=seed, method_options=method_options or {}, readout=readout, optima=optima,
        optima_distance=optima_distance, optima_budget=optima_budget, batch_limit=batch_limit,
        center_only=center_only, precision=precision, device=device, activation_threshold=activation_threshold,
        confidence_threshold=confidence_threshold, ablation_samples=ablation_samples)
    if (warm_start or ablation_samples) and data is None:
        raise ValueError("--warm_start and --ablation_samples take validation images: give --data (a "
                         "LightningDataModule)")
    if warm_start or ablation_samples:
        request = request.with_images(*_validation_images(data, warm_start, ablation_samples))
    parallel = ParallelSettings(accelerator or "auto", devices, num_nodes, strategy)
    if parallel.single and accelerator is None:
        request = replace(request, space=space.to(device))  # decoded where it is searched
    elif device != "cpu":
        raise ValueError(f"--device {device} is for one process; several take their devices from --accelerator "
                         f"and --devices (e.g. --accelerator cuda --devices 8)")

    def load(path):
        return load_classifier(path, network=model, attr=network_attr)

    logger = TensorBoardLogger(save_dir=output, name="tensorboard", version="")
    bar = None

    def advance(images: int, what: str) -> None:  # the bar starts with the first search (after the checks)
        nonlocal bar
        if not progress:
            return
        if bar is None:
            from tqdm.auto import tqdm

            bar = tqdm(unit="image", desc="mango-pl search", dynamic_ncols=True)
        bar.update(images)
        bar.set_postfix_str(what)

    def log(found) -> None:
        step = found.meis.epoch
        log_scalars([logger], layer_scalars(found.report, found.tracking), step)
        log_histogram([logger], f"mei/{found.meis.layer}/entropy", found.report.entropy.flatten(), step)
        for key, grid, caption in layer_images(found.meis, found.report):
            log_image([logger], key, grid, step, caption)
        flush([logger])

    try:
        done = search_checkpoints(checkpoints, request, output, load, advance, log, parallel)
    finally:
        if bar is not None:
            bar.close()
    if done.rank != 0:
        return
    reused = f", {len(done.skipped)} found done and kept" if done.skipped else ""
    print(f"mango-pl search: {len(done.searched)} layer searches written{reused}; MEIs of epochs "
          f"{sorted(done.files)} are in {output}/meis; see them with: tensorboard --logdir {output}")


def _validation_images(data: LightningDataModule, warm_start: int,
                       ablation_samples: int) -> tuple[torch.Tensor | None, tuple[torch.Tensor, torch.Tensor] | None]:
    """The natural images of a warm start and the labelled images of an ablation, from ``data``'s
    validation set."""
    from mango_pl.data.first_images import first_images

    data.prepare_data()
    data.setup("validate")
    natural = labelled = None
    if warm_start:
        natural = first_images(data.val_dataloader(), warm_start, "--warm_start")[0]
    if ablation_samples:
        images, labels = first_images(data.val_dataloader(), ablation_samples, "--ablation_samples")
        if labels is None:
            raise ValueError("--ablation_samples needs labelled validation batches (images, labels) from --data")
        labelled = (images, labels)
    return natural, labelled


def main(argv: Sequence[str]) -> int:
    """``mango-pl search ...``: parse (jsonargparse, with ``--config``) and run; bad input is a one-line
    error (exit code 2) before any search starts."""
    from jsonargparse import CLI

    try:
        CLI(search, args=list(argv), as_positional=False, prog="mango-pl search",
            description="mango-pl search: MEIs of saved checkpoints (one, or an epoch series), without training.")
    except (FileNotFoundError, ValueError, TypeError, NotImplementedError) as error:
        print(f"mango-pl search: error: {error}", file=sys.stderr)
        return 2
    return 0
