"""MEISearchCallback: most exciting images of whole layers, searched during training.

Hooks, DDP sharding and logging only: the search, analysis, tracking and file format are the MEI
engine's (:mod:`mango_pl.mei`), shared with ``mango-pl search``.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Mapping, Sequence

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from torch import nn

from callbacks._isolation import isolated_rng
from callbacks._natural_images import validation_images
from mango_pl.analysis import SelectivityThresholds
from mango_pl.checks import check_non_negative_int, check_positive_int
from mango_pl.lit.loggers import flush, log_histogram, log_image, log_scalars
from mango_pl.mei import (LayerMEIs, MEIFile, MEIRequest, SearchSettings, SpecializationTracker, analyse, layer_images,
                          layer_scalars, mei_path, merge_shares, save_meis, search_layers)
from mango_pl.models import reset_states
from mango_pl.models.state import eval_mode
from mango_pl.search import DEFAULT_METHOD
from mango_pl.stimuli import StimulusSpace

#: the methods searched unless told otherwise (run 3 times each, see ``repeats``)
DEFAULT_METHODS = (DEFAULT_METHOD,)


class MEISearchCallback(Callback):
    r"""Find the most exciting images (MEIs) of the units of chosen layers at chosen epochs.

    At the end of each chosen training epoch (after that epoch's validation, before a checkpoint of
    that epoch is written), the callback searches the stimulus space's discrete grid for the image
    that makes each unit spike most — all units of a layer batched into one search per run —
    analyses the MEIs (class-probability entropy, selectivity, compression complexity, latent
    diversity, stable/labile tracking over epochs), logs them through ``trainer.loggers``
    (TensorBoard and W&B: an MEI grid per layer and run, ``mei/<layer>/...`` scalars and an entropy
    histogram), writes them to disk, and gives the model back exactly as it was: same train/eval
    modes, reset SNN state, and every global RNG restored, so the training's result does not change.
    The search itself is :func:`mango_pl.mei.search_layers`, the same as ``mango-pl search`` runs on
    saved checkpoints.

    Under DDP the units of a layer are split across ranks (population mode: whole layers), every
    rank searches its share, and the results are gathered on every rank (rank 0 logs and writes).

    Args:
        layers: dotted names of the layers to probe, as ``named_modules()`` of the network gives
            them (e.g. ``["sn1", "layer1.0.sn1", "layer4.1.sn2"]``).
        space: the stimulus space searched (e.g. :class:`mango_pl.stimuli.GeneratorSpace`).
        units: how many units (channels) per layer, counted from 0; or a list of channel indices;
            or a mapping ``layer -> count or list``.
        epochs: the (0-based) epochs at whose end to search. Default: every epoch, or see
            ``every_n_epochs``.
        every_n_epochs: search at the end of every n-th epoch (epochs n-1, 2n-1, ...).
        methods: search methods (``mango_pl.search.available_methods()``, or your own after
            ``mango_pl.search.register_method``); default ``mango_pl.search.DEFAULT_METHOD``
            (``elite``). ``[tt, tt-s, tt-b]`` reproduces the paper.
        repeats: independent searches per method (each unit seeded anew); the runs are logged as
            ``<method>#1``, ``<method>#2``, ... and the stability criterion compares their MEI
            classes like those of different methods. Default: 3 with one method, else 1.
        budget: queries (images shown) per unit and run; with ``shared=True``, stimuli shown to
            the whole layer per run.
        shared: population mode: every stimulus is scored on every unit of the layer and every
            unit's search learns from it (methods in ``mango_pl.search.shared_methods()``).
        warm_start: show this many natural images (the first validation images) first, counted
            in the budget, and start each unit's search from its 3 best, encoded into the grid
            (methods in ``mango_pl.search.start_methods()``; a space that can ``encode``); 0: off.
        method_options: extra options per method, e.g. ``{"tt": {"r": 7}}``.
        activation_threshold: a unit is *strong* when its MEI activation reaches this.
        confidence_threshold: an MEI is *confident* when its top class probability reaches this.
        batch_limit: most images decoded or probed in one forward pass (bounds memory).
        seed: base seed; each unit's search is seeded from (seed, epoch, layer, unit, run).
        save_dir: where the ``meis/`` folder goes; default the logger's run directory (a resumed
            training keeps writing into the folder of the run it resumes).
        network_attr: attribute of the LightningModule holding the network whose layers are named
            (default: ``model`` when the module has one, else the LightningModule itself).
        center_only: read only the centre spatial position of each unit.
        precision: ``"float64"``, ``"float32"`` or ``"auto"`` (float64 on CPU, where float32
            convolutions vary with batch size enough to flip spikes; float32 on GPU).
        log_images: log MEI image grids.
        progress: show a progress bar of the images shown.
        readout: ``"rate"``, or ``"current"`` for spiking layers: the search breaks ties among equal spike
            rates (a saturated unit fires in every slot for many stimuli) by the neurons' input
            current; the logged activation stays the spike rate.
        optima: distinct optima per unit and run (saved and logged as a row of ``optima`` images per
            unit, with their spread ``mei/<layer>/optima_spread``); each further one costs
            ``optima_budget`` more queries per unit.
        optima_distance: least latent distance between a unit's optima (default: half the median
            distance between two random stimuli of the space).
        optima_budget: queries per unit for each further optimum (default: ``budget``).
        ablation_samples: silence each probed unit in turn and measure the accuracy (and per-class
            accuracy) it costs on this many validation images (logged under ``mei/<layer>/importance``,
            saved with the MEIs, correlated with the MEI properties); 0: off.
        report: at the end of the fit, draw the paper's figures of this run's MEI files into
            ``<meis folder>/../report`` (``mango-pl report``, replacing an earlier report there).

    Raises:
        ValueError: at construction for an empty layer list, a budget ≤ 0, an unknown method,
            bad epochs; at ``setup`` (before any training step) for an unknown layer (the valid
            ones are listed), a unit index beyond the layer's channels, a grid the method cannot
            search (e.g. QTT with n not a power of two), or a stimulus space whose images the
            network cannot take.

    Example::

        from callbacks import MEISearchCallback
        from mango_pl.stimuli import GeneratorSpace

        mei = MEISearchCallback(layers=["sn1", "layer2.0.sn1"], units=16, budget=500,
                                space=GeneratorSpace(checkpoint="mango_pl/assets/digits_sngan.pt"))
        trainer = pl.Trainer(max_epochs=5, callbacks=[mei])
    """

    def __init__(
        self,
        layers: Sequence[str],
        space: StimulusSpace,
        units: int | Sequence[int] | Mapping[str, int | Sequence[int]] = 16,
        epochs: Sequence[int] | None = None,
        every_n_epochs: int | None = None,
        methods: Sequence[str] = DEFAULT_METHODS,
        repeats: int | None = None,
        budget: int = 2000,
        shared: bool = False,
        warm_start: int = 0,
        method_options: Mapping[str, Mapping[str, Any]] | None = None,
        activation_threshold: float = 0.75,
        confidence_threshold: float = 0.75,
        batch_limit: int = 256,
        seed: int = 0,
        save_dir: str | None = None,
        network_attr: str | None = None,
        center_only: bool = False,
        precision: str = "auto",
        log_images: bool = True,
        progress: bool = True,
        report: bool = False,
        readout: str = "rate",
        optima: int = 1,
        optima_distance: float | None = None,
        optima_budget: int | None = None,
        ablation_samples: int = 0,
    ) -> None:
        super().__init__()
        with isolated_rng():  # building a Nevergrad optimizer draws from the global NumPy RNG
            self.request = MEIRequest.from_options(
                layers, space, units, methods=methods, repeats=repeats, budget=budget, shared=bool(shared),
                warm_start=warm_start, seed=int(seed), method_options=method_options or {}, readout=readout,
                optima=optima, optima_distance=optima_distance, optima_budget=optima_budget, batch_limit=batch_limit,
                center_only=center_only, precision=precision, activation_threshold=activation_threshold,
                confidence_threshold=confidence_threshold, ablation_samples=ablation_samples)
        if epochs is not None and every_n_epochs is not None:
            raise ValueError("give either `epochs` or `every_n_epochs`, not both")
        self.every_n_epochs = check_positive_int("`every_n_epochs`", every_n_epochs, optional=True)
        self.epochs = None if epochs is None else sorted(
            {check_non_negative_int("`epochs`", e, hint="0-based epoch numbers") for e in epochs})
        self.save_dir = save_dir
        self.network_attr = network_attr
        self.log_images = log_images
        self.progress = progress
        self.report = report
        # what survives a resume (see state_dict)
        self.searched_epochs: list[int] = []
        self.tracker = SpecializationTracker(self.request.thresholds.activation)
        self.nan_reports: list[dict[str, Any]] = []
        self.meis_root: str | None = None  # where this training's MEI files go (kept across a resume)
        self.files: dict[int, dict[str, str]] = {}  # epoch -> layer -> file
        self.last_results: dict[str, MEIFile] = {}

    # ------------------------------------------------------------------ settings, identity, state
    @property
    def layers(self) -> list[str]:
        return list(self.request.layers)

    @property
    def settings(self) -> SearchSettings:
        return self.request.settings

    @property
    def thresholds(self) -> SelectivityThresholds:
        return self.request.thresholds

    @property
    def methods(self) -> list[str]:
        return list(self.settings.methods)

    @property
    def budget(self) -> int:
        return self.settings.budget

    @property
    def labels(self) -> list[str]:
        """The run labels (``elite#1``, ... or the method names), in order."""
        return self.settings.labels

    @property
    def history(self) -> dict[str, dict[str, Any]]:
        """Per layer: the units, searched epochs, selective class per epoch, each run's MEI class per
        epoch and the first strong epoch (the tracker's history)."""
        return self.tracker.history

    @property
    def state_key(self) -> str:
        return self._generate_state_key(layers=self.layers, methods=self.methods)

    def state_dict(self) -> dict[str, Any]:
        return {
            "searched_epochs": list(self.searched_epochs),
            "tracker": self.tracker.state_dict(),
            "nan_reports": list(self.nan_reports),
            "meis_root": self.meis_root,
            "files": {epoch: dict(layers) for epoch, layers in self.files.items()},
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.searched_epochs = list(state_dict.get("searched_epochs", []))
        if "tracker" in state_dict:
            self.tracker.load_state_dict(state_dict["tracker"])
        else:  # a checkpoint of mango-pl 0.1 kept the tracker's history directly
            self.tracker.load_state_dict({"history": state_dict.get("history", {})})
        self.nan_reports = list(state_dict.get("nan_reports", []))
        self.meis_root = state_dict.get("meis_root")
        self.files = {int(e): dict(layers) for e, layers in state_dict.get("files", {}).items()}

    # ------------------------------------------------------------------ setup checks
    def network(self, pl_module: "pl.LightningModule") -> nn.Module:
        """The module whose layers are named: ``network_attr`` of the LightningModule, else its
        ``model`` attribute when that is a module, else the LightningModule itself."""
        if self.network_attr:
            net = getattr(pl_module, self.network_attr, None)
            if not isinstance(net, nn.Module):
                raise ValueError(f"`network_attr={self.network_attr!r}`: {type(pl_module).__name__} has no such submodule")
            return net
        net = getattr(pl_module, "model", None)
        return net if isinstance(net, nn.Module) else pl_module

    def setup(self, trainer: "pl.Trainer", pl_module: "pl.LightningModule", stage: str) -> None:
        if stage != "fit":
            return
        # the checks build searchers and run a dry probe: some optimizers draw from the global
        # NumPy/Python RNGs when built, which must not shift the training's random stream
        with isolated_rng():
            self._check_setup(trainer, pl_module)

    def _check_setup(self, trainer: "pl.Trainer", pl_module: "pl.LightningModule") -> None:
        network = self.network(pl_module)
        with eval_mode(network), torch.no_grad():
            self.request.check(network)  # a float32 dry run: no evaluation copy of the network needed
            reset_states(network)
        max_epochs = trainer.max_epochs
        if self.epochs is not None and max_epochs is not None and max_epochs >= 0:
            late = [e for e in self.epochs if e >= max_epochs]
            if late:
                rank_zero_warn(f"MEISearchCallback: epochs {late} are beyond max_epochs={max_epochs} "
                               f"(epochs count from 0, the last is {max_epochs - 1}); they will never be searched")

    # ------------------------------------------------------------------ when to search
    def is_search_epoch(self, epoch: int) -> bool:
        if self.epochs is not None:
            return epoch in self.epochs
        if self.every_n_epochs is not None:
            return (epoch + 1) % self.every_n_epochs == 0
        return True

    def _due(self, trainer: "pl.Trainer") -> bool:
        epoch = trainer.current_epoch
        return not trainer.sanity_checking and self.is_search_epoch(epoch) and epoch not in self.searched_epochs

    def on_validation_end(self, trainer: "pl.Trainer", pl_module: "pl.LightningModule") -> None:
        # an epoch-end validation runs before ModelCheckpoint writes that epoch's checkpoint (in its own
        # on_validation_end, after ours): searching here puts the epoch's MEIs into that checkpoint
        if trainer.state.fn == "fit" and self._due(trainer) and trainer.fit_loop.epoch_loop.batch_progress.is_last_batch:
            self.search_epoch(trainer, pl_module, trainer.current_epoch)

    def on_train_epoch_end(self, trainer: "pl.Trainer", pl_module: "pl.LightningModule") -> None:
        if self._due(trainer):  # no validation at the end of this epoch
            self.search_epoch(trainer, pl_module, trainer.current_epoch)

    # ------------------------------------------------------------------ the search
    def search_epoch(self, trainer: "pl.Trainer", pl_module: "pl.LightningModule", epoch: int) -> dict[str, MEIFile]:
        """Search, analyse, log and save every probed layer for ``epoch``; returns the results."""
        network = self.network(pl_module)
        shares = self.request.share(trainer.global_rank, trainer.world_size)
        bar = self._progress_bar(trainer, epoch, shares)
        started = time.perf_counter()
        # no global no_grad here: the objective runs without autograd itself, while a searcher may
        # use autograd for its own model (PROTES)
        with isolated_rng():
            try:
                self._attach_images(trainer)
                request = replace(self.request, probe=replace(self.request.probe, device=str(pl_module.device)))
                if trainer.fast_dev_run:  # a smoke test: one search step per run, nothing written
                    request = replace(request, settings=replace(request.settings, max_steps=1))
                shown = None if bar is None else lambda n, what: (bar.update(n), bar.set_postfix_str(what))
                local = search_layers(network, request, epoch, shown, shares)
            finally:
                if bar is not None:
                    bar.close()
        results = {}
        for layer in self.layers:
            merged = self._gather(trainer, local[layer], self.request.units[layer])
            report = analyse(merged, self.thresholds)
            tracking = self.tracker.update(report)
            if report.nan_units:
                self.nan_reports.append({"epoch": epoch, "layer": layer, "units": report.nan_units})
                rank_zero_warn(f"MEISearchCallback: NaN activation in layer {layer!r}, units {report.nan_units}, "
                               f"at epoch {epoch}; those queries were scored -1 and the training goes on")
            results[layer] = MEIFile(merged, report, tracking)
        self.searched_epochs.append(epoch)
        seconds = time.perf_counter() - started
        if trainer.is_global_zero and not trainer.fast_dev_run:
            for layer, result in results.items():
                self._log_layer(trainer, result, seconds)
                result.path = self._save_layer(trainer, result)
            flush(trainer.loggers)
        self.last_results = results
        return results

    def _progress_bar(self, trainer: "pl.Trainer", epoch: int, shares: dict[str, list[int]]):
        if not (self.progress and trainer.is_global_zero and trainer.progress_bar_callback is not None):
            return None
        from tqdm.auto import tqdm

        return tqdm(total=self.request.images(shares), desc=f"MEI search epoch {epoch}", unit="image", leave=False,
                    dynamic_ncols=True)

    def _attach_images(self, trainer: "pl.Trainer") -> None:
        """Read the validation images that the warm start and the ablation need, once."""
        request = self.request
        natural = labelled = None
        if request.settings.warm_start and request.natural_images is None:
            natural = validation_images(trainer, request.settings.warm_start, "warm_start")[0]
        if request.ablation_samples and request.labelled is None:
            images, labels = validation_images(trainer, request.ablation_samples, "ablation_samples")
            if labels is None:
                raise ValueError("MEISearchCallback(ablation_samples=...) needs labelled validation batches "
                                 "(images, labels)")
            labelled = (images, labels)
        if natural is not None or labelled is not None:
            self.request = request.with_images(natural, labelled)

    def _gather(self, trainer: "pl.Trainer", local: LayerMEIs, units: list[int]) -> LayerMEIs:
        """All ranks' shares, merged in the layer's unit order, on every rank (same collectives on
        every rank, whatever its share, so nothing waits forever)."""
        if trainer.world_size > 1 and torch.distributed.is_available() and torch.distributed.is_initialized():
            shares: list[Any] = [None] * trainer.world_size
            torch.distributed.all_gather_object(shares, local)
        else:
            shares = [local]
        return merge_shares(shares, units)

    # ------------------------------------------------------------------ output
    def scalars(self, result: MEIFile) -> dict[str, float]:
        """The ``mei/<layer>/...`` scalars logged for one layer's result."""
        return layer_scalars(result.report, result.tracking)

    def _log_layer(self, trainer: "pl.Trainer", result: MEIFile, seconds: float) -> None:
        step = trainer.global_step
        log_scalars(trainer.loggers, self.scalars(result), step)
        log_histogram(trainer.loggers, f"mei/{result.meis.layer}/entropy", result.report.entropy.flatten(), step)
        if self.log_images:
            for key, grid, caption in layer_images(result.meis, result.report):
                log_image(trainer.loggers, key, grid, step, caption)

    def meis_dir(self, trainer: "pl.Trainer") -> Path:
        """Where this training's MEI files go: fixed at the first search and kept in the callback's
        state, so a resumed training (which logs into a new logger version) adds to the same folder."""
        if self.meis_root is not None:
            return Path(self.meis_root)
        if self.save_dir is not None:
            return Path(self.save_dir) / "meis"
        logger = trainer.logger
        if logger is not None and getattr(logger, "log_dir", None):
            return Path(logger.log_dir) / "meis"
        return Path(trainer.default_root_dir) / "meis"

    def _save_layer(self, trainer: "pl.Trainer", result: MEIFile) -> Path:
        root = self.meis_dir(trainer)
        self.meis_root = str(root)
        path = save_meis(mei_path(root, result.meis.epoch, result.meis.layer), result.meis, result.report,
                         result.tracking)
        self.files.setdefault(result.meis.epoch, {})[result.meis.layer] = str(path)
        return path

    def on_fit_end(self, trainer: "pl.Trainer", pl_module: "pl.LightningModule") -> None:
        if self.searched_epochs and trainer.is_global_zero and self.meis_root is not None:
            epochs = sorted(self.files)
            message = f"MEISearchCallback: MEIs of epochs {epochs} are in {self.meis_root}"
            for logger in trainer.loggers:
                if isinstance(logger, TensorBoardLogger):
                    message += (f"\nSee them in TensorBoard: tensorboard --logdir {logger.save_dir}"
                                f"  (then open http://localhost:6006: IMAGES and SCALARS tabs)")
            rank_zero_info(message)
            if self.report:
                self._write_report()

    def _write_report(self) -> None:
        from mango_pl.report import ReportError, write_report

        run_dir = Path(self.meis_root).parent
        try:
            report = write_report(run_dir, run_dir / "report", overwrite=True)
        except ReportError as error:
            rank_zero_warn(f"MEISearchCallback: no report written: {error}")
            return
        rank_zero_info(f"MEISearchCallback: {len(report.drawn)} figures of this run in {report.index}")
