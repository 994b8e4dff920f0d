"""``surrogate-image``: the decoded image of every stimulus reaches the searcher (``GridFeatures.pixels``)
from every entry point, and a model of the unit on it finds better stimuli where what the grid's
values mean hides what the unit reads."""

from __future__ import annotations

import pytest
import torch

from mango_pl.mei import SearchSettings, search_layer
from mango_pl.search import GridFeatures, make_searcher, maximize
from mango_pl.search.response_model import ResponseModel
from mango_pl.models.grid import Grid
from mango_pl.stimuli import GeneratorSpace
from mango_pl.stimuli.space import StimulusSpace
from tests.mei_helpers import PlainClassifier, PlantedGenerator

pytestmark = pytest.mark.usefixtures("one_thread")

SNGAN = "mango_pl/assets/digits_sngan.pt"
VQVAE = "mango_pl/assets/digits_vqvae.pt"


def test_spaces_carry_their_pooled_images():
    space = GeneratorSpace(checkpoint=VQVAE, channels=1, image_size=16)
    features = space.grid_features()
    index = space.grid.random_index(5, generator=torch.Generator().manual_seed(0))
    pooled = torch.nn.functional.adaptive_avg_pool2d(space.decode(index), 8).flatten(1).double()
    assert torch.allclose(features.images(index), pooled)
    assert features.images(index.view(5, 1, -1)).shape == (5, 1, 64)  # any leading shape
    assert features.has_table and "pixels" in repr(features)


def test_grid_features_without_a_table_or_without_images():
    images = GridFeatures(None, "categorical", pixels=lambda index: index.double(), values=8)
    assert not images.has_table and images.n == 8 and images.ordering().tolist() == list(range(8))
    images.check(d=3, n=8)
    with pytest.raises(ValueError, match="n=8 values per coordinate, the grid has n=9"):
        images.check(d=3, n=9)
    with pytest.raises(ValueError, match="no table"):
        images.coordinate_tables(3)
    with pytest.raises(ValueError, match="values=n"):
        GridFeatures(None, "nothing")
    with pytest.raises(ValueError, match="pixels must be a function"):
        GridFeatures(torch.zeros(8, 1), pixels="image")
    with pytest.raises(ValueError, match="carry no decoded images"):
        GridFeatures(torch.zeros(8, 1)).images(torch.zeros(1, 3, dtype=torch.long))


def test_image_views_compete_with_the_tables_and_decode_only_where_they_won():
    """Problem 0 reads the image (which the table says nothing of), problem 1 the grid values: each
    gets the view that predicts it, and a problem whose table view won is rated without decoding."""
    generator = torch.Generator().manual_seed(0)
    secret = torch.randn(16, 4, generator=generator, dtype=torch.float64)  # what each value draws
    decoded = []

    def pixels(index):
        decoded.append(index.shape[0])
        return secret[index].flatten(1)  # [N, d * 4]

    features = GridFeatures(torch.linspace(-1, 1, 16)[:, None], "ordinal", pixels=pixels)
    model = ResponseModel(features, d=6, n=16, problems=2, image=True)
    assert [view for view, _ in model.views] == ["table"] * 4 + ["image"] * 4
    weights = torch.randn(24, generator=generator, dtype=torch.float64)

    def unit(index):
        return torch.tanh(secret[index].flatten(-2) @ weights / 3)

    for _ in range(8):  # predict, score, learn, as the searcher does
        batch = torch.randint(0, 16, (2, 40, 6), generator=generator)
        values = torch.stack([unit(batch[0]), torch.tanh(batch[1].double().sum(-1) / 20 - 2.25)])
        if model._count.sum() > 0:
            model.score(*model.predict_all(batch), values, torch.ones_like(values, dtype=torch.bool))
        model.add(batch, values)
    best = model.best_scale()
    assert model.views[best[0]][0] == "image" and model.views[best[1]][0] == "table", best
    decoded.clear()
    test = torch.randint(0, 16, (2, 100, 6), generator=generator)
    mean, _ = model.predict(test)
    assert decoded == [100]  # only problem 0's candidates were decoded
    assert torch.corrcoef(torch.stack([mean[0], unit(test[0])]))[0, 1] > 0.8


def test_surrogate_image_beats_the_grid_model_on_a_unit_that_reads_the_image():
    """The shipped SN-GAN, a unit that matches a template to the decoded image: with the image views
    the surrogate finds better stimuli than with the latent values alone (same seeds, 250 queries)."""
    space = GeneratorSpace(checkpoint=SNGAN, channels=1, image_size=16)
    templates = torch.nn.functional.avg_pool2d(torch.randn(2, 1, 16, 16, generator=torch.Generator().manual_seed(4)),
                                               5, 1, 2)

    def units(index):  # [P, K, d] -> [P, K]
        images = space.decode(index)[:, :, 0]
        return torch.relu((images * templates[:, None, 0]).sum((-1, -2))).double()

    features = space.grid_features()

    def best(method):
        return sum(maximize(units, method, d=space.grid.d, n=space.grid.n, budget=250, problems=2, seed=seed,
                            features=features).best_value.mean() for seed in range(2))

    image, grid = best("surrogate-image"), best("surrogate")
    assert image > 1.05 * grid, (image, grid)


def test_surrogate_image_needs_features_that_decode_before_any_measurement():
    calls = []

    def objective(index):
        calls.append(index)
        return index.double().sum(-1)

    for features in (None, GridFeatures(torch.zeros(8, 1))):
        with pytest.raises(ValueError, match="surrogate-image.*features=space.grid_features"):
            maximize(objective, "surrogate-image", d=4, n=8, budget=30, features=features)
    assert calls == []
    with pytest.raises(ValueError, match="option image"):
        make_searcher("surrogate", d=4, n=8, image="yes")


def test_surrogate_image_a_problem_depends_on_its_own_seed_only():
    space = GeneratorSpace(PlantedGenerator(n=8))
    features = space.grid_features()
    target = torch.rand(3, *space.decode(torch.zeros(1, space.grid.d, dtype=torch.long)).shape[1:],
                        generator=torch.Generator().manual_seed(1))

    def units(index):  # each problem's images decoded apart (a float32 decoder varies with the batch)
        images = torch.stack([space.decode(row) for row in index])
        return -(images - target[:, None]).pow(2).flatten(2).mean(-1).double()

    together = maximize(units, "surrogate-image", space.grid.d, 8, 120, problems=3, seed=[4, 5, 6], features=features)
    alone = maximize(lambda index: units(index.expand(3, -1, -1))[1:2], "surrogate-image", space.grid.d, 8, 120,
                     problems=1, seed=[5], features=features)
    assert torch.equal(alone.history[0], together.history[1])


def test_surrogate_image_through_the_engine_and_the_loop(tmp_path):
    network = PlainClassifier(units=2, n=8).eval()
    space = GeneratorSpace(PlantedGenerator(n=8))
    layer = search_layer(network, "features", [0, 1], space,
                         SearchSettings(methods=["surrogate-image"], budget=40, repeats=1))
    assert list(layer.runs) == ["surrogate-image"] and layer.runs["surrogate-image"].method == "surrogate-image"

    from mango_pl.loop import Session
    from tests.loop_helpers import vqvae_config

    with Session.create(tmp_path / "session", vqvae_config(tmp_path, "surrogate-image")) as session:
        session.ask()
        assert session.searcher.image and session.searcher.features.pixels is not None


class CategoricalSpace(StimulusSpace):
    """A user's space whose grid values mean nothing beyond their index: value ``i`` of coordinate
    ``j`` paints pixel ``j`` with a fixed random gray level."""

    def __init__(self, d: int = 16, n: int = 12):
        super().__init__()
        self.grid = Grid(d, n)
        self.levels = torch.rand(n, generator=torch.Generator().manual_seed(2))

    _channels, _image_size = 1, 4

    def _decode(self, index):
        return self.levels[index].view(-1, 1, 4, 4).to(self.dtype)


def test_a_space_without_a_table_still_hands_its_images_to_the_searcher():
    space = CategoricalSpace()
    features = space.grid_features()
    assert not features.has_table and features.n == 12
    index = space.grid.random_index(3, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(features.images(index), space.levels[index].double())  # 4x4 images: pooled as they are
    brightness = lambda index: space.decode(index).flatten(-3).mean(-1).double()  # noqa: E731 (a unit)
    for method in ("surrogate-image", "surrogate", "cma-margin", "cholesky-cma"):
        result = maximize(brightness, method, d=16, n=12, budget=60, problems=1, seed=0, features=features)
        assert result.history.shape == (1, 60)


def test_surrogate_image_in_population_mode_one_model_with_image_views():
    space = GeneratorSpace(PlantedGenerator(n=8))
    target = torch.rand(3, *space.decode(torch.zeros(1, space.grid.d, dtype=torch.long)).shape[1:],
                        generator=torch.Generator().manual_seed(2))

    def population(index):  # [N, d] -> [N, P]
        return -(space.decode(index)[:, None] - target[None]).pow(2).flatten(2).mean(-1).double()

    searcher = make_searcher("surrogate-image", d=space.grid.d, n=8, problems=3, seed=0, shared_k=16)
    result = maximize(population, searcher, space.grid.d, 8, 160, problems=3, shared=True,
                      features=space.grid_features())
    assert result.stimuli.shape == (160, space.grid.d)
    assert searcher.model.shared and searcher.model.has_images and searcher.model._gram.shape[:2] == (8, 1)
