"""What of a layer's MEIs is logged: scalars, captioned MEI grids, the entropy histogram (pure)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import Tensor

from mango_pl.analysis import mei_grid
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
    return {k: (v if math.isfinite(v) else float("nan")) for k, v in scalars.items()}


def layer_images(meis: LayerMEIs, report: LayerReport) -> list[tuple[str, Tensor, str]]:
    """``(key, grid [3, H, W] in [0, 1], caption)`` per run: the MEIs with unit, activation, class."""
    out = []
    for i, (label, run) in enumerate(meis.runs.items()):
        confidence, top = report.probs[i].max(-1)
        captions = caption_lines(meis.units, report.activation[i], top, confidence)
        grid = mei_grid(run.images.float() / 255, captions)
        out.append((f"mei/{meis.layer}/{label}", grid,
                    f"epoch {meis.epoch}, layer {meis.layer}, {label}: " + "; ".join(captions)))
    return out
