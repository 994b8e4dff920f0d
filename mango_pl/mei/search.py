"""``search_layer`` / ``search_layers``: the MEIs of a layer's units, every run of every method.

The one place where a layer is searched: ``MEISearchCallback`` (during training), ``mango-pl
search`` (saved checkpoints, any ``nn.Module``) and the benchmarks call it, so the same state,
layer, units and seed give the same MEIs whichever way they are searched.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch
from torch import Tensor, nn

from mango_pl.mei.request import MEIRequest
from mango_pl.mei.results import LayerMEIs, RunMEIs, SearchSettings
from mango_pl.mei.seeds import unit_seeds
from mango_pl.models.precision import converted_copy, module_device, module_dtype
from mango_pl.models.state import eval_mode, reset_states
from mango_pl.probe import LayerObjective, natural_warm_start
from mango_pl.probe.settings import ProbeSettings
from mango_pl.probe.ablation import unit_importance
from mango_pl.probe.precision import resolve_dtype
from mango_pl.search import RunPlan, maximize

#: start points per unit of a natural-image warm start
WARM_STARTS = 3

#: ``progress(images, description)``: called with the number of images just shown
Progress = Callable[[int, str], None]


def evaluation_network(network: nn.Module, precision: str = "auto") -> nn.Module:
    """The module a search evaluates: ``network`` itself, or one copy of it in the precision's dtype
    (float64 on CPU with ``"auto"``), made once and shared by every layer searched with it."""
    dtype = resolve_dtype(precision, module_device(network))
    return network if dtype == module_dtype(network) else converted_copy(network, dtype)


def search_layer(network: nn.Module, layer: str, units: Sequence[int], space, settings: SearchSettings,
                 probe: ProbeSettings | None = None, epoch: int = 0, natural_images: Tensor | None = None,
                 progress: Progress | None = None) -> LayerMEIs:
    """Search the MEIs of ``units`` of ``layer``: every run of ``settings`` (each method, each repeat).

    Each unit's run is seeded by :func:`unit_seeds` from ``(settings.seed, epoch, layer, unit,
    repeat)``. Every MEI is then measured again (activation, class probabilities, image, latent).
    A NaN activation is scored -1 (below any activation, never the MEI) and its unit reported.

    Args:
        network: the classifier, in the mode the caller wants (eval); not changed.
        layer: dotted name of the probed layer.
        units: its channels to search (empty: an empty result, for a rank without a share).
        space: the stimulus space (not changed: the objective works on a copy).
        settings: methods, repeats, budget, population mode, warm start, seed, options.
        probe: batch limit, centre-only, precision and device of the readout (default: ``ProbeSettings()``).
        epoch: the training epoch of the state (part of the seeds).
        natural_images: ``[N, C, H, W]`` images the network takes, for ``settings.warm_start``.
        progress: called with the images shown after every batch (in all,
            ``settings.images(len(units))``).

    Raises:
        ValueError: unknown layer or unit, a warm start without enough images, bad settings.
    """
    units = [int(u) for u in units]
    grid = (space.grid.d, space.grid.n)
    depth = module_depth(network, layer)
    if not units:
        return LayerMEIs(layer, epoch, [], grid, settings, {}, depth=depth)
    if settings.warm_start and (natural_images is None or natural_images.shape[0] < settings.warm_start):
        have = 0 if natural_images is None else natural_images.shape[0]
        raise ValueError(f"warm_start={settings.warm_start} needs that many natural images, got {have}")
    objective = (probe or ProbeSettings()).objective(network, layer, units, space, settings.readout)
    nan_units: set[int] = set()

    def cleaned(values: Tensor) -> Tensor:  # [P, K]: NaN reported, scored below any activation
        bad = ~torch.isfinite(values)
        if bad.any():
            nan_units.update(units[p] for p in bad.any(dim=1).nonzero().flatten().tolist())
            values = values.masked_fill(bad, -1.0)
        return values

    def per_unit(index: Tensor) -> Tensor:
        return cleaned(objective(index))

    def shared(index: Tensor) -> Tensor:  # population mode: stimuli [N, d] -> responses [N, P]
        return cleaned(objective.responses(index).T).T

    warm = None
    if settings.warm_start:
        warm = natural_warm_start(objective, natural_images[: settings.warm_start].to(objective.device),
                                  starts=WARM_STARTS, seed=epoch)
        if progress is not None:
            progress(warm.queries * (1 if settings.shared else len(units)), f"{layer} natural images")
    runs: dict[str, RunMEIs] = {}
    try:
        for label, method, repeat in settings.runs():
            done = [0]

            def advance(queries: int, budget: int, _done=done, _label=label) -> None:
                if progress is not None:
                    progress((queries - _done[0]) * (1 if settings.shared else len(units)), f"{layer} {_label}")
                _done[0] = queries

            result = maximize(shared if settings.shared else per_unit, method, grid[0], grid[1],
                              settings.search_budget, problems=len(units),
                              seed=unit_seeds(settings.seed, epoch, layer, units, repeat), device=objective.device,
                              shared=settings.shared, start=None if warm is None else warm.start,
                              plan=RunPlan(max_steps=settings.max_steps, progress=advance),
                              features=space.grid_features(),
                              **dict(settings.method_options.get(method, {})))
            history = result.history.cpu().float()
            if warm is not None:  # the natural images were the first queries
                history = torch.cat([warm.responses.T.float(), history], 1)
            final = objective.evaluate(result.best_index)
            run = RunMEIs(
                label, method, repeat, index=result.best_index.cpu(), search_value=result.best_value.cpu().float(),
                history=history, activation=final["activation"].cpu().float(), probs=final["probs"].cpu().float(),
                latents=final["latents"].cpu().float(), images=_uint8(final["images"]),
                objective_seconds=result.objective_seconds, optimizer_seconds=result.optimizer_seconds)
            if settings.optima > 1:
                _more_optima(run, objective, per_unit, settings, epoch, layer, units, repeat, progress)
            runs[label] = run
    finally:
        objective.close()
    return LayerMEIs(layer, epoch, units, grid, settings, runs, sorted(nan_units), depth=depth)


def module_depth(network: nn.Module, layer: str) -> int | None:
    """The position of module ``layer`` in ``network.named_modules()`` (input to output for networks
    that register their modules in the order they run, as every shipped one does); ``None`` if absent."""
    return next((i for i, (name, _) in enumerate(network.named_modules()) if name == layer), None)


def _uint8(images: Tensor) -> Tensor:
    return (images.clamp(0, 1) * 255).round().to(torch.uint8).cpu()


#: the score of a stimulus too close to a unit's earlier optima (below any activation)
_TAKEN = -1e9


def optima_radius(space, stimuli: int = 64, seed: int = 0) -> float:
    """The default least distance between a unit's optima: half the median latent distance between
    two of ``stimuli`` uniformly random stimuli of ``space`` (seeded: the same for every search)."""
    generator = torch.Generator().manual_seed(seed)
    index = torch.randint(0, space.grid.n, (stimuli, space.grid.d), generator=generator)
    latents = space.latents(index).double()
    distances = torch.cdist(latents, latents)
    upper = distances[torch.triu(torch.ones_like(distances, dtype=torch.bool), diagonal=1)]
    return 0.5 * float(upper.median())


def _more_optima(run: RunMEIs, objective: LayerObjective, per_unit: Callable[[Tensor], Tensor],
                 settings: SearchSettings, epoch: int, layer: str, units: list[int], repeat: int,
                 progress: Progress | None) -> None:
    """Search ``settings.optima - 1`` further optima per unit: each search scores every stimulus within
    the radius of the optima found before as the worst, so it has to find another peak."""
    space = objective.space
    radius = settings.optima_distance or optima_radius(space)
    budget = settings.further_budget
    found = [run.index.to(objective.device)]
    P, d = run.index.shape
    for part in range(1, settings.optima):
        taken = torch.stack([space.latents(index).double() for index in found], 1)  # [P, j, D]

        def away(index: Tensor, _taken=taken) -> Tensor:
            values = per_unit(index)
            latents = space.latents(index.reshape(-1, d)).double().view(P, index.shape[1], -1)
            near = (torch.cdist(latents, _taken) < radius).any(-1)
            return values.masked_fill(near.to(values.device), _TAKEN)

        def advance(queries: int, total: int, _done=[0], _part=part) -> None:  # noqa: B006 (per call)
            if progress is not None:
                progress((queries - _done[0]) * P, f"{layer} {run.label} optimum {_part + 1}")
            _done[0] = queries

        result = maximize(away, run.method, d, space.grid.n, budget, problems=P,
                          seed=unit_seeds(settings.seed, epoch, layer, units, repeat, part), device=objective.device,
                          features=space.grid_features(), plan=RunPlan(max_steps=settings.max_steps, progress=advance),
                          **dict(settings.method_options.get(run.method, {})))
        found.append(result.best_index)
    index = torch.stack(found, 1)  # [P, k, d]
    activation, latents, images = [], [], []
    for j in range(index.shape[1]):
        measured = objective.evaluate(index[:, j])
        activation.append(measured["activation"].float())
        latents.append(measured["latents"].float())
        images.append(_uint8(measured["images"]))
    run.optima_index = index.cpu()
    run.optima_activation = torch.stack(activation, 1)
    run.optima_latents = torch.stack(latents, 1)
    run.optima_images = torch.stack(images, 1)


def search_layers(network: nn.Module, request: MEIRequest, epoch: int = 0, progress: Progress | None = None,
                  units: Mapping[str, Sequence[int]] | None = None) -> dict[str, LayerMEIs]:
    """:func:`search_layer` for the layers of ``request`` in one network state, in eval mode with one
    evaluation copy of the network for all of them; the network's modes and SNN state are given back
    as they were. With ``request.labelled = (images, labels)`` each searched unit is also silenced in
    turn and the accuracy it costs is measured (:func:`~mango_pl.probe.unit_importance`, in
    ``LayerMEIs.importance``).

    Args:
        network: the classifier (not changed).
        request: layers, units, space, settings, probe settings and attached images.
        epoch: the training epoch of the state (part of the seeds).
        progress: called with the images shown after every batch (in all, ``request.images(units)``).
        units: ``{layer: channels}`` to search instead of ``request.units`` (a process's share, see
            :meth:`MEIRequest.share`; an empty list gives an empty result).
    """
    if not isinstance(request, MEIRequest):
        raise TypeError(f"search_layers takes one MEIRequest, got {type(request).__name__}: search_layers(network, "
                        f"MEIRequest(layers, space, units, settings, ProbeSettings(batch_limit=..., precision=...)))")
    units = request.units if units is None else units
    probe = request.probe
    results = {}
    with eval_mode(network):
        evaluated = evaluation_network(network, probe.precision)
        try:
            for layer, chosen in units.items():
                results[layer] = search_layer(evaluated, layer, chosen, request.space, request.settings, probe, epoch,
                                              request.natural_images, progress)
                if request.labelled is not None and chosen:
                    images, labels = request.labelled
                    results[layer].importance = unit_importance(evaluated, layer, chosen, images, labels,
                                                                batch_limit=probe.batch_limit)
        finally:
            reset_states(network)
            if evaluated is not network:
                reset_states(evaluated)
    return results
