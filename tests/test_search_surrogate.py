"""Grid features and the ``surrogate`` searcher: what grid points mean reaches the searcher from every
entry point, and a model of the unit fitted on it finds a unit's best stimulus with fewer queries."""

from __future__ import annotations

import pytest
import torch

from mango_pl.loop.noise import MultiplicativeNoise, NoisyObjective
from mango_pl.mei import SearchSettings, search_layer
from mango_pl.models.checkpoint import load_generator
from mango_pl.search import (DEFAULT_METHOD, GridFeatures, Searcher, make_searcher, maximize, register_method,
                             shared_methods, start_methods)
from mango_pl.search.registry import METHODS
from mango_pl.search.response_model import ResponseModel
from mango_pl.search.surrogate_searcher import SurrogateSearcher
from mango_pl.stimuli import GeneratorSpace
from tests.mei_helpers import PlainClassifier, PlantedGenerator
from tests.search_helpers import planted

pytestmark = pytest.mark.usefixtures("one_thread")

VQVAE = "mango_pl/assets/digits_vqvae.pt"
SNGAN = "mango_pl/assets/digits_sngan.pt"


# -- GridFeatures ----------------------------------------------------------------------------------

def test_grid_features_look_up_each_coordinates_vector_and_order_by_first_component():
    table = torch.tensor([[0.0, 3.0], [0.0, -1.0], [0.0, 1.0], [0.0, 5.0]])  # varies along its 2nd column only
    features = GridFeatures(table, "toy")
    index = torch.tensor([[3, 0, 1]])
    assert torch.equal(features.vectors(index), table.double()[index])
    assert features.flat(index).shape == (1, 6)
    order = features.ordering()
    assert order.tolist() in ([1, 2, 0, 3], [3, 0, 2, 1])  # sorted along the component, either sign
    per_coordinate = GridFeatures(torch.arange(12.0).view(2, 3, 2))
    assert torch.equal(per_coordinate.vectors(torch.tensor([[2, 0]])),
                       torch.tensor([[[4.0, 5.0], [6.0, 7.0]]], dtype=torch.float64))


@pytest.mark.parametrize("table, message", [
    (torch.zeros(4), r"table \[n, e\] or \[d, n, e\]"),
    (torch.tensor([[float("nan")], [0.0]]), "NaN or inf"),
])
def test_grid_features_reject_bad_tables(table, message):
    with pytest.raises(ValueError, match=message):
        GridFeatures(table)


def test_use_features_checks_the_grid_and_comes_before_the_first_ask():
    searcher = make_searcher("surrogate", d=4, n=8)
    with pytest.raises(ValueError, match="does not fit the grid d=4, n=8"):
        searcher.use_features(GridFeatures(torch.zeros(9, 2)))
    with pytest.raises(TypeError, match="space.grid_features"):
        searcher.use_features(torch.zeros(8, 2))
    searcher.ask()
    with pytest.raises(RuntimeError, match="before the first ask"):
        searcher.use_features(GridFeatures(torch.zeros(8, 2)))


def test_spaces_give_their_grid_meaning():
    vqvae = load_generator(VQVAE)
    features = GeneratorSpace(vqvae).grid_features()
    assert isinstance(features, GridFeatures) and torch.equal(features.table, vqvae.quantizer.codebook.double())
    latent = GeneratorSpace(PlantedGenerator(n=8)).grid_features()
    assert torch.allclose(latent.table[:, 0], torch.linspace(0, 1, 8, dtype=torch.float64))


# -- the features reach the searcher from every entry point -----------------------------------------

class FeatureSpy(SurrogateSearcher):
    """The surrogate, remembering the features it was given (one per instance)."""

    seen: list[GridFeatures | None] = []

    def _ask(self):
        if self.told == 0:
            FeatureSpy.seen.append(self.features)
        return super()._ask()


@pytest.fixture
def spy():
    register_method("feature-spy", FeatureSpy, overwrite=True)
    FeatureSpy.seen = []
    yield FeatureSpy
    METHODS.pop("feature-spy", None)


def test_maximize_hands_features_only_to_searchers_that_use_them(spy):
    features = GridFeatures(torch.linspace(-1, 1, 8)[:, None])
    target = torch.randint(0, 8, (2, 6), generator=torch.Generator().manual_seed(0))

    def objective(index):
        return -(index - target[:, None]).abs().sum(-1).double()

    maximize(objective, "feature-spy", d=6, n=8, budget=40, problems=2, features=features)
    assert spy.seen == [features]
    random = make_searcher("random", d=6, n=8, problems=2)
    maximize(objective, random, d=6, n=8, budget=20, problems=2, features=features)
    assert not Searcher.uses_features and random.features is features  # kept, unused


def test_the_engine_gives_the_space_features_to_the_searcher(spy):
    network = PlainClassifier(units=2, n=8).eval()
    space = GeneratorSpace(PlantedGenerator(n=8))
    search_layer(network, "features", [0, 1], space, SearchSettings(methods=["feature-spy"], budget=30, repeats=1))
    assert len(spy.seen) == 1 and torch.equal(spy.seen[0].table, space.grid_features().table)


# -- the surrogate's contract ------------------------------------------------------------------------

def test_surrogate_is_the_default_method_with_population_mode_and_start_points():
    assert DEFAULT_METHOD == "surrogate"
    assert "surrogate" in shared_methods() and "surrogate" in start_methods()


def test_surrogate_spends_the_exact_budget_and_a_problem_depends_on_its_own_seed_only():
    objective = planted(3, 12, 16, seed=1)
    features = GridFeatures(torch.linspace(-2, 2, 16)[:, None])
    together = maximize(objective, "surrogate", d=12, n=16, budget=157, problems=3, seed=[5, 6, 7],
                        features=features)
    assert together.history.shape == (3, 157) and (objective.evaluations == 157).all()
    again = maximize(objective, "surrogate", d=12, n=16, budget=157, problems=3, seed=[5, 6, 7], features=features)
    assert torch.equal(together.history, again.history)
    alone = maximize(planted(3, 12, 16, seed=1).__class__(objective.target[1:2]), "surrogate", d=12, n=16,
                     budget=157, problems=1, seed=[6], features=features)
    assert torch.equal(alone.history[0], together.history[1])


def test_surrogate_population_mode_fits_one_model_for_every_unit():
    objective = planted(4, 10, 16, seed=2)
    searcher = make_searcher("surrogate", d=10, n=16, problems=4, seed=0, shared_k=16)
    result = maximize(lambda index: objective(index.unsqueeze(0).expand(4, -1, -1)).T, searcher, d=10, n=16,
                      budget=320, problems=4, shared=True)
    assert result.stimuli.shape == (320, 10)
    assert searcher.model.shared and searcher.model._gram.shape[1] == 1
    random = maximize(lambda index: objective(index.unsqueeze(0).expand(4, -1, -1)).T, "random", d=10, n=16,
                      budget=320, problems=4, shared=True, seed=0)
    assert result.best_value.mean() > random.best_value.mean()


def test_response_model_learns_a_known_function_and_knows_where_it_has_not_looked():
    generator = torch.Generator().manual_seed(0)
    table = torch.randn(32, 3, generator=generator)
    weights = torch.randn(8 * 3, generator=generator)

    def unit(index):  # a smooth function of what the points mean
        return torch.tanh(GridFeatures(table).flat(index) @ weights.double() / 4)

    model = ResponseModel(GridFeatures(table), d=8, n=32, problems=1)
    train = torch.randint(0, 32, (1, 400, 8), generator=generator)
    model.add(train, unit(train))
    test = torch.randint(0, 32, (1, 200, 8), generator=generator)
    mean, std = model.predict(test)
    correlation = torch.corrcoef(torch.stack([mean[0], unit(test)[0]]))[0, 1]
    assert correlation > 0.8, correlation
    _, seen_std = model.predict(train[:, :200])
    assert std.mean() > seen_std.mean()  # more uncertain away from the data


def test_the_image_metric_learns_a_unit_whose_image_changes_along_a_few_latent_directions():
    """A latent grid whose decoded image depends on 2 of 16 directions (as through the bank's SN-GAN,
    where 5 of 128 carry 75 % of the image's change), and a unit that reads the image: a model
    whose distances follow the image predicts the unit from 80 stimuli far better than one that
    weighs every latent coordinate alike; without decoded images there is no metric."""
    generator = torch.Generator().manual_seed(5)
    values = torch.linspace(-2, 2, 32, dtype=torch.float64)
    mixing = torch.randn(16, 2, generator=generator, dtype=torch.float64)  # the image's 2 latent directions
    decoded = []

    def pixels(index):  # [N, d] -> [N, 2]: what the image shows
        decoded.append(index.shape[0])
        return torch.tanh(values[index] @ mixing / 4)

    def unit(index):
        return torch.sin(3 * pixels(index.reshape(-1, 16))).sum(-1).reshape(index.shape[:-1])

    features = GridFeatures(values[:, None], "latent", pixels=pixels)
    train = torch.randint(0, 32, (1, 80, 16), generator=generator)
    test = torch.randint(0, 32, (1, 300, 16), generator=generator)
    correlation = {}
    for metric in (True, False):
        decoded.clear()
        model = ResponseModel(features, d=16, n=32, problems=1, metric=metric)
        assert model.metric is metric and sum(decoded) == (4 * 17 if metric else 0)  # decoded once, when built
        model.add(train, unit(train))
        mean, _ = model.predict(test)
        correlation[metric] = float(torch.corrcoef(torch.stack([mean[0], unit(test)[0]]))[0, 1])
    assert correlation[True] > 0.7 and correlation[True] > correlation[False] + 0.15, correlation
    assert not ResponseModel(GridFeatures(values[:, None]), d=16, n=32, problems=1).metric


def test_surrogate_measures_distances_by_the_image_unless_told_not_to_or_in_population_mode():
    space = GeneratorSpace(checkpoint=SNGAN, channels=1, image_size=16)
    d, n = space.grid.d, space.grid.n
    for option, metric in (({}, True), ({"image_metric": False}, False)):
        searcher = SurrogateSearcher(d, n, problems=1, **option)
        searcher.use_features(space.grid_features())
        index = searcher.ask()
        searcher.tell(index, index.double().sum(-1))
        assert searcher.model.metric is metric and ("image_metric" in searcher.options) is not metric
    shared = SurrogateSearcher(d, n, problems=2, shared_k=8)  # population mode: no metric (see its doc)
    shared.use_features(space.grid_features())
    index = shared.ask_shared()
    shared.tell_shared(index, torch.stack([index.double().sum(-1), -index.double().sum(-1)], 1))
    assert shared.model.shared and not shared.model.metric
    with pytest.raises(ValueError, match="image_metric"):
        SurrogateSearcher(d, n, image_metric="yes")


def test_surrogate_with_the_codebook_beats_elite_on_a_unit_that_reads_the_image():
    """A unit that is a known function of the decoded image of the shipped VQ-VAE (a rectified
    template match): the model of the unit on the codebook must find better stimuli than ``elite``."""
    vqvae = load_generator(VQVAE)
    space = GeneratorSpace(vqvae, channels=1, image_size=16)
    generator = torch.Generator().manual_seed(3)
    templates = torch.nn.functional.avg_pool2d(torch.randn(4, 1, 16, 16, generator=generator), 5, 1, 2)

    def units(index):  # [P, K, d] -> [P, K]
        images = space.decode(index)  # [P, K, 1, 16, 16]
        return torch.relu((images[:, :, 0] * templates[:, None, 0]).sum((-1, -2))).double()

    def best(method, seed, features):
        return maximize(units, method, d=64, n=512, budget=250, problems=4, seed=seed,
                        features=features).best_value.mean()

    features = space.grid_features()
    surrogate = sum(best("surrogate", seed, features) for seed in range(2))
    elite = sum(best("elite", seed, None) for seed in range(2))
    assert surrogate > 1.05 * elite, (surrogate, elite)


def test_under_noise_surrogate_re_tests_among_its_eight_best_elites_where_elite_keeps_to_four():
    unit = planted(problems=1, d=12, n=8, seed=0)

    def noisy_run(method):
        searcher = make_searcher(method, d=12, n=8, problems=1, seed=3)
        measured = NoisyObjective(lambda index: unit(index) + 100, MultiplicativeNoise(0.5), problems=1, seed=0)
        for _ in range(30):
            index = searcher.ask()
            searcher.tell(index, measured(index))
        assert bool((searcher.noise() > 0).all())
        return searcher

    for method, leaders in (("surrogate", 8), ("elite", 4)):
        searcher = noisy_run(method)
        assert searcher.options["leaders"] == leaders
        archive = searcher.elites
        best = archive.scores().topk(leaders, dim=1).indices[0]
        chosen = searcher._retests(leaders)[0]  # as many slots as leaders: each leader once
        slots = archive.match(chosen[None])[0]
        assert set(slots.tolist()) == set(best.tolist())


def test_surrogate_rejects_bad_options():
    with pytest.raises(ValueError, match="screen"):
        make_searcher("surrogate", d=4, n=8, screen=0)
    with pytest.raises(ValueError, match="min_unscreened"):
        make_searcher("surrogate", d=4, n=8, min_unscreened=0.6, max_unscreened=0.5)


def test_the_loop_session_gives_its_space_features_to_the_searcher(tmp_path, spy):
    from mango_pl.loop import Session
    from tests.loop_helpers import vqvae_config

    with Session.create(tmp_path / "session", vqvae_config(tmp_path, "feature-spy")) as session:
        session.ask()
        assert isinstance(session.searcher.features, GridFeatures)
        assert session.searcher.features.table.shape == (512, 16)


def test_response_model_ascent_takes_the_best_single_change_each_round():
    """Each round of ``ascend`` is the best change of one of the offered coordinates by the model's
    prediction (checked against every candidate), and never worse than the round before."""
    generator = torch.Generator().manual_seed(4)
    model = ResponseModel(None, d=10, n=16, problems=3)
    seen = torch.randint(0, 16, (3, 200, 10), generator=generator)
    model.add(seen, -(seen.double() - 5).abs().sum(-1))
    start = torch.randint(0, 16, (3, 2, 10), generator=generator)
    coordinates = torch.rand(3, 2, 10, generator=generator).argsort(-1)[..., :4]
    path = model.ascend(start, coordinates, rounds=3)  # [3, 2, 3, 10]
    assert path.shape == (3, 2, 3, 10)
    predicted = torch.stack([model.predict(path[:, :, r], table_only=True)[0] for r in range(3)], -1)
    assert (predicted.diff(dim=-1) >= -1e-9).all()
    for p in range(3):
        for e in range(2):
            changed = (path[p, e, -1] != start[p, e]).nonzero().flatten()
            assert set(changed.tolist()) <= set(coordinates[p, e].tolist())
            candidates = start[p, e].repeat(4 * 16, 1)
            for i, (c, v) in enumerate((c, v) for c in coordinates[p, e].tolist() for v in range(16)):
                candidates[i, c] = v
            rows = candidates.unsqueeze(0).expand(3, -1, -1)
            best = model.predict(rows, table_only=True)[0][p].max()
            assert torch.isclose(predicted[p, e, 0], best, rtol=1e-4, atol=1e-4)


def test_surrogate_ascent_candidates_are_new_points_and_keep_problems_apart():
    objective = planted(3, 12, 16, seed=1)
    features = GridFeatures(torch.linspace(-2, 2, 16)[:, None])
    searcher = make_searcher("surrogate", d=12, n=16, problems=3, seed=[5, 6, 7], ascent=3)
    together = maximize(objective, searcher, d=12, n=16, budget=200, problems=3, features=features)
    alone = maximize(planted(3, 12, 16, seed=1).__class__(objective.target[1:2]), "surrogate", d=12, n=16,
                     budget=200, problems=1, seed=[6], features=features, ascent=3)
    assert torch.equal(alone.history[0], together.history[1])


def test_ascents_are_measured_only_as_far_as_the_model_is_trusted_and_they_succeed():
    searcher = make_searcher("surrogate", d=12, n=16, problems=2, seed=0)
    objective = planted(2, 12, 16, seed=3)
    features = GridFeatures(torch.linspace(-2, 2, 16)[:, None])
    maximize(objective, searcher, d=12, n=16, budget=100, problems=2, features=features)
    rating = torch.arange(40, dtype=torch.float64).flip(0).repeat(2, 1)  # the last 6 are the ascents
    searcher.model.trust = torch.tensor([0.0, 1.0], dtype=torch.float64)
    searcher.ascent_wins[:] = 0.2
    searcher.ascent_trials[:] = 1.0  # ascents succeed as often as the other children
    ascent = (torch.arange(40) >= 34).repeat(2, 1)
    allowed = searcher._ascents_allowed(K=10)
    assert allowed.tolist() == [0, 5]
    capped = searcher._ascents_capped(rating, ascent, allowed)
    assert torch.equal(capped[:, :34], rating[:, :34])
    assert torch.isinf(capped[0, 34:]).all()  # a model that predicts nothing: no ascent measured
    assert torch.isfinite(capped[1, 34:]).sum() == 5  # fully trusted, as successful: half the batch of 10
    assert torch.equal(capped[1, 34:39], rating[1, 34:39])  # the best-rated ones
    searcher.ascent_wins[:, 0] = 0.0  # ascents that never beat their start: none
    assert searcher._ascents_allowed(K=10).tolist() == [0, 0]


def test_response_model_ascends_a_subset_of_problems_as_it_ascends_them_all():
    generator = torch.Generator().manual_seed(5)
    model = ResponseModel(None, d=10, n=16, problems=4, shared=True)
    seen = torch.randint(0, 16, (200, 10), generator=generator)
    model.add(seen, torch.stack([-(seen.double() - c).abs().sum(-1) for c in (2, 5, 9, 13)], 1))
    start = torch.randint(0, 16, (4, 1, 10), generator=generator)
    coordinates = torch.randperm(10, generator=generator)[:4].expand(4, 1, 4)  # shared: the fast path
    every = model.ascend(start, coordinates, rounds=3)
    rows = torch.tensor([3, 1])
    assert torch.equal(model.ascend(start[rows], coordinates[rows], rounds=3, problems=rows), every[rows])
    assert not torch.equal(every[1], every[3])  # each problem climbs its own output


def test_surrogate_population_mode_climbs_the_model_for_the_units_that_propose(monkeypatch):
    """Population mode: only units proposing that step climb the model (the others' ascents are
    never computed), and their ascents are shown once the model is trusted."""
    objective = planted(6, 12, 16, seed=4)
    features = GridFeatures(torch.linspace(-2, 2, 16)[:, None])
    searcher = make_searcher("surrogate", d=12, n=16, problems=6, seed=0, shared_k=12)
    climbed, kinds = [], []
    ascend = ResponseModel.ascend

    def spy(model, start, coordinates, rounds, problems=None):
        climbed.append((problems.tolist(), searcher._proposers.tolist()))
        return ascend(model, start, coordinates, rounds, problems)

    monkeypatch.setattr(ResponseModel, "ascend", spy)
    told = searcher.tell_shared

    def tell(index, values):
        if searcher._pending is not None:
            kinds.append(searcher._pending["kind"][searcher._pending["owners"]].clone())
        told(index, values)

    searcher.tell_shared = tell
    result = maximize(lambda index: objective(index.unsqueeze(0).expand(6, -1, -1)).T, searcher, d=12, n=16,
                      budget=600, problems=6, shared=True, features=features)
    assert result.stimuli.shape == (600, 12)
    assert climbed and all(set(rows) <= set(proposers) for rows, proposers in climbed)
    assert any((k == 4).any() for k in kinds)  # ascents (kind 4) were shown
