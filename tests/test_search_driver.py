"""SearchRun, the one ask/tell driver: asked and told in pieces it equals maximize; it cuts batches
to the budget and the record marks; it refuses what was not asked and values of the wrong shape."""

from __future__ import annotations

import inspect

import pytest
import torch

from mango_pl.search import RunPlan, SearchRun, maximize
from tests.search_helpers import planted

pytestmark = pytest.mark.usefixtures("one_thread")


def shared_objective(target: torch.Tensor):
    """Population mode: stimuli [N, d] -> every problem's response [N, P]."""
    return lambda index: -(index[:, None] - target[None]).abs().sum(-1).double()


@pytest.mark.parametrize("method", ["random", "elite", "cma-margin", "tt-s"])
def test_a_run_asked_and_told_in_pieces_equals_maximize(method):
    objective = planted(3, 6, 8, seed=4)
    whole = maximize(objective, method, d=6, n=8, budget=61, problems=3, seed=[5, 6, 7],
                     plan=RunPlan(record_at=[9, 30]))
    run = SearchRun(method, d=6, n=8, budget=61, problems=3, seed=[5, 6, 7], record_at=[9, 30])
    sizes = []
    while not run.done:
        index = run.ask()
        sizes.append(index.shape[1])
        run.tell(index, objective(index))
    result = run.result()
    assert sum(sizes) == 61 and run.remaining == 0
    assert torch.equal(result.history, whole.history)
    assert torch.equal(result.best_index, whole.best_index) and torch.equal(result.best_value, whole.best_value)
    assert [c.queries for c in result.checkpoints] == [c.queries for c in whole.checkpoints] == [9, 30]
    for mine, theirs in zip(result.checkpoints, whole.checkpoints):
        assert torch.equal(mine.best_index, theirs.best_index)


@pytest.mark.parametrize("method", ["random", "elite"])
def test_population_mode_run_equals_maximize(method):
    target = torch.randint(0, 8, (3, 6), generator=torch.Generator().manual_seed(2))
    whole = maximize(shared_objective(target), method, d=6, n=8, budget=40, problems=3, seed=1, shared=True)
    run = SearchRun(method, d=6, n=8, budget=40, problems=3, seed=1, shared=True)
    while not run.done:
        index = run.ask()
        assert index.dim() == 2
        run.tell(index, shared_objective(target)(index))
    result = run.result()
    assert torch.equal(result.history, whole.history) and torch.equal(result.stimuli, whole.stimuli)
    assert torch.equal(result.best_index, whole.best_index)


def test_batches_are_cut_to_the_budget_and_the_record_marks():
    run = SearchRun("random", d=3, n=4, budget=25, problems=2, record_at=[3], k=10)
    objective = planted(2, 3, 4, seed=0)
    sizes = []
    while not run.done:
        index = run.ask()
        sizes.append(index.shape[1])
        run.tell(index, objective(index))
    assert sizes == [3, 10, 10, 2]
    assert run.queries == 25 and run.steps == 4 and run.result().history.shape == (2, 25)
    with pytest.raises(RuntimeError, match="budget of 25 queries is spent"):
        run.ask()


def test_a_prefix_told_counts_only_what_was_told():
    run = SearchRun("random", d=3, n=4, budget=12, problems=2, k=5)
    objective = planted(2, 3, 4, seed=1)
    index = run.ask()
    run.tell(index[:, :2], objective(index[:, :2]))  # aborted trials: only the first two were shown
    assert run.queries == 2 and run.remaining == 10
    assert run.ask().shape == (2, 5, 3)
    assert run.result().history.shape == (2, 2)  # not done: the history holds what was told


def test_misuse_and_bad_values_are_clear_errors():
    run = SearchRun("random", d=3, n=4, budget=10, problems=2, k=4)
    with pytest.raises(RuntimeError, match="needs a previous ask"):
        run.tell(torch.zeros(2, 4, 3, dtype=torch.long), torch.zeros(2, 4))
    index = run.ask()
    with pytest.raises(RuntimeError, match="ask called twice without a tell"):
        run.ask()
    with pytest.raises(ValueError, match=r"batch of the last ask \(shape \[2, 4, 3\]\) or its first points"):
        run.tell((index + 1) % 4, torch.zeros(2, 4))
    with pytest.raises(ValueError, match=r"values of shape \[P, K\] = \[2, 4\] .*it returned shape \[4, 2\]"):
        run.tell(index, torch.zeros(4, 2))
    with pytest.raises(ValueError, match=r"non-finite value inf for problem 1, query 3 \(0-based\)"):
        run.tell(index, torch.tensor([[0.0] * 4, [0.0, 0.0, 0.0, float("inf")]]))
    with pytest.raises(TypeError, match="real tensor"):
        run.tell(index, torch.zeros(2, 4, dtype=torch.complex64))
    assert run.queries == 0  # nothing was counted
    run.tell(index, torch.zeros(2, 4))
    assert run.queries == 4
    with pytest.raises(ValueError, match=r"record_at mark must be an int in 1\.\.10 "
                                         r"\(a query count, from 1 to the budget 10\), got 11"):
        SearchRun("random", d=3, n=4, budget=10, record_at=[11])
    with pytest.raises(ValueError, match="max_steps"):
        RunPlan(max_steps=0)
    with pytest.raises(TypeError, match=r"maximize takes max_steps, record_at in one plan: "
                                        r"maximize\(\.\.\., plan=RunPlan\(max_steps=\.\.\., record_at=\.\.\.\)\)"):
        maximize(lambda index: index.sum(-1).double(), "random", 3, 4, 10, record_at=[5], max_steps=2)


def test_maximize_takes_at_most_twelve_parameters():
    parameters = [p for p in inspect.signature(maximize).parameters.values() if p.kind is not p.VAR_KEYWORD]
    assert len(parameters) <= 12
