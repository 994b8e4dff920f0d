"""Grid re-indexing, per-problem seeding and the bad-input errors of mango_pl.search."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mango_pl.search import RunPlan, available_methods, make_searcher, maximize, method_options, problem_seeds
from mango_pl.search.qtt import qtt_bits, qtt_decode, qtt_encode
from mango_pl.search.seeding import ProblemGenerators


pytestmark = pytest.mark.usefixtures("one_thread")


def l1_objective(target: torch.Tensor):
    return lambda index: -(index - target[:, None]).abs().sum(-1).double()


@pytest.mark.parametrize("n", [2, 4, 64, 512])
def test_qtt_round_trip(n):
    index = torch.randint(0, n, (3, 5, 7), generator=torch.Generator().manual_seed(n))
    bits = qtt_encode(index, n)
    assert bits.shape == (3, 5, 7 * qtt_bits(n))
    assert set(bits.unique().tolist()) <= {0, 1}
    assert torch.equal(qtt_decode(bits, n), index)
    # most significant bit first
    assert qtt_encode(torch.tensor([1]), n).tolist()[-1] == 1


def test_problem_seeds_rule():
    alone = problem_seeds(11, 1)[0]
    in_batch = problem_seeds([5, 11, 7], 3)[1]
    assert alone.entropy == in_batch.entropy and alone.spawn_key == in_batch.spawn_key
    assert [s.spawn_key for s in problem_seeds(3, 4)] == [(0,), (1,), (2,), (3,)]
    shard = problem_seeds(3, 4)[2:]
    assert [s.spawn_key for s in problem_seeds(shard, 2)] == [(2,), (3,)]


def test_problem_generators_do_not_depend_on_the_batch():
    alone = ProblemGenerators(problem_seeds([9], 1)).uniform(4, 3)
    batch = ProblemGenerators(problem_seeds([1, 9, 2], 3)).uniform(4, 3)
    assert torch.equal(alone[0], batch[1])
    assert not torch.equal(batch[0], batch[1])


def test_available_methods_lists_every_family():
    methods = available_methods()
    for name in ["protes", "tt", "tt-s", "tt-b", "protes-ref", "ttopt", "random", "ng:Portfolio", "ng:SPSA"]:
        assert name in methods
    assert "qtt" in method_options("tt-s") and "k_top" in method_options("protes")


def test_budget_must_be_positive():
    target = torch.zeros(1, 3, dtype=torch.long)
    for budget in (0, -5):
        with pytest.raises(ValueError, match="budget must be a positive int"):
            maximize(l1_objective(target), "random", d=3, n=4, budget=budget)


def test_unknown_method_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown search method 'protez'.*protes, tt, tt-s.*ng:<Name>"):
        make_searcher("protez", d=3, n=4)


def test_unknown_nevergrad_optimizer_suggests_names():
    with pytest.raises(ValueError, match=r"unknown Nevergrad optimizer 'CMAA'.*did you mean .*ng:CMA"):
        make_searcher("ng:CMAA", d=3, n=4)


def test_unknown_option_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown option\(s\) kk for search method 'tt'; valid options: k, k_top"):
        make_searcher("tt", d=3, n=4, kk=3)
    with pytest.raises(ValueError, match=r"unknown option\(s\) k_top for search method 'random'; valid options: k"):
        make_searcher("random", d=3, n=4, k_top=3)


def test_bad_option_values():
    with pytest.raises(ValueError, match="k_top=7 must not exceed k=5"):
        make_searcher("protes", d=3, n=4, k=5, k_top=7)
    with pytest.raises(ValueError, match="option lr must be a positive number"):
        make_searcher("protes", d=3, n=4, lr=-1.0)
    with pytest.raises(TypeError, match="option k must be a positive int, got 2.5"):
        make_searcher("random", d=3, n=4, k=2.5)


def test_qtt_needs_a_power_of_two():
    with pytest.raises(ValueError, match="power of two.*n=12"):
        make_searcher("tt-s", d=3, n=12)


def test_objective_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"shape \[P, K\] = \[2, 5\] .*it returned shape \[5\]"):
        maximize(lambda index: index.sum((0, 2)).double(), "random", d=3, n=4, budget=10, problems=2, k=5)


def test_non_finite_values_name_problem_and_query():
    def objective(index):
        values = torch.zeros(index.shape[:2], dtype=torch.float64)
        if index.shape[1] == 4:
            values[1, 2] = float("nan")
        return values

    with pytest.raises(ValueError, match=r"non-finite value nan for problem 1, query 2 \(0-based\)"):
        maximize(objective, "random", d=3, n=4, budget=8, problems=2, k=4)


def test_seed_sequence_length_must_match_problems():
    with pytest.raises(ValueError, match="seed is a sequence of 2 entries but there are problems=3"):
        make_searcher("random", d=3, n=4, problems=3, seed=[1, 2])
    with pytest.raises(ValueError, match="non-negative"):
        make_searcher("random", d=3, n=4, seed=-1)


def test_ask_tell_misuse():
    searcher = make_searcher("random", d=3, n=4, problems=2, k=3)
    with pytest.raises(RuntimeError, match="needs a previous ask"):
        searcher.tell(torch.zeros(2, 3, 3, dtype=torch.long), torch.zeros(2, 3))
    index = searcher.ask()
    with pytest.raises(RuntimeError, match="called twice in a row"):
        searcher.ask()
    with pytest.raises(ValueError, match="takes the points of the last ask"):
        searcher.tell((index + 1) % 4, torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"values must have shape \[P, K\] = \[2, 3\]"):
        searcher.tell(index, torch.zeros(3))
    with pytest.raises(ValueError, match="problem 0, query 1"):
        searcher.tell(index, torch.tensor([[0.0, float("inf"), 0.0], [0.0, 0.0, 0.0]]))
    searcher.tell(index[:, :2], torch.zeros(2, 2))  # a prefix of the batch is fine


def test_result_fields_and_progress():
    calls = []
    target = torch.tensor([[1, 2, 3]])
    result = maximize(l1_objective(target), "random", d=3, n=4, budget=25, k=10,
                      plan=RunPlan(progress=lambda done, total: calls.append((done, total))))
    assert calls == [(10, 25), (20, 25), (25, 25)]
    assert result.best_index.dtype == torch.long and result.best_index.shape == (1, 3)
    assert result.best_value.item() == result.history.max().item()
    assert l1_objective(target)(result.best_index[:, None])[0, 0] == result.best_value[0]
    assert result.method == "random" and result.options == {"k": 10}
    assert result.objective_seconds >= 0 and result.optimizer_seconds > 0
    assert np.isfinite(result.history.numpy()).all()


def test_searchers_work_when_the_caller_disables_autograd():
    """Callers (the MEI callback, benchmarks) run objectives under no_grad; PROTES fits its TT
    model with autograd all the same."""
    import torch

    from mango_pl.search import maximize

    target = torch.tensor([[3, 1, 0, 2]])
    with torch.no_grad():
        result = maximize(lambda i: -(i - target[:, None]).abs().sum(-1).float(), "tt-s", d=4, n=4,
                          budget=50, problems=1, seed=0)
    assert result.history.shape == (1, 50)
    assert torch.is_grad_enabled()
