"""The session config (``session.yaml``): read, checked, and turned into typed settings.

Every problem is found here, before a session directory is touched, and reported as one line
that names the key and the fix (:class:`SessionConfigError`).

Example ``session.yaml``::

    space:                       # the stimulus space, class_path/init_args as everywhere in mango-pl
      class_path: mango_pl.stimuli.GeneratorSpace
      init_args: {checkpoint: mango_pl/assets/digits_sngan.pt}
    method: surrogate-image      # default: mango_pl.search.LOOP_METHOD
    method_options: {}           # options of the method (e.g. {retest: 0.3})
    budget: 200                  # stimuli per target cell (population mode: stimuli in total)
    cells: 8                     # cells the rig records (0..cells-1)
    targets: [3]                 # target cells: one, several, or "all" (population mode, shared stimuli)
    batch_size: 20               # stimuli per target cell and batch (population mode: per batch)
    repeats: 1                   # presentations of each stimulus (averaged before the searcher is told)
    references: {files: [ref.png]}   # or {data: {class_path: ..., init_args: ...}, split: val, indices: [0, 5]}
    normalize: none              # none | ratio | difference (by the references' responses, per cell and batch)
    seed: 0
    image: {size: 64, channels: 1, format: png}
    responses: spike_counts      # spike_counts (whole numbers >= 0) | dff (any finite number)
    simulate:                    # optional: units of a trained network stand in for the cells
      checkpoint: mango_pl/assets/digits_convsnn.pt
      layer: lif3
      units: [0, 1, 2, 3, 4, 5, 6, 7]
      window: 10                 # Poisson spike counts: expected spikes at activation 1
      seed: 0
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from mango_pl.checks import (check_bool, check_choice, check_int, check_non_negative_int, check_positive_int,
                             check_positive_number, is_int)
from mango_pl.search import LOOP_METHOD, method_options, shared_methods

#: what a response is: a spike count per presentation (whole numbers >= 0) or a ΔF/F value (any finite number)
RESPONSE_KINDS = ("spike_counts", "dff")
#: how the references' responses correct each batch (see :mod:`mango_pl.loop.statistics`)
NORMALIZATIONS = ("none", "ratio", "difference")
#: lossless image formats a stimulus file can have (Pillow format names by file suffix)
IMAGE_FORMATS = {"png": "PNG", "tiff": "TIFF", "bmp": "BMP"}
#: the searcher options that set how many stimuli one batch asks, by mode, in order of preference
BATCH_OPTIONS = {False: ("k", "population", "popsize"), True: ("shared_k", "k")}
#: the trained digits network that ships with mango-pl (the default simulated animal)
ASSET_CLASSIFIER = Path(__file__).resolve().parents[1] / "assets" / "digits_convsnn.pt"

T = TypeVar("T")

_KEYS = ("space", "method", "method_options", "budget", "cells", "targets", "shared", "batch_size", "repeats",
         "references", "normalize", "seed", "image", "responses", "simulate")


class SessionConfigError(ValueError):
    """A bad session config: the message is one line that names the key and the fix."""


@dataclass(frozen=True)
class ImageSettings:
    """How stimulus files are written: side in pixels and channels (``None``: the space's own) and format."""

    size: int | None = None
    channels: int | None = None
    format: str = "png"

    @property
    def suffix(self) -> str:
        return "." + self.format


@dataclass(frozen=True)
class ReferenceSettings:
    """Reference images shown in every batch: image files, or items of a LightningDataModule's split."""

    files: tuple[str, ...] = ()
    data: dict[str, Any] | None = None
    split: str = "val"
    indices: tuple[int, ...] = ()

    @property
    def count(self) -> int:
        return len(self.files) + len(self.indices)


@dataclass(frozen=True)
class SimulationSettings:
    """Units of a trained network that stand in for the recorded cells, with Poisson spike-count noise."""

    checkpoint: str = str(ASSET_CLASSIFIER)
    layer: str = "lif3"
    units: tuple[int, ...] | None = None  # one per cell; None: units 0..cells-1
    window: float = 10.0
    seed: int = 0
    network_attr: str = "model"


@dataclass(frozen=True)
class SessionConfig:
    """A checked ``session.yaml``.

    Attributes:
        space: the stimulus space's ``{class_path, init_args}``.
        targets: the target cells, one search problem each (population mode: every target
            learns from every stimulus).
        shared: population mode (``ask_shared``/``tell_shared``).
        batch_size: stimuli per target and batch (population mode: per batch); ``None``: the method's own.
        simulate: the simulated animal, or ``None`` (a real rig; ``--simulate`` then uses the defaults).
        sha256: the config file's hash (a session refuses to go on after its config was edited).
    """

    space: dict[str, Any]
    budget: int
    cells: int
    targets: tuple[int, ...]
    shared: bool = False
    method: str = LOOP_METHOD
    method_options: dict[str, Any] = field(default_factory=dict)
    batch_size: int | None = None
    repeats: int = 1
    references: ReferenceSettings = ReferenceSettings()
    normalize: str = "none"
    seed: int = 0
    image: ImageSettings = ImageSettings()
    responses: str = "spike_counts"
    simulate: SimulationSettings | None = None
    sha256: str = ""

    @property
    def problems(self) -> int:
        """``P``: one search problem per target cell."""
        return len(self.targets)

    def searcher_options(self) -> dict[str, Any]:
        """The method's options with the batch size put into the option that sets it."""
        options = dict(self.method_options)
        if self.batch_size is not None:
            options[batch_option(self.method, self.shared)] = self.batch_size
        return options


def batch_option(method: str, shared: bool) -> str:
    """The option of ``method`` that sets how many stimuli an ask proposes (per target; shared: in all).

    Raises:
        SessionConfigError: the method has no such option.
    """
    valid = method_options(method)
    for name in BATCH_OPTIONS[shared]:
        if name in valid:
            return name
    raise SessionConfigError(f"batch_size: search method {method!r} has no option that sets its batch size "
                             f"({' or '.join(BATCH_OPTIONS[shared])}); remove batch_size to use the method's own")


def check_config(check: Callable[..., T], key: str, value: Any, *args: Any, **kwargs: Any) -> T:
    """``check(key, value, *args, **kwargs)``: a check of :mod:`mango_pl.checks` (the one place of the rule)
    whose error is raised as a :class:`SessionConfigError` naming the config key.

    Example:
        >>> check_config(check_positive_int, "budget", 200)
        200
        >>> check_config(check_positive_int, "budget", 0)
        Traceback (most recent call last):
        ...
        mango_pl.loop.config.SessionConfigError: budget must be a positive int, got 0
    """
    try:
        return check(key, value, *args, **kwargs)
    except ValueError as error:  # ArgumentTypeError is a ValueError too
        raise SessionConfigError(str(error)) from error


def _index_list(value: Any, key: str, what: str, low: int | None = 0) -> list[int]:
    """``value`` as a list of ints ``>= low`` (``what``: what an item is, e.g. ``a dataset index``)."""
    if not isinstance(value, list):
        raise SessionConfigError(f"{key} must be a list of ints ({what} each), got {value!r}")
    return [check_config(check_int, f"{key}[{i}]", item, low, hint=what) for i, item in enumerate(value)]


def _mapping(value: Any, key: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SessionConfigError(f"{key} must be a mapping with keys {', '.join(allowed)}, got {value!r}")
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise SessionConfigError(f"unknown key(s) {', '.join(unknown)} in {key}; valid keys: {', '.join(allowed)}")
    return value


def _class_spec(value: Any, key: str) -> dict[str, Any]:
    if not (isinstance(value, dict) and isinstance(value.get("class_path"), str)):
        raise SessionConfigError(f"{key} needs class_path (and init_args), e.g. {{class_path: "
                                 f"mango_pl.stimuli.GeneratorSpace, init_args: {{checkpoint: ...}}}}; got {value!r}")
    unknown = sorted(set(value) - {"class_path", "init_args"})
    if unknown or not isinstance(value.get("init_args", {}), dict):
        raise SessionConfigError(f"{key} takes class_path and init_args (a mapping) only, got keys {sorted(value)}")
    return {"class_path": value["class_path"], "init_args": dict(value.get("init_args") or {})}


def _targets(value: Any, cells: int) -> tuple[tuple[int, ...], bool]:
    if value == "all":
        return tuple(range(cells)), True
    if is_int(value):
        value = [value]
    if not isinstance(value, list) or not value:
        raise SessionConfigError(f"targets must be a cell index, a list of cell indices or 'all', got {value!r}")
    value = _index_list(value, "targets", "a cell index", low=None)
    bad = [c for c in value if not 0 <= c < cells]
    if bad:
        raise SessionConfigError(f"targets {bad} are not recorded cells: cells: {cells} records cells 0..{cells - 1}")
    if len(set(value)) != len(value):
        raise SessionConfigError(f"targets lists a cell twice: {value}; list each target cell once")
    return tuple(value), False


def _references(value: Any) -> ReferenceSettings:
    raw = _mapping(value, "references", ("files", "data", "split", "indices"))
    files = raw.get("files") or []
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise SessionConfigError(f"references.files must be a list of image paths, got {files!r}")
    indices = _index_list(raw.get("indices") or [], "references.indices", "a dataset index")
    data = raw.get("data")
    if indices and data is None:
        raise SessionConfigError("references.indices needs references.data: the datamodule (class_path/init_args) "
                                 "whose images they index, e.g. {class_path: mango_pl.data.DigitsDataModule}")
    if data is not None:
        data = _class_spec(data, "references.data")
        if not indices:
            raise SessionConfigError("references.data needs references.indices: which of its images to show")
    split = check_config(check_choice, "references.split", raw.get("split", "val"), ("train", "val", "test"))
    return ReferenceSettings(tuple(files), data, split, tuple(indices))


def _image(value: Any) -> ImageSettings:
    raw = _mapping(value, "image", ("size", "channels", "format"))
    size = raw.get("size")
    channels = raw.get("channels")
    if size is not None:
        check_config(check_int, "image.size", size, 4, hint="pixels per side; leave it out: the space's own")
    if channels is not None:
        check_config(check_choice, "image.channels", channels, (1, 3),
                 hint="1 = gray, 3 = RGB; leave it out: the space's own")
    fmt = check_config(check_choice, "image.format", raw.get("format", "png"), tuple(IMAGE_FORMATS))
    return ImageSettings(size, channels, fmt)


def _simulation(value: Any, cells: int) -> SimulationSettings | None:
    if value is None or value is False:
        return None
    if value is True:
        value = {}
    raw = _mapping(value, "simulate", ("checkpoint", "layer", "units", "window", "seed", "network_attr"))
    defaults = SimulationSettings()
    units = raw.get("units")
    if units is not None:
        if not isinstance(units, list) or len(units) != cells:
            raise SessionConfigError(f"simulate.units must list one unit index >= 0 per recorded cell ({cells}), "
                                     f"got {units!r}")
        units = tuple(_index_list(units, "simulate.units", "a unit of simulate.layer"))
    checkpoint = raw.get("checkpoint", defaults.checkpoint)
    layer = raw.get("layer", defaults.layer)
    if not isinstance(checkpoint, str) or not isinstance(layer, str):
        raise SessionConfigError("simulate.checkpoint and simulate.layer must be strings (a checkpoint path and a "
                                 "dotted layer name such as lif3)")
    window = check_config(check_positive_number, "simulate.window", raw.get("window", defaults.window),
                      hint="expected spikes at activation 1")
    seed = check_config(check_non_negative_int, "simulate.seed", raw.get("seed", 0))
    return SimulationSettings(checkpoint, layer, units, window, seed, str(raw.get("network_attr", "model")))


def parse_session_config(raw: Any, sha256: str = "") -> SessionConfig:
    """Check a session config given as a mapping (what ``session.yaml`` holds).

    Raises:
        SessionConfigError: the first problem, as one line naming the key and the fix.
    """
    if not isinstance(raw, dict):
        raise SessionConfigError(f"a session config is a YAML mapping with keys such as space, budget, cells, "
                                 f"targets; got {type(raw).__name__}")
    unknown = sorted(set(raw) - set(_KEYS))
    if unknown:
        raise SessionConfigError(f"unknown key(s) {', '.join(unknown)} in the session config; valid keys: "
                                 f"{', '.join(_KEYS)}")
    missing = [key for key in ("space", "budget", "cells", "targets") if key not in raw]
    if missing:
        raise SessionConfigError(f"the session config lacks {', '.join(missing)}; see `mango-pl loop init --help` "
                                 f"for an example")
    cells = check_config(check_positive_int, "cells", raw["cells"], hint="cells the rig records")
    targets, shared = _targets(raw["targets"], cells)
    if "shared" in raw:
        check_config(check_bool, "shared", raw["shared"], hint="true: one population search with shared stimuli")
        if shared and not raw["shared"]:
            raise SessionConfigError("targets: all searches with shared stimuli; give a list of targets for separate "
                                     "searches, or drop shared: false")
        shared = raw["shared"]
    method = raw.get("method", LOOP_METHOD)
    if not isinstance(method, str):
        raise SessionConfigError(f"method must be a search method name, e.g. {LOOP_METHOD!r}; got {method!r}")
    try:
        valid_options = method_options(method)
    except (TypeError, ValueError) as error:
        raise SessionConfigError(f"method: {error}") from error
    if shared and method not in shared_methods():
        raise SessionConfigError(f"method {method!r} has no population mode (shared stimuli, targets: all); use one "
                                 f"of {', '.join(shared_methods())}")
    options = raw.get("method_options") or {}
    if not isinstance(options, dict):
        raise SessionConfigError(f"method_options must be a mapping of option: value, got {options!r}")
    unknown = sorted(set(options) - set(valid_options))
    if unknown:
        raise SessionConfigError(f"unknown option(s) {', '.join(unknown)} in method_options for {method!r}; valid "
                                 f"options: {', '.join(valid_options)}")
    batch_size = raw.get("batch_size")
    if batch_size is not None:
        check_config(check_positive_int, "batch_size", batch_size,
                 hint="stimuli per target cell and batch; population mode: per batch")
        name = batch_option(method, shared)
        if name in options:
            raise SessionConfigError(f"batch_size and method_options.{name} both set the batch size; keep one")
    seed = check_config(check_non_negative_int, "seed", raw.get("seed", 0))
    config = SessionConfig(
        space=_class_spec(raw["space"], "space"),
        budget=check_config(check_positive_int, "budget", raw["budget"],
                        hint="stimuli per target cell; population mode: in all"),
        cells=cells, targets=targets, shared=shared, method=method, method_options=dict(options), batch_size=batch_size,
        repeats=check_config(check_positive_int, "repeats", raw.get("repeats", 1), hint="presentations of each stimulus"),
        references=_references(raw.get("references")),
        normalize=check_config(check_choice, "normalize", raw.get("normalize", "none"), NORMALIZATIONS), seed=seed,
        image=_image(raw.get("image")),
        responses=check_config(check_choice, "responses", raw.get("responses", "spike_counts"), RESPONSE_KINDS),
        simulate=_simulation(raw.get("simulate"), cells), sha256=sha256)
    if config.normalize != "none" and not config.references.count:
        raise SessionConfigError(f"normalize: {config.normalize} divides out drift with the references' responses; "
                                 f"give references (files or data + indices), or set normalize: none")
    return config


def load_session_config(path: str | Path) -> SessionConfig:
    """Read and check ``session.yaml``.

    Raises:
        FileNotFoundError: no such file.
        SessionConfigError: not YAML, or a bad config (one line naming the key and the fix).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no session config at {str(path)!r}; write one (see `mango-pl loop init --help`)")
    return parse_session_yaml(path.read_bytes(), str(path))


def parse_session_yaml(data: bytes, source: str = "session.yaml") -> SessionConfig:
    """Check the bytes of a ``session.yaml`` (the config's hash is the hash of these bytes).

    Raises:
        SessionConfigError: not YAML, or a bad config.
    """
    try:
        raw = yaml.safe_load(data)
    except yaml.YAMLError as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise SessionConfigError(f"{source} is not valid YAML ({first}); fix the file") from error
    return parse_session_config(raw, hashlib.sha256(data).hexdigest())


def instantiate(spec: dict[str, Any], key: str, default_module: str = "mango_pl.stimuli") -> Any:
    """Build ``class_path(**init_args)``; a class_path without a dot is looked up in ``default_module``.

    Raises:
        SessionConfigError: the class cannot be imported or does not take these arguments.
    """
    class_path = spec["class_path"]
    module_name, _, name = class_path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name or default_module), name)
    except (ImportError, AttributeError, ValueError) as error:
        raise SessionConfigError(f"{key}.class_path: cannot import {class_path!r} ({error}); give the full path, "
                                 f"e.g. mango_pl.stimuli.GeneratorSpace") from error
    try:
        return cls(**spec.get("init_args", {}))
    except (TypeError, ValueError, FileNotFoundError) as error:
        raise SessionConfigError(f"{key}: {class_path}(**init_args) failed: {str(error).splitlines()[0]}") from error
