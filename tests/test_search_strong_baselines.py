"""The strong baselines: an elitist GA (``elitist-ga``), CatCMA (``catcma``) and CMA-ES with margin
(``cma-margin``, re-ordered by the grid's features when it has them)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mango_pl.search import GridFeatures, RunPlan, make_searcher, maximize, shared_methods, start_methods
from tests.search_helpers import Counted, planted

STRONG = ["elitist-ga", "catcma", "cma-margin"]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("method,options", [("elitist-ga", {}), ("elitist-ga", {"k": 7, "elite": 2}),
                                            ("catcma", {}), ("catcma", {"popsize": 6}),
                                            ("cma-margin", {}), ("cma-margin", {"popsize": 5})])
def test_budget_is_exact_and_cut_batches_do_not_change_the_search(method, options):
    """23 evaluations per problem (no batch size divides it), and checkpoints that cut generations
    into prefixes: the untold rest is asked next, so the queries match the uncut search."""
    objective = planted(2, 5, 8, seed=0)
    plain = maximize(objective, method, d=5, n=8, budget=23, problems=2, seed=1, **options)
    assert plain.history.shape == (2, 23)
    assert objective.evaluations.tolist() == [23, 23]
    assert torch.equal(plain.best_value, plain.history.max(1).values)  # the best single measurement
    assert torch.equal(objective(plain.best_index[:, None])[:, 0], plain.best_value)
    cut = maximize(objective, method, d=5, n=8, budget=23, problems=2, seed=1, plan=RunPlan(record_at=[1, 4, 9, 17]),
                   **options)
    assert torch.equal(plain.history, cut.history)
    assert [c.queries for c in cut.checkpoints] == [1, 4, 9, 17]
    assert torch.equal(cut.checkpoints[2].best_value, cut.history[:, :9].max(1).values)


@pytest.mark.parametrize("method", STRONG)
def test_prefix_tell_then_the_rest(method):
    searcher = make_searcher(method, d=5, n=8, problems=2, seed=0)
    index = searcher.ask()
    k = index.shape[1]
    assert index.dtype == torch.long and 0 <= index.min() and index.max() <= 7
    searcher.tell(index[:, :2], torch.zeros(2, 2))
    rest = searcher.ask()
    assert torch.equal(rest, index[:, 2:])
    searcher.tell(rest, torch.randn(2, k - 2, generator=torch.Generator().manual_seed(0)))
    assert searcher.ask().shape == (2, k, 5)  # the next generation, in full


@pytest.mark.parametrize("method", STRONG)
def test_same_seed_same_result_and_batch_independence(method):
    objective = planted(3, 6, 8, seed=5)
    first = maximize(objective, method, d=6, n=8, budget=60, problems=3, seed=[12, 5, 40])
    again = maximize(objective, method, d=6, n=8, budget=60, problems=3, seed=[12, 5, 40])
    other = maximize(objective, method, d=6, n=8, budget=60, problems=3, seed=[13, 6, 41])
    assert torch.equal(first.history, again.history)
    assert torch.equal(first.best_index, again.best_index)
    assert not torch.equal(first.history, other.history)
    # problem 1 alone with seed [5] equals problem 1 of the batch with seeds [12, 5, 40]
    alone = maximize(Counted(objective.target[1:2]), method, d=6, n=8, budget=60, problems=1, seed=[5])
    assert torch.equal(alone.history[0], first.history[1])


@pytest.mark.parametrize("method", STRONG)
def test_beats_random_search(method):
    """Averaged over 2 seeds x 3 problems of a planted L1 problem (random search: about -45)."""
    gaps = []
    for seed in range(2):
        objective = planted(3, 16, 16, seed=70 + seed)
        result = maximize(objective, method, d=16, n=16, budget=300, problems=3, seed=seed)
        random = maximize(objective, "random", d=16, n=16, budget=300, problems=3, seed=seed)
        gaps.append((result.best_value.mean() - random.best_value.mean()).item())
    assert sum(gaps) / len(gaps) > 12, gaps


def test_registered_and_modes():
    assert "elitist-ga" in shared_methods() and "elitist-ga" in start_methods()
    assert "catcma" not in shared_methods() and "cma-margin" not in shared_methods()
    assert make_searcher("elitist-ga", d=4, n=8).options == {"k": 10, "elite": 3, "crossover": 0.5}
    assert make_searcher("catcma", d=20, n=8).options == {"popsize": 12}  # 4 + floor(3 ln 20)
    opts = make_searcher("cma-margin", d=20, n=13).options
    assert opts["sigma"] == 2.0 and opts["popsize"] == 12 and opts["margin"] == pytest.approx(1 / (20 * 12))


def test_elitist_ga_children_come_from_its_archive():
    """Generation 1: each child is an archive member (or a coordinate-wise mix of two) with at most
    2 coordinates changed; the archive is the 3 best distinct points told."""
    d, n = 12, 16
    searcher = make_searcher("elitist-ga", d=d, n=n, problems=2, seed=3)
    first = torch.randint(0, n, (2, 10, d), generator=torch.Generator().manual_seed(3))
    first[:, 1] = first[:, 0]  # a point measured twice keeps its best measurement, in one slot
    searcher.suggest(first)  # start points: generation 0
    index = searcher.ask()
    assert torch.equal(index, first)
    values = torch.arange(10, dtype=torch.float64).flip(0).expand(2, -1).clone()  # 9, 8, ..., 0
    values[:, 1] = 9.5  # the repeat of point 0 measures higher
    searcher.tell(index, values)
    # the archive: points 0 (at its best measurement), 2, 3
    assert torch.equal(searcher.archive_index, first[:, [0, 2, 3]])
    assert searcher.archive_value.tolist() == [[9.5, 7.0, 6.0]] * 2
    children = searcher.ask()
    archive = searcher.archive_index
    for p in range(2):
        for child in children[p]:
            best = min(int(((child != archive[p, a]) & (child != archive[p, b])).sum())
                       for a in range(3) for b in range(3))
            assert best <= 2


def test_elitist_ga_population_mode_and_start_points():
    target = torch.randint(0, 8, (3, 6), generator=torch.Generator().manual_seed(2))
    shown = []

    def objective(index):  # [N, d] -> [N, P]
        shown.append(index)
        return -(index[:, None] - target[None]).abs().sum(-1).double()

    start = torch.randint(0, 8, (3, 4, 6), generator=torch.Generator().manual_seed(3))
    start[1, 0] = start[0, 0]  # a start point two problems share is shown once
    result = maximize(objective, "elitist-ga", d=6, n=8, budget=157, problems=3, seed=0, shared=True,
                      start=start, plan=RunPlan(record_at=[5]))
    assert result.history.shape == (3, 157) and result.stimuli.shape == (157, 6)
    assert torch.equal(result.stimuli[:11], torch.cat([start[0], start[1, 1:], start[2]]))
    random = maximize(objective, "random", d=6, n=8, budget=157, problems=3, seed=0, shared=True, k=10)
    assert result.best_value.mean() > random.best_value.mean() + 2
    searcher = make_searcher("elitist-ga", d=6, n=8, problems=3, seed=0)
    for step in range(4):  # the problems take turns: bred step t's stimulus j is (t * k + j) % P's
        assert searcher._turn == (max(step - 1, 0) * 10) % 3
        stimuli = searcher.ask_shared()
        searcher.tell_shared(stimuli, objective(stimuli))
    # every problem's archive holds its own best 3 distinct stimuli of all shown
    every = torch.cat(shown[-4:])
    for p in range(3):
        own = -(every - target[p]).abs().sum(-1).double()
        assert searcher.archive_value[p, 0] == own.max()


def test_elitist_ga_start_points_come_first():
    start = torch.randint(0, 8, (2, 13, 5), generator=torch.Generator().manual_seed(4))
    objective = planted(2, 5, 8, seed=4)
    result = maximize(objective, "elitist-ga", d=5, n=8, budget=40, problems=2, seed=0, start=start)
    assert torch.equal(result.history[:, :13], objective(start))


def _permuted_features(n: int, seed: int, e: int = 1) -> tuple[GridFeatures, torch.Tensor]:
    """A table whose first-PC order is a known permutation: value ``perm[r]`` has feature ``r``."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    rank = perm.argsort()
    direction = torch.tensor([1.0, -2.0, 0.5][:e], dtype=torch.float64)
    return GridFeatures(rank.double()[:, None] * direction, "permuted line"), perm


def test_cma_margin_searches_the_ranks_of_the_feature_order():
    """With features, the searcher proposes order[rank] where the plain searcher proposes rank:
    on the objective composed with that order the two searches are the same search."""
    d, n = 6, 12
    features, perm = _permuted_features(n, seed=0)
    searcher = make_searcher("cma-margin", d=d, n=n, problems=2, seed=1)
    searcher.use_features(features)
    assert torch.equal(searcher.order, perm.expand(d, -1))
    target = torch.randint(0, n, (2, d), generator=torch.Generator().manual_seed(1))  # in ranks

    def on_ranks(ranks):
        return -(ranks - target[:, None]).abs().sum(-1).double()

    def on_values(index):
        return on_ranks(perm.argsort()[index])

    plain = maximize(on_ranks, "cma-margin", d=d, n=n, budget=80, problems=2, seed=1)
    ordered = maximize(on_values, "cma-margin", d=d, n=n, budget=80, problems=2, seed=1, features=features)
    assert torch.equal(plain.history, ordered.history)
    assert torch.equal(ordered.best_index, perm[plain.best_index])
    index = make_searcher("cma-margin", d=d, n=n, problems=2, seed=1)
    index.use_features(features)
    asked = index.ask()
    assert 0 <= asked.min() and asked.max() <= n - 1
    # several feature dimensions: the first principal component's order (either direction)
    wide, perm = _permuted_features(n, seed=2, e=3)
    searcher = make_searcher("cma-margin", d=d, n=n, seed=0)
    searcher.use_features(wide)
    assert torch.equal(searcher.order[0], perm) or torch.equal(searcher.order[0], perm.flip(0))
    # without features: the index order
    assert torch.equal(make_searcher("cma-margin", d=d, n=n).order, torch.arange(n).expand(d, -1))


def test_cmaes_searchers_leave_numpy_random_alone(capsys):
    np.random.seed(123)
    expected = np.random.rand(3)
    np.random.seed(123)
    for method in ("catcma", "cma-margin"):
        maximize(planted(2, 4, 8, seed=8), method, d=4, n=8, budget=30, problems=2, seed=0)
    assert np.array_equal(np.random.rand(3), expected)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("method,option,value,error", [
    ("elitist-ga", "k", 0, ValueError),
    ("elitist-ga", "k", 2.5, TypeError),
    ("elitist-ga", "elite", 0, ValueError),
    ("elitist-ga", "crossover", 1.5, ValueError),
    ("elitist-ga", "crossover", -0.1, ValueError),
    ("catcma", "popsize", 1, ValueError),
    ("catcma", "popsize", "big", TypeError),
    ("cma-margin", "sigma", 0.0, ValueError),
    ("cma-margin", "popsize", 1, ValueError),
    ("cma-margin", "margin", 0.5, ValueError),
    ("cma-margin", "margin", -0.1, ValueError),
])
def test_bad_options_raise(method, option, value, error):
    with pytest.raises(error, match=f"option {option} must"):
        make_searcher(method, d=4, n=8, **{option: value})
