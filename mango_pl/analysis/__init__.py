"""Pure metric functions on tensors: class entropy, selectivity, compression complexity, latent
diversity, tracking over epochs, and captioned MEI grids. No hidden state; callers hold it."""

from mango_pl.analysis.compression import compression_ratios
from mango_pl.analysis.diversity import latent_diversity
from mango_pl.analysis.entropy import class_entropy
from mango_pl.analysis.importance import importance_correlations, spearman
from mango_pl.analysis.mei_grid import mei_grid
from mango_pl.analysis.selectivity import SELECTIVITY_RULES, SelectivityReport, SelectivityThresholds, selectivity
from mango_pl.analysis.tracking import classes_seen, first_strong_epoch, specialization_fractions, update_first_strong

__all__ = [
    "SELECTIVITY_RULES",
    "SelectivityReport",
    "SelectivityThresholds",
    "class_entropy",
    "classes_seen",
    "compression_ratios",
    "first_strong_epoch",
    "importance_correlations",
    "latent_diversity",
    "mei_grid",
    "selectivity",
    "spearman",
    "specialization_fractions",
    "update_first_strong",
]
