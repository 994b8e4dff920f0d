"""The default searcher (``elite``): planted optima, population mode, noise, start points."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mango_pl.search import DEFAULT_METHOD, RunPlan, make_searcher, maximize, shared_methods, start_methods
from mango_pl.search.archive import EliteArchive
from mango_pl.loop.noise import MultiplicativeNoise, NoisyObjective, PoissonNoise, noise_model


pytestmark = pytest.mark.usefixtures("one_thread")


def planted_target(problems: int, d: int, n: int, seed: int) -> torch.Tensor:
    return torch.randint(0, n, (problems, d), generator=torch.Generator().manual_seed(seed))


def separable(target: torch.Tensor):
    """``-|index - target|_1`` per problem: a separable function with one planted optimum."""
    return lambda index: -(index - target[:, None]).abs().sum(-1).double()


def test_elite_has_population_mode_and_start_points():
    assert "elite" in shared_methods() and "elite" in start_methods()


def test_finds_the_planted_separable_optimum_on_every_problem():
    """d=16, n=8, 1,500 queries, 4 problems: the issue's planted problem (Portfolio ends at mean
    distance 1.25, the PROTES presets at 1.5-3.25)."""
    target = planted_target(4, 16, 8, seed=0)
    result = maximize(separable(target), DEFAULT_METHOD, d=16, n=8, budget=1500, problems=4, seed=0)
    assert torch.equal(result.best_index, target)
    assert result.history.shape == (4, 1500)


def test_budget_is_exact_and_checkpoints_are_recorded_where_asked():
    target = planted_target(2, 10, 16, seed=1)
    calls = []

    def counted(index):
        calls.append(index.shape[1])
        return separable(target)(index)

    result = maximize(counted, "elite", d=10, n=16, budget=97, problems=2, seed=0, plan=RunPlan(record_at=[13, 50, 97]))
    assert sum(calls) == 97
    assert [c.queries for c in result.checkpoints] == [13, 50, 97]
    for c in result.checkpoints:  # each records the best of the first c.queries queries
        assert torch.equal(c.best_value, result.history[:, : c.queries].max(1).values)
    assert torch.equal(result.best_index, result.checkpoints[-1].best_index)


def test_problems_in_a_batch_stay_independent():
    target = planted_target(3, 12, 8, seed=2)
    seeds = [7, 3, 11]
    batch = maximize(separable(target), "elite", d=12, n=8, budget=300, problems=3, seed=seeds)
    for p in range(3):
        alone = maximize(separable(target[p:p + 1]), "elite", d=12, n=8, budget=300, problems=1, seed=seeds[p])
        assert torch.equal(alone.history[0], batch.history[p])


def test_a_unit_silent_on_everything_shown_keeps_searching_at_random():
    """A sparse unit responds only where the first 3 of 12 coordinates are 0 (1 stimulus in 512):
    while every response is 0 there is nothing to climb, and changing a few coordinates of
    arbitrary silent points would explore a small neighbourhood; the default searcher must wake it
    about as often as random search does, and then climb."""
    problems = 24

    def sparse(index):
        awake = (index[..., :3] == 0).all(-1)
        return torch.where(awake, 1.0 + (index[..., 3:] == 1).double().mean(-1), torch.zeros(index.shape[:2]))

    result = maximize(sparse, "elite", d=12, n=8, budget=1200, problems=problems, seed=0)
    uniform = maximize(sparse, "random", d=12, n=8, budget=1200, problems=problems, seed=0)
    assert (result.best_value > 0).sum() >= (uniform.best_value > 0).sum() - 2
    assert result.best_value.mean() > uniform.best_value.mean() + 0.3  # woken, it climbs (top: 2)


def test_population_mode_scores_each_stimulus_once_and_tells_every_unit():
    """8 units share 600 stimuli: the objective sees each stimulus once (responses of all units at
    once), every unit's history is its column of every response, and every unit learns from the
    stimuli proposed for the others (its best equals the best of its whole column)."""
    target = planted_target(8, 12, 8, seed=3)
    shown = []

    def responses(stimuli):  # [N, d] -> [N, P]
        shown.append(stimuli)
        return -(stimuli[:, None] - target[None]).abs().sum(-1).double()

    result = maximize(responses, "elite", d=12, n=8, budget=600, problems=8, seed=0, shared=True)
    stimuli = torch.cat(shown)
    assert stimuli.shape == (600, 12)
    assert torch.equal(result.stimuli, stimuli)
    expected = -(stimuli[:, None] - target[None]).abs().sum(-1).double().T  # [P, N]
    assert torch.equal(result.history, expected)
    assert torch.equal(result.best_value, expected.max(1).values)
    # shared stimuli beat what 600 / 8 = 75 queries of random search would reach per unit
    alone = maximize(separable(target), "random", d=12, n=8, budget=75, problems=8, seed=0)
    assert result.best_value.mean() > alone.best_value.mean() + 5


def test_population_mode_does_not_spend_stimuli_on_silent_units():
    """Units that never respond propose no children: with one responding unit and seven silent
    ones, every evolved step's children are the responding unit's, and only a tenth of the
    stimuli stay random (for the silent ones)."""
    target = planted_target(1, 12, 8, seed=4)
    searcher = make_searcher("elite", d=12, n=8, problems=8, seed=0, initial=32, shared_k=30)
    evolved = 0
    for _ in range(20):
        stimuli = searcher.ask_shared()
        if searcher._pending is not None:
            evolved += 1
            assert searcher._pending["owners"].tolist() == [0]
            assert int(searcher._pending["per"]) == 27  # 30 stimuli - 3 random
        values = torch.zeros(stimuli.shape[0], 8, dtype=torch.float64)
        values[:, 0] = 20 - (stimuli - target).abs().sum(-1).double()
        searcher.tell_shared(stimuli, values)
    assert evolved == 18
    assert searcher.elites.means()[0].max() > 10


def test_shared_mode_errors_name_the_fix():
    with pytest.raises(NotImplementedError, match="no population"):
        maximize(lambda i: i.sum(-1).double()[:, None], "tt", d=4, n=8, budget=10, shared=True)
    with pytest.raises(ValueError, match=r"\[N, P\]"):
        maximize(lambda i: i.sum(-1).double(), "elite", d=4, n=8, budget=40, problems=2, shared=True)


def test_start_points_are_proposed_first_and_counted():
    target = planted_target(2, 8, 16, seed=5)
    seen = []

    def recording(index):
        seen.append(index)
        return separable(target)(index)

    start = target[:, None].clone()  # the optimum itself as each problem's start point
    result = maximize(recording, "elite", d=8, n=16, budget=30, problems=2, seed=0, start=start)
    assert torch.equal(seen[0][:, 0], target)
    assert torch.equal(result.best_value, torch.zeros(2, dtype=torch.float64))
    with pytest.raises(NotImplementedError, match="takes no start points"):
        maximize(separable(target), "tt", d=8, n=16, budget=30, problems=2, start=start)
    with pytest.raises(ValueError, match=r"start points must be an integer tensor \[P, M, d\]"):
        maximize(separable(target), "elite", d=8, n=16, budget=30, problems=2, start=start[0])


def test_under_noise_it_returns_the_truly_best_stimulus_more_often_than_the_raw_maximum():
    """Multiplicative noise sigma=0.3 on a planted objective: among the points each search
    measured, the one the searcher returns (chosen on repeated measurements) is truly better,
    more often and on average, than the point with the highest single measurement."""
    problems, d, n = 24, 10, 8
    target = planted_target(problems, d, n, seed=6)
    true = lambda index: 30.0 - (index - target[:, None]).abs().sum(-1).double()  # noqa: E731 (positive)
    asked = []

    def recording(index):
        asked.append(index)
        return true(index)

    noisy = NoisyObjective(recording, MultiplicativeNoise(0.3), problems, seed=1)
    result = maximize(noisy, "elite", d=d, n=n, budget=400, problems=problems, seed=0)
    index = torch.cat(asked, 1)  # [P, budget, d]
    raw = index[torch.arange(problems), result.history.argmax(1)]
    chosen_true = true(result.best_index[:, None])[:, 0]
    raw_true = true(raw[:, None])[:, 0]
    best_true = true(index).max(1).values
    assert (chosen_true == best_true).sum() > (raw_true == best_true).sum()
    assert chosen_true.mean() > raw_true.mean()
    assert (chosen_true >= raw_true).float().mean() >= 0.75


def test_noise_is_detected_only_when_repeats_differ():
    target = planted_target(2, 8, 8, seed=7)
    quiet = make_searcher("elite", d=8, n=8, problems=2, seed=0)
    noisy = make_searcher("elite", d=8, n=8, problems=2, seed=0)
    measure = NoisyObjective(separable(target), MultiplicativeNoise(0.3), 2, seed=0)
    for _ in range(10):
        index = quiet.ask()
        quiet.tell(index, separable(target)(index) - 100)
        index = noisy.ask()
        noisy.tell(index, measure(index) - 100)
    assert torch.equal(quiet.noise(), torch.zeros(2, dtype=torch.float64))
    assert (noisy.noise() > 0).all()


def test_archive_merges_repeats_and_ranks_by_shrunk_means():
    archive = EliteArchive(problems=1, size=3, d=2)
    a, b = [0, 0], [1, 1]
    archive.add(torch.tensor([[a, b]]), torch.tensor([[1.0, 5.0]]))
    archive.add(torch.tensor([[a, a, b]]), torch.tensor([[1.2, 0.8, 1.0]]))  # b re-measured low: noise
    assert archive.count[0].tolist()[:2] == [2, 3] or archive.count[0].tolist()[:2] == [3, 2]
    assert archive.noise_variance().item() > 0
    means = archive.means()[0]
    slot_b = archive.match(torch.tensor([[b]]))[0, 0]
    assert means[slot_b].item() == pytest.approx(3.0)  # (5 + 1) / 2


@pytest.mark.parametrize("name,cls", [("mult0.2", MultiplicativeNoise), ("poisson10", PoissonNoise)])
def test_noise_models(name, cls):
    model = noise_model(name)
    assert isinstance(model, cls) and model.name == name
    values = np.full(2000, 0.5)
    draws = model.sample(values, np.random.default_rng(0), 0)
    assert (draws >= 0).all() and abs(draws.mean() - 0.5) < 0.03 and draws.std() > 0.05
    with pytest.raises(ValueError, match="unknown noise model"):
        noise_model("gauss1")


def test_noisy_objective_streams_are_per_problem_and_keep_the_true_maximum():
    f = lambda index: index.sum(-1).double()  # noqa: E731
    both = NoisyObjective(f, MultiplicativeNoise(0.5), problems=2, seed=[3, 9])
    alone = NoisyObjective(f, MultiplicativeNoise(0.5), problems=1, seed=[9])
    index = torch.ones(2, 5, 3, dtype=torch.long)
    assert torch.equal(both(index)[1], alone(index[1:])[0])
    assert both.true_max.tolist() == [3.0, 3.0]


def test_archive_moves_on_to_a_new_point_that_ties_an_elite():
    """On a plateau of the response the archive drifts: a new point scoring the same as an elite takes
    its slot (with the old order, first points kept, the archive would freeze on a plateau)."""
    archive = EliteArchive(problems=1, size=2, d=2)
    archive.add(torch.tensor([[[0, 0], [1, 1]]]), torch.tensor([[3.0, 1.0]]))
    archive.add(torch.tensor([[[2, 2]]]), torch.tensor([[1.0]]))  # ties the worse elite [1, 1]
    kept = {tuple(point) for point in archive.index[0].tolist()}
    assert kept == {(0, 0), (2, 2)}
    archive.add(torch.tensor([[[3, 3]]]), torch.tensor([[0.5]]))  # below both: not kept
    assert {tuple(point) for point in archive.index[0].tolist()} == kept


def test_on_plateaus_the_moves_keep_their_size_and_the_search_reaches_the_top_one():
    """A unit that answers in coarse steps (``-(|x - target|_1 // 80)``: a few wide plateaus, as spike
    counts make them): children that tie their parent count as successes for the sizes of the moves,
    so the moves stay large enough to leave a plateau and 300 queries reach the top one (value 0) on
    both problems. Counting ties as failures shrank the moves to one coordinate, one grid step, and
    stopped on the plateau below (-1)."""
    target = planted_target(2, 16, 32, seed=0)
    searcher = make_searcher("elite", d=16, n=32, problems=2, seed=0)
    while searcher.told < 300:
        index = searcher.ask()
        searcher.tell(index, -((index - target[:, None]).abs().sum(-1) // 80).double())
    assert searcher.elites.means().max(1).values.tolist() == [0.0, 0.0]
    assert (searcher.log_mutation.exp() > 2).all() and (searcher.log_step.exp() > 2).all()
