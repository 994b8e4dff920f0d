"""Reading a unit's activation from a named layer: hooks, spike rates, truncated forward, objective."""

from mango_pl.probe.ablation import UnitImportance, unit_importance
from mango_pl.probe.class_probabilities import class_probabilities
from mango_pl.probe.layer_probe import LayerProbe
from mango_pl.probe.layers import is_multistep, resolve_layer, weight_layers
from mango_pl.probe.objective import LayerObjective
from mango_pl.probe.precision import PRECISIONS, resolve_dtype
from mango_pl.probe.settings import ProbeSettings
from mango_pl.probe.spike_rate import activation_sums, spike_rate
from mango_pl.probe.warm_start import WarmStart, natural_warm_start

__all__ = [
    "PRECISIONS",
    "LayerObjective",
    "LayerProbe",
    "ProbeSettings",
    "UnitImportance",
    "WarmStart",
    "activation_sums",
    "class_probabilities",
    "is_multistep",
    "natural_warm_start",
    "resolve_dtype",
    "resolve_layer",
    "spike_rate",
    "unit_importance",
    "weight_layers",
]
