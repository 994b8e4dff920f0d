"""MEIs of saved states, outside training: any ``nn.Module`` in one call, or a series of checkpoints.

``search_model`` is the Python one-liner; ``search_checkpoints`` runs ``mango-pl search``: every
checkpoint (an epoch series, in epoch order) × every layer, each layer written to
``<output>/meis/epoch=E/<layer>.pt`` as soon as it is done. A killed run started again skips every
layer whose file exists (and reads it back for the stable/labile tracking), so it redoes only the
unfinished layer; nothing existing is overwritten.
"""

from __future__ import annotations

import glob
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from mango_pl.analysis import SelectivityThresholds
from mango_pl.mei.analysis import analyse
from mango_pl.mei.files import MEIFile, load_meis, mei_path, save_meis
from mango_pl.mei.results import SearchSettings
from mango_pl.mei.search import Progress, search_layers
from mango_pl.mei.tracker import SpecializationTracker
from mango_pl.probe import resolve_layer

Units = int | Sequence[int] | Mapping[str, int | Sequence[int]]


def unit_lists(layers: Sequence[str], units: Units) -> dict[str, list[int]]:
    """``{layer: channels}`` from a count (``range``), a list, or a per-layer mapping of either.

    Raises:
        ValueError: a layer missing from a mapping, a count < 1, negative or repeated channels.
    """
    out = {}
    for layer in layers:
        if isinstance(units, Mapping):
            if layer not in units:
                raise ValueError(f"`units` mapping has no entry for layer {layer!r}")
            spec = units[layer]
        else:
            spec = units
        if isinstance(spec, bool):
            raise ValueError(f"`units` for layer {layer!r} must be a count or a list of channels, got {spec!r}")
        if isinstance(spec, int):
            if spec < 1:
                raise ValueError(f"`units` for layer {layer!r} must be ≥ 1, got {spec}")
            out[layer] = list(range(spec))
            continue
        chosen = [int(u) for u in spec]
        if not chosen or min(chosen) < 0 or len(set(chosen)) != len(chosen):
            raise ValueError(f"`units` for layer {layer!r} must be distinct channel indices ≥ 0, got {chosen}")
        out[layer] = chosen
    return out


def search_model(model: nn.Module, layers: Sequence[str], space, units: Units = 16,
                 settings: SearchSettings | None = None, epoch: int = 0, natural_images: Tensor | None = None,
                 thresholds: SelectivityThresholds | None = None, batch_limit: int = 256, center_only: bool = False,
                 precision: str = "auto", device: torch.device | str | None = None,
                 progress: Progress | None = None, labelled: tuple[Tensor, Tensor] | None = None) -> dict[str, MEIFile]:
    """The MEIs of ``layers`` of any PyTorch model, searched and analysed: ``{layer: MEIFile}``.

    Example:
        >>> from mango_pl.mei import search_model
        >>> from mango_pl.stimuli import GeneratorSpace
        >>> meis = search_model(torchvision.models.resnet18(weights="DEFAULT"), ["layer4.1.relu"],
        ...                     GeneratorSpace(checkpoint="sngan.ckpt", channels=3, image_size=224), units=8)
        >>> meis["layer4.1.relu"].meis.runs["elite#1"].images    # uint8 [8, 3, 224, 224]

    Raises:
        ValueError: an unknown layer (the valid ones are listed), bad units or settings.
    """
    settings = settings or SearchSettings()
    for layer in layers:
        resolve_layer(model, layer)
    found = search_layers(model, unit_lists(layers, units), space, settings, epoch, natural_images, batch_limit,
                          center_only, precision, device, progress, labelled)
    tracker = SpecializationTracker((thresholds or SelectivityThresholds()).activation)
    out = {}
    for layer, meis in found.items():
        report = analyse(meis, thresholds)
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
    """What ``search_checkpoints`` did: the files per epoch and layer, and which were reused."""

    files: dict[int, dict[str, Path]]
    searched: list[tuple[int, str]]
    skipped: list[tuple[int, str]]


def search_checkpoints(checkpoints: Sequence[str | Path], layers: Sequence[str], space, output: str | Path,
                       units: Units = 16, settings: SearchSettings | None = None,
                       load: Callable[[Path], tuple[nn.Module, int]] | None = None,
                       natural_images: Tensor | None = None, thresholds: SelectivityThresholds | None = None,
                       batch_limit: int = 256, center_only: bool = False, precision: str = "auto",
                       device: torch.device | str | None = None, progress: Progress | None = None,
                       log: Callable[[MEIFile], None] | None = None,
                       labelled: tuple[Tensor, Tensor] | None = None) -> CheckpointSearch:
    """Search every checkpoint (in epoch order) × layer and write ``<output>/meis/epoch=E/<layer>.pt``.

    Args:
        checkpoints: files, folders or globs (see :func:`resolve_checkpoints`); several files of one
            epoch (``last.ckpt`` beside ``epoch=3-step=...ckpt``) are searched once.
        layers: dotted layer names.
        space: the stimulus space.
        output: the output folder.
        units, settings, natural_images, thresholds, batch_limit, center_only, precision, device:
            as in :func:`search_model`.
        load: ``path -> (network, epoch)``; default :func:`mango_pl.models.checkpoint.load_classifier`.
        progress: called with the images shown.
        log: called with every layer's result once it is searched (before its file is written).
        labelled: ``(images, labels)``: also measure each unit's importance (see :func:`search_layers`).

    Raises:
        FileNotFoundError: no checkpoint matches.
        ValueError: a checkpoint without a classifier, an unknown layer, bad units or settings,
            a space the network cannot take — all before any search starts.
    """
    from mango_pl.models.checkpoint import load_classifier

    settings = settings or SearchSettings()
    load = load or (lambda path: load_classifier(path))
    thresholds = thresholds or SelectivityThresholds()
    chosen = unit_lists(layers, units)
    settings.check_grid(space.grid.d, space.grid.n)
    series: dict[int, Path] = {}
    for path in resolve_checkpoints(checkpoints):
        network, epoch = load(path)
        for layer in layers:
            resolve_layer(network, layer)
        series.setdefault(epoch, path)
    # check units, image shapes and the readout on the first state before any search (a one-image dry run)
    first_network, _ = load(series[min(series)])
    from mango_pl.probe import LayerObjective

    for layer, units_of_layer in chosen.items():
        LayerObjective(first_network, layer, units_of_layer, space, batch_limit=batch_limit,
                       center_only=center_only, precision="float32", readout=settings.readout).close()
    root = Path(output) / "meis"
    tracker = SpecializationTracker(thresholds.activation)
    result = CheckpointSearch({}, [], [])
    for epoch in sorted(series):
        todo = {}
        for layer in layers:
            path = mei_path(root, epoch, layer)
            if path.exists():  # done by an earlier run: read back for the tracking
                done = load_meis(path)
                tracker.update(done.report)
                result.files.setdefault(epoch, {})[layer] = path
                result.skipped.append((epoch, layer))
            else:
                todo[layer] = chosen[layer]
        if not todo:
            continue
        network, _ = load(series[epoch])
        for layer, units_of_layer in todo.items():  # one layer at a time: each is written when done
            shown = None if progress is None else (lambda n, what, _e=epoch: progress(n, f"epoch {_e}: {what}"))
            meis = search_layers(network, {layer: units_of_layer}, space, settings, epoch, natural_images,
                                 batch_limit, center_only, precision, device, shown, labelled)[layer]
            report = analyse(meis, thresholds)
            found = MEIFile(meis, report, tracker.update(report))
            if log is not None:
                log(found)
            path = save_meis(mei_path(root, epoch, layer), meis, report, found.tracking)
            result.files.setdefault(epoch, {})[layer] = path
            result.searched.append((epoch, layer))
    return result
