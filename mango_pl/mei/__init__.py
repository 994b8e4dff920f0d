"""The MEI engine: search a layer's units, analyse, track across epochs, and the MEI file format.

Every entry point uses it — ``MEISearchCallback`` during training, ``mango-pl search`` for saved
checkpoints and any ``nn.Module`` (:func:`search_model`), the benchmarks — so the same state,
layer, units and seed give the same MEIs whichever way they are searched.

    >>> from mango_pl.mei import SearchSettings, search_model
    >>> meis = search_model(model, ["layer4.1.sn2"], space, settings=SearchSettings(("elite",), budget=500))

One job is one typed request (:class:`MEIRequest`: layers, units, space, :class:`SearchSettings`,
:class:`~mango_pl.probe.ProbeSettings`, thresholds); every entry point builds one.
"""

from mango_pl.mei.analysis import analyse
from mango_pl.mei.files import FORMAT, VERSION, MEIFile, atomic_save, find_mei_files, load_meis, mei_path, save_meis
from mango_pl.mei.results import (DEFAULT_REPEATS, LayerMEIs, LayerReport, RunMEIs, SearchSettings, Tracking,
                                  merge_shares)
from mango_pl.mei.post_hoc import CheckpointSearch, resolve_checkpoints, search_checkpoints, search_model
from mango_pl.mei.request import MEIRequest, Units, unit_lists
from mango_pl.mei.search import WARM_STARTS, evaluation_network, search_layer, search_layers
from mango_pl.mei.seeds import unit_seeds
from mango_pl.mei.summary import caption_lines, layer_images, layer_scalars
from mango_pl.mei.tracker import SpecializationTracker

__all__ = [
    "CheckpointSearch",
    "DEFAULT_REPEATS",
    "FORMAT",
    "VERSION",
    "WARM_STARTS",
    "LayerMEIs",
    "LayerReport",
    "MEIRequest",
    "MEIFile",
    "RunMEIs",
    "SearchSettings",
    "SpecializationTracker",
    "Tracking",
    "Units",
    "analyse",
    "atomic_save",
    "caption_lines",
    "evaluation_network",
    "find_mei_files",
    "layer_images",
    "layer_scalars",
    "load_meis",
    "mei_path",
    "merge_shares",
    "resolve_checkpoints",
    "save_meis",
    "search_layer",
    "search_checkpoints",
    "search_layers",
    "search_model",
    "unit_lists",
    "unit_seeds",
]
