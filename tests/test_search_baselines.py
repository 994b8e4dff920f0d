"""The in-vivo evolution baselines: XDream's genetic algorithm (``ga``) and pycma's CMA-ES (``cma``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mango_pl.search import RunPlan, make_searcher, maximize
from tests.search_helpers import Counted, planted

BASELINES = ["ga", "cma"]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("method,options", [("ga", {}), ("ga", {"population": 10, "conserve": 3}),
                                            ("cma", {}), ("cma", {"popsize": 6})])
def test_budget_is_exact(method, options):
    """23 evaluations per problem: the batch (30, 10, 8 or 6 points) does not divide 23."""
    objective = planted(2, 4, 8, seed=0)
    result = maximize(objective, method, d=4, n=8, budget=23, problems=2, seed=1, **options)
    assert result.history.shape == (2, 23)
    assert objective.evaluations.tolist() == [23, 23]
    assert torch.equal(result.best_value, result.history.max(1).values)
    assert torch.equal(objective(result.best_index[:, None])[:, 0], result.best_value)


@pytest.mark.parametrize("method", BASELINES)
def test_cut_batches_do_not_change_the_search(method):
    """Checkpoints cut generations into prefixes; the untold rest is asked next, so the queries match."""
    objective = planted(2, 6, 8, seed=1)
    plain = maximize(objective, method, d=6, n=8, budget=100, problems=2, seed=2)
    cut = maximize(objective, method, d=6, n=8, budget=100, problems=2, seed=2, plan=RunPlan(record_at=[1, 7, 13, 50]))
    assert torch.equal(plain.history, cut.history)
    assert [c.queries for c in cut.checkpoints] == [1, 7, 13, 50]
    assert torch.equal(cut.checkpoints[-1].best_value, cut.history[:, :50].max(1).values)


@pytest.mark.parametrize("method", BASELINES)
def test_prefix_tell_then_the_rest(method):
    searcher = make_searcher(method, d=5, n=8, problems=2, seed=0)
    index = searcher.ask()
    k = index.shape[1]
    searcher.tell(index[:, :2], torch.zeros(2, 2))
    rest = searcher.ask()
    assert torch.equal(rest, index[:, 2:])
    searcher.tell(rest, torch.randn(2, k - 2, generator=torch.Generator().manual_seed(0)))
    assert searcher.ask().shape == (2, k, 5)  # the next generation, in full


@pytest.mark.parametrize("method", BASELINES)
def test_problems_in_a_batch_are_independent(method):
    """Problem 1 alone with seed [s] equals problem 1 of a batch of 3 with seeds [a, s, b]."""
    objective = planted(3, 6, 8, seed=5)
    batch = maximize(objective, method, d=6, n=8, budget=90, problems=3, seed=[12, 5, 40])
    alone = maximize(Counted(objective.target[1:2]), method, d=6, n=8, budget=90, problems=1, seed=[5])
    assert torch.equal(alone.history[0], batch.history[1])


@pytest.mark.parametrize("method", BASELINES)
def test_same_seed_same_result(method):
    objective = planted(2, 6, 8, seed=6)
    first = maximize(objective, method, d=6, n=8, budget=90, problems=2, seed=3)
    again = maximize(objective, method, d=6, n=8, budget=90, problems=2, seed=3)
    other = maximize(objective, method, d=6, n=8, budget=90, problems=2, seed=4)
    assert torch.equal(first.history, again.history)
    assert torch.equal(first.best_index, again.best_index)
    assert not torch.equal(first.history, other.history)
    assert not torch.equal(first.history[0], first.history[1])  # problems get different seeds


@pytest.mark.parametrize("method", BASELINES)
def test_beats_random_search(method):
    objective = planted(4, 16, 16, seed=7)
    result = maximize(objective, method, d=16, n=16, budget=600, problems=4, seed=0)
    random = maximize(objective, "random", d=16, n=16, budget=600, problems=4, seed=0)
    assert result.best_value.mean() > random.best_value.mean() + 15, (result.best_value, random.best_value)


def test_ga_conserves_its_best_points():
    searcher = make_searcher("ga", d=6, n=8, problems=2, seed=0, population=12, conserve=4)
    index = searcher.ask()
    values = torch.randn(2, 12, generator=torch.Generator().manual_seed(1)).double()
    searcher.tell(index, values)
    best = values.argsort(1, descending=True)[:, :4]
    following = searcher.ask()
    assert torch.equal(following[:, :4], torch.gather(index, 1, best[..., None].expand(-1, -1, 6)))
    assert following.shape == (2, 12, 6) and 0 <= following.min() and following.max() <= 7


def test_cma_options_and_quiet():
    searcher = make_searcher("cma", d=20, n=9, problems=2, seed=0)
    assert searcher.options == {"sigma": 1.0, "latent_scale": 1.0, "popsize": 12}  # 4 + floor(3 ln 20)
    first = searcher.ask()
    assert first.shape == (2, 12, 20) and 0 <= first.min() and first.max() <= 8
    assert abs(first.double().mean().item() - 4) < 0.5  # around the grid centre


def test_cma_leaves_numpy_random_and_the_disk_alone(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    np.random.seed(123)
    expected = np.random.rand(3)
    np.random.seed(123)
    maximize(planted(2, 4, 8, seed=8), "cma", d=4, n=8, budget=50, problems=2, seed=0)
    assert np.array_equal(np.random.rand(3), expected)
    assert list(tmp_path.iterdir()) == []
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("method,option,value,error", [
    ("ga", "population", 1, ValueError),
    ("ga", "population", 2.5, TypeError),
    ("ga", "mutation_rate", -0.1, ValueError),
    ("ga", "mutation_rate", 1.5, ValueError),
    ("ga", "mutation_size", 0.0, ValueError),
    ("ga", "kt_multiplier", -1.0, ValueError),
    ("ga", "conserve", 30, ValueError),
    ("ga", "conserve", -1, ValueError),
    ("ga", "parental_skew", 2.0, ValueError),
    ("ga", "latent_scale", 0, ValueError),
    ("cma", "sigma", 0.0, ValueError),
    ("cma", "sigma", "big", TypeError),
    ("cma", "latent_scale", -2.0, ValueError),
    ("cma", "popsize", 1, ValueError),
])
def test_bad_options_raise(method, option, value, error):
    with pytest.raises(error, match=f"option {option} must"):
        make_searcher(method, d=4, n=8, **{option: value})
