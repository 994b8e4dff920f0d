"""Scores, tables and the plot of the neuron bank (pure functions over the job records)."""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import numpy as np

#: plot colours (Okabe-Ito, colour-blind safe), the default method first
PALETTE = ["#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#999999",
           "#882255", "#44AA99"]


def unit_id(record: dict, p: int) -> tuple:
    return record["grid"], record["network"], record["layer"], record["units"][p]


def normalizers(records: list[dict]) -> dict[tuple, float]:
    """Per unit: the best noise-free response any method's query reached (any budget, noise, seed)."""
    best: dict[tuple, float] = defaultdict(lambda: -math.inf)
    for record in records:
        for p in range(len(record["units"])):
            reached = max([record["true_max"][p], *record["true_at"][p]])
            best[unit_id(record, p)] = max(best[unit_id(record, p)], reached)
    return dict(best)


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


def mean_interval(samples: np.ndarray) -> tuple[float, float]:
    """Mean and 95 % half-width (1.96 standard errors) of ``samples`` along axis 0."""
    mean = samples.mean(0)
    half = 1.96 * samples.std(0, ddof=1) / math.sqrt(len(samples)) if len(samples) > 1 else np.zeros_like(mean)
    return mean, half


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


def method_order(records: list[dict], default: str) -> list[str]:
    methods = sorted({r["method"] for r in records})
    return [default] + [m for m in methods if m != default] if default in methods else methods


def score_table(table: dict, methods: list[str], budgets: list[int], default: str) -> list[str]:
    """Markdown rows: mean normalized score ± 95 % interval per method and budget; best per column bold."""
    means = {m: mean_interval(np.stack(list(table[m].values()))) for m in methods if table.get(m)}
    best = {j: max(means[m][0][j] for m in means) for j in range(len(budgets))}
    lines = ["| method | " + " | ".join(f"@{b}" for b in budgets) + " | units × seeds |",
             "|---|" + "---|" * (len(budgets) + 1)]
    for m in methods:
        if m not in means:
            continue
        mean, half = means[m]
        cells = []
        for j in range(len(budgets)):
            cell = f"{mean[j]:.3f} ± {half[j]:.3f}"
            cells.append(f"**{cell}**" if math.isclose(mean[j], best[j]) else cell)
        name = f"**{m}** (default)" if m == default else m
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {len(table[m])} |")
    return lines


def write_report(records: list[dict], default: str, budgets: list[int], accuracy: dict[str, float],
                 out: Path) -> str:
    """Write ``report.md`` and ``neuron_bank.png`` to ``out``; returns the markdown."""
    population = [r for r in records if r.get("mode", "units") != "units"]
    records = [r for r in records if r.get("mode", "units") == "units"]
    norm = normalizers(records)
    table = scores(records, norm)
    methods = method_order(records, default)
    grids = sorted({r["grid"] for r in records}, reverse=True)
    noises = [n for n in ("none", "mult0.2", "mult0.5", "poisson10") if any(r["noise"] == n for r in records)]
    units = {unit_id(r, p) for r in records for p, s in enumerate(r["silent"]) if not s}
    lines = [f"# Neuron bank: normalized score (noise-free response of the returned stimulus / the best any "
             f"method reached for the unit), mean ± 95 % interval over units × seeds",
             "",
             "Networks (validation accuracy on the digits): "
             + ", ".join(f"{name} {acc:.3f}" for name, acc in accuracy.items())
             + f"; {len(units)} responsive units in all grids.", ""]
    for grid in grids:
        for noise in noises:
            per = {m: table.get((grid, noise, m), {}) for m in methods}
            if not any(per.values()):
                continue
            lines += [f"## {grid} grid, noise: {noise}", ""]
            lines += score_table(per, methods, budgets, default)
            lines.append("")
            if per.get(default):
                lines += [f"Win rate of {default} (ties count half):", "",
                          "| against | " + " | ".join(f"@{b}" for b in budgets) + " | pairs |",
                          "|---|" + "---|" * (len(budgets) + 1)]
                for m in methods:
                    if m == default or not per.get(m):
                        continue
                    rate, pairs = win_rate(per[default], per[m])
                    lines.append(f"| {m} | " + " | ".join(f"{r:.2f}" for r in rate) + f" | {pairs} |")
                lines.append("")
    lines += target_lines(table, methods, grids, budgets, default)
    lines += silent_lines(records, norm, methods)
    lines += population_lines(population)
    ms = optimizer_ms(records)
    lines += ["## Optimizer time (median ms per step and problem, one CPU thread)", "",
              "| method | ms |", "|---|---|"] + [f"| {m} | {ms[m]:.2f} |" for m in methods if m in ms] + [""]
    text = "\n".join(lines)
    (out / "report.md").write_text(text)
    plot(table, methods, grids, noises, budgets, out / "neuron_bank.png")
    return text


def target_lines(table: dict, methods: list[str], grids: list[str], budgets: list[int], default: str) -> list[str]:
    """The issue's targets, checked per grid against every baseline that ran on that grid."""
    if default not in methods or 250 not in budgets or 1000 not in budgets:
        return []
    lines = ["## Targets", ""]
    j250, j1000, jlast = budgets.index(250), budgets.index(1000), len(budgets) - 1

    def curve(grid: str, noise: str, method: str) -> np.ndarray | None:
        runs = table.get((grid, noise, method))
        return np.stack(list(runs.values())).mean(0) if runs else None

    for grid in grids:
        ours = curve(grid, "none", default)
        rivals = {m: curve(grid, "none", m) for m in methods if m != default and "+" not in m}
        rivals = {m: v for m, v in rivals.items() if v is not None}
        if ours is not None and rivals:
            best = max(rivals, key=lambda m: rivals[m][j1000])
            gap = rivals[best][j1000] - ours[j250]
            lines.append(f"- {grid}, noise-free: {default} @250 = {ours[j250]:.3f} vs the best baseline @1000 "
                         f"({best}) = {rivals[best][j1000]:.3f}: " + ("met" if gap <= 0 else f"missed by {gap:.3f}"))
            top = max(rivals, key=lambda m: rivals[m][jlast])
            lines.append(f"- {grid}, noise-free: {default} @{budgets[jlast]} = {ours[jlast]:.3f} vs the best "
                         f"baseline ({top}) = {rivals[top][jlast]:.3f}: "
                         f"{100 * (ours[jlast] / rivals[top][jlast] - 1):+.1f} % (target: +10 %)")
        for noise in ("mult0.5", "mult0.2", "poisson10"):
            ours = curve(grid, noise, default)
            rivals = {m: curve(grid, noise, m) for m in methods if m != default and "+" not in m}
            rivals = {m: v for m, v in rivals.items() if v is not None}
            if ours is None or not rivals:
                continue
            behind = [(m, budgets[j], v[j] - ours[j]) for m, v in rivals.items() for j in range(len(budgets))
                      if v[j] >= ours[j]]
            lines.append(f"- {grid}, {noise}: {default} ahead of every baseline at every budget: " + (
                "yes" if not behind else "no — behind " + ", ".join(f"{m}@{b} by {g:.3f}" for m, b, g in behind)))
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


def plot(table: dict, methods: list[str], grids: list[str], noises: list[str], budgets: list[int], path: Path) -> None:
    """Normalized score vs queries (log x), one panel per grid and noise, one line per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(grids), len(noises), figsize=(3.6 * len(noises), 3.2 * len(grids)),
                             squeeze=False, sharex=True)
    for i, grid in enumerate(grids):
        for j, noise in enumerate(noises):
            ax = axes[i][j]
            for c, m in enumerate(methods):
                runs = table.get((grid, noise, m))
                if not runs:
                    continue
                mean, half = mean_interval(np.stack(list(runs.values())))
                style = dict(color=PALETTE[c % len(PALETTE)], lw=2.4 if c == 0 else 1.3,
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
    fig.tight_layout(rect=(0, 0, 0.9, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def population_lines(records: list[dict]) -> list[str]:
    """Shared stimuli for a whole layer vs every unit searched on its own (normalized per unit by
    the best either reached)."""
    if not records:
        return []
    lines = ["## Population mode: every unit of a 64-unit layer", "",
             "Normalized score per unit (by the best either search reached for it), mean over the layer's "
             "responsive units; independent: 2,000 queries per unit; shared: stimuli shown to the whole layer.", ""]
    layers = sorted({(r["grid"], r["network"], r["layer"]) for r in records})
    marks = next((r["budgets"] for r in records if r["mode"] == "shared"), [])
    lines += ["| grid | layer | units | independent @2000 each (= {} stimuli) | ".format(64 * 2000)
              + " | ".join(f"shared @{m}" for m in marks) + " |",
              "|---|---|---|---|" + "---|" * len(marks)]
    for key in layers:
        runs = {r["mode"]: r for r in records if (r["grid"], r["network"], r["layer"]) == key}
        if set(runs) != {"layer", "shared"}:
            continue
        alone, shared = runs["layer"], runs["shared"]
        best = np.maximum(np.maximum(alone["true_max"], shared["true_max"]),
                          np.maximum(np.max(alone["true_at"], 1), np.max(shared["true_at"], 1)))
        keep = best > 0
        alone_score = (np.asarray(alone["true_at"])[:, -1] / np.where(keep, best, 1))[keep]
        shared_score = (np.asarray(shared["true_at"]) / np.where(keep, best, 1)[:, None])[keep]
        lines.append(f"| {key[0]} | {key[1]} {key[2]} | {int(keep.sum())} | {alone_score.mean():.3f} | "
                     + " | ".join(f"{v:.3f}" for v in shared_score.mean(0)) + " |")
    return lines + [""]
