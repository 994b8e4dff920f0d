"""protes-ref and ttopt behind ask/tell query exactly what the packages' own loops query."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from mango_pl.search import maximize, problem_seeds
from mango_pl.search.protes_ref import jax_seed
from mango_pl.search.seeding import seed_int

os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")


pytestmark = pytest.mark.usefixtures("one_thread")


TARGET = torch.tensor([[3, 0, 7, 5, 1]])


def objective(index: torch.Tensor) -> torch.Tensor:
    return -(index - TARGET[:, None]).abs().sum(-1).double()


def recorded(calls: list):
    def wrapped(index):
        calls.append(index[0].clone())
        return objective(index)
    return wrapped


def test_protes_ref_queries_what_protes_protes_queries():
    from protes import protes

    ours = []
    maximize(recorded(ours), "protes-ref", d=5, n=8, budget=60, seed=4, k=10, k_top=2)
    theirs = []

    def f(index):
        index = torch.from_numpy(np.asarray(index).astype(np.int64))
        theirs.append(index)
        return -objective(index[None])[0].numpy()  # the package minimizes

    protes(f, 5, 8, m=60, k=10, k_top=2, seed=jax_seed(problem_seeds(4, 1)[0]))
    assert torch.equal(torch.cat(ours), torch.cat(theirs))


def test_ttopt_queries_what_ttopt_queries():
    from ttopt.ttopt_raw import ttopt

    ours = []
    maximize(recorded(ours), "ttopt", d=5, n=8, budget=300, seed=2, rank=3)
    theirs = []

    def f(index, i_opt, y_opt, opt_opt):
        index = torch.from_numpy(np.asarray(index).astype(np.int64))
        theirs.append(index)
        return -objective(index[None])[0].numpy(), [None] * len(index)

    ttopt(f, [8] * 5, rank=3, evals=300, seed=seed_int(problem_seeds(2, 1)[0]))
    assert torch.equal(torch.cat(ours), torch.cat(theirs))
    assert sum(len(i) for i in theirs) == 300


def test_ttopt_and_protes_ref_search_the_qtt_grid():
    for method, options in (("ttopt", {"qtt": True, "rank": 2}), ("protes-ref", {"qtt": True, "k": 10, "k_top": 2})):
        result = maximize(objective, method, d=5, n=8, budget=40, seed=0, **options)
        assert result.history.shape == (1, 40)
        assert result.best_index.max() < 8
