"""The neuron bank's scoring (benchmarks/bank_report.py) and reference table (benchmarks/bank_reference.py):
normalization by each unit's reference, Student-t intervals, the within-5 % fraction, tables per
depth, win rates, the target lines and population mode's relative scores, on hand-made job
records whose answers are known."""

import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import t

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bank_reference  # noqa: E402
import bank_report  # noqa: E402

BUDGETS = [100, 250, 1000, 2000]


def record(method, true_at, *, noise="none", seed=0, silent=None, true_max=None, grid="sngan", network="net",
           layer="l1", wall_seconds=1.0):
    """A job record of one layer with ``len(true_at)`` units."""
    units = list(range(len(true_at)))
    return {"grid": grid, "network": network, "layer": layer, "method": method, "noise": noise, "seed": seed,
            "units": units, "silent": silent or [False] * len(units), "true_at": true_at,
            "true_max": true_max or [max(curve) for curve in true_at], "budgets": BUDGETS,
            "steps": 10, "optimizer_seconds": 0.02, "wall_seconds": wall_seconds}


def reference_row(unit, value, *, grid="sngan", network="net", layer="l1", seconds=30.0, weights="0123456789ab"):
    return {"grid": grid, "network": network, "layer": layer, "unit": unit, "value": value, "method": "elite",
            "queries": 10000, "seconds": seconds, "weights": weights}


def test_each_unit_is_normalized_by_the_larger_of_its_reference_run_and_the_best_any_method_reached():
    records = [record("a", [[1, 2, 3, 4], [1, 1, 1, 1], [0, 0, 0, 0]], silent=[False, False, True]),
               record("b", [[2, 2, 2, 2], [1, 1, 1, 1], [0, 0, 0, 0]], silent=[False, False, True],
                      true_max=[8, 1, 0]),
               record("b", [[1, 1, 1, 1], [1, 1, 1, 1], [0, 0, 0, 0]], noise="mult0.5", silent=[False, False, True])]
    # unit 0: the reference run reached 6, but a query of b's reached 8 (though b returned 2) -> 8;
    # unit 1: the reference run reached 4, above every bank method -> 4; unit 2 (silent): no row
    reference = [reference_row(0, 6.0), reference_row(1, 4.0)]
    norm = bank_report.normalizers(records, reference)
    assert norm[("sngan", "net", "l1", 0)] == 8 and norm[("sngan", "net", "l1", 1)] == 4
    assert norm[("sngan", "net", "l1", 2)] == 0
    table = bank_report.scores(records, norm)
    assert set(table) == {("sngan", "none", "a"), ("sngan", "none", "b"), ("sngan", "mult0.5", "b")}
    runs = table[("sngan", "none", "a")]
    np.testing.assert_allclose(runs[(("sngan", "net", "l1", 0), 0)], [1 / 8, 2 / 8, 3 / 8, .5])
    np.testing.assert_allclose(runs[(("sngan", "net", "l1", 1), 0)], [.25] * 4)
    assert all(len(runs) == 2 for runs in table.values())  # the silent unit scores nowhere
    # without a reference table: the best any bank method reached
    assert bank_report.normalizers(records)[("sngan", "net", "l1", 1)] == 1


def test_win_rate_counts_ties_half_and_only_pairs_both_methods_ran():
    ours = {("u", 0): np.array([1.0, 0.5]), ("u", 1): np.array([0.2, 0.5]), ("v", 0): np.array([9.0, 9.0])}
    theirs = {("u", 0): np.array([0.5, 0.5]), ("u", 1): np.array([0.4, 0.5])}
    rate, pairs = bank_report.win_rate(ours, theirs)
    assert pairs == 2
    np.testing.assert_allclose(rate, [0.5, 0.5])


def test_interval_is_student_t_from_mango_pl_report_stats():
    assert not hasattr(bank_report, "mean_interval")  # one implementation: mango_pl.report.stats
    mean, half = bank_report.mean_half({"a": np.array([0.0, 1.0]), "b": np.array([2.0, 1.0])})
    np.testing.assert_allclose(mean, [1.0, 1.0])
    np.testing.assert_allclose(half, [t.ppf(0.975, 1) * np.sqrt(2) / np.sqrt(2), 0.0])
    lines = bank_report.score_table({"m": {"a": np.array([0.0]), "b": np.array([2.0])}}, ["m"], [100], "m")
    assert lines[-1] == f"| **m** (default) | **1.000 ± {t.ppf(0.975, 1):.3f}** | 2 |"


def test_within_fraction_counts_units_within_5_percent_of_their_reference():
    runs = {("u", 0): np.array([0.5, 0.95, 1.0]), ("v", 0): np.array([0.94, 0.949, 0.96]),
            ("w", 0): np.array([0.1, 0.2, 1.0]), ("x", 0): np.array([0.0, 0.96, 0.97])}
    np.testing.assert_allclose(bank_report.within_fraction(runs), [0.0, 0.5, 1.0])
    lines = bank_report.within_table({"m": runs}, ["m"], [100, 250, 1000], "m")
    assert lines[-1] == "| **m** (default) | **0 %** | **50 %** | **100 %** | 4 |"


def test_report_has_within_fraction_tables_per_depth_reference_and_bank_time(tmp_path):
    depths = {("net", "l1"): "early", ("net", "l2"): "middle", ("net", "l3"): "late"}
    records = [record("ours", [[9.6, 9.6, 9.6, 10]], layer="l1", wall_seconds=1800),
               record("base", [[5, 5, 5, 5]], layer="l1", wall_seconds=1800),
               record("ours", [[2, 4, 6, 10]], layer="l3"), record("base", [[1, 1, 1, 2]], layer="l3"),
               record("ours", [[1, 1, 1, 1]], layer="l3", noise="mult0.2")]
    reference = [reference_row(0, 10.0, layer="l1", seconds=1800), reference_row(0, 10.0, layer="l3", seconds=1800),
                 reference_row(5, 3.0, layer="l3", seconds=99999)]  # a unit not in this report: not counted
    text = bank_report.write_report(records, "ours", BUDGETS, {"net": 0.9}, tmp_path, reference, depths)
    assert "sngan: elite × 10,000 queries; 1.00 CPU-hours for 2 units. A bank method went above the reference run " \
           "on 0 of them." in text
    assert "Bank: 5 jobs, 1.00 CPU-hours" in text
    within = text.split("Fraction of units within 5 % of their reference:")[1].split("Win rate")[0]
    assert "| **ours** (default) | **50 %** | **50 %** | **50 %** | **100 %** | 2 |" in within
    assert "| base | 0 % | 0 % | 0 % | 0 % | 2 |" in within
    assert text.count("Fraction of units within 5 %") == 1  # noise-free only
    early = text.split("## sngan grid, noise-free, early layers (net l1)")[1].split("##")[0]
    cells = ["**0.960 ± 0.000**"] * 3 + ["**1.000 ± 0.000**"]
    assert "| **ours** (default) | " + " | ".join(cells) + " | 1 |" in early
    late = text.split("## sngan grid, noise-free, late layers (net l3)")[1].split("##")[0]
    assert "| base | 0.100 ± 0.000 | 0.100 ± 0.000 | 0.100 ± 0.000 | 0.200 ± 0.000 | 1 |" in late
    assert "middle layers" not in text  # no unit there
    # without a reference table, the report says so
    text = bank_report.write_report(records, "ours", BUDGETS, {"net": 0.9}, tmp_path)
    assert "No reference table" in text and "early layers" not in text


def test_target_lines_say_met_or_missed_by_how_much(tmp_path):
    # unit 0's best is 10 (reached by "base" @2000); "ours" @250 = 0.9 vs base @1000 = 0.8 -> met
    records = [record("ours", [[5, 9, 9, 9.5]]), record("base", [[5, 6, 8, 10]]),
               record("ours", [[5, 6, 6, 6]], noise="mult0.2"), record("base", [[5, 7, 5, 5]], noise="mult0.2")]
    text = bank_report.write_report(records, "ours", BUDGETS, {"net": 0.9}, tmp_path)
    assert "ours @250 = 0.900 vs the best baseline @1000 (base) = 0.800: met" in text
    assert "ours @2000 = 0.950 vs the best baseline (base) = 1.000: -5.0 % (target: +10 %)" in text
    assert "mult0.2: ours ahead of every baseline at every budget: no — behind base@100 by 0.000, base@250 by 0.100" in text
    assert (tmp_path / "report.md").read_text() == text
    assert (tmp_path / "neuron_bank.png").stat().st_size > 0


def test_targets_compare_each_of_our_methods_with_the_baselines_only(tmp_path):
    # "sibling" (a mango-pl method, checked too) and "elite" (ours, not a baseline) are no rivals
    records = [record("ours", [[5, 9, 9, 9.6], [5, 5, 5, 5]]), record("base", [[5, 6, 8, 9], [5, 5, 5, 10]]),
               record("sibling", [[5, 9.5, 9.8, 10], [5, 9, 9, 9.8]]), record("elite", [[9, 9, 9, 9.9], [5, 5, 5, 5]])]
    depths = {("net", "l1"): "early"}
    text = bank_report.write_report(records, "ours", BUDGETS, {"net": 0.9}, tmp_path, depths=depths,
                                    baselines=["base"], also=["sibling"])
    targets = text.split("## Targets")[1].split("##")[0]
    assert "elite" not in targets and "(sibling)" not in targets
    assert "ours @250 = 0.700 vs the best baseline @1000 (base) = 0.650: met" in targets
    assert "sibling @2000 = 0.990 vs the best baseline (base) = 0.950: +4.2 % (target: +10 %)" in targets
    # unit 0: 9.6/10 (within 5 %), unit 1: 5/10 (not); sibling: 10/10 and 9.8/10
    assert "ours within 5 % of the reference @2000: 50 % (early 50 %) (target: 80 % at every depth)" in targets
    assert "sibling within 5 % of the reference @2000: 100 % (early 100 %)" in targets


def population_records(alone_final, shared_at, marks=(1000, 2000, 3000, 8000)):
    units = list(range(len(alone_final)))
    common = {"grid": "vqvae", "network": "net", "layer": "l1", "method": "ours", "noise": "none", "seed": 0,
              "units": units, "silent": [False] * len(units), "steps": 0, "optimizer_seconds": 0.0,
              "wall_seconds": 1.0}
    alone = {**common, "mode": "layer", "budgets": [1000, 2000], "true_at": [[v / 2, v] for v in alone_final],
             "true_max": list(alone_final)}
    shared = {**common, "mode": "shared", "budgets": list(marks), "true_at": shared_at,
              "true_max": [max(curve) for curve in shared_at]}
    return alone, shared


def test_population_scores_are_relative_to_each_units_independent_search_with_mean_and_10th_percentile():
    # 11 units: independent finals 1..10 and one never woken (0); shared reaches 0.5x .. 1.4x of them
    alone_final = [float(v) for v in range(1, 11)] + [0.0]
    factors = np.linspace(0.5, 1.4, 10)
    shared_at = [[f * v * 0.5, f * v * 0.8, f * v, f * v * 1.1] for f, v in zip(factors, alone_final)] + [[1, 1, 1, 1]]
    alone, shared = population_records(alone_final, shared_at)
    ratios, unwoken = bank_report.population_ratios(alone, shared)
    assert ratios.shape == (10, 4) and unwoken == 1
    np.testing.assert_allclose(ratios[:, 2], factors)
    text = "\n".join(bank_report.population_lines([alone, shared]))
    p10 = np.percentile(factors, 10)
    assert f"| vqvae | net l1 | 10 of 11 | {0.5 * factors.mean():.3f} ({0.5 * p10:.3f}) |" in text
    assert f" {factors.mean():.3f} ({p10:.3f}) | {1.1 * factors.mean():.3f} ({1.1 * p10:.3f}) |" in text
    # the target: at most 3,000 shared stimuli for the whole layer
    assert (f"- vqvae net l1: with 3,000 shared stimuli in all, its units reach {factors.mean():.3f} of their "
            f"independent 2,000-query score on average, {p10:.3f} at the 10th percentile (1 units the independent "
            f"search never woke are left out)") in text


def test_reference_rows_count_only_for_the_weights_they_were_made_with(tmp_path):
    """The bank trains its networks on each machine; a reference row made with other weights (a network
    trained anew) is dropped with a line that says so and how to fix it."""
    import torch

    import bank_networks

    def save(cache, weights):
        path = bank_networks.network_path(cache, "net")
        path.parent.mkdir(parents=True)
        torch.save({"state_dict": {"w": weights}}, path)
        return bank_networks.network_fingerprint(str(cache), "net")

    current = save(tmp_path, torch.arange(4.0))
    assert save(tmp_path / "same", torch.arange(4.0)) == current
    assert save(tmp_path / "retrained", torch.arange(4.0) + 1e-6) != current
    rows = [reference_row(0, 1.0, weights=current), reference_row(1, 2.0, weights="ffffffffffff"),
            reference_row(2, 3.0, weights="")]  # a table older than the column
    kept, stale = bank_reference.rows_for_weights(rows, tmp_path)
    assert [row["unit"] for row in kept] == [0]
    assert len(stale) == 1 and "2 rows of net" in stale[0] and "rerun benchmarks/bank_reference.py" in stale[0]


def test_reference_methods_per_grid_and_the_table_round_trip(tmp_path):
    grids = ["sngan", "vqvae"]
    assert bank_reference.parse_methods(["elite"], grids) == {"sngan": "elite", "vqvae": "elite"}
    assert bank_reference.parse_methods(["vqvae=elite", "sngan=cma"], grids) == {"sngan": "cma", "vqvae": "elite"}
    assert bank_reference.parse_methods(["sngan=cma"], grids, default="x") == {"sngan": "cma", "vqvae": "x"}
    assert bank_reference.parse_methods(["ga", "sngan=cma"], grids) == {"sngan": "cma", "vqvae": "ga"}
    for bad in (["a", "b"], ["other=cma"], ["sngan=cma", "sngan=ga"]):
        with pytest.raises(ValueError):
            bank_reference.parse_methods(bad, grids)
    reference_record = {**record("elite", [[1.0, 2.0, 3.0], [0.5, 0.5, 0.25]], true_max=[3.5, 0.5],
                                 wall_seconds=10.0), "budgets": [2000, 5000, 10000], "mode": "reference"}
    rows = bank_reference.rows_from_records([reference_record], {"net": "0123456789ab"})
    assert [(r["unit"], r["value"], r["queries"], r["seconds"], r["weights"]) for r in rows] == [
        (0, 3.5, 10000, 5.0, "0123456789ab"), (1, 0.5, 10000, 5.0, "0123456789ab")]
    path = tmp_path / "reference.csv"
    bank_reference.write_table(bank_reference.merge_rows([reference_row(1, 9.0), reference_row(7, 2.0)], rows), path)
    back = bank_reference.read_table(path)
    assert [(r["unit"], r["value"]) for r in back] == [(0, 3.5), (1, 0.5), (7, 2.0)]  # unit 1 replaced
    assert back[0]["value"] == 3.5 and back[0]["queries"] == 10000 and back[0]["method"] == "elite"
    assert path.read_text().splitlines()[0] == ",".join(bank_reference.FIELDS)
    assert bank_report.reference_maxima(back) == {("sngan", "net", "l1", 0): 3.5, ("sngan", "net", "l1", 1): 0.5,
                                                  ("sngan", "net", "l1", 7): 2.0}
