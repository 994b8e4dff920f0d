"""``MEIRequest``: one MEI job as one typed object, validated once.

Every entry point builds one and hands it to the engine: ``MEISearchCallback`` (from its flat YAML
arguments, in :meth:`MEIRequest.from_options`), ``mango-pl search`` (the same), ``search_model``
(from Python). A new search option is a field of :class:`~mango_pl.mei.SearchSettings` (how a layer
is searched), :class:`~mango_pl.probe.ProbeSettings` (how a unit is read) or of the request (what is
searched), and reaches every entry point from there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

from torch import Tensor, nn

from mango_pl.analysis import SelectivityThresholds
from mango_pl.checks import check_non_negative_int, check_positive_int, is_int
from mango_pl.mei.parallel import share_of
from mango_pl.mei.results import SearchSettings
from mango_pl.probe.settings import ProbeSettings

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
        name = f"`units` for layer {layer!r}"
        if is_int(spec):
            out[layer] = list(range(check_positive_int(name, spec, hint="a count of channels from 0")))
            continue
        if isinstance(spec, (bool, str)) or not isinstance(spec, Sequence):
            raise ValueError(f"{name} must be a count or a list of channels, got {spec!r}")
        chosen = [check_non_negative_int(f"{name}: a channel", u) for u in spec]
        if not chosen or len(set(chosen)) != len(chosen):
            raise ValueError(f"{name} must be distinct channel indices >= 0, got {chosen}")
        out[layer] = chosen
    return out


#: flat option names (as the callback and ``mango-pl search`` spell them) of the threshold fields
_THRESHOLD_OPTIONS = {"activation_threshold": "activation", "confidence_threshold": "confidence"}


@dataclass(frozen=True)
class MEIRequest:
    """What to search and how: the layers and their units, the stimulus space, the search settings,
    how units are read, the selectivity thresholds, and the images the options need.

    Attributes:
        layers: dotted names of the probed layers (e.g. ``("sn1", "layer4.1.sn2")``).
        space: the stimulus space searched (e.g. :class:`mango_pl.stimuli.GeneratorSpace`).
        units: per layer, the channels searched; given as a count (from 0), a list, or a mapping
            ``{layer: count or list}``; kept as ``{layer: [channels]}``.
        settings: methods, repeats, budget, population mode, warm start, seed, options.
        probe: batch limit, centre-only, precision, device.
        thresholds: the activation of a strong MEI and the probability of a confident one.
        ablation_samples: labelled validation images on which each unit is silenced in turn (0: off).
        natural_images: ``[N, C, H, W]`` images for ``settings.warm_start`` (attached when read).
        labelled: ``(images, labels)`` for ``ablation_samples`` (attached when read).

    Raises:
        ValueError: no layers or a layer twice, bad units, a negative ``ablation_samples``, fewer
            attached images than the options need.

    Example:
        >>> request = MEIRequest(("sn1",), space, units=8, settings=SearchSettings(budget=500))  # doctest: +SKIP
        >>> request.units                                                                     # doctest: +SKIP
        {'sn1': [0, 1, 2, 3, 4, 5, 6, 7]}
    """

    layers: tuple[str, ...]
    space: Any
    units: Units = 16
    settings: SearchSettings = field(default_factory=SearchSettings)
    probe: ProbeSettings = field(default_factory=ProbeSettings)
    thresholds: SelectivityThresholds = field(default_factory=SelectivityThresholds)
    ablation_samples: int = 0
    natural_images: Tensor | None = None
    labelled: tuple[Tensor, Tensor] | None = None

    def __post_init__(self) -> None:
        layers = self.layers
        if isinstance(layers, str) or not layers or not all(isinstance(layer, str) for layer in layers):
            raise ValueError(f"`layers` must be a non-empty list of layer names, got {layers!r}")
        layers = tuple(layers)
        if len(set(layers)) != len(layers):
            raise ValueError(f"`layers` lists a layer twice: {list(layers)}")
        object.__setattr__(self, "layers", layers)
        object.__setattr__(self, "units", unit_lists(layers, self.units))
        samples = check_non_negative_int("`ablation_samples`", self.ablation_samples,
                                         hint="validation images on which units are silenced")
        warm = self.settings.warm_start
        if self.natural_images is not None and self.natural_images.shape[0] < warm:
            raise ValueError(f"warm_start={warm} needs that many natural images, got {self.natural_images.shape[0]}")
        if self.labelled is not None and self.labelled[0].shape[0] < samples:
            raise ValueError(f"ablation_samples={samples} needs that many labelled images, "
                             f"got {self.labelled[0].shape[0]}")

    @classmethod
    def from_options(cls, layers: Sequence[str], space, units: Units = 16, **options: Any) -> "MEIRequest":
        """The request of the flat options that the callback and ``mango-pl search`` take: each one
        goes to the settings object with a field of its name (``activation_threshold`` and
        ``confidence_threshold`` to the thresholds).

        Raises:
            TypeError: an option that no settings object has (the valid ones are listed).
        """
        parts: dict[type, dict[str, Any]] = {SearchSettings: {}, ProbeSettings: {}, SelectivityThresholds: {}}
        own = {f.name for f in fields(cls)} - {"layers", "space", "units", "settings", "probe", "thresholds"}
        direct = {}
        for name, value in options.items():
            if name in _THRESHOLD_OPTIONS:
                parts[SelectivityThresholds][_THRESHOLD_OPTIONS[name]] = value
            elif name in own:
                direct[name] = value
            else:
                kind = next((k for k in parts if k is not SelectivityThresholds
                             and name in {f.name for f in fields(k)}), None)
                if kind is None:
                    valid = sorted({f.name for k in (SearchSettings, ProbeSettings) for f in fields(k)}
                                   | set(_THRESHOLD_OPTIONS) | own)
                    raise TypeError(f"unknown search option {name!r}; valid options: {valid}")
                parts[kind][name] = value
        search = parts[SearchSettings]
        if isinstance(search.get("methods"), str):
            search["methods"] = (search["methods"],)
        return cls(layers=tuple(layers), space=space, units=units, settings=SearchSettings(**search),
                   probe=ProbeSettings(**parts[ProbeSettings]),
                   thresholds=SelectivityThresholds(**parts[SelectivityThresholds]), **direct)

    def with_images(self, natural_images: Tensor | None = None,
                    labelled: tuple[Tensor, Tensor] | None = None) -> "MEIRequest":
        """The same request with the images its warm start / ablation need attached."""
        return replace(self, natural_images=self.natural_images if natural_images is None else natural_images,
                       labelled=self.labelled if labelled is None else labelled)

    def share(self, rank: int, world: int) -> dict[str, list[int]]:
        """The units one of ``world`` processes searches, ``{layer: channels}`` (empty lists for a
        process without a share): every ``world``-th unit of each layer, or in population mode whole
        layers in turn. Seeds depend on the unit only, so the shares together equal one process."""
        return share_of(self.units, self.settings.shared, rank, world)

    def images(self, units: Mapping[str, Sequence[int]] | None = None) -> int:
        """Images shown to search ``units`` (default: all of the request's): the progress total."""
        units = self.units if units is None else units
        return sum(self.settings.images(len(chosen)) for chosen in units.values() if chosen)

    def check(self, network: nn.Module) -> None:
        """Raise before any search what searching ``network`` would: an unknown layer (the valid ones
        are listed), a unit past a layer's channels, a grid a method cannot search, images the
        network cannot take, a readout the layer cannot give (a one-image dry run per layer)."""
        from mango_pl.probe import resolve_layer

        self.settings.check_grid(self.space.grid.d, self.space.grid.n)
        for layer in self.layers:
            resolve_layer(network, layer)
        dry_run = replace(self.probe, device=None)  # where the network is now
        for layer, units in self.units.items():
            dry_run.objective(network, layer, units, self.space, self.settings.readout, precision="float32").close()
