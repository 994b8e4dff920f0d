"""Typed results of the MEI engine: what a layer's search found, its analysis, its tracking.

* :class:`SearchSettings` — how a layer is searched (methods, repeats, budget, population mode,
  warm start, seed, method options);
* :class:`RunMEIs` — one run (a method, one of its repeats) over the layer's units;
* :class:`LayerMEIs` — every run of one layer at one epoch (what :func:`search_layer` returns);
* :class:`LayerReport` — the pure analysis of a :class:`LayerMEIs` (:func:`analyse`);
* :class:`Tracking` — a layer's specialization over the epochs searched so far
  (:class:`SpecializationTracker`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import MISSING, dataclass, field, fields
from typing import Any

import torch
from torch import Tensor

from mango_pl.checks import (check_choice, check_non_negative_int, check_positive_int, check_positive_number)
from mango_pl.probe.ablation import UnitImportance
from mango_pl.search import DEFAULT_METHOD

#: repeats per method when one method is searched (so the stability criterion, the same MEI class
#: across searches, keeps its meaning); several methods run once each
DEFAULT_REPEATS = 3


@dataclass(frozen=True)
class SearchSettings:
    """How the units of a layer are searched.

    Attributes:
        methods: search method names (``mango_pl.search.available_methods()``, or registered ones).
        repeats: independent runs per method (``None``: 3 with one method, else 1).
        budget: queries per unit and run (population mode: stimuli per layer and run), natural images
            of a warm start included.
        shared: population mode (every stimulus scored on every unit of the layer).
        warm_start: natural images shown first (0: none).
        seed: base seed; unit ``u`` of run ``r`` at ``epoch`` of ``layer`` is seeded from
            ``(seed, epoch, layer, u, r)`` only (:func:`mango_pl.mei.unit_seeds`).
        method_options: extra options per method, ``{method: {option: value}}``.
        max_steps: stop each run after this many ask/tell steps (a smoke test: ``fast_dev_run``).
        readout: ``"rate"``, or ``"current"``: the search breaks ties among equal spike rates (a
            saturated unit) by the neurons' input current; the logged activation stays the rate.
        optima: distinct optima per unit and run: each further one is searched (``optima_budget``
            queries, default ``budget``) with every stimulus within ``optima_distance`` of the
            optima found before scored as the worst.
        optima_distance: least latent distance between a unit's optima (Euclidean, in the space's
            latents); default: half the median distance between two random stimuli of the space.
        optima_budget: queries per unit for each further optimum (default: ``budget``).

    Raises:
        ValueError: empty or repeated methods, an unknown method or option (the valid ones are
            listed), budget <= 0, repeats < 1, population mode or a warm start with a method that
            cannot do it, a warm start that leaves no budget.
    """

    methods: tuple[str, ...] = (DEFAULT_METHOD,)
    repeats: int | None = None
    budget: int = 2000
    shared: bool = False
    warm_start: int = 0
    seed: int = 0
    method_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    max_steps: int | None = None
    readout: str = "rate"
    optima: int = 1
    optima_distance: float | None = None
    optima_budget: int | None = None

    def __post_init__(self) -> None:
        from mango_pl.search import shared_methods, start_methods
        from mango_pl.search.checks import check_method

        methods = (self.methods,) if isinstance(self.methods, str) else tuple(self.methods)
        object.__setattr__(self, "methods", methods)
        if not methods:
            raise ValueError("`methods` is empty: give at least one, e.g. ['elite'] or ['tt', 'tt-s', 'tt-b']")
        if len(set(methods)) != len(methods):
            raise ValueError(f"`methods` lists a method twice: {list(methods)}; use `repeats` for several runs")
        check_positive_int("`budget`", self.budget, hint="queries per unit and run")
        check_positive_int("`repeats`", self.repeats, hint="independent searches per method", optional=True)
        if self.shared:
            unsupported = [m for m in methods if m not in shared_methods()]
            if unsupported:
                raise ValueError(f"`shared=True` needs methods with a population mode, not {unsupported}; "
                                 f"methods with one: {shared_methods()}")
        check_non_negative_int("`warm_start`", self.warm_start, hint="natural images shown first")
        if self.warm_start >= self.budget:
            raise ValueError(f"`warm_start={self.warm_start}` natural images leave nothing of `budget={self.budget}` "
                             f"for the search; use fewer images or a larger budget")
        if self.warm_start:
            unsupported = [m for m in methods if m not in start_methods()]
            if unsupported:
                raise ValueError(f"`warm_start` needs methods that take start points, not {unsupported}; "
                                 f"methods that do: {start_methods()}")
        options = {m: dict(o) for m, o in dict(self.method_options or {}).items()}
        unknown = sorted(set(options) - set(methods))
        if unknown:
            raise ValueError(f"`method_options` names methods that are not searched: {unknown}; methods: {list(methods)}")
        object.__setattr__(self, "method_options", options)
        check_positive_int("`max_steps`", self.max_steps, hint="ask/tell steps per run", optional=True)
        check_choice("`readout`", self.readout, ("rate", "current"),
                     hint="'current' breaks ties among equal spike rates by the input current")
        check_positive_int("`optima`", self.optima, hint="distinct optima per unit")
        check_positive_number("`optima_distance`", self.optima_distance, hint="a latent distance", optional=True)
        check_positive_int("`optima_budget`", self.optima_budget, hint="queries per further optimum", optional=True)
        for method in methods:
            check_method(method, **options.get(method, {}))

    @classmethod
    def restored(cls, **values: Any) -> "SearchSettings":
        """Settings read back from a file, not checked again (its methods need not be registered here,
        its budget may be unknown); missing fields take their defaults."""
        settings = object.__new__(cls)
        for f in fields(cls):
            default = f.default_factory() if f.default_factory is not MISSING else f.default  # type: ignore[misc]
            object.__setattr__(settings, f.name, values.get(f.name, default))
        object.__setattr__(settings, "methods", tuple(settings.methods))
        return settings

    def check_grid(self, d: int, n: int) -> None:
        """Raise the error a method would raise on the grid ``{0..n-1}^d`` (e.g. QTT with n not 2^q)."""
        from mango_pl.search.checks import check_method

        for method in self.methods:
            check_method(method, d=d, n=n, **self.method_options.get(method, {}))

    @property
    def repeat_count(self) -> int:
        if self.repeats is not None:
            return self.repeats
        return DEFAULT_REPEATS if len(self.methods) == 1 else 1

    def runs(self) -> list[tuple[str, str, int]]:
        """``(label, method, repeat)`` of every run: the label is the method when each runs once,
        else ``<method>#<repeat + 1>``."""
        count = self.repeat_count
        return [(m if count == 1 else f"{m}#{r + 1}", m, r) for m in self.methods for r in range(count)]

    @property
    def labels(self) -> list[str]:
        return [label for label, _, _ in self.runs()]

    @property
    def search_budget(self) -> int:
        """Queries per unit (population mode: stimuli) each run's search makes: the budget less the
        natural images of the warm start, which were its first queries."""
        return self.budget - self.warm_start

    @property
    def further_budget(self) -> int:
        """Queries per unit for each further optimum."""
        return self.optima_budget or self.budget

    def images(self, units: int) -> int:
        """Images shown to search a layer of ``units`` units with these settings: the warm start's
        natural images once, then each run's rest of the budget (population mode: shared by the
        units), then each further optimum's ``optima_budget`` per unit and run."""
        if units <= 0:
            return 0
        shown = 1 if self.shared else units
        further = (self.optima - 1) * self.further_budget * units
        return self.warm_start * shown + len(self.runs()) * (self.search_budget * shown + further)

    def as_record(self) -> dict[str, Any]:
        return {"methods": list(self.methods), "repeats": self.repeat_count, "budget": self.budget,
                "shared": self.shared, "warm_start": self.warm_start, "seed": self.seed,
                "method_options": {m: dict(o) for m, o in self.method_options.items()},
                "readout": self.readout, "optima": self.optima, "optima_distance": self.optima_distance,
                "optima_budget": self.optima_budget}


@dataclass
class RunMEIs:
    """One search run over a layer's ``U`` units.

    Attributes:
        label, method, repeat: which run (see :meth:`SearchSettings.runs`).
        index: ``LongTensor[U, d]``, each unit's MEI in the grid.
        search_value: ``[U]``, the value the search saw for it (its estimate under noise).
        history: ``[U, budget]``, every query's value in order (warm-start images first).
        activation: ``[U]``, each unit's activation by its MEI, re-measured.
        probs: ``[U, classes]``, the network's class probabilities for each MEI.
        latents: ``[U, D]``, each MEI's float vector (for latent diversity).
        images: ``uint8[U, C, H, W]``, the MEIs.
        objective_seconds, optimizer_seconds: where the time went.
    """

    label: str
    method: str
    repeat: int
    index: Tensor
    search_value: Tensor
    history: Tensor
    activation: Tensor
    probs: Tensor
    latents: Tensor
    images: Tensor
    objective_seconds: float = 0.0
    optimizer_seconds: float = 0.0
    optima_index: Tensor | None = None
    optima_activation: Tensor | None = None
    optima_latents: Tensor | None = None
    optima_images: Tensor | None = None

    def select(self, order: Tensor) -> "RunMEIs":
        """The same run with its units reordered / subset by ``order`` (indices into dim 0)."""
        per_unit = {name: getattr(self, name) for name in _PER_UNIT}
        return RunMEIs(self.label, self.method, self.repeat,
                       **{name: None if value is None else value[order] for name, value in per_unit.items()},
                       objective_seconds=self.objective_seconds, optimizer_seconds=self.optimizer_seconds)


#: per-unit fields (dim 0 = units); the optima_* ones (``[U, k, ...]``: a unit's k optima, the MEI
#: first) are None unless several optima were searched
_PER_UNIT = ("index", "search_value", "history", "activation", "probs", "latents", "images", "optima_index",
             "optima_activation", "optima_latents", "optima_images")


@dataclass
class LayerMEIs:
    """Every run of one layer at one epoch.

    Attributes:
        layer: the layer's dotted name.
        epoch: the training epoch of the searched state (0 for a model outside training).
        units: the ``U`` channel indices, in the order of every per-unit tensor.
        grid: ``(d, n)`` of the stimulus space.
        settings: how it was searched.
        runs: ``{label: RunMEIs}``, in the order of ``settings.labels``.
        nan_units: units whose activation was NaN at some query (scored -1 there).
        importance: accuracy with each unit silenced (when measured, see ``ablation_samples``).
        depth: the layer's position among the network's modules (``named_modules()`` order: input
            to output), so a report orders layers by depth; ``None`` in files written before it.
    """

    layer: str
    epoch: int
    units: list[int]
    grid: tuple[int, int]
    settings: SearchSettings
    runs: dict[str, RunMEIs]
    nan_units: list[int] = field(default_factory=list)
    importance: UnitImportance | None = None
    depth: int | None = None

    @property
    def labels(self) -> list[str]:
        return list(self.runs)

    def stacked(self, name: str) -> Tensor:
        """``[M, U, ...]``: the per-unit field ``name`` of every run, stacked in label order."""
        return torch.stack([getattr(run, name) for run in self.runs.values()])


def merge_shares(shares: Sequence[LayerMEIs], units: Sequence[int]) -> LayerMEIs:
    """The layer's result from the results of ranks that searched parts of its units (DDP), with
    the units in the order of ``units``. Shares without units are skipped; seconds add up.

    Raises:
        ValueError: the shares do not hold every unit of ``units`` exactly once.
    """
    shares = [s for s in shares if s.units]
    order = [u for s in shares for u in s.units]
    if sorted(order) != sorted(units) or len(set(order)) != len(order):
        raise ValueError(f"the shares hold units {sorted(order)}, expected each of {sorted(units)} once")
    position = torch.tensor([order.index(u) for u in units])
    first = shares[0]
    runs = {}
    for label, run in first.runs.items():
        parts = [s.runs[label] for s in shares]
        merged = RunMEIs(run.label, run.method, run.repeat,
                         **{name: None if getattr(run, name) is None else torch.cat([getattr(p, name) for p in parts])
                            for name in _PER_UNIT},
                         objective_seconds=sum(p.objective_seconds for p in parts),
                         optimizer_seconds=sum(p.optimizer_seconds for p in parts))
        runs[label] = merged.select(position)
    nan = sorted({u for s in shares for u in s.nan_units})
    importance = None
    if first.importance is not None:
        parts = [s.importance for s in shares]
        importance = UnitImportance([u for p in parts for u in p.units], torch.cat([p.accuracy for p in parts]),
                                    torch.cat([p.class_accuracy for p in parts]), first.importance.base_accuracy,
                                    first.importance.base_class_accuracy, first.importance.samples)
        importance = UnitImportance(list(units), importance.accuracy[position], importance.class_accuracy[position],
                                    importance.base_accuracy, importance.base_class_accuracy, importance.samples)
    return LayerMEIs(first.layer, first.epoch, list(units), first.grid, first.settings, runs, nan, importance,
                     first.depth)


@dataclass
class LayerReport:
    """The analysis of one layer's MEIs (paper Section 4): per run ``m`` and unit ``u``.

    Attributes:
        layer, epoch, units, labels: what was analysed.
        activation: ``[M, U]`` (NaN replaced by 0).
        probs: ``[M, U, C]`` class probabilities (NaN rows replaced by uniform).
        entropy: ``[M, U]`` normalized class entropy.
        strong, selective: ``[U]`` the paper's criteria (activation; + confidence and stability).
        top_class: ``[U]`` the class of the unit's most active MEI.
        strong_fraction, selective_fraction: over the layer's units.
        jpeg_ratio, zip_ratio: ``[M, U]`` compression ratios of the MEI images.
        diversity_euclidean, diversity_cosine: ``[U]`` latent distances between the runs' MEIs.
        nan_units: units with a NaN activation (reported, analysed as 0).
        optima_spread: ``[M, U]`` mean latent distance between a unit's optima (several optima only).
        importance_drop: ``[U]`` accuracy lost by silencing each unit (when measured).
        importance_correlation: Spearman correlation of that drop with the MEI properties
            (``activation``, ``entropy``, ``selective``; the tracker adds ``labile``).
    """

    layer: str
    epoch: int
    units: list[int]
    labels: list[str]
    activation: Tensor
    probs: Tensor
    entropy: Tensor
    strong: Tensor
    selective: Tensor
    top_class: Tensor
    strong_fraction: float
    selective_fraction: float
    jpeg_ratio: Tensor
    zip_ratio: Tensor
    diversity_euclidean: Tensor
    diversity_cosine: Tensor
    nan_units: list[int] = field(default_factory=list)
    optima_spread: Tensor | None = None
    importance_drop: Tensor | None = None
    importance_correlation: dict[str, float] = field(default_factory=dict)


@dataclass
class Tracking:
    """A layer's specialization over the epochs searched so far (paper Figs. 8 and 10).

    Attributes:
        epochs: the epochs searched so far, in order.
        first_strong_epoch: ``[U]`` the first epoch with a strong MEI (-1: never yet).
        stable_fraction, labile_fraction, non_specialized_fraction: the paper's classes of units.
        labile: ``[U]`` whether each unit has been selective for two or more classes.
    """

    epochs: list[int]
    first_strong_epoch: Tensor
    stable_fraction: float
    labile_fraction: float
    non_specialized_fraction: float
    labile: Tensor | None = None
