"""The paper's findings checked on a run (``mango_pl.report.paper_claims``): each rule gives *holds* on
tables that show the finding, *does not hold* on tables that show its opposite, and *cannot tell*
where the run lacks the figure — pure functions over the tables the report's figures are drawn from.
(The checks on a real run's report are in tests/test_report.py.)"""

from __future__ import annotations

import math

import pytest

from mango_pl.report.paper_claims import (CANNOT_TELL, CLAIMS, FAILS, HOLDS, activation_tracks_accuracy,
                                          activation_with_training, budget_flattens, claims_markdown, claims_table,
                                          complexity_of_first_layers, entropy_with_depth, entropy_with_training,
                                          labile_by_depth, selective_by_depth, selective_early, spearman, thirds)
from mango_pl.report.table import Table

LAYERS = ["l1", "l2", "l3", "l4", "l5", "l6"]
EPOCHS = [0, 1, 2, 5, 9]


def entropy_tables(early, late):
    table = Table(("layer", "stage", "epoch", "label", "unit", "entropy"))
    for layer, e, l in zip(LAYERS, early, late):
        for unit in range(3):
            table.add(layer, "early", 0, "a", unit, e)
            table.add(layer, "late", 9, "a", unit, l)
    return {"class_entropy": {"": table}}


def selective_tables(fraction):
    """``fraction(layer position, epoch)`` -> the selective fraction of that cell (8 units per layer)."""
    table = Table(("layer", "epoch", "units", "strong_fraction", "selective_fraction"))
    for i, layer in enumerate(LAYERS):
        for epoch in EPOCHS:
            table.add(layer, epoch, 8, 1.0, fraction(i, epoch))
    return {"selective_fraction": {"": table}}


def dynamics_tables(activation, accuracy):
    table = Table(("layer", "epoch", "metric", "mean", "low", "high", "values"))
    for i, layer in enumerate(LAYERS):
        for epoch in EPOCHS:
            value = activation(i, epoch)
            table.add(layer, epoch, "mean_activation", value, value, value, 8)
    acc = Table(("epoch", "val_acc"))
    for epoch in EPOCHS:
        acc.add(epoch, accuracy(epoch))
    return {"dynamics": {"activation": table, "accuracy": acc}}


def test_spearman_and_thirds():
    assert spearman([1, 2, 3, 4], [2, 4, 8, 16]) == pytest.approx(1.0)
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert math.isnan(spearman([1, 2, 3], [5, 5, 5])) and math.isnan(spearman([1, 2], [1, 2]))
    assert thirds(list(range(9))) == ([0, 1, 2], [3, 4, 5], [6, 7, 8])
    assert thirds(list(range(4))) == ([0], [1, 2], [3])


def test_entropy_claims_follow_depth_and_training():
    falling = entropy_tables(early=[1.0] * 6, late=[0.9, 0.8, 0.6, 0.5, 0.3, 0.1])
    assert entropy_with_depth.check(falling, None).verdict == HOLDS
    assert entropy_with_training.check(falling, None).verdict == HOLDS
    rising = entropy_tables(early=[0.2] * 6, late=[0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    assert entropy_with_depth.check(rising, None).verdict == FAILS
    assert entropy_with_training.check(rising, None).verdict == FAILS
    check = entropy_with_depth.check({}, None)
    assert check.verdict == CANNOT_TELL and "class_entropy figure was not drawn" in check.measured


def test_selective_claims_count_units_by_thirds_and_time():
    deep_and_early = selective_tables(lambda i, epoch: {3: 0.25, 4: 0.5, 5: 0.75}.get(i, 0.0))
    assert selective_by_depth.check(deep_and_early, None).verdict == HOLDS
    assert selective_early.check(deep_and_early, None).verdict == FAILS  # none in the first half of the layers
    shallow = selective_tables(lambda i, epoch: 0.5 if i == 0 else 0.0)
    assert selective_by_depth.check(shallow, None).verdict == FAILS
    assert selective_early.check(shallow, None).verdict == HOLDS
    late_only = selective_tables(lambda i, epoch: 0.5 if epoch == 9 else 0.0)
    assert selective_early.check(late_only, None).verdict == FAILS
    nothing = selective_tables(lambda i, epoch: 0.0)
    assert selective_by_depth.check(nothing, None).verdict == CANNOT_TELL
    assert "no unit was selective" in selective_early.check(nothing, None).measured


def test_activation_claims_need_a_rise_that_tracks_the_accuracy():
    tracking = dynamics_tables(lambda i, epoch: 0.1 + 0.05 * epoch + 0.01 * i, lambda epoch: 0.5 + 0.05 * epoch)
    assert activation_with_training.check(tracking, None).verdict == HOLDS
    assert activation_tracks_accuracy.check(tracking, None).verdict == HOLDS
    falling = dynamics_tables(lambda i, epoch: 1.0 - 0.05 * epoch, lambda epoch: 0.5 + 0.05 * epoch)
    assert activation_with_training.check(falling, None).verdict == FAILS
    assert activation_tracks_accuracy.check(falling, None).verdict == FAILS
    flat_accuracy = dynamics_tables(lambda i, epoch: 0.1 * epoch, lambda epoch: 0.9)
    assert activation_tracks_accuracy.check(flat_accuracy, None).verdict == CANNOT_TELL


def test_labile_claim_wants_none_in_the_first_layers_and_some_in_the_last():
    def tables(labile):
        table = Table(("layer", "units", "epochs", "non_specialized", "stable", "labile"))
        for layer, value in zip(LAYERS, labile):
            table.add(layer, 8, 5, 1.0 - value, 0.0, value)
        return {"stable_labile": {"fractions": table, "strip": Table(("layer",))}}

    assert labile_by_depth.check(tables([0.0, 0.0, 0.1, 0.2, 0.3, 0.4]), None).verdict == HOLDS
    assert labile_by_depth.check(tables([0.3, 0.0, 0.1, 0.2, 0.3, 0.4]), None).verdict == FAILS
    assert labile_by_depth.check(tables([0.0] * 6), None).verdict == FAILS


def test_complexity_claim_wants_a_rise_then_a_plateau():
    def tables(curve):
        table = Table(("layer", "epoch", "metric", "mean", "low", "high", "values"))
        for layer in LAYERS:
            for epoch in EPOCHS:
                for metric in ("jpeg", "zip"):
                    table.add(layer, epoch, metric, curve(epoch), curve(epoch), curve(epoch), 8)
        return {"complexity": {"": table}}

    assert complexity_of_first_layers.check(tables(lambda epoch: min(0.2 + 0.2 * epoch, 0.6)), None).verdict == HOLDS
    assert complexity_of_first_layers.check(tables(lambda epoch: 0.2 + 0.05 * epoch), None).verdict == FAILS  # no plateau
    assert complexity_of_first_layers.check(tables(lambda epoch: 0.6 - 0.01 * epoch), None).verdict == FAILS  # no rise
    overhead = complexity_of_first_layers.check(tables(lambda epoch: min(2.0 + 0.2 * epoch, 2.6)), None)
    assert overhead.verdict == CANNOT_TELL and "larger than the raw ones" in overhead.measured  # ratio >= 1


def test_budget_check_reads_the_last_third_of_the_activation_curves():
    def tables(curve):
        table = Table(("layer", "epoch", "label", "query", "mean", "low", "high", "units"))
        for layer in LAYERS:
            for query in range(1, 31):
                table.add(layer, 9, "a", query, curve(query), curve(query), curve(query), 8)
        return {"activation_vs_queries": {"": table}}

    assert budget_flattens.check(tables(lambda q: min(q, 10) / 10), None).verdict == HOLDS
    check = budget_flattens.check(tables(lambda q: q / 30), None)
    assert check.verdict == FAILS and "33.3%" in check.measured


def test_every_check_says_cannot_tell_without_its_figure_and_the_table_keeps_every_row():
    checks = [claim.check({}, None) for claim in CLAIMS]
    assert all(c.verdict == CANNOT_TELL and "was not drawn" in c.measured for c in checks)
    assert len({c.key for c in checks}) == len(CLAIMS)
    markdown = claims_markdown(checks)
    assert markdown.count("\n") == len(CLAIMS) + 2 and "**cannot tell**" in markdown
    assert claims_table(checks).column("key") == [c.key for c in checks]
