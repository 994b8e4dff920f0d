"""``mango-pl loop status``: where a session stands, as text and as a plot of the responses per batch."""

from __future__ import annotations

import io
import math

from mango_pl.loop.results import SessionSummary

#: target cells drawn one by one in the plot (more: their average)
PLOTTED_TARGETS = 6
#: cells whose reference responses are drawn (the first ones)
PLOTTED_REFERENCE_CELLS = 8


def _number(value: float) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.3g}"


def _cells(cells: tuple[int, ...]) -> str:
    return ", ".join(map(str, cells)) if len(cells) <= 8 else f"{len(cells)} cells"


def status_text(summary: SessionSummary) -> str:
    """The status as text: queries used, the best stimulus per cell, responses per batch."""
    mode = "population mode (shared stimuli)" if summary.shared else "a search per target"
    per = "stimuli in total" if summary.shared else "stimuli per target cell"
    lines = [f"session {summary.directory}: method {summary.method}, {summary.cells} recorded cells, "
             f"target cells {_cells(summary.targets)}, {mode}",
             f"queries: {summary.told} of {summary.budget} {per} told, {len(summary.batches)} batches, "
             f"{summary.presentations} presentations recorded"
             + ("; budget spent" if summary.done else "")
             + (f"; batch {summary.pending} waits for responses" if summary.pending is not None else "")]
    lines.append("best stimulus per cell (mean ± s.e.m. over all its presentations):")
    lines.append(f"  {'cell':>4}  {'target':6}  {'stimulus':12}  {'mean':>8} ± {'sem':<8} {'n':>3}  {'chosen by':11}  file")
    for best in summary.best:
        lines.append(f"  {best.cell:>4}  {'yes' if best.target else 'no':6}  {best.id:12}  {best.mean:>8.3g} ± "
                     f"{_number(best.sem):<8} {best.presentations:>3}  {best.chosen_by:11}  {best.file}")
    if not summary.best:
        lines.append("  (no responses told yet)")
    shown = summary.targets[:PLOTTED_TARGETS]
    lines.append("responses per batch (per target: best / mean response to its own stimuli; references: mean "
                 "response of the target cells):")
    header = f"  {'batch':>5}  {'told':>4}  {'re-tests':>8}  {'shown':>5}  " + "  ".join(
        f"{'cell ' + str(c):>13}" for c in shown) + f"  {'references':>10}"
    lines.append(header)
    for b in summary.batches:
        pairs = "  ".join(f"{_number(best) + ' / ' + _number(mean):>13}" for best, mean in zip(b.best, b.mean))
        reference = "-" if b.reference is None else _number(sum(b.reference[c] for c in summary.targets)
                                                             / len(summary.targets))
        lines.append(f"  {b.batch:>5}  {b.told:>4}  {b.retests:>8}  {b.presentations:>5}  {pairs}  {reference:>10}"
                     + ("  (partial)" if b.partial else ""))
    return "\n".join(lines) + "\n"


def status_plot(summary: SessionSummary) -> bytes:
    """A PNG: best and mean response per batch of each target cell, and the cells' reference responses (drift)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    batches = [b.batch for b in summary.batches]
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6), constrained_layout=True)
    many = len(summary.targets) > PLOTTED_TARGETS
    series = [("mean of targets", [sum(b.best) / len(b.best) for b in summary.batches],
               [sum(b.mean) / len(b.mean) for b in summary.batches])] if many else [
        (f"cell {cell}", [b.best[p] for b in summary.batches], [b.mean[p] for b in summary.batches])
        for p, cell in enumerate(summary.targets)]
    for k, (label, best, mean) in enumerate(series):
        color = f"C{k % 10}"
        left.plot(batches, best, "-o", color=color, markersize=3, label=f"{label}: best")
        left.plot(batches, mean, "--", color=color, label=f"{label}: mean")
    left.set(xlabel="batch", ylabel="response", title="responses per batch")
    for axis in (left, right):
        axis.xaxis.get_major_locator().set_params(integer=True)
    left.legend(fontsize=7)
    referenced = [b for b in summary.batches if b.reference is not None]
    if referenced:
        cells = list(range(summary.cells))[:PLOTTED_REFERENCE_CELLS]
        for k, cell in enumerate(cells):
            right.plot([b.batch for b in referenced], [b.reference[cell] for b in referenced], "-o", markersize=3,
                       color=f"C{k % 10}", label=f"cell {cell}{' (target)' if cell in summary.targets else ''}")
        right.legend(fontsize=7)
    else:
        right.text(0.5, 0.5, "no reference images", ha="center", va="center", transform=right.transAxes)
    right.set(xlabel="batch", ylabel="mean response to the references", title="references (drift)")
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=100)
    plt.close(figure)
    return out.getvalue()
