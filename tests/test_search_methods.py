"""Every search method: exact budgets, planted optima, batches that do not leak, seeding."""

from __future__ import annotations

import warnings

import pytest
import torch

from mango_pl.search import maximize
from tests.search_helpers import Counted, planted

ALL_METHODS = ["elite", "ga", "cma", "protes", "tt", "tt-s", "tt-b", "protes-ref", "ttopt", "random", "ng:Portfolio", "ng:CMA",
               "ng:DE", "ng:OnePlusOne", "ng:NoisyBandit", "ng:SPSA", "ng:NGOpt"]


pytestmark = pytest.mark.usefixtures("one_thread")


def run(objective, method, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nevergrad warns about budgets and parallel asks
        return maximize(objective, method, **kwargs)


@pytest.mark.parametrize("method", ALL_METHODS)
def test_budget_is_exact(method):
    """23 evaluations per problem, also when the method's batch does not divide 23."""
    objective = planted(2, 4, 8, seed=0)
    options = {"k": 4} if method.startswith("ng:") else {}
    result = run(objective, method, d=4, n=8, budget=23, problems=2, seed=1, **options)
    assert result.history.shape == (2, 23)
    assert objective.evaluations.tolist() == [23, 23]
    assert torch.equal(result.best_value, result.history.max(1).values)
    assert torch.equal(objective(result.best_index[:, None])[:, 0], result.best_value)


@pytest.mark.parametrize("method", ["ttopt", "ng:DE"])
def test_strong_methods_find_the_planted_optimum(method):
    objective = planted(3, 6, 8, seed=2)
    result = run(objective, method, d=6, n=8, budget=600, problems=3, seed=0)
    assert torch.equal(result.best_index, objective.target)


@pytest.mark.parametrize("method,share", [("random", 1 / 3), ("ng:Portfolio", 1 / 3), ("ng:CMA", 1 / 3),
                                          ("ng:NGOpt", 1 / 3), ("ng:OnePlusOne", 1 / 3),
                                          ("ng:NoisyBandit", 0.1), ("ng:SPSA", 0.1)])
def test_methods_beat_the_grid_mean_clearly(method, share):
    """Best value at least ``share`` of the way from the grid mean to the optimum (0).

    SPSA (a gradient estimate, flat after rounding to the grid) and NoisyBandit (made for noisy
    functions) get the lower bar: on this discrete problem they stall early, worse than random.
    """
    objective = planted(2, 6, 8, seed=3)
    result = run(objective, method, d=6, n=8, budget=300, problems=2, seed=0)
    mean = objective.grid_mean(8)
    assert (result.best_value >= mean * (1 - share)).all(), (result.best_value, mean)
    assert (result.history.mean(1) > mean - 1).all()


def test_random_search_is_uniform():
    objective = planted(1, 2, 4, seed=4)
    counts = torch.zeros(4, 4)
    calls = []

    def recording(index):
        calls.append(index)
        return objective(index)

    run(recording, "random", d=2, n=4, budget=4000, k=1000)
    index = torch.cat(calls, 1)[0]
    counts.index_put_((index[:, 0], index[:, 1]), torch.ones(len(index)), accumulate=True)
    assert ((counts - 250).abs() < 4 * 250 ** 0.5).all()


@pytest.mark.parametrize("method,options", [("random", {"k": 7}), ("ng:OnePlusOne", {"k": 3}), ("ttopt", {}),
                                            ("elite", {"k": 7, "initial": 10})])
def test_batch_invariance(method, options):
    """Problem p alone with seed s_p gives the history it gets inside a batch of 3."""
    objective = planted(3, 5, 8, seed=5)
    seeds = [12, 5, 40]
    batch = run(objective, method, d=5, n=8, budget=60, problems=3, seed=seeds, **options)
    for p in range(3):
        single = Counted(objective.target[p:p + 1])
        alone = run(single, method, d=5, n=8, budget=60, problems=1, seed=seeds[p], **options)
        assert torch.equal(alone.history[0], batch.history[p])


@pytest.mark.parametrize("method", ["random", "ttopt", "ng:CMA", "protes-ref", "elite"])
def test_same_seed_same_result(method):
    objective = planted(2, 4, 8, seed=6)
    options = {"k": 10, "k_top": 2} if method == "protes-ref" else {}
    first = run(objective, method, d=4, n=8, budget=60, problems=2, seed=3, **options)
    again = run(objective, method, d=4, n=8, budget=60, problems=2, seed=3, **options)
    other = run(objective, method, d=4, n=8, budget=60, problems=2, seed=4, **options)
    assert torch.equal(first.history, again.history)
    assert torch.equal(first.best_index, again.best_index)
    assert not torch.equal(first.history, other.history)
    assert not torch.equal(first.history[0], first.history[1])  # problems get different seeds


def test_spsa_gets_one_ask_per_step():
    objective = planted(1, 3, 8, seed=7)
    with pytest.warns(UserWarning, match="SPSA does not support parallel asks; using k=1"):
        result = maximize(objective, "ng:SPSA", d=3, n=8, budget=5, k=4)
    assert result.options["k"] == 1
