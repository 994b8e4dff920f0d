"""The paper's findings (sections 4.2-4.3), each checked on a run: what the paper states, what the run
shows (a number), and a verdict — *holds*, *does not hold* or *cannot tell* — by a rule fixed here,
in code, rather than judged run by run (so a study cannot be tuned to agree; the two rules amended
after the digits study are named in README's "The paper's findings on mango-pl").

Every check reads the tables behind the report's figures (:data:`~mango_pl.report.figures.FIGURES`,
the numbers the PNGs and CSVs show), and the run's MEI files only where a figure does not hold the
number (the diversity claim: distances between different units' MEIs). Layers are in the report's
order, by depth (input to output, see :class:`~mango_pl.report.run.ReportRun`); "first", "middle"
and "last" layers are the thirds of that list.

    >>> checks = check_claims(run, tables_by_figure)   # doctest: +SKIP
    >>> [(c.key, c.verdict) for c in checks]        # doctest: +SKIP
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from torch import Tensor

from mango_pl.analysis import latent_diversity
from mango_pl.report.kind import Tables
from mango_pl.report.run import ReportRun
from mango_pl.report.table import Table

HOLDS, FAILS, CANNOT_TELL = "holds", "does not hold", "cannot tell"

#: a correlation at least this strong (Spearman) counts as a trend
TREND = 0.5
#: an entropy change smaller than this (normalized entropy, 0-1) is no change
ENTROPY_CHANGE = 0.05
#: the share of layers that must follow a per-layer trend for it to hold
MOST = 2 / 3
#: "virtually no" labile units: at most this fraction in the first third of the layers
FEW_LABILE = 0.05
#: a curve has flattened when its last third of queries adds at most this share of its final value
FLAT_GAIN = 0.02
#: complexity has plateaued when the last half of the epochs moves it by at most this share of its rise
PLATEAU = 0.25


@dataclass(frozen=True)
class ClaimCheck:
    """One finding of the paper checked on a run.

    Attributes:
        key: a short stable name (``entropy_depth``, ...).
        figure: the paper's figure and the report figure that shows it.
        paper: what the paper states.
        measured: what this run shows, with its numbers.
        verdict: :data:`HOLDS`, :data:`FAILS` or :data:`CANNOT_TELL`.
        rule: the rule that gave the verdict (thresholds included).
    """

    key: str
    figure: str
    paper: str
    measured: str
    verdict: str
    rule: str


def spearman(x: list[float], y: list[float]) -> float:
    """Spearman's rank correlation of two equal-length lists; NaN when either is constant or has < 3 values."""
    if len(x) < 3 or len(set(x)) < 2 or len(set(y)) < 2:
        return math.nan
    from scipy.stats import spearmanr  # scipy comes with scikit-learn, a mango-pl dependency

    return float(spearmanr(x, y).statistic)


def thirds(layers: list[str]) -> tuple[list[str], list[str], list[str]]:
    """The first, middle and last third of ``layers`` (the middle takes the remainder; >= 3 layers)."""
    size = len(layers) // 3
    return layers[:size], layers[size:len(layers) - size], layers[len(layers) - size:]


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values) if values else math.nan


def _fmt(values: Mapping[str, float], digits: int = 2) -> str:
    return ", ".join(f"{name} {value:.{digits}f}" for name, value in values.items())


# -- the claims: each measures the tables of one figure (and the run) -> (what it shows, verdict)

Measure = Callable[[Tables, ReportRun], tuple[str, str]]


@dataclass(frozen=True)
class Claim:
    """One finding of the paper and how a run is checked against it.

    Attributes:
        key, paper, rule: as in :class:`ClaimCheck`.
        figure: the report figure whose tables it reads (its name in :data:`~mango_pl.report.figures.FIGURES`).
        paper_figure: the paper's figure.
        measure: (the figure's tables, the run) -> (what the run shows, verdict).
    """

    key: str
    figure: str
    paper_figure: str
    paper: str
    rule: str
    measure: Measure

    def check(self, tables: Mapping[str, Tables], run: ReportRun) -> ClaimCheck:
        """The claim on a run: *cannot tell* when its figure was not drawn (the run lacks the data)."""
        if self.figure not in tables:
            measured, verdict = f"the {self.figure} figure was not drawn (see the report for why)", CANNOT_TELL
        else:
            measured, verdict = self.measure(tables[self.figure], run)
        return ClaimCheck(self.key, f"{self.paper_figure} / {self.figure}", self.paper, measured, verdict, self.rule)


def _entropy_by_layer(tables: Tables, stage: str) -> dict[str, float]:
    table = tables[""]
    return {layer: _mean(table.select(layer=layer, stage=stage).column("entropy")) for layer in table.unique("layer")}


def _entropy_depth(tables: Tables, run: ReportRun) -> tuple[str, str]:
    late = _entropy_by_layer(tables, "late")
    rho = spearman(list(range(len(late))), list(late.values()))
    verdict = CANNOT_TELL if math.isnan(rho) else HOLDS if rho <= -TREND else FAILS
    return f"Spearman {rho:.2f}; mean late entropy: {_fmt(late)}", verdict


def _entropy_training(tables: Tables, run: ReportRun) -> tuple[str, str]:
    early, late = (_entropy_by_layer(tables, stage) for stage in ("early", "late"))
    falls = [layer for layer in late if late[layer] < early[layer] - ENTROPY_CHANGE]
    measured = (f"falls in {len(falls)}/{len(late)} layers; early -> late: "
                + ", ".join(f"{layer} {early[layer]:.2f}->{late[layer]:.2f}" for layer in late))
    return measured, HOLDS if len(falls) >= MOST * len(late) else FAILS


def _selective_depth(tables: Tables, run: ReportRun) -> tuple[str, str]:
    table = tables[""]
    layers = table.unique("layer")
    if len(layers) < 3:
        return f"{len(layers)} layers (needs 3 for thirds)", CANNOT_TELL
    count = {layer: sum(f * u for f, u in zip(table.select(layer=layer).column("selective_fraction"),
                                               table.select(layer=layer).column("units"))) for layer in layers}
    total = sum(count.values())
    if total == 0:
        return "no unit was selective at any searched epoch", CANNOT_TELL
    peak = {layer: max(table.select(layer=layer).column("selective_fraction")) for layer in layers}
    share = {name: sum(count[layer] for layer in part) / total for name, part in zip(("first", "middle", "last"),
                                                                                   thirds(layers))}
    measured = f"share of selective counts by thirds: {_fmt(share)}; peak selective fraction per layer: {_fmt(peak)}"
    return measured, HOLDS if share["last"] > 0.5 and share["middle"] > 0 else FAILS


def _selective_early(tables: Tables, run: ReportRun) -> tuple[str, str]:
    table = tables[""]
    layers, epochs = table.unique("layer"), sorted(table.unique("epoch"))
    selective = [(layer, epoch) for layer, epoch, f in zip(table.column("layer"), table.column("epoch"),
                                                           table.column("selective_fraction")) if f > 0]
    if not selective:
        return "no unit was selective at any searched epoch", FAILS
    first_epoch = min(epoch for _, epoch in selective)
    first_layer = min(layers.index(layer) for layer, _ in selective)
    measured = (f"first selective unit at epoch {first_epoch} (searched epochs {epochs[:3]} are the first 3); "
                f"shallowest layer with one: {layers[first_layer]} (layer {first_layer + 1} of {len(layers)})")
    return measured, HOLDS if first_epoch in epochs[:3] and first_layer < len(layers) / 2 else FAILS


def _activation_by_layer(tables: Tables) -> dict[str, tuple[list[int], list[float]]]:
    table = tables["activation"]
    return {layer: (table.select(layer=layer).column("epoch"), table.select(layer=layer).column("mean"))
            for layer in table.unique("layer")}


def _activation_training(tables: Tables, run: ReportRun) -> tuple[str, str]:
    rho = {layer: spearman(epochs, means) for layer, (epochs, means) in _activation_by_layer(tables).items()}
    rising = [layer for layer, value in rho.items() if value >= TREND]
    measured = f"rises in {len(rising)}/{len(rho)} layers; Spearman per layer: {_fmt(rho)}"
    return measured, HOLDS if len(rising) >= MOST * len(rho) else FAILS


def _activation_accuracy(tables: Tables, run: ReportRun) -> tuple[str, str]:
    accuracy = dict(zip(tables["accuracy"].column("epoch"), tables["accuracy"].column("val_acc")))
    rho = {}
    for layer, (epochs, means) in _activation_by_layer(tables).items():
        pairs = [(accuracy[e], m) for e, m in zip(epochs, means) if e in accuracy]
        rho[layer] = spearman([a for a, _ in pairs], [m for _, m in pairs])
    finite = [value for value in rho.values() if not math.isnan(value)]
    if not finite:
        return "accuracy or activation constant over the searched epochs", CANNOT_TELL
    median = statistics.median(finite)
    return f"median Spearman {median:.2f}; per layer: {_fmt(rho)}", HOLDS if median >= TREND else FAILS


def _labile_depth(tables: Tables, run: ReportRun) -> tuple[str, str]:
    table = tables["fractions"]
    labile = dict(zip(table.column("layer"), table.column("labile")))
    layers = list(labile)
    if len(layers) < 3:
        return f"{len(layers)} layers (needs 3 for thirds)", CANNOT_TELL
    holds = all(labile[layer] <= FEW_LABILE for layer in thirds(layers)[0]) and labile[layers[-1]] > FEW_LABILE
    return f"labile fraction per layer: {_fmt(labile)}", HOLDS if holds else FAILS


def _complexity_first_layers(tables: Tables, run: ReportRun) -> tuple[str, str]:
    table = tables[""]
    layers, epochs = table.unique("layer"), sorted(table.unique("epoch"))
    if len(layers) < 3 or len(epochs) < 3:
        return f"{len(layers)} layers, {len(epochs)} epochs (needs 3 of each)", CANNOT_TELL
    first, middle_epoch = thirds(layers)[0], epochs[len(epochs) // 2]
    parts, holds = [], True
    for metric in ("jpeg", "zip"):
        curve = {e: _mean(table.select(metric=metric, epoch=e).select_in("layer", first).column("mean")) for e in epochs}
        if max(curve.values()) >= 1:
            return (f"{metric}: the compressed MEIs are larger than the raw ones (mean ratio up to "
                    f"{max(curve.values()):.2f}): the format's fixed overhead outweighs the image's pixels, so the ratio "
                    f"does not measure the image's complexity", CANNOT_TELL)
        late = [curve[e] for e in epochs if e >= middle_epoch]
        rise, late_move = curve[epochs[-1]] - curve[epochs[0]], max(late) - min(late)
        holds &= rise > 0 and late_move <= PLATEAU * rise
        parts.append(f"{metric}: {curve[epochs[0]]:.3f} (epoch {epochs[0]}) -> {curve[epochs[-1]]:.3f} (epoch "
                     f"{epochs[-1]}), range over epochs >= {middle_epoch}: {late_move:.3f}")
    return "; ".join(parts), HOLDS if holds else FAILS


def _within_over_between(values: Tensor) -> float:
    """``[M runs, U units, F]`` -> the mean Euclidean distance between a unit's runs over that between
    different units' values of one run (both as :func:`~mango_pl.analysis.latent_diversity` measures
    them; NaN when the units' values do not differ)."""
    within = latent_diversity(values)[0].double().mean()
    between = latent_diversity(values.transpose(0, 1))[0].double().mean()  # per run: pairs of units
    return float(within / between) if between > 0 else math.nan


def _last_epoch_distance(table: Table, run: ReportRun, layer: str) -> tuple[float, float, float]:
    """(mean, low, high) of the Euclidean distance between a unit's runs, at the layer's last epoch."""
    row = table.select(layer=layer, epoch=run.layer_epochs(layer)[-1], metric="euclidean").rows[0]
    return row[3], row[4], row[5]


def _diversity_similar(tables: Tables, run: ReportRun) -> tuple[str, str]:
    layers = tables[""].unique("layer")
    ratio = {layer: _within_over_between(run.last(layer).meis.stacked("latents")) for layer in layers}
    similar = [layer for layer, value in ratio.items() if value < 1]
    pixels = {layer: _within_over_between(run.last(layer).meis.stacked("images").flatten(2)) for layer in layers}
    measured = (f"within-unit / between-unit latent distance per layer: {_fmt(ratio)} (the same ratio for the MEI "
                f"images' pixels, for reference: {_fmt(pixels)})")
    return measured, HOLDS if len(similar) >= MOST * len(ratio) else FAILS


def _diversity_depth(tables: Tables, run: ReportRun) -> tuple[str, str]:
    table = tables[""]
    layers = table.unique("layer")
    (first, first_low, first_high), (last, last_low, last_high) = (_last_epoch_distance(table, run, layer)
                                                                   for layer in (layers[0], layers[-1]))
    change = last / first - 1 if first > 0 else math.nan
    measured = (f"{layers[0]} {first:.2f} [{first_low:.2f}, {first_high:.2f}], {layers[-1]} {last:.2f} "
                f"[{last_low:.2f}, {last_high:.2f}] ({change:+.0%} last vs first)")
    return measured, HOLDS if last_low > first_high else FAILS if last_high < first_low else CANNOT_TELL


def _budget_flattens(tables: Tables, run: ReportRun) -> tuple[str, str]:
    table = tables[""]
    gain = {}
    for layer in table.unique("layer"):
        gains = []
        for label in table.select(layer=layer).unique("label"):
            curve = table.select(layer=layer, label=label).column("mean")
            final, earlier = curve[-1], curve[(2 * len(curve)) // 3 - 1]
            gains.append((final - earlier) / final if final > 0 else 0.0)
        gain[layer] = _mean(gains)
    flat = [layer for layer, value in gain.items() if value <= FLAT_GAIN]
    measured = f"flat in {len(flat)}/{len(gain)} layers; last-third gain per layer: " + ", ".join(
        f"{layer} {value:.1%}" for layer, value in gain.items())
    return measured, HOLDS if len(flat) >= MOST * len(gain) else FAILS


entropy_with_depth = Claim(
    "entropy_depth", "class_entropy", "Fig. 6", "MEI class entropy decreases with layer depth (Fig. 6, Sec. 4.3)",
    f"Spearman(depth, mean late entropy) <= -{TREND}", _entropy_depth)
entropy_with_training = Claim(
    "entropy_training", "class_entropy", "Fig. 6",
    "MEI class entropy decreases with training: no class-specific MEIs early, low-entropy MEIs late (Fig. 6)",
    f"mean entropy falls by > {ENTROPY_CHANGE} from first to last searched epoch in >= {MOST:.0%} of layers",
    _entropy_training)
selective_by_depth = Claim(
    "selective_depth", "selective_fraction", "Fig. 7",
    "most selective neurons are in the last layers; a share (up to 40%) is already in the middle layers (Fig. 7)",
    "over all searched epochs: > 50% of selective (unit, epoch) counts in the last third of layers, and > 0 in the "
    "middle third", _selective_depth)
selective_early = Claim(
    "selective_early", "selective_fraction", "Fig. 7",
    "highly selective neurons can form already in the early epochs and in early layers (abstract, Figs. 5, 7)",
    "a selective unit at one of the first 3 searched epochs, and one in the first half of the layers", _selective_early)
activation_with_training = Claim(
    "activation_training", "dynamics", "Fig. 9", "MEI activation increases with training (Figs. 8-9)",
    f"Spearman(epoch, mean MEI activation) >= {TREND} in >= {MOST:.0%} of layers", _activation_training)
activation_tracks_accuracy = Claim(
    "activation_accuracy", "dynamics", "Fig. 9", "MEI activation correlates well with the model's accuracy (Fig. 9 right)",
    f"median over layers of Spearman(validation accuracy, mean MEI activation) >= {TREND}", _activation_accuracy)
labile_by_depth = Claim(
    "labile_depth", "stable_labile", "Fig. 10",
    "labile neurons are virtually absent in the first layers and frequent (~40%) in the last layer (Fig. 10)",
    f"labile fraction <= {FEW_LABILE} in every first-third layer and above it in the last layer", _labile_depth)
complexity_of_first_layers = Claim(
    "complexity_first_layers", "complexity", "Fig. 12",
    "MEI complexity (JPEG and ZIP ratio) of the first layers rises with training, then reaches a steady state (Fig. 12)",
    f"for both formats, the first-third layers' mean ratio is higher at the last searched epoch than at the first, and "
    f"the last half of the epochs moves it by <= {PLATEAU:.0%} of that rise; cannot tell when a compressed MEI is "
    f"larger than the raw image (ratio >= 1: the format's overhead, not the image, sets the size)",
    _complexity_first_layers)
searches_find_similar_meis = Claim(
    "diversity_similar", "diversity", "Fig. 11",
    "different searches of a unit find MEIs with the same patterns, not identical (Fig. 11)",
    f"at the last searched epoch, a unit's runs are closer to each other than MEIs of different units are (Euclidean "
    f"latent distance ratio < 1) in >= {MOST:.0%} of layers", _diversity_similar)
diversity_with_depth = Claim(
    "diversity_depth", "diversity", "Fig. 11",
    "MEIs of the last layer vary more between searches than those of the first (~20% larger distance) (Fig. 11)",
    "at the last searched epoch, mean Euclidean distance between a unit's runs, with its 95% interval over units: last "
    "layer's interval above the first's (holds), below it (does not hold), overlapping (cannot tell)", _diversity_depth)
budget_flattens = Claim(
    "budget_flattens", "activation_vs_queries", "Fig. 4",
    "(the study's own check) the query budget is large enough that the MEI activation curves flatten",
    f"the last third of the queries adds <= {FLAT_GAIN:.0%} of the final best activation in >= {MOST:.0%} of layers "
    f"(mean over runs)", _budget_flattens)

#: every claim, in the order of the paper's sections
CLAIMS: tuple[Claim, ...] = (
    entropy_with_depth, entropy_with_training, selective_by_depth, selective_early, activation_with_training,
    activation_tracks_accuracy, labile_by_depth, complexity_of_first_layers, searches_find_similar_meis,
    diversity_with_depth, budget_flattens,
)


def check_claims(run: ReportRun, tables: Mapping[str, Tables]) -> list[ClaimCheck]:
    """Every claim of :data:`CLAIMS` checked on a run, from the tables of its figures (``{figure name:
    tables}``; a figure that could not be drawn is absent, and its claims say *cannot tell*)."""
    return [claim.check(tables, run) for claim in CLAIMS]


def claims_table(checks: list[ClaimCheck]) -> Table:
    """The checks as a :class:`Table` (written as ``claims.csv``)."""
    table = Table(("key", "figure", "paper", "measured", "verdict", "rule"))
    for check in checks:
        table.add(check.key, check.figure, check.paper, check.measured, check.verdict, check.rule)
    return table


def claims_markdown(checks: list[ClaimCheck]) -> str:
    """The checks as a Markdown table (written as ``claims.md``; the README's findings table)."""
    lines = ["| Paper's finding | Figure | This run | Verdict | Rule |", "|---|---|---|---|---|"]
    for check in checks:
        cells = [check.paper, check.figure, check.measured, f"**{check.verdict}**", check.rule]
        lines.append("| " + " | ".join(cell.replace("|", "/") for cell in cells) + " |")
    return "\n".join(lines) + "\n"
