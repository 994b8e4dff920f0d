"""What of a layer's MEIs is logged: scalars, captioned MEI grids, the entropy histogram (pure)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import Tensor

from mango_pl.analysis import mei_grid, spearman
from mango_pl.mei.results import LayerMEIs, LayerReport, Tracking


def caption_lines(units: Sequence[int], activation: Tensor, top_class: Tensor, confidence: Tensor) -> list[str]:
    """One short caption per MEI: unit, activation, top class and its probability."""
    return [f"u{u} a{a:.2f} c{c}:{p:.2f}" for u, a, c, p in
            zip(units, activation.tolist(), top_class.tolist(), confidence.tolist())]


def layer_scalars(report: LayerReport, tracking: Tracking | None = None) -> dict[str, float]:
    """The ``mei/<layer>/...`` scalars of one layer (NaN where undefined)."""
    prefix = f"mei/{report.layer}"
    scalars = {
        f"{prefix}/mean_activation": report.activation.mean().item(),
        f"{prefix}/max_activation": report.activation.max(0).values.mean().item(),
        f"{prefix}/strong_fraction": report.strong_fraction,
        f"{prefix}/selective_fraction": report.selective_fraction,
        f"{prefix}/mean_entropy": report.entropy.mean().item(),
        f"{prefix}/jpeg_ratio": report.jpeg_ratio.mean().item(),
        f"{prefix}/zip_ratio": report.zip_ratio.mean().item(),
        f"{prefix}/diversity_euclidean": report.diversity_euclidean.mean().item(),
        f"{prefix}/diversity_cosine": report.diversity_cosine.mean().item(),
    }
    if tracking is not None:
        scalars.update({f"{prefix}/stable_fraction": tracking.stable_fraction,
                        f"{prefix}/labile_fraction": tracking.labile_fraction,
                        f"{prefix}/non_specialized_fraction": tracking.non_specialized_fraction})
    for i, label in enumerate(report.labels):
        scalars[f"{prefix}/{label}/mean_activation"] = report.activation[i].mean().item()
    if report.optima_spread is not None:
        scalars[f"{prefix}/optima_spread"] = report.optima_spread.mean().item()
    if report.importance_drop is not None:
        scalars[f"{prefix}/importance/mean_drop"] = report.importance_drop.mean().item()
        scalars[f"{prefix}/importance/max_drop"] = report.importance_drop.max().item()
        for name, value in importance_links(report, tracking).items():
            scalars[f"{prefix}/importance/corr_{name}"] = value
    return {k: (v if math.isfinite(v) else float("nan")) for k, v in scalars.items()}


def importance_links(report: LayerReport, tracking: Tracking | None = None) -> dict[str, float]:
    """Spearman correlations of each unit's accuracy drop when silenced with its MEI properties:
    activation, entropy, selective (from the report) and labile (from the tracking)."""
    links = dict(report.importance_correlation)
    if report.importance_drop is not None and tracking is not None and tracking.labile is not None:
        links["labile"] = spearman(report.importance_drop, tracking.labile.double())
    return links


def layer_images(meis: LayerMEIs, report: LayerReport) -> list[tuple[str, Tensor, str]]:
    """``(key, grid [3, H, W] in [0, 1], caption)`` per run: the MEIs with unit, activation, class."""
    out = []
    for i, (label, run) in enumerate(meis.runs.items()):
        confidence, top = report.probs[i].max(-1)
        captions = caption_lines(meis.units, report.activation[i], top, confidence)
        grid = mei_grid(run.images.float() / 255, captions)
        out.append((f"mei/{meis.layer}/{label}", grid,
                    f"epoch {meis.epoch}, layer {meis.layer}, {label}: " + "; ".join(captions)))
        if run.optima_images is not None:  # one row of k optima per unit
            k = run.optima_images.shape[1]
            flat = run.optima_images.flatten(0, 1).float() / 255
            lines = [f"u{u} #{j + 1} a{a:.2f}" for u, row in zip(meis.units, run.optima_activation.tolist())
                     for j, a in enumerate(row)]
            out.append((f"mei/{meis.layer}/{label}/optima", mei_grid(flat, lines, nrow=k),
                        f"epoch {meis.epoch}, layer {meis.layer}, {label}: {k} optima per unit (rows)"))
    return out
