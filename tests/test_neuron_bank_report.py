"""The neuron bank's scoring (benchmarks/bank_report.py): normalization, intervals, win rates and
the target lines, on hand-made job records whose answers are known."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bank_report  # noqa: E402

BUDGETS = [100, 250, 1000, 2000]


def record(method, true_at, *, noise="none", seed=0, silent=None, true_max=None, grid="sngan"):
    """A job record of one layer with ``len(true_at)`` units."""
    units = list(range(len(true_at)))
    return {"grid": grid, "network": "net", "layer": "l1", "method": method, "noise": noise, "seed": seed,
            "units": units, "silent": silent or [False] * len(units), "true_at": true_at,
            "true_max": true_max or [max(curve) for curve in true_at], "budgets": BUDGETS,
            "steps": 10, "optimizer_seconds": 0.02}


def test_each_unit_is_normalized_by_the_best_any_method_reached_and_silent_units_are_left_out():
    records = [record("a", [[1, 2, 3, 4], [0, 0, 0, 0]], silent=[False, True]),
               record("b", [[2, 2, 2, 2], [0, 0, 0, 0]], silent=[False, True], true_max=[8, 0]),
               record("b", [[1, 1, 1, 1], [0, 0, 0, 0]], noise="mult0.5", silent=[False, True])]
    norm = bank_report.normalizers(records)
    assert norm[("sngan", "net", "l1", 0)] == 8  # a query of b's reached 8 though it returned 2
    table = bank_report.scores(records, norm)
    assert set(table) == {("sngan", "none", "a"), ("sngan", "none", "b"), ("sngan", "mult0.5", "b")}
    np.testing.assert_allclose(table[("sngan", "none", "a")][(("sngan", "net", "l1", 0), 0)], [1 / 8, 2 / 8, 3 / 8, .5])
    assert all(len(runs) == 1 for runs in table.values())  # the silent unit scores nowhere


def test_win_rate_counts_ties_half_and_only_pairs_both_methods_ran():
    ours = {("u", 0): np.array([1.0, 0.5]), ("u", 1): np.array([0.2, 0.5]), ("v", 0): np.array([9.0, 9.0])}
    theirs = {("u", 0): np.array([0.5, 0.5]), ("u", 1): np.array([0.4, 0.5])}
    rate, pairs = bank_report.win_rate(ours, theirs)
    assert pairs == 2
    np.testing.assert_allclose(rate, [0.5, 0.5])


def test_interval_is_1_96_standard_errors():
    mean, half = bank_report.mean_interval(np.array([[0.0], [2.0]]))
    assert mean[0] == 1 and half[0] == pytest.approx(1.96 * np.sqrt(2) / np.sqrt(2))


def test_target_lines_say_met_or_missed_by_how_much(tmp_path):
    # unit 0's best is 10 (reached by "base" @2000); "ours" @250 = 0.9 vs base @1000 = 0.8 -> met
    records = [record("ours", [[5, 9, 9, 9.5]]), record("base", [[5, 6, 8, 10]]),
               record("ours", [[5, 6, 6, 6]], noise="mult0.5"), record("base", [[5, 7, 5, 5]], noise="mult0.5")]
    text = bank_report.write_report(records, "ours", BUDGETS, {"net": 0.9}, tmp_path)
    assert "ours @250 = 0.900 vs the best baseline @1000 (base) = 0.800: met" in text
    assert "ours @2000 = 0.950 vs the best baseline (base) = 1.000: -5.0 % (target: +10 %)" in text
    assert "mult0.5: ours ahead of every baseline at every budget: no — behind base@100 by 0.000, base@250 by 0.100" in text
    assert (tmp_path / "report.md").read_text() == text
    assert (tmp_path / "neuron_bank.png").stat().st_size > 0
