"""``SpecializationTracker``: each layer's MEI classes across the epochs searched, and what they say."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from mango_pl.analysis import classes_seen, specialization_fractions, update_first_strong
from mango_pl.mei.results import LayerReport, Tracking


class SpecializationTracker:
    """Holds, per layer, the class each unit was selective for at each searched epoch (-1: none),
    each run's MEI class, and the first epoch each unit had a strong MEI; turns them into the
    paper's stable / labile / non-specialized fractions (Fig. 10) and first-strong epochs (Fig. 8).

    Its ``state_dict`` is what a training checkpoint keeps, so a resumed run tracks on as if
    never stopped.

    Args:
        activation_threshold: activation that makes an MEI strong.

    Example:
        >>> tracker = SpecializationTracker()
        >>> tracking = tracker.update(analyse(meis))          # after every searched epoch
        >>> tracking.stable_fraction
    """

    def __init__(self, activation_threshold: float = 0.75):
        self.activation_threshold = activation_threshold
        self.history: dict[str, dict[str, Any]] = {}

    def update(self, report: LayerReport) -> Tracking:
        """Add ``report``'s epoch to its layer's history; returns the layer's tracking so far.

        Raises:
            ValueError: the layer was tracked for other units (keep the units across a resume).
        """
        history = self.history.setdefault(report.layer, {"units": list(report.units), "epochs": [], "classes": [],
                                                         "method_classes": [], "first_strong": None})
        if history["units"] != list(report.units):
            raise ValueError(f"layer {report.layer!r} was tracked for units {history['units']} but is now searched "
                             f"for {list(report.units)}; keep `units` the same across a resume")
        selective_class = torch.where(report.selective, report.top_class, torch.full_like(report.top_class, -1))
        history["epochs"].append(report.epoch)
        history["classes"].append(selective_class.clone())
        history["method_classes"].append(report.probs.argmax(-1).clone())  # [M, U]: each run's MEI class
        first = history["first_strong"]
        if first is None:
            first = torch.full((len(report.units),), -1, dtype=torch.long)
        history["first_strong"] = update_first_strong(first, report.activation.max(0).values, report.epoch,
                                                      self.activation_threshold)
        return self.tracking(report.layer)

    def tracking(self, layer: str) -> Tracking:
        """The layer's tracking over the epochs added so far."""
        history = self.history[layer]
        classes = torch.stack(history["classes"])
        fractions = specialization_fractions(classes)
        labile = torch.tensor([len(seen) >= 2 for seen in classes_seen(classes)])
        return Tracking(list(history["epochs"]), history["first_strong"].clone(), float(fractions["stable"]),
                        float(fractions["labile"]), float(fractions["non_specialized"]), labile)

    def state_dict(self) -> dict[str, Any]:
        return {"activation_threshold": self.activation_threshold,
                "history": {layer: {k: (v.clone() if isinstance(v, Tensor) else
                                        [x.clone() for x in v] if isinstance(v, list) and v and isinstance(v[0], Tensor)
                                        else list(v) if isinstance(v, list) else v)
                                    for k, v in h.items()}
                            for layer, h in self.history.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.activation_threshold = state.get("activation_threshold", self.activation_threshold)
        self.history = {layer: dict(h) for layer, h in state.get("history", {}).items()}
