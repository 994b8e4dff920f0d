"""Scores, tables and the plot of the neuron bank (pure functions over the job records).

A unit's score at a budget is the **noise-free** response of the stimulus a method returns there,
divided by the unit's **reference**: the larger of

* its reference run's best value (one 10,000-query run of the strongest method for the grid,
  ``benchmarks/bank_reference.py``, committed as ``results/neuron_bank/reference_maxima.csv``), and
* the best noise-free value any bank method's query reached for the unit (any budget, noise, seed),

so 1.0 is the unit's MEI as far as anything found it. The report gives, per grid and noise model,
the mean score over units × seeds with a 95 % Student-t interval (``mango_pl.report.stats``), the
default method's win rates; noise-free, also the fraction of units within 5 % of their reference
and the scores per depth (the early, middle and late layer of each network); then the targets,
the silent units, population mode (each unit's score on shared stimuli relative to its own
independent search: mean and 10th percentile), the optimizer's time, and the bank's and the
reference runs' CPU time, apart.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection, Sequence
from pathlib import Path

import numpy as np
import torch

from mango_pl.report.stats import mean_intervals

#: plot colours (Okabe-Ito, then Tol's muted; colour-blind safe), the default method first
PALETTE = ["#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#999999",
           "#882255", "#44AA99", "#661100"]
#: a unit counts as found when its score is within this fraction of its reference
WITHIN = 0.05
#: depth names of a network's three bank layers, in ``bank_networks.NETWORKS[...].layers`` order
DEPTHS = ("early", "middle", "late")
#: population mode's target: every unit of a layer on at most this many shared stimuli in all
POPULATION_TARGET = 3000


def unit_id(record: dict, p: int) -> tuple:
    return record["grid"], record["network"], record["layer"], record["units"][p]


def reference_maxima(rows: list[dict] | None) -> dict[tuple, float]:
    """``{(grid, network, layer, unit): value}`` of the reference table's rows (as read from the csv)."""
    return {(row["grid"], row["network"], row["layer"], int(row["unit"])): float(row["value"]) for row in rows or []}


def normalizers(records: list[dict], reference: list[dict] | None = None) -> dict[tuple, float]:
    """Per unit of ``records``: its reference, the larger of its reference run's value (``reference``:
    the rows of the reference table; units without a row have none) and the best noise-free
    response any bank method's query reached (any budget, noise, seed)."""
    best: dict[tuple, float] = defaultdict(lambda: -math.inf)
    for record in records:
        for p in range(len(record["units"])):
            reached = max([record["true_max"][p], *record["true_at"][p]])
            best[unit_id(record, p)] = max(best[unit_id(record, p)], reached)
    maxima = reference_maxima(reference)
    return {unit: max(value, maxima.get(unit, -math.inf)) for unit, value in best.items()}


def scores(records: list[dict], norm: dict[tuple, float]) -> dict[tuple, dict[tuple, np.ndarray]]:
    """``{(grid, noise, method): {(unit, seed): normalized score per budget}}`` of responsive units
    (units whose normalizer is not positive are left out)."""
    out: dict[tuple, dict[tuple, np.ndarray]] = defaultdict(dict)
    for record in records:
        for p, silent in enumerate(record["silent"]):
            if silent:
                continue
            scale = norm[unit_id(record, p)]
            if not scale > 0:
                continue
            out[(record["grid"], record["noise"], record["method"])][(unit_id(record, p), record["seed"])] = (
                np.asarray(record["true_at"][p]) / scale)
    return out


def mean_half(runs: dict) -> tuple[np.ndarray, np.ndarray]:
    """Mean over the runs' score curves and the half-width of its 95 % Student-t interval, per budget
    (:func:`mango_pl.report.stats.mean_intervals`; 0 for a single run)."""
    mean, _, high = mean_intervals(torch.as_tensor(np.stack(list(runs.values()))))
    return mean.numpy(), (high - mean).numpy()


def within_fraction(runs: dict, tolerance: float = WITHIN) -> np.ndarray:
    """Per budget: the fraction of the runs (unit, seed) whose score is within ``tolerance`` of the
    unit's reference (score >= 1 - tolerance)."""
    return (np.stack(list(runs.values())) >= 1 - tolerance - 1e-12).mean(0)


def win_rate(ours: dict, theirs: dict) -> tuple[np.ndarray, int]:
    """Fraction of the (unit, seed) pairs both methods ran where ours scored higher (ties: half), per budget."""
    common = sorted(set(ours) & set(theirs))
    if not common:
        return np.array([]), 0
    a = np.stack([ours[c] for c in common])
    b = np.stack([theirs[c] for c in common])
    return ((a > b) + 0.5 * (a == b)).mean(0), len(common)


def optimizer_ms(records: list[dict]) -> dict[str, float]:
    """Median optimizer milliseconds per step and problem, per method."""
    per: dict[str, list[float]] = defaultdict(list)
    for record in records:
        if record["steps"]:
            per[record["method"]].append(record["optimizer_seconds"] / record["steps"] / len(record["units"]) * 1e3)
    return {method: float(np.median(values)) for method, values in per.items()}


def method_order(records: list[dict], default: str, also: Sequence[str] = ()) -> list[str]:
    """The methods of ``records``: ``default`` first, then ``also`` (mango-pl's other methods), then
    the rest by name."""
    methods = sorted({r["method"] for r in records})
    first = [m for m in [default, *also] if m in methods]
    return first + [m for m in methods if m not in first]


def _rows(values: dict[str, list[str]], best: dict[int, float], numbers: dict[str, np.ndarray], methods: list[str],
          budgets: list[int], default: str, counts: dict[str, int], unit: str) -> list[str]:
    lines = ["| method | " + " | ".join(f"@{b}" for b in budgets) + f" | {unit} |",
             "|---|" + "---|" * (len(budgets) + 1)]
    for m in methods:
        if m not in values:
            continue
        cells = [f"**{cell}**" if math.isclose(numbers[m][j], best[j]) else cell for j, cell in enumerate(values[m])]
        name = f"**{m}** (default)" if m == default else m
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {counts[m]} |")
    return lines


def score_table(table: dict, methods: list[str], budgets: list[int], default: str) -> list[str]:
    """Markdown rows: mean normalized score ± 95 % interval per method and budget; best per column bold."""
    means = {m: mean_half(table[m]) for m in methods if table.get(m)}
    if not means:
        return []
    best = {j: max(means[m][0][j] for m in means) for j in range(len(budgets))}
    cells = {m: [f"{mean[j]:.3f} ± {half[j]:.3f}" for j in range(len(budgets))] for m, (mean, half) in means.items()}
    return _rows(cells, best, {m: v[0] for m, v in means.items()}, methods, budgets, default,
                 {m: len(table[m]) for m in means}, "units × seeds")


def within_table(table: dict, methods: list[str], budgets: list[int], default: str,
                 tolerance: float = WITHIN) -> list[str]:
    """Markdown rows: the fraction of units (× seeds) within ``tolerance`` of their reference, per
    method and budget; best per column bold."""
    fractions = {m: within_fraction(table[m], tolerance) for m in methods if table.get(m)}
    if not fractions:
        return []
    best = {j: max(f[j] for f in fractions.values()) for j in range(len(budgets))}
    cells = {m: [f"{100 * v:.0f} %" for v in f] for m, f in fractions.items()}
    return _rows(cells, best, fractions, methods, budgets, default, {m: len(table[m]) for m in fractions},
                 "units × seeds")


def by_depth(runs: dict, depths: dict[tuple[str, str], str], depth: str) -> dict:
    """The runs ``{(unit, seed): curve}`` of units in a layer of the given depth."""
    return {key: curve for key, curve in runs.items() if depths.get(key[0][1:3]) == depth}


def write_report(records: list[dict], default: str, budgets: list[int], accuracy: dict[str, float],
                 out: Path, reference: list[dict] | None = None,
                 depths: dict[tuple[str, str], str] | None = None, baselines: Collection[str] | None = None,
                 also: Sequence[str] = ()) -> str:
    """Write ``report.md`` and ``neuron_bank.png`` to ``out``; returns the markdown.

    Args:
        records: the bank's job records (units and population mode).
        default: the method the win rates are for.
        budgets: the recorded budgets.
        accuracy: each network's validation accuracy.
        out: the folder written to.
        reference: the reference table's rows (``bank_reference.read_table``); ``None``: each unit is
            normalized by the best any bank method reached.
        depths: ``{(network, layer): "early" | "middle" | "late"}``, for the tables per depth.
        baselines: the methods the targets compare against (``None``: every other method).
        also: mango-pl methods whose targets are checked too, beside ``default``'s.
    """
    population = [r for r in records if r.get("mode", "units") not in ("units", "reference")]
    bank_seconds = sum(r.get("wall_seconds", 0.0) for r in records)
    records = [r for r in records if r.get("mode", "units") == "units"]
    norm = normalizers(records, reference)
    table = scores(records, norm)
    methods = method_order(records, default, also)
    grids = sorted({r["grid"] for r in records}, reverse=True)
    noises = [n for n in ("none", "mult0.2", "mult0.5", "poisson10") if any(r["noise"] == n for r in records)]
    noises += sorted({r["noise"] for r in records} - set(noises))
    units = {unit_id(r, p) for r in records for p, s in enumerate(r["silent"]) if not s}
    lines = ["# Neuron bank: normalized score (noise-free response of the returned stimulus / the unit's reference: "
             "the best of its reference run and of every bank method), mean ± 95 % interval over units × seeds",
             "",
             "Networks (validation accuracy on the digits): "
             + ", ".join(f"{name} {acc:.3f}" for name, acc in accuracy.items())
             + f"; {len(units)} responsive units in all grids.", ""]
    lines += reference_lines(reference, units, norm)
    lines += [f"Bank: {len(records) + len(population)} jobs, {bank_seconds / 3600:.2f} CPU-hours (sum of the jobs' "
              f"wall times; the reference runs are not included).", ""]
    for grid in grids:
        for noise in noises:
            per = {m: table.get((grid, noise, m), {}) for m in methods}
            if not any(per.values()):
                continue
            lines += [f"## {grid} grid, noise: {noise}", ""]
            lines += score_table(per, methods, budgets, default)
            lines.append("")
            if noise == "none":
                lines += [f"Fraction of units within {100 * WITHIN:.0f} % of their reference:", ""]
                lines += within_table(per, methods, budgets, default) + [""]
            if per.get(default) and any(per.get(m) for m in methods if m != default):
                lines += [f"Win rate of {default} (ties count half):", "",
                          "| against | " + " | ".join(f"@{b}" for b in budgets) + " | pairs |",
                          "|---|" + "---|" * (len(budgets) + 1)]
                for m in methods:
                    if m == default or not per.get(m):
                        continue
                    rate, pairs = win_rate(per[default], per[m])
                    lines.append(f"| {m} | " + " | ".join(f"{r:.2f}" for r in rate) + f" | {pairs} |")
                lines.append("")
    lines += depth_lines(table, methods, grids, budgets, default, depths)
    lines += target_lines(table, methods, grids, budgets, [default, *also], baselines, depths)
    lines += silent_lines(records, norm, methods)
    lines += population_lines(population)
    ms = optimizer_ms(records)
    lines += ["## Optimizer time (median ms per step and problem, one CPU thread)", "",
              "| method | ms |", "|---|---|"] + [f"| {m} | {ms[m]:.2f} |" for m in methods if m in ms] + [""]
    text = "\n".join(lines)
    (out / "report.md").write_text(text)
    plot(table, methods, grids, noises, budgets, out / "neuron_bank.png", ours=1 + len(also))
    return text


def reference_lines(reference: list[dict] | None, units: set[tuple], norm: dict[tuple, float]) -> list[str]:
    """What the references are: the reference runs' methods, queries and CPU time (apart from the
    bank's), and how many units' reference a bank method raised above the reference run's value."""
    if not reference:
        return ["No reference table: each unit's reference is the best any bank method reached.", ""]
    maxima = reference_maxima(reference)
    rows = [row for row in reference if (row["grid"], row["network"], row["layer"], int(row["unit"])) in units]
    covered = units & set(maxima)
    runs = sorted({(row["grid"], row["method"], int(row["queries"])) for row in rows}, reverse=True)
    seconds = sum(float(row["seconds"]) for row in rows)
    raised = sum(1 for u in covered if norm[u] > maxima[u])
    text = ("Reference runs (`benchmarks/bank_reference.py`, timed apart from the bank): "
            + ", ".join(f"{grid}: {method} × {queries:,} queries" for grid, method, queries in runs)
            + f"; {seconds / 3600:.2f} CPU-hours for {len(covered)} units. A bank method went above the reference "
            f"run on {raised} of them.")
    if len(covered) < len(units):
        text += f" {len(units) - len(covered)} units have no reference run (their reference: the bank's best)."
    return [text, ""]


def depth_lines(table: dict, methods: list[str], grids: list[str], budgets: list[int], default: str,
                depths: dict[tuple[str, str], str] | None) -> list[str]:
    """Noise-free score tables per grid and depth (the early, middle, late layer of every network)."""
    if not depths:
        return []
    lines = []
    for grid in grids:
        for depth in DEPTHS:
            per = {m: by_depth(table.get((grid, "none", m), {}), depths, depth) for m in methods}
            if not any(per.values()):
                continue
            layers = sorted({key[0][1:3] for runs in per.values() for key in runs})
            lines += [f"## {grid} grid, noise-free, {depth} layers ("
                      + ", ".join(f"{network} {layer}" for network, layer in layers) + ")", ""]
            lines += score_table(per, methods, budgets, default) + [""]
    return lines


def target_lines(table: dict, methods: list[str], grids: list[str], budgets: list[int], ours: list[str],
                 baselines: Collection[str] | None = None,
                 depths: dict[tuple[str, str], str] | None = None) -> list[str]:
    """The issue's targets, checked per grid for each of ``ours`` (mango-pl's methods) against every
    baseline that ran on that grid (``baselines``: the methods that count as one; ``None``: every
    other method but variants such as ``+warm``), with the share of units within ``WITHIN`` of their
    reference per depth."""
    if 250 not in budgets or 1000 not in budgets:
        return []
    lines = ["## Targets", ""]
    j250, j1000, jlast = budgets.index(250), budgets.index(1000), len(budgets) - 1

    def curve(grid: str, noise: str, method: str) -> np.ndarray | None:
        runs = table.get((grid, noise, method))
        return np.stack(list(runs.values())).mean(0) if runs else None

    def rivals_of(grid: str, noise: str) -> dict[str, np.ndarray]:
        named = [m for m in methods if m not in ours and "+" not in m and (baselines is None or m in baselines)]
        return {m: v for m in named if (v := curve(grid, noise, m)) is not None}

    for own in [m for m in ours if m in methods]:
        for grid in grids:
            clean, rivals = curve(grid, "none", own), rivals_of(grid, "none")
            if clean is not None and rivals:
                best = max(rivals, key=lambda m: rivals[m][j1000])
                gap = rivals[best][j1000] - clean[j250]
                lines.append(f"- {grid}, noise-free: {own} @250 = {clean[j250]:.3f} vs the best baseline @1000 "
                             f"({best}) = {rivals[best][j1000]:.3f}: " + ("met" if gap <= 0 else f"missed by {gap:.3f}"))
                top = max(rivals, key=lambda m: rivals[m][jlast])
                lines.append(f"- {grid}, noise-free: {own} @{budgets[jlast]} = {clean[jlast]:.3f} vs the best "
                             f"baseline ({top}) = {rivals[top][jlast]:.3f}: "
                             f"{100 * (clean[jlast] / rivals[top][jlast] - 1):+.1f} % (target: +10 %)")
                runs = table[(grid, "none", own)]
                shares = [f"{depth} {100 * within_fraction(part)[jlast]:.0f} %" for depth in DEPTHS
                          if (part := by_depth(runs, depths or {}, depth))]
                lines.append(f"- {grid}, noise-free: {own} within {100 * WITHIN:.0f} % of the reference "
                             f"@{budgets[jlast]}: {100 * within_fraction(runs)[jlast]:.0f} %"
                             + (f" ({', '.join(shares)})" if shares else "") + " (target: 80 % at every depth)")
            for noise in ("mult0.5", "mult0.2", "poisson10"):
                mine, rivals = curve(grid, noise, own), rivals_of(grid, noise)
                if mine is None or not rivals:
                    continue
                behind = [(m, budgets[j], v[j] - mine[j]) for m, v in rivals.items() for j in range(len(budgets))
                          if v[j] >= mine[j]]
                lines.append(f"- {grid}, {noise}: {own} ahead of every baseline at every budget: " + (
                    "yes" if not behind else "no — behind " + ", ".join(f"{m}@{b} by {g:.3f}" for m, b, g in behind)))
                if clean is not None and 500 in budgets:
                    j500 = budgets.index(500)
                    lines.append(f"- {grid}, {noise}: {own} @{budgets[jlast]} = {mine[jlast]:.3f} vs its own "
                                 f"noise-free @500 = {clean[j500]:.3f}: "
                                 + ("met" if mine[jlast] >= clean[j500] else
                                    f"missed by {clean[j500] - mine[jlast]:.3f}"))
    return lines + [""]


def silent_lines(records: list[dict], norm: dict, methods: list[str]) -> list[str]:
    """How often each method woke a unit that was silent on the random probe set."""
    silent = [(r, p) for r in records for p, s in enumerate(r["silent"]) if s]
    if not silent:
        return []
    lines = ["## Silent units (no response to 256 random stimuli), reported apart", "",
             "| method | runs | woken (final response > 0) | mean final response |", "|---|---|---|---|"]
    for m in methods:
        finals = [r["true_at"][p][-1] for r, p in silent if r["method"] == m]
        if finals:
            lines.append(f"| {m} | {len(finals)} | {sum(f > 0 for f in finals)} | {np.mean(finals):.4f} |")
    woken = sum(1 for key, v in norm.items() if v > 0 and any(
        (r["grid"], r["network"], r["layer"], r["units"][p]) == key for r, p in silent))
    units = len({(r["grid"], r["network"], r["layer"], r["units"][p]) for r, p in silent})
    return lines + ["", f"{woken} of {units} silent units were woken by at least one method.", ""]


def plot(table: dict, methods: list[str], grids: list[str], noises: list[str], budgets: list[int], path: Path,
         ours: int = 1) -> None:
    """Normalized score vs queries (log x), one panel per grid and noise, one line per method (the
    first ``ours``, mango-pl's, drawn thick)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(grids), len(noises), figsize=(3.6 * len(noises) + 1.6, 3.2 * len(grids)),
                             squeeze=False, sharex=True)
    for i, grid in enumerate(grids):
        for j, noise in enumerate(noises):
            ax = axes[i][j]
            for c, m in enumerate(methods):
                runs = table.get((grid, noise, m))
                if not runs:
                    continue
                mean, half = mean_half(runs)
                style = dict(color=PALETTE[c % len(PALETTE)], lw=2.4 if c < ours else 1.3,
                             ls="-" if c < 6 else "--")
                ax.plot(budgets, mean, marker="o", ms=3, label=m, **style)
                ax.fill_between(budgets, mean - half, mean + half, color=style["color"], alpha=0.12)
            ax.set_xscale("log")
            ax.set_xticks(budgets, [str(b) for b in budgets])
            ax.minorticks_off()
            ax.set_title(f"{grid} grid, noise {noise}", fontsize=10)
            ax.set_xlabel("queries per unit (log)")
            ax.set_ylabel("normalized score")
            ax.grid(alpha=0.3)
    fullest = max(axes.flat, key=lambda ax: len(ax.get_lines()))  # the panel where every method ran
    fig.legend(*fullest.get_legend_handles_labels(), loc="center right", fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0, 1 - 1.6 / fig.get_figwidth(), 1))  # the legend's column stays clear
    fig.savefig(path, dpi=110)
    plt.close(fig)


def population_ratios(alone: dict, shared: dict) -> tuple[np.ndarray, int]:
    """Each responsive unit's score on shared stimuli relative to its independent search: the
    noise-free response of what the shared search returns at each mark divided by what the unit's
    own search returned at its full budget, ``[U, marks]``, over the units whose own search found a
    positive response; and how many units it did not."""
    independent = np.asarray(alone["true_at"], dtype=np.float64)[:, -1]
    keep = independent > 0
    ratios = np.asarray(shared["true_at"], dtype=np.float64)[keep] / independent[keep, None]
    return ratios, int((~keep).sum())


def population_lines(records: list[dict]) -> list[str]:
    """Shared stimuli for a whole layer vs every unit searched on its own: per layer and mark, the
    mean and 10th percentile over its responsive units of the shared score / the independent one."""
    if not records:
        return []
    layers = sorted({(r["grid"], r["network"], r["layer"]) for r in records}, reverse=True)
    rows, targets = [], []
    marks: list[int] = []
    for key in layers:
        runs = {r["mode"]: r for r in records if (r["grid"], r["network"], r["layer"]) == key}
        if set(runs) != {"layer", "shared"}:
            continue
        alone, shared = runs["layer"], runs["shared"]
        marks, budget = shared["budgets"], alone["budgets"][-1]
        ratios, unwoken = population_ratios(alone, shared)
        if not len(ratios):
            continue
        mean, p10 = ratios.mean(0), np.percentile(ratios, 10, axis=0)
        rows.append(f"| {key[0]} | {key[1]} {key[2]} | {len(ratios)} of {len(alone['units'])} | "
                    + " | ".join(f"{m:.3f} ({p:.3f})" for m, p in zip(mean, p10)) + " |")
        within = [j for j, mark in enumerate(marks) if mark <= POPULATION_TARGET]
        if within:
            j = within[-1]
            targets.append(f"- {key[0]} {key[1]} {key[2]}: with {marks[j]:,} shared stimuli in all, its units reach "
                           f"{mean[j]:.3f} of their independent {budget:,}-query score on average, "
                           f"{p10[j]:.3f} at the 10th percentile"
                           + (f" ({unwoken} units the independent search never woke are left out)" if unwoken else ""))
    if not rows:
        return []
    budget = next(r["budgets"][-1] for r in records if r["mode"] == "layer")
    return (["## Population mode: every unit of a 64-unit layer on shared stimuli", "",
             f"Per responsive unit: the noise-free response of what the shared search returns after the stimuli shown "
             f"to the whole layer, divided by what the unit's own search returned after {budget:,} queries (all units: "
             f"{64 * budget:,} stimuli); mean over the layer's units (10th percentile in brackets).", "",
             "| grid | layer | units | " + " | ".join(f"shared @{m}" for m in marks) + " |",
             "|---|---|---|" + "---|" * len(marks)] + rows + [""] + targets + [""])
