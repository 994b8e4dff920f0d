"""Stable / labile (paper Fig. 10): per layer, the fractions of units never selective, selective for
one class throughout ("stable") and for several classes over training ("labile"); and the MEIs of
the most labile unit, epoch by epoch and run by run."""

from __future__ import annotations

import numpy as np
import torch

from mango_pl.analysis import classes_seen
from mango_pl.mei import SpecializationTracker
from mango_pl.report.kind import DrawOptions, FigureKind, Tables, need_epochs
from mango_pl.report.run import ReportRun
from mango_pl.report.style import color, new_figure
from mango_pl.report.table import Table

KINDS = (("non_specialized", "non-specialized (never selective)"), ("stable", "stable (always one class)"),
         ("labile", "labile (several classes)"))
#: the strip shows at most this many epochs (evenly spread, first and last included)
STRIP_EPOCHS = 10


def track_run(run: ReportRun) -> SpecializationTracker:
    """Every layer's files replayed through :class:`~mango_pl.mei.SpecializationTracker` in epoch order."""
    tracker = SpecializationTracker()
    for layer in run.layers:
        for found in run.files[layer].values():
            tracker.update(found.report)
    return tracker


def selective_classes_seen(tracker: SpecializationTracker, layer: str) -> list[set[int]]:
    """Per unit of ``layer``, the classes it was selective for at any tracked epoch."""
    return classes_seen(torch.stack(tracker.history[layer]["classes"]))


def unit_kinds(tracker: SpecializationTracker, layer: str) -> list[str]:
    """Per unit of ``layer``, its kind (a name of :data:`KINDS`): ``non_specialized`` (never selective),
    ``stable`` (selective, always for one class) or ``labile`` (for several classes) — the units the
    fractions count."""
    tracking = tracker.tracking(layer)
    return ["labile" if labile else "stable" if seen else "non_specialized"
            for labile, seen in zip(tracking.labile.tolist(), selective_classes_seen(tracker, layer))]


def numbers(run: ReportRun) -> Tables:
    """``fractions``: per layer, the three fractions, from the files' reports replayed through
    :class:`~mango_pl.mei.SpecializationTracker` in epoch order. ``strip``: the most labile unit —
    most classes it was selective for, then most distinct MEI classes over epochs and runs — with
    each run's MEI class, its probability and the activation at each shown epoch."""
    need_epochs(run, "stable vs labile")
    fractions = Table(("layer", "units", "epochs", "non_specialized", "stable", "labile"))
    tracker = track_run(run)
    candidates = []
    for position, layer in enumerate(run.layers):
        tracking = tracker.tracking(layer)
        fractions.add(layer, len(run.last(layer).report.units), len(tracking.epochs),
                      tracking.non_specialized_fraction, tracking.stable_fraction, tracking.labile_fraction)
        history = tracker.history[layer]
        selective_classes = selective_classes_seen(tracker, layer)
        mei_classes = torch.stack(history["method_classes"]).flatten(0, 1)  # [E * M, U]
        for u in range(len(history["units"])):
            key = (len(selective_classes[u]), len(set(mei_classes[:, u].tolist())), position, -u)
            candidates.append((key, layer, u))
    _, layer, u = max(candidates)
    strip = Table(("layer", "unit", "epoch", "label", "mei_class", "probability", "activation", "selective_class"))
    epochs = run.layer_epochs(layer)
    shown = sorted({epochs[round(i)] for i in np.linspace(0, len(epochs) - 1, min(len(epochs), STRIP_EPOCHS))})
    for epoch in shown:
        report = run.files[layer][epoch].report
        selective_class = int(report.top_class[u]) if bool(report.selective[u]) else -1
        for m, label in enumerate(report.labels):
            probability, mei_class = report.probs[m, u].max(-1)
            strip.add(layer, report.units[u], epoch, label, int(mei_class), float(probability),
                      float(report.activation[m, u]), selective_class)
    return {"fractions": fractions, "strip": strip}


def draw(tables: Tables, run: ReportRun, options: DrawOptions):
    fractions, strip = tables["fractions"], tables["strip"]
    layers = fractions.unique("layer")
    epochs, labels = strip.unique("epoch"), strip.unique("label")
    strip_width = max(4.8, 1.45 * len(labels))
    figure = new_figure(6.5 + strip_width, max(4.4, 1.5 * len(epochs) + 1.5, 0.5 * len(layers) + 2.2))
    left_part, right_part = figure.subfigures(1, 2, width_ratios=[6.5, strip_width], wspace=0.04)
    _draw_fractions(left_part.subplots(), fractions, layers)
    layer, unit = strip.rows[0][0], strip.rows[0][1]
    u = run.files[layer][epochs[0]].meis.units.index(unit)
    cells = right_part.subplots(len(epochs), len(labels), squeeze=False)
    for row, epoch in zip(cells, epochs):
        for col, (ax, label) in enumerate(zip(row, labels)):
            _, _, _, _, mei_class, probability, activation, _ = strip.select(epoch=epoch, label=label).rows[0]
            image = run.files[layer][epoch].meis.runs[label].images[u].float() / 255  # [C, H, W]
            ax.imshow(image.permute(1, 2, 0).numpy() if image.shape[0] == 3 else image[0].numpy(),
                      cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            ax.set_xlabel(f"c{mei_class} p{probability:.2f} a{activation:.2f}", fontsize=8, labelpad=2)
            if epoch == epochs[0]:
                ax.set_title(label, fontsize=9)
            if col == 0:
                ax.set_ylabel(f"epoch {epoch}")
    selective = len({c for c in strip.column("selective_class") if c >= 0})
    seen = len(set(strip.column("mei_class")))
    selective_text = "never selective" if not selective else f"selective for {selective} class" + "es" * (selective > 1)
    right_part.suptitle(f"MEIs of the most labile unit: {layer}, unit {unit}\n{selective_text}, "
                        f"{seen} different MEI classes\n"
                        f"(c: MEI class, p: its probability, a: activation)", fontsize=10)
    return figure


def _draw_fractions(ax, fractions: Table, layers: list[str]) -> None:
    start = np.zeros(len(layers))
    for k, (kind, name) in enumerate(KINDS):
        values = np.array(fractions.column(kind))
        bars = ax.barh(range(len(layers)), values, left=start, color=color(k + 1), label=name)
        ax.bar_label(bars, labels=[f"{v:.0%}" if v >= 0.08 else "" for v in values], label_type="center",
                     fontsize=8)
        start += values
    ax.set_yticks(range(len(layers)), layers)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("fraction of the layer's units")
    ax.set_title("Specialization of units over the searched epochs")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=1)


FIGURE = FigureKind(
    name="stable_labile",
    title="Stable and labile units (paper Fig. 10)",
    caption="Left: fractions of each layer's units never selective, selective for one class, or for several "
            "classes over training. Right: the MEIs of the most labile unit (rows: epochs, columns: runs).",
    numbers=numbers,
    draw=draw,
)
