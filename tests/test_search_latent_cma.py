"""The CMA variants of Wang & Ponce 2022 in a generator's latent: ``cholesky-cma`` and ``sphere-cma``."""

from __future__ import annotations

import math

import pytest
import torch

from mango_pl.search import GridFeatures, RunPlan, make_searcher, maximize
from mango_pl.search.cholesky_cma_searcher import snap_to_table
from mango_pl.search.sphere_cma_searcher import angle_schedule
from tests.search_helpers import Counted, planted

METHODS = ["cholesky-cma", "sphere-cma"]

pytestmark = pytest.mark.usefixtures("one_thread")


def latent_table(n: int) -> GridFeatures:
    """The SN-GAN grid: ``n`` latent values on ``[-4, 4]``, ``[n, 1]``."""
    return GridFeatures(torch.linspace(-4, 4, n, dtype=torch.float64)[:, None], "latent")


def codebook(n: int, e: int, seed: int = 0) -> GridFeatures:
    """A VQ-VAE-like codebook ``[n, e]`` off the origin."""
    codes = 0.3 * torch.randn(n, e, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) + 0.2
    return GridFeatures(codes, "codebook")


FEATURES = {"index": lambda n: None, "latent": latent_table, "codebook": lambda n: codebook(n, 3)}


@pytest.mark.parametrize("kind", list(FEATURES))
@pytest.mark.parametrize("method", METHODS)
def test_budget_is_exact_and_cut_batches_do_not_change_the_search(method, kind):
    """97 evaluations (generations of 40 / 41 do not divide it); checkpoints cut generations into prefixes."""
    features = FEATURES[kind](8)
    objective = planted(2, 6, 8, seed=1)
    plain = maximize(objective, method, d=6, n=8, budget=97, problems=2, seed=2, features=features)
    assert objective.evaluations.tolist() == [97, 97]
    cut = maximize(objective, method, d=6, n=8, budget=97, problems=2, seed=2, features=features,
                   plan=RunPlan(record_at=[1, 7, 40, 41, 50, 96]))
    assert plain.history.shape == cut.history.shape == (2, 97)
    assert torch.equal(plain.history, cut.history)
    assert torch.equal(plain.best_index, cut.best_index)
    assert [c.queries for c in cut.checkpoints] == [1, 7, 40, 41, 50, 96]
    for c in cut.checkpoints:
        assert torch.equal(c.best_value, plain.history[:, :c.queries].max(1).values)
    assert torch.equal(objective(plain.best_index[:, None])[:, 0], plain.best_value)


@pytest.mark.parametrize("method", METHODS)
def test_prefix_tell_keeps_the_generation_open(method):
    options = dict(popsize=6, select_size=3) if method == "sphere-cma" else dict(popsize=6)
    searcher = make_searcher(method, d=5, n=8, problems=2, seed=0, **options)
    index = searcher.ask()
    searcher.tell(index[:, :2], torch.zeros(2, 2))
    assert searcher.generation == 0
    rest = searcher.ask()
    assert torch.equal(rest, index[:, 2:])
    searcher.tell(rest, torch.randn(2, 4, generator=torch.Generator().manual_seed(0)))
    assert searcher.generation == 1
    following = searcher.ask()
    assert following.shape == ((2, 7, 5) if method == "sphere-cma" else (2, 6, 5))


@pytest.mark.parametrize("method", METHODS)
def test_same_seed_same_result(method):
    objective = planted(2, 6, 8, seed=6)
    first = maximize(objective, method, d=6, n=8, budget=150, problems=2, seed=3)
    again = maximize(objective, method, d=6, n=8, budget=150, problems=2, seed=3)
    other = maximize(objective, method, d=6, n=8, budget=150, problems=2, seed=4)
    assert torch.equal(first.history, again.history)
    assert torch.equal(first.best_index, again.best_index)
    assert not torch.equal(first.history, other.history)
    assert not torch.equal(first.history[0], first.history[1])  # problems get different seeds


@pytest.mark.parametrize("kind", list(FEATURES))
@pytest.mark.parametrize("method", METHODS)
def test_problems_in_a_batch_are_independent(method, kind):
    """Problem 1 alone with seed [s] equals problem 1 of a batch of 3 with seeds [a, s, b]."""
    features = FEATURES[kind](8)
    options = dict(a_update_freq=1) if method == "cholesky-cma" else {}  # cholesky: factor updates too
    objective = planted(3, 6, 8, seed=5)
    batch = maximize(objective, method, d=6, n=8, budget=250, problems=3, seed=[12, 5, 40], features=features,
                     **options)
    alone = maximize(Counted(objective.target[1:2]), method, d=6, n=8, budget=250, problems=1, seed=[5],
                     features=features, **options)
    assert torch.equal(alone.history[0], batch.history[1])


@pytest.mark.parametrize("method", METHODS)
def test_beats_random_search_on_a_smooth_latent_problem(method):
    """A planted GAN-like target (an N(0, I) latent) and the negative squared latent distance, on the
    SN-GAN grid; best values averaged over 3 seeds x 4 problems."""
    d, n, budget = 16, 33, 600
    features = latent_table(n)
    values = features.table[:, 0]
    found, random = [], []
    for seed in range(3):
        target = torch.randn(4, d, generator=torch.Generator().manual_seed(100 + seed), dtype=torch.float64)

        def objective(index, target=target.clamp(-4, 4)):
            return -(values[index] - target[:, None]).square().sum(-1)

        found.append(maximize(objective, method, d=d, n=n, budget=budget, problems=4, seed=seed,
                              features=features).best_value.mean())
        random.append(maximize(objective, "random", d=d, n=n, budget=budget, problems=4, seed=seed).best_value.mean())
    found, random = torch.stack(found).mean().item(), torch.stack(random).mean().item()
    assert found > 0.5 * random, (found, random)  # values are negative: at most half random search's distance


@pytest.mark.parametrize("method", METHODS)
def test_codebook_candidates_are_their_nearest_codes(method):
    d, n, e = 5, 16, 4
    features = codebook(n, e, seed=1)
    searcher = make_searcher(method, d=d, n=n, problems=2, seed=0)
    searcher.use_features(features)
    index = searcher.ask()
    assert index.dtype == torch.long and index.shape[:2] == (2, 40) and index.shape[2] == d
    assert 0 <= index.min() and index.max() <= n - 1
    assert len(index.unique()) > 1
    vectors = searcher.latent.vectors(searcher._z)  # [P, K, d, e], what each candidate stands for
    brute = (vectors[..., None, :] - features.table).square().sum(-1).argmin(-1)
    assert torch.equal(index, brute)
    assert searcher._z.shape[-1] == d * e


def test_snap_to_table_picks_the_nearest_code():
    gen = torch.Generator().manual_seed(0)
    codes = torch.randn(32, 6, generator=gen, dtype=torch.float64)
    y = 1.5 * torch.randn(3, 7, 5, 6, generator=gen, dtype=torch.float64)
    brute = (y[..., None, :] - codes).square().sum(-1).argmin(-1)
    assert torch.equal(snap_to_table(y, codes), brute)
    tables = torch.randn(5, 32, 6, generator=gen, dtype=torch.float64)  # one codebook per position
    brute = (y[..., None, :] - tables).square().sum(-1).argmin(-1)
    assert torch.equal(snap_to_table(y, tables), brute)
    # a latent grid: each coordinate to its nearest grid value
    grid = torch.linspace(-4, 4, 9, dtype=torch.float64)[:, None]
    assert snap_to_table(torch.tensor([[[-9.0], [-0.4], [0.6], [1.6], [3.6]]]).transpose(0, 1), grid).tolist() == \
        [[0], [4], [5], [6], [8]]
    small = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]], dtype=torch.float64)
    assert snap_to_table(torch.tensor([[[0.1, 0.1], [0.9, 0.0], [0.2, 1.9]]]), small).tolist() == [[0, 1, 2]]


def test_the_latent_of_each_kind_of_grid():
    """Centre and latent unit: index units (n-1)/8, latent values 1, codebook RMS spread; D = d or d * e."""
    s = make_searcher("cholesky-cma", d=4, n=9, problems=1, seed=0)
    first = s.ask()
    assert s.options["latent_scale"] == 1.0 and s._z.shape[-1] == 4
    assert torch.equal(first, (4 + s._z).round().clamp(0, 8).long())  # index units about the centre (n-1)/2
    s = make_searcher("sphere-cma", d=4, n=9, problems=1, seed=0)
    s.use_features(latent_table(9))
    s.ask()
    assert s.options["latent_scale"] == 1.0 and s.options["radius"] == 2.0
    features = codebook(9, 3)
    s = make_searcher("sphere-cma", d=4, n=9, problems=1, seed=0)
    s.use_features(features)
    s.ask()
    spread = (features.table - features.table.mean(0)).square().mean().sqrt().item()
    assert s.options["latent_scale"] == pytest.approx(spread) and s.options["radius"] == pytest.approx(math.sqrt(12))


def test_cholesky_defaults_and_rank_one_update():
    s = make_searcher("cholesky-cma", d=6, n=8, problems=2, seed=0, a_update_freq=1)
    assert s.options["sigma"] == 3.0 and s.options["popsize"] == 40 and s.options["a_update_freq"] == 1
    gen = torch.Generator().manual_seed(0)
    for _ in range(2):  # the update comes when more than a_update_freq generations passed: the 2nd
        index = s.ask()
        A, _ = s.factor()
        s.tell(index, torch.randn(2, 40, generator=gen, dtype=torch.float64))
    assert s.a_left.shape[-1] == 1
    A_new, A_inv = s.factor()
    expected = (1 - s.c1) * A.transpose(1, 2) @ A + s.c1 * s.pc[:, :, None] * s.pc[:, None, :]
    assert torch.allclose(A_new.transpose(1, 2) @ A_new, expected, atol=1e-12)
    assert torch.allclose(A_new @ A_inv, torch.eye(6, dtype=torch.float64).expand(2, -1, -1), atol=1e-12)
    assert s.options["c1"] == pytest.approx(2 / (6 + math.sqrt(2)) ** 2)
    assert make_searcher("cholesky-cma", d=6, n=8, popsize=None).ask().shape[1] == 4 + math.floor(3 * math.log2(6))


def test_sphere_stays_on_its_sphere_and_follows_its_schedule():
    angles = angle_schedule("exp", 75, 50.0, 7.33)
    assert angles[0].item() == pytest.approx(50) and angles[-1].item() == pytest.approx(7.33)
    assert angle_schedule("lin", 3, 50.0, 10.0).tolist() == pytest.approx([50, 30, 10])
    d = 200  # high dimension: the samples' angles concentrate at the schedule's
    s = make_searcher("sphere-cma", d=d, n=64, problems=2, seed=0, decay_generations=5)
    s.use_features(latent_table(64))
    gen = torch.Generator().manual_seed(0)
    for g in range(3):
        index = s.ask()
        z = s._z
        assert torch.allclose(z.norm(dim=-1), torch.full(z.shape[:2], math.sqrt(d), dtype=torch.float64))
        if g:
            assert z.shape[1] == 41 and torch.equal(z[:, 0], s.centre)
            cos = (z[:, 1:] * z[:, :1]).sum(-1) / d
            assert torch.rad2deg(torch.arccos(cos)).mean().item() == pytest.approx(s.angle(g), rel=0.05)
        s.tell(index, torch.randn(2, index.shape[1], generator=gen, dtype=torch.float64))
    assert s.angle(1) == 50.0 and s.angle(5) == pytest.approx(7.33) and s.angle(9) == pytest.approx(7.33)
    assert make_searcher("sphere-cma", d=4, n=8, budget=800).options["decay_generations"] == 20
    assert make_searcher("sphere-cma", d=4, n=8).options["decay_generations"] == 75


@pytest.mark.parametrize("method,option,value,error", [
    ("cholesky-cma", "sigma", 0.0, ValueError),
    ("cholesky-cma", "sigma", "big", TypeError),
    ("cholesky-cma", "popsize", 1, ValueError),
    ("cholesky-cma", "a_update_freq", 0, ValueError),
    ("cholesky-cma", "cc", 1.0, ValueError),
    ("cholesky-cma", "cs", 0.0, ValueError),
    ("cholesky-cma", "c1", -0.1, ValueError),
    ("cholesky-cma", "latent_scale", -1.0, ValueError),
    ("sphere-cma", "popsize", 1, ValueError),
    ("sphere-cma", "select_size", 0, ValueError),
    ("sphere-cma", "select_size", 41, ValueError),
    ("sphere-cma", "lr", 0.0, ValueError),
    ("sphere-cma", "radius", -3.0, ValueError),
    ("sphere-cma", "schedule", "cosine", ValueError),
    ("sphere-cma", "angle_start", 0.0, ValueError),
    ("sphere-cma", "angle_end", -1.0, ValueError),
    ("sphere-cma", "decay_generations", 0, ValueError),
    ("sphere-cma", "latent_scale", 0.0, ValueError),
])
def test_bad_options_raise(method, option, value, error):
    with pytest.raises(error, match=f"option {option} must"):
        make_searcher(method, d=4, n=8, **{option: value})
