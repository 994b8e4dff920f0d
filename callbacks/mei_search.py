"""MEISearchCallback: most exciting images of whole layers, searched during training."""

from __future__ import annotations

import math
import time
import zlib
from pathlib import Path
from typing import Any, Mapping, Sequence

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from torch import Tensor, nn

from callbacks._isolation import atomic_save, eval_mode, isolated_rng
from callbacks._mei_logging import caption_lines, flush, log_histogram, log_image, log_scalars
from callbacks._natural_images import natural_images
from mango_pl.analysis import (
    SelectivityThresholds,
    class_entropy,
    compression_ratios,
    latent_diversity,
    mei_grid,
    selectivity,
    specialization_fractions,
    update_first_strong,
)
from mango_pl.models import reset_states
from mango_pl.probe import LayerObjective, natural_warm_start, resolve_layer
from mango_pl.search import DEFAULT_METHOD, maximize, shared_methods, start_methods
from mango_pl.search.checks import check_method

#: the methods searched unless told otherwise; run ``DEFAULT_REPEATS`` times from independent
#: seeds, so the paper's stability criterion (the same MEI class across searches) keeps its meaning
DEFAULT_METHODS = (DEFAULT_METHOD,)
DEFAULT_REPEATS = 3
#: start points per unit of a natural-image warm start
WARM_STARTS = 3


class MEISearchCallback(Callback):
    r"""Find the most exciting images (MEIs) of the units of chosen layers at chosen epochs.

    At the end of each chosen training epoch (after that epoch's validation), the callback puts
    the network in eval mode under ``no_grad``, searches the stimulus space's discrete grid for
    the image that makes each unit spike most — all units of a layer batched into one search per
    method — analyses the MEIs (class-probability entropy, selectivity, compression complexity,
    latent diversity, stable/labile tracking over epochs), logs them through ``trainer.loggers``
    (TensorBoard and W&B: an MEI grid per layer and method, ``mei/<layer>/...`` scalars and an
    entropy histogram), writes them to disk, and gives the model back exactly as it was: same
    train/eval modes, reset SNN state, and every global RNG restored, so the training's result
    does not change.

    Under DDP the units of a layer are split across ranks, every rank searches its share, and the
    results are gathered on every rank (rank 0 logs and writes them).

    Args:
        layers: dotted names of the layers to probe, as ``named_modules()`` of the network gives
            them (e.g. ``["sn1", "layer1.0.sn1", "layer4.1.sn2"]``).
        space: the stimulus space searched (e.g. :class:`mango_pl.stimuli.GeneratorSpace`).
        units: how many units (channels) per layer, counted from 0; or a list of channel indices;
            or a mapping ``layer -> count or list``.
        epochs: the (0-based) epochs at whose end to search. Default: every epoch, or see
            ``every_n_epochs``.
        every_n_epochs: search at the end of every n-th epoch (epochs n-1, 2n-1, ...).
        methods: search methods (``mango_pl.search.available_methods()``); default
            ``mango_pl.search.DEFAULT_METHOD`` (``elite``). ``[tt, tt-s, tt-b]`` reproduces the paper.
        repeats: independent searches per method (each unit seeded anew); the runs are logged as
            ``<method>#1``, ``<method>#2``, ... and the stability criterion compares their MEI
            classes like those of different methods. Default: 3 with one method, else 1.
        budget: queries (images shown) per unit and method; with ``shared=True``, stimuli shown to
            the whole layer per method and run.
        shared: population mode: every stimulus is scored on every unit of the layer and every
            unit's search learns from it (methods in ``mango_pl.search.shared_methods()``); under
            DDP each layer is searched whole by one rank.
        warm_start: show this many natural images (the first validation images) first, counted
            in the budget, and start each unit's search from its 3 best, encoded into the grid
            (methods in ``mango_pl.search.start_methods()``; a space that can ``encode``); 0: off.
        method_options: extra options per method, e.g. ``{"tt": {"r": 7}}``.
        activation_threshold: a unit is *strong* when its MEI activation reaches this.
        confidence_threshold: an MEI is *confident* when its top class probability reaches this.
        batch_limit: most images decoded or probed in one forward pass (bounds memory).
        seed: base seed; each unit's search is seeded from (seed, epoch, layer, unit).
        save_dir: where the ``meis/`` folder goes; default the logger's run directory.
        network_attr: attribute of the LightningModule holding the network whose layers are named
            (default: ``model`` when the module has one, else the LightningModule itself).
        center_only: read only the centre spatial position of each unit.
        precision: ``"float64"``, ``"float32"`` or ``"auto"`` (float64 on CPU, where float32
            convolutions vary with batch size enough to flip spikes; float32 on GPU).
        log_images: log MEI image grids.
        progress: show a progress bar of units × methods × queries.

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
        space: Any,
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
    ) -> None:
        super().__init__()
        if isinstance(layers, str) or not layers:
            raise ValueError(f"`layers` must be a non-empty list of layer names, got {layers!r}")
        self.layers = list(layers)
        if len(set(self.layers)) != len(self.layers):
            raise ValueError(f"`layers` lists a layer twice: {self.layers}")
        self.space = space
        self.units = units
        if isinstance(budget, bool) or not isinstance(budget, int) or budget <= 0:
            raise ValueError(f"`budget` must be a positive number of queries per unit, got {budget!r}")
        self.budget = budget
        self.methods = [methods] if isinstance(methods, str) else list(methods)
        if not self.methods:
            raise ValueError("`methods` is empty: give at least one, e.g. ['tt', 'tt-s', 'tt-b']")
        if repeats is None:
            repeats = DEFAULT_REPEATS if len(self.methods) == 1 else 1
        if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
            raise ValueError(f"`repeats` must be a positive int (independent searches per method), got {repeats!r}")
        self.repeats = repeats
        self.shared = bool(shared)
        if self.shared:
            unsupported = [m for m in self.methods if m not in shared_methods()]
            if unsupported:
                raise ValueError(f"`shared=True` needs methods with a population mode, not {unsupported}; "
                                 f"methods with one: {shared_methods()}")
        if isinstance(warm_start, bool) or not isinstance(warm_start, int) or warm_start < 0:
            raise ValueError(f"`warm_start` must be a number of natural images >= 0, got {warm_start!r}")
        if warm_start >= budget:
            raise ValueError(f"`warm_start={warm_start}` natural images leave nothing of `budget={budget}` for the "
                             f"search; use fewer images or a larger budget")
        if warm_start:
            unsupported = [m for m in self.methods if m not in start_methods()]
            if unsupported:
                raise ValueError(f"`warm_start` needs methods that take start points, not {unsupported}; "
                                 f"methods that do: {start_methods()}")
        self.warm_start = warm_start
        self._natural: Tensor | None = None
        self.method_options = {m: dict(o) for m, o in (method_options or {}).items()}
        unknown = sorted(set(self.method_options) - set(self.methods))
        if unknown:
            raise ValueError(f"`method_options` names methods that are not searched: {unknown}; methods: {self.methods}")
        with isolated_rng():  # building a Nevergrad optimizer draws from the global NumPy RNG
            for method in self.methods:
                check_method(method, **self.method_options.get(method, {}))
        if epochs is not None and every_n_epochs is not None:
            raise ValueError("give either `epochs` or `every_n_epochs`, not both")
        if every_n_epochs is not None and every_n_epochs < 1:
            raise ValueError(f"`every_n_epochs` must be ≥ 1, got {every_n_epochs}")
        if epochs is not None and any(int(e) < 0 for e in epochs):
            raise ValueError(f"`epochs` are 0-based epoch numbers ≥ 0, got {list(epochs)}")
        self.epochs = None if epochs is None else sorted({int(e) for e in epochs})
        self.every_n_epochs = every_n_epochs
        self.thresholds = SelectivityThresholds(activation=activation_threshold, confidence=confidence_threshold)
        if batch_limit < 1:
            raise ValueError(f"`batch_limit` must be ≥ 1 image, got {batch_limit}")
        self.batch_limit = batch_limit
        self.seed = int(seed)
        self.save_dir = save_dir
        self.network_attr = network_attr
        self.center_only = center_only
        if precision not in ("auto", "float32", "float64"):
            raise ValueError(f"`precision` must be 'auto', 'float32' or 'float64', got {precision!r}")
        self.precision = precision
        self.log_images = log_images
        self.progress = progress
        # what survives a resume (see state_dict)
        self.searched_epochs: list[int] = []
        self.history: dict[str, dict[str, Any]] = {}
        self.nan_reports: list[dict[str, Any]] = []
        self._unit_lists: dict[str, list[int]] = {}
        self.last_results: dict[str, dict[str, Any]] = {}

    # ------------------------------------------------------------------ identity / state
    @property
    def state_key(self) -> str:
        return self._generate_state_key(layers=self.layers, methods=self.methods)

    def state_dict(self) -> dict[str, Any]:
        return {
            "searched_epochs": list(self.searched_epochs),
            "history": {layer: {k: (v.clone() if isinstance(v, Tensor) else v) for k, v in h.items()}
                        for layer, h in self.history.items()},
            "nan_reports": list(self.nan_reports),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.searched_epochs = list(state_dict.get("searched_epochs", []))
        self.history = {layer: dict(h) for layer, h in state_dict.get("history", {}).items()}
        self.nan_reports = list(state_dict.get("nan_reports", []))

    @property
    def runs(self) -> list[tuple[str, str, int]]:
        """``(label, method, repeat)`` of every search of a layer: the label is the method itself
        when each method runs once, else ``<method>#<repeat + 1>``."""
        return [(m if self.repeats == 1 else f"{m}#{r + 1}", m, r) for m in self.methods for r in range(self.repeats)]

    @property
    def labels(self) -> list[str]:
        """The run labels, in order (what ``methods`` holds in results, logs and files)."""
        return [label for label, _, _ in self.runs]

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

    def unit_list(self, layer: str) -> list[int]:
        spec = self.units[layer] if isinstance(self.units, Mapping) else self.units
        if isinstance(spec, bool):
            raise ValueError(f"`units` for layer {layer!r} must be a count or a list of channels, got {spec!r}")
        if isinstance(spec, int):
            if spec < 1:
                raise ValueError(f"`units` for layer {layer!r} must be ≥ 1, got {spec}")
            return list(range(spec))
        units = [int(u) for u in spec]
        if not units or min(units) < 0 or len(set(units)) != len(units):
            raise ValueError(f"`units` for layer {layer!r} must be distinct channel indices ≥ 0, got {units}")
        return units

    def setup(self, trainer: "pl.Trainer", pl_module: "pl.LightningModule", stage: str) -> None:
        if stage != "fit":
            return
        # the checks build searchers and run a dry probe: some optimizers draw from the global
        # NumPy/Python RNGs when built, which must not shift the training's random stream
        with isolated_rng():
            self._check_setup(trainer, pl_module)

    def _check_setup(self, trainer: "pl.Trainer", pl_module: "pl.LightningModule") -> None:
        if isinstance(self.units, Mapping):
            missing = [layer for layer in self.layers if layer not in self.units]
            if missing:
                raise ValueError(f"`units` mapping has no entry for layers {missing}")
        network = self.network(pl_module)
        grid = self.space.grid
        for method in self.methods:
            check_method(method, d=grid.d, n=grid.n, **self.method_options.get(method, {}))
        for layer in self.layers:
            resolve_layer(network, layer)
            self._unit_lists[layer] = self.unit_list(layer)
        with eval_mode(network), torch.no_grad():
            for layer in self.layers:
                objective = self._objective(network, layer, self._unit_lists[layer], torch.device("cpu"))
                objective.check()  # unit beyond channels, or images the network cannot take
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

    def on_train_epoch_end(self, trainer: "pl.Trainer", pl_module: "pl.LightningModule") -> None:
        if trainer.sanity_checking:
            return
        epoch = trainer.current_epoch
        if not self.is_search_epoch(epoch) or epoch in self.searched_epochs:
            return
        self.search_epoch(trainer, pl_module, epoch)

    # ------------------------------------------------------------------ the search
    def _objective(self, network: nn.Module, layer: str, units: Sequence[int], device: torch.device) -> LayerObjective:
        return LayerObjective(network, layer, units, self.space, batch_limit=self.batch_limit,
                              center_only=self.center_only, precision=self.precision, device=device)

    def unit_seeds(self, epoch: int, layer: str, units: Sequence[int], repeat: int = 0) -> list[int]:
        """Seed of each unit's search: depends on (seed, epoch, layer, unit, repeat) only, never on
        which other units or ranks share the search, so a sharded search equals an unsharded one."""
        layer_key = zlib.crc32(layer.encode())
        extra = [repeat] if repeat else []
        return [int(np.random.SeedSequence([self.seed, epoch, layer_key, u, *extra]).generate_state(1)[0])
                for u in units]

    def search_epoch(self, trainer: "pl.Trainer", pl_module: "pl.LightningModule", epoch: int) -> dict[str, dict]:
        """Search, analyse, log and save every probed layer for ``epoch``; returns the results."""
        network = self.network(pl_module)
        device = pl_module.device
        rank, world = trainer.global_rank, trainer.world_size
        results: dict[str, dict] = {}
        bar = self._progress_bar(trainer, epoch)
        started = time.perf_counter()
        # no global no_grad here: the objective runs without autograd itself, while a searcher
        # may use autograd for its own model (PROTES)
        with isolated_rng(), eval_mode(network):
            self.space.to(device)
            try:
                if self.warm_start and self._natural is None:
                    self._natural = natural_images(trainer, self.warm_start)
                for position, layer in enumerate(self.layers):
                    units = self._unit_lists.get(layer) or self.unit_list(layer)
                    if self.shared:  # population mode: one rank searches the whole layer
                        mine = units if position % world == rank else []
                    else:
                        mine = units[rank::world]
                    local = self._search_layer(network, layer, mine, epoch, device, bar)
                    merged = self._gather(trainer, local, units)
                    results[layer] = self._analyse(layer, epoch, merged)
            finally:
                reset_states(network)
                if bar is not None:
                    bar.close()
        self.searched_epochs.append(epoch)
        seconds = time.perf_counter() - started
        if trainer.is_global_zero:
            for layer, result in results.items():
                self._log_layer(trainer, layer, result, seconds)
                self._save_layer(trainer, layer, epoch, result)
            flush(trainer)
        self.last_results = results
        return results

    def _progress_bar(self, trainer: "pl.Trainer", epoch: int):
        if not (self.progress and trainer.is_global_zero and trainer.progress_bar_callback is not None):
            return None
        from tqdm.auto import tqdm

        if self.shared:
            searches = sum(1 for i in range(len(self.layers)) if i % trainer.world_size == trainer.global_rank)
        else:
            searches = sum(len((self._unit_lists.get(layer) or self.unit_list(layer))[trainer.global_rank::trainer.world_size])
                           for layer in self.layers)
        return tqdm(total=searches * len(self.runs) * self.budget, desc=f"MEI search epoch {epoch}",
                    unit="stimulus" if self.shared else "query", leave=False, dynamic_ncols=True)

    def _search_layer(self, network: nn.Module, layer: str, units: list[int], epoch: int,
                      device: torch.device, bar) -> dict[str, Any]:
        local: dict[str, Any] = {"units": list(units), "methods": {}, "nan_units": []}
        if not units:
            return local
        objective = self._objective(network, layer, units, device)
        nan_units: set[int] = set()

        def cleaned(values: Tensor) -> Tensor:  # [P, K]: NaN reported, scored below any activation
            bad = ~torch.isfinite(values)
            if bad.any():
                nan_units.update(units[p] for p in bad.any(dim=1).nonzero().flatten().tolist())
                values = values.masked_fill(bad, -1.0)  # never chosen as the MEI
            return values

        def safe_objective(index: Tensor) -> Tensor:
            return cleaned(objective(index))

        def safe_shared(index: Tensor) -> Tensor:  # population mode: stimuli [N, d] -> responses [N, P]
            return cleaned(objective.responses(index).T).T

        warm = None
        if self.warm_start:
            warm = natural_warm_start(objective, self._natural.to(device), starts=WARM_STARTS, seed=epoch)
        spent = warm.queries if warm is not None else 0
        for label, method, repeat in self.runs:
            seeds = self.unit_seeds(epoch, layer, units, repeat)
            if bar is not None:
                bar.set_postfix_str(f"{layer} {label} ({len(units)} units)")
            done = [0]

            def progress(queries: int, budget: int, _done=done) -> None:
                if bar is not None:
                    bar.update((queries + spent - _done[0]) * (1 if self.shared else len(units)))
                    _done[0] = queries + spent

            result = maximize(safe_shared if self.shared else safe_objective, method, self.space.grid.d,
                              self.space.grid.n, self.budget - spent, problems=len(units), seed=seeds,
                              device=device, progress=progress, shared=self.shared,
                              start=None if warm is None else warm.start,
                              **self.method_options.get(method, {}))
            history = result.history.cpu()
            if warm is not None:  # the natural images were the first queries
                history = torch.cat([warm.responses.T.to(history.dtype), history], 1)
            final = objective.evaluate(result.best_index)
            images = (final["images"].clamp(0, 1) * 255).round().to(torch.uint8)
            local["methods"][label] = {
                "index": result.best_index.cpu(),
                "search_value": result.best_value.cpu().float(),
                "history": history.float(),
                "activation": final["activation"].cpu().float(),
                "probs": final["probs"].cpu().float(),
                "latents": final["latents"].cpu().float(),
                "images": images.cpu(),
                "objective_seconds": result.objective_seconds,
                "optimizer_seconds": result.optimizer_seconds,
            }
        local["nan_units"] = sorted(nan_units)
        return local

    def _gather(self, trainer: "pl.Trainer", local: dict[str, Any], units: list[int]) -> dict[str, Any]:
        """All ranks' shares, merged in the layer's unit order, on every rank (same collectives on
        every rank, whatever its share, so nothing waits forever)."""
        if trainer.world_size > 1 and torch.distributed.is_available() and torch.distributed.is_initialized():
            shares: list[Any] = [None] * trainer.world_size
            torch.distributed.all_gather_object(shares, local)
        else:
            shares = [local]
        shares = [s for s in shares if s["units"]]
        order = [u for s in shares for u in s["units"]]
        position = torch.tensor([order.index(u) for u in units])
        merged: dict[str, Any] = {"units": units, "methods": {},
                                  "nan_units": sorted({u for s in shares for u in s["nan_units"]})}
        for label in self.labels:
            parts = [s["methods"][label] for s in shares]
            merged["methods"][label] = {
                key: torch.cat([p[key] for p in parts])[position] if isinstance(parts[0][key], Tensor)
                else sum(p[key] for p in parts)
                for key in parts[0]
            }
        return merged

    # ------------------------------------------------------------------ analysis
    def _analyse(self, layer: str, epoch: int, merged: dict[str, Any]) -> dict[str, Any]:
        per = merged["methods"]
        activation = torch.stack([per[m]["activation"] for m in self.labels])  # [M, U] (M: runs)
        probs = torch.stack([per[m]["probs"] for m in self.labels])  # [M, U, C]
        latents = torch.stack([per[m]["latents"] for m in self.labels])  # [M, U, D]
        # a network that produced NaN for an MEI is reported (nan_units); the analysis sees
        # activation 0 and uniform class probabilities for it instead of failing
        bad_activation = ~torch.isfinite(activation)
        bad_probs = ~torch.isfinite(probs).all(-1)
        activation = activation.masked_fill(bad_activation, 0.0)
        probs = torch.where(bad_probs.unsqueeze(-1), torch.full_like(probs, 1.0 / probs.shape[-1]), probs)
        nan_units = set(merged["nan_units"]) | {merged["units"][u] for u in
                                                 (bad_activation | bad_probs).any(0).nonzero().flatten().tolist()}
        merged["nan_units"] = sorted(nan_units)
        entropy = class_entropy(probs)  # [M, U]
        report = selectivity(activation, probs, self.thresholds)
        jpeg, deflate = zip(*(compression_ratios(per[m]["images"]) for m in self.labels))
        jpeg, deflate = torch.stack(list(jpeg)), torch.stack(list(deflate))
        euclidean, cosine = latent_diversity(latents)

        units = merged["units"]
        history = self.history.setdefault(layer, {"units": list(units), "epochs": [], "classes": [],
                                                  "method_classes": [], "first_strong": None})
        if history["units"] != list(units):
            raise ValueError(f"MEISearchCallback: layer {layer!r} was tracked for units {history['units']} "
                             f"but is now searched for {list(units)}; keep `units` the same across a resume")
        selective_class = torch.where(report.selective, report.top_class, torch.full_like(report.top_class, -1))
        history["epochs"].append(epoch)
        history["classes"].append(selective_class.clone())
        history["method_classes"].append(probs.argmax(-1).clone())  # [M, U]: each method's MEI class
        first = history["first_strong"]
        if first is None:
            first = torch.full((len(units),), -1, dtype=torch.long)
        history["first_strong"] = update_first_strong(first, activation.max(0).values, epoch,
                                                      self.thresholds.activation)
        tracking = specialization_fractions(torch.stack(history["classes"]))

        if merged["nan_units"]:
            report_line = {"epoch": epoch, "layer": layer, "units": merged["nan_units"]}
            self.nan_reports.append(report_line)
            rank_zero_warn(f"MEISearchCallback: NaN activation in layer {layer!r}, units {merged['nan_units']}, "
                           f"at epoch {epoch}; those queries were scored -1 and the training goes on")
        return {
            "epoch": epoch,
            "layer": layer,
            "units": units,
            "methods": self.labels,
            "per_method": per,
            "activation": activation,
            "probs": probs,
            "entropy": entropy,
            "selective": report.selective,
            "strong": report.strong,
            "top_class": report.top_class,
            "strong_fraction": float(report.strong_fraction),
            "selective_fraction": float(report.selective_fraction),
            "jpeg_ratio": jpeg,
            "zip_ratio": deflate,
            "diversity_euclidean": euclidean,
            "diversity_cosine": cosine,
            "first_strong_epoch": history["first_strong"].clone(),
            "stable_fraction": float(tracking["stable"]),
            "labile_fraction": float(tracking["labile"]),
            "non_specialized_fraction": float(tracking["non_specialized"]),
            "nan_units": merged["nan_units"],
        }

    # ------------------------------------------------------------------ output
    def scalars(self, layer: str, result: dict[str, Any]) -> dict[str, float]:
        """The ``mei/<layer>/...`` scalars logged for one layer's result."""
        prefix = f"mei/{layer}"
        scalars = {
            f"{prefix}/mean_activation": result["activation"].mean().item(),
            f"{prefix}/max_activation": result["activation"].max(0).values.mean().item(),
            f"{prefix}/strong_fraction": result["strong_fraction"],
            f"{prefix}/selective_fraction": result["selective_fraction"],
            f"{prefix}/mean_entropy": result["entropy"].mean().item(),
            f"{prefix}/jpeg_ratio": result["jpeg_ratio"].mean().item(),
            f"{prefix}/zip_ratio": result["zip_ratio"].mean().item(),
            f"{prefix}/diversity_euclidean": result["diversity_euclidean"].mean().item(),
            f"{prefix}/diversity_cosine": result["diversity_cosine"].mean().item(),
            f"{prefix}/stable_fraction": result["stable_fraction"],
            f"{prefix}/labile_fraction": result["labile_fraction"],
            f"{prefix}/non_specialized_fraction": result["non_specialized_fraction"],
        }
        for i, method in enumerate(result["methods"]):
            scalars[f"{prefix}/{method}/mean_activation"] = result["activation"][i].mean().item()
        return {k: (v if math.isfinite(v) else float("nan")) for k, v in scalars.items()}

    def _log_layer(self, trainer: "pl.Trainer", layer: str, result: dict[str, Any], seconds: float) -> None:
        step = trainer.global_step
        log_scalars(trainer, self.scalars(layer, result), step)
        log_histogram(trainer, f"mei/{layer}/entropy", result["entropy"].flatten(), step)
        if not self.log_images:
            return
        for i, method in enumerate(result["methods"]):
            probs = result["probs"][i]
            confidence, top = probs.max(-1)
            captions = caption_lines(result["units"], result["activation"][i], top, confidence)
            images = result["per_method"][method]["images"].float() / 255
            grid = mei_grid(images, captions)
            log_image(trainer, f"mei/{layer}/{method}", grid,
                      f"epoch {result['epoch']}, layer {layer}, method {method}: " + "; ".join(captions), step)

    def meis_dir(self, trainer: "pl.Trainer") -> Path:
        if self.save_dir is not None:
            return Path(self.save_dir) / "meis"
        logger = trainer.logger
        if logger is not None and getattr(logger, "log_dir", None):
            return Path(logger.log_dir) / "meis"
        return Path(trainer.default_root_dir) / "meis"

    def _save_layer(self, trainer: "pl.Trainer", layer: str, epoch: int, result: dict[str, Any]) -> Path:
        record = {
            "epoch": epoch,
            "layer": layer,
            "units": result["units"],
            "methods": result["methods"],
            "budget": self.budget,
            "search": {"methods": list(self.methods), "repeats": self.repeats, "shared": self.shared,
                       "warm_start": self.warm_start},
            "grid": {"d": self.space.grid.d, "n": self.space.grid.n},
            "meis": {m: {k: v for k, v in result["per_method"][m].items()} for m in result["methods"]},
            "analysis": {k: result[k] for k in (
                "entropy", "selective", "strong", "top_class", "strong_fraction", "selective_fraction",
                "jpeg_ratio", "zip_ratio", "diversity_euclidean", "diversity_cosine", "first_strong_epoch",
                "stable_fraction", "labile_fraction", "non_specialized_fraction", "nan_units")},
        }
        path = self.meis_dir(trainer) / f"epoch={epoch:04d}" / f"{layer}.pt"
        return atomic_save(record, path)

    def on_fit_end(self, trainer: "pl.Trainer", pl_module: "pl.LightningModule") -> None:
        if self.searched_epochs and trainer.is_global_zero:
            message = f"MEISearchCallback: MEIs of epochs {self.searched_epochs} are in {self.meis_dir(trainer)}"
            for logger in trainer.loggers:
                if isinstance(logger, TensorBoardLogger):
                    message += (f"\nSee them in TensorBoard: tensorboard --logdir {logger.save_dir}"
                                f"  (then open http://localhost:6006: IMAGES and SCALARS tabs)")
            rank_zero_info(message)
