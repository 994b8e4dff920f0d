"""MEIs of saved states, outside training: any ``nn.Module`` in one call, or a series of checkpoints.

``search_model`` is the Python one-liner; ``search_checkpoints`` runs ``mango-pl search``: every
checkpoint (an epoch series, in epoch order) × every layer, each layer written to
``<output>/meis/epoch=E/<layer>.pt`` as soon as it is done. A killed run started again skips every
layer whose file exists (and reads it back for the stable/labile tracking), so it redoes only the
unfinished layer; nothing existing is overwritten.
"""

from __future__ import annotations

import glob
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from torch import nn

from mango_pl.analysis import SelectivityThresholds
from mango_pl.mei.analysis import analyse
from mango_pl.mei.files import MEIFile, load_meis, mei_path, save_meis
from mango_pl.mei.parallel import ParallelSettings, Ranks, launch, share_of, work_groups
from mango_pl.mei.request import MEIRequest, Units
from mango_pl.mei.results import SearchSettings, merge_shares
from mango_pl.mei.search import Progress, search_layers
from mango_pl.mei.tracker import SpecializationTracker
from mango_pl.probe import resolve_layer
from mango_pl.probe.settings import ProbeSettings

def search_model(model: nn.Module, layers: Sequence[str] | MEIRequest, space=None, units: Units = 16,
                 settings: SearchSettings | None = None, probe: ProbeSettings | None = None,
                 thresholds: SelectivityThresholds | None = None, epoch: int = 0,
                 progress: Progress | None = None, parallel: ParallelSettings | None = None) -> dict[str, MEIFile]:
    """The MEIs of ``layers`` of any PyTorch model, searched and analysed: ``{layer: MEIFile}``.

    Args:
        model: any ``nn.Module`` (e.g. a torchvision network, a spiking ResNet).
        layers: dotted layer names, or a whole :class:`MEIRequest` (then leave the other arguments
            out: the request holds them, with the images of a warm start or an ablation).
        space: the stimulus space.
        units: per layer, a count (from 0), a list of channels, or ``{layer: count or list}``.
        settings: how each layer is searched (default: ``SearchSettings()``).
        probe: how units are read (default: ``ProbeSettings()``).
        thresholds: strong and confident MEIs (default: the paper's 0.75 / 0.75).
        epoch: the state's epoch (part of the seeds).
        progress: ``progress(images, description)`` after every batch.
        parallel: search on several processes (:class:`~mango_pl.mei.parallel.ParallelSettings`,
            started by Lightning Fabric: call this before other work, the program is started again
            per further process); each process searches a share of the units and every process
            returns the whole result.

    Example:
        >>> from mango_pl.mei import search_model
        >>> from mango_pl.stimuli import GeneratorSpace
        >>> meis = search_model(torchvision.models.resnet18(weights="DEFAULT"), ["layer4.1.relu"],
        ...                     GeneratorSpace(checkpoint="sngan.ckpt", channels=3, image_size=224), units=8)
        >>> meis["layer4.1.relu"].meis.runs["elite#1"].images    # uint8 [8, 3, 224, 224]

    Raises:
        ValueError: an unknown layer (the valid ones are listed), bad units or settings.
    """
    if isinstance(layers, MEIRequest):
        if space is not None or settings is not None or probe is not None or thresholds is not None:
            raise ValueError("search_model(model, request): the request holds the space and the settings; "
                             "give them to MEIRequest, not to search_model")
        request = layers
    else:
        for name, value, kind in (("settings", settings, SearchSettings), ("probe", probe, ProbeSettings),
                                  ("thresholds", thresholds, SelectivityThresholds)):
            if value is not None and not isinstance(value, kind):
                raise TypeError(f"search_model's `{name}` takes a {kind.__name__}, got {type(value).__name__} (batch "
                                f"limit, centre-only, precision and device go in probe=ProbeSettings(...))")
        request = MEIRequest(tuple(layers), space, units, settings or SearchSettings(), probe or ProbeSettings(),
                             thresholds or SelectivityThresholds())
    for layer in request.layers:
        resolve_layer(model, layer)
    ranks = _ranks(parallel, request)
    if ranks.world > 1:
        model, request = model.to(ranks.device), _on(request, ranks)
    shares = ranks.gather(search_layers(model, request, epoch, progress,
                                        share_of(request.units, request.settings.shared, ranks.rank, ranks.world)))
    found = {layer: merge_shares([share[layer] for share in shares], units) for layer, units in request.units.items()}
    tracker = SpecializationTracker(request.thresholds.activation)
    out = {}
    for layer, meis in found.items():
        report = analyse(meis, request.thresholds)
        out[layer] = MEIFile(meis, report, tracker.update(report))
    return out


def resolve_checkpoints(sources: Sequence[str | Path]) -> list[Path]:
    """Checkpoint files from files, folders (every ``*.ckpt`` inside) and glob patterns.

    Raises:
        FileNotFoundError: a source that matches no checkpoint (the message names it).
    """
    if isinstance(sources, (str, Path)):
        sources = [sources]
    paths: list[Path] = []
    for source in sources:
        source = str(source)
        if Path(source).is_dir():
            found = sorted(Path(source).rglob("*.ckpt"))
        elif any(c in source for c in "*?["):
            found = sorted(Path(p) for p in glob.glob(source, recursive=True) if Path(p).is_file())
        else:
            found = [Path(source)] if Path(source).is_file() else []
        if not found:
            raise FileNotFoundError(f"no checkpoint matches {source!r}: give a .ckpt file, a folder of them, or a "
                                    f"glob such as 'runs/x/version_0/checkpoints/*.ckpt'")
        paths += [p for p in found if p not in paths]
    return paths


@dataclass
class CheckpointSearch:
    """What ``search_checkpoints`` did: the files per epoch and layer, and which were reused (process
    0 of several writes and reports; the others' ``rank`` is theirs and their lists are empty)."""

    files: dict[int, dict[str, Path]]
    searched: list[tuple[int, str]]
    skipped: list[tuple[int, str]]
    rank: int = 0


def search_checkpoints(checkpoints: Sequence[str | Path], request: MEIRequest, output: str | Path,
                       load: Callable[[Path], tuple[nn.Module, int]] | None = None,
                       progress: Progress | None = None, log: Callable[[MEIFile], None] | None = None,
                       parallel: ParallelSettings | None = None) -> CheckpointSearch:
    """Search every checkpoint (in epoch order) × layer of ``request`` and write
    ``<output>/meis/epoch=E/<layer>.pt``.

    Args:
        checkpoints: files, folders or globs (see :func:`resolve_checkpoints`); several files of one
            epoch (``last.ckpt`` beside ``epoch=3-step=...ckpt``) are searched once.
        request: layers, units, space, settings, probe settings, thresholds and attached images.
        output: the output folder.
        load: ``path -> (network, epoch)``; default :func:`mango_pl.models.checkpoint.load_classifier`.
        progress: called with the images shown.
        log: called with every layer's result once it is searched (before its file is written).
        parallel: search on several processes (:class:`~mango_pl.mei.parallel.ParallelSettings`,
            started by Lightning Fabric, ``torchrun`` or SLURM): each searches its share of every
            layer's units (population mode: whole layers), process 0 merges, logs and writes; the
            files are those of one process. Default: one process on ``request.probe.device``.

    Raises:
        FileNotFoundError: no checkpoint matches.
        ValueError: a checkpoint without a classifier, an unknown layer, bad units or settings,
            a space the network cannot take — all before any search starts.
    """
    from mango_pl.models.checkpoint import load_classifier

    if not isinstance(request, MEIRequest):
        raise TypeError(f"search_checkpoints takes one MEIRequest after the checkpoints, got "
                        f"{type(request).__name__}: search_checkpoints(checkpoints, MEIRequest(layers, space, units, "
                        f"settings, probe), output)")
    ranks = _ranks(parallel, request)
    request = _on(request, ranks)
    read = load or (lambda path: load_classifier(path))

    def load(path: Path) -> tuple[nn.Module, int]:
        network, epoch = read(path)
        return network.to(ranks.device), epoch

    series: dict[int, Path] = {}
    for path in resolve_checkpoints(checkpoints):
        network, epoch = load(path)
        for layer in request.layers:
            resolve_layer(network, layer)
        series.setdefault(epoch, path)
    request.check(load(series[min(series)])[0])  # grid, units, image shapes, readout: before any search
    root = Path(output) / "meis"
    tracker = SpecializationTracker(request.thresholds.activation)
    result = CheckpointSearch({}, [], [], ranks.rank)
    progress = progress if ranks.is_zero else None
    for epoch in sorted(series):
        todo = {}
        for layer in request.layers:
            path = mei_path(root, epoch, layer)
            if path.exists():  # done by an earlier run: read back for the tracking
                if ranks.is_zero:
                    tracker.update(load_meis(path).report)
                    result.files.setdefault(epoch, {})[layer] = path
                    result.skipped.append((epoch, layer))
            else:
                todo[layer] = request.units[layer]
        todo = ranks.gather(todo)[0]  # process 0 decides (it sees the files the moment it writes them)
        if not todo:
            continue
        network, _ = load(series[epoch])
        shown = None if progress is None else (lambda n, what, _e=epoch: progress(n, f"epoch {_e}: {what}"))
        for group in work_groups(todo, request.settings.shared, ranks.world):  # each group written when done
            mine = search_layers(network, request, epoch, shown, share_of(group, request.settings.shared,
                                                                          ranks.rank, ranks.world))
            shares = ranks.gather(mine)
            if not ranks.is_zero:
                continue
            for layer, units_of_layer in group.items():
                meis = merge_shares([share[layer] for share in shares], units_of_layer)
                report = analyse(meis, request.thresholds)
                found = MEIFile(meis, report, tracker.update(report))
                if log is not None:
                    log(found)
                path = save_meis(mei_path(root, epoch, layer), meis, report, found.tracking)
                result.files.setdefault(epoch, {})[layer] = path
                result.searched.append((epoch, layer))
    return result


def _ranks(parallel: ParallelSettings | None, request: MEIRequest) -> Ranks:
    """This process's place: one process on the request's device, or one of ``parallel``'s."""
    if parallel is None or parallel.single:
        return Ranks.alone(request.probe.device or "cpu")
    return launch(parallel)


def _on(request: MEIRequest, ranks: Ranks) -> MEIRequest:
    """The request with its probe on this process's device."""
    return replace(request, probe=replace(request.probe, device=str(ranks.device)))
