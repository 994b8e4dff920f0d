"""``analyse``: a layer's MEIs -> its :class:`LayerReport` (a pure function of the search result)."""

from __future__ import annotations

import torch

from mango_pl.analysis import (SelectivityThresholds, class_entropy, compression_ratios, importance_correlations,
                               latent_diversity, selectivity)
from mango_pl.mei.results import LayerMEIs, LayerReport


def analyse(meis: LayerMEIs, thresholds: SelectivityThresholds | None = None) -> LayerReport:
    """Entropy, selectivity, compression and latent diversity of every run's MEIs of one layer.

    The runs play the part of the paper's methods: a unit is *selective* when its most active MEI
    is strong and confident and every run's MEI has the same top class. A NaN activation (a
    network that produced NaN) is analysed as activation 0 with uniform class probabilities and
    its unit is listed in ``nan_units``.

    Args:
        meis: the search result of one layer.
        thresholds: activation / confidence thresholds (default: the paper's 0.75 / 0.75).

    Example:
        >>> report = analyse(search_layer(net, "sn1", range(8), space, SearchSettings(("elite",))))
        >>> report.selective_fraction
    """
    thresholds = thresholds or SelectivityThresholds()
    activation = meis.stacked("activation").float()  # [M, U]
    probs = meis.stacked("probs").float()  # [M, U, C]
    latents = meis.stacked("latents").float()  # [M, U, D]
    bad_activation = ~torch.isfinite(activation)
    bad_probs = ~torch.isfinite(probs).all(-1)
    activation = activation.masked_fill(bad_activation, 0.0)
    probs = torch.where(bad_probs.unsqueeze(-1), torch.full_like(probs, 1.0 / probs.shape[-1]), probs)
    nan_units = set(meis.nan_units) | {meis.units[u] for u in
                                       (bad_activation | bad_probs).any(0).nonzero().flatten().tolist()}
    report = selectivity(activation, probs, thresholds)
    jpeg, deflate = zip(*(compression_ratios(run.images) for run in meis.runs.values()))
    euclidean, cosine = latent_diversity(latents)
    entropy = class_entropy(probs)
    spread = None
    if all(run.optima_latents is not None for run in meis.runs.values()):
        spread = torch.stack([latent_diversity(run.optima_latents.transpose(0, 1).float())[0]
                              for run in meis.runs.values()])  # [M, U]
    drop, correlation = None, {}
    if meis.importance is not None:
        drop = meis.importance.drop
        correlation = importance_correlations(drop, {"activation": activation.max(0).values,
                                                     "entropy": entropy.mean(0),
                                                     "selective": report.selective.double()})
    return LayerReport(
        layer=meis.layer, epoch=meis.epoch, units=list(meis.units), labels=meis.labels,
        activation=activation, probs=probs, entropy=entropy,
        strong=report.strong, selective=report.selective, top_class=report.top_class,
        strong_fraction=float(report.strong_fraction), selective_fraction=float(report.selective_fraction),
        jpeg_ratio=torch.stack(list(jpeg)), zip_ratio=torch.stack(list(deflate)),
        diversity_euclidean=euclidean, diversity_cosine=cosine, nan_units=sorted(nan_units), optima_spread=spread,
        importance_drop=drop, importance_correlation=correlation)
