"""One MEI job, one typed request: the options reach the right settings, shares split the units,
and the progress total is every image the search shows."""

from __future__ import annotations

import pytest
import torch

from mango_pl.mei import MEIRequest, SearchSettings, search_layers
from mango_pl.probe import ProbeSettings
from mango_pl.stimuli import GeneratorSpace
from tests.mei_helpers import PlainClassifier, PlantedGenerator

pytestmark = pytest.mark.usefixtures("one_thread")


class PixelSpace(GeneratorSpace):
    """The planted generator's space (image = grid index / 7), which encodes an image by rounding."""

    def encode(self, images: torch.Tensor, seed: int = 0) -> torch.Tensor:
        return (images.flatten(1).clamp(0, 1) * 7).round().long()


def _space() -> GeneratorSpace:
    return PixelSpace(generator=PlantedGenerator(n=8))


@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("warm_start, optima", [(0, 1), (5, 1), (0, 2), (5, 3)])
def test_progress_adds_up_to_the_requests_image_count(shared, warm_start, optima):
    settings = SearchSettings(("elite",), repeats=2, budget=30, shared=shared, warm_start=warm_start, optima=optima,
                              optima_budget=12)
    request = MEIRequest(("features",), _space(), 3, settings,
                         natural_images=torch.rand(warm_start, 1, 2, 2) if warm_start else None)
    shown = []
    found = search_layers(PlainClassifier(units=3), request, progress=lambda images, what: shown.append(images))
    assert sum(shown) == request.images() == settings.images(3)
    per_run = 30 * (1 if shared else 3) + (optima - 1) * 12 * 3
    assert request.images() == 2 * per_run - warm_start * (1 if shared else 3)  # the warm start is shown once
    assert found["features"].runs["elite#1"].history.shape == (3, 30)


def test_flat_options_go_to_the_settings_that_own_them():
    request = MEIRequest.from_options(["features"], _space(), [2, 0], methods="random", budget=10, seed=4,
                                      batch_limit=3, center_only=True, precision="float32",
                                      activation_threshold=0.5, confidence_threshold=0.6, ablation_samples=4)
    assert request.units == {"features": [2, 0]}
    assert request.settings.methods == ("random",) and request.settings.budget == 10 and request.settings.seed == 4
    assert request.probe == ProbeSettings(batch_limit=3, center_only=True, precision="float32")
    assert (request.thresholds.activation, request.thresholds.confidence) == (0.5, 0.6)
    assert request.ablation_samples == 4
    with pytest.raises(TypeError, match=r"unknown search option 'budgett'.*'budget'"):
        MEIRequest.from_options(["features"], _space(), budgett=10)


@pytest.mark.parametrize("options, message", [
    ({"batch_limit": 0}, "batch_limit"),
    ({"precision": "half"}, r"precision must be one of \('auto', 'float32', 'float64'\)"),
    ({"device": "gpu7"}, "torch device"),
    ({"ablation_samples": -1}, "ablation_samples"),
    ({"units": {"other": 2}}, "no entry for layer 'features'"),
    ({"budget": 0}, "budget"),
])
def test_bad_options_are_named_before_any_search(options, message):
    units = options.pop("units", 2)
    with pytest.raises(ValueError, match=message):
        MEIRequest.from_options(["features"], _space(), units, **options)


def test_attached_images_must_cover_the_options():
    settings = SearchSettings(("elite",), budget=30, warm_start=5)
    with pytest.raises(ValueError, match="warm_start=5 needs that many natural images, got 2"):
        MEIRequest(("features",), _space(), 2, settings, natural_images=torch.rand(2, 1, 2, 2))


@pytest.mark.parametrize("shared", [False, True])
def test_shares_of_all_processes_are_the_request_and_search_to_the_same_meis(shared):
    settings = SearchSettings(("elite",), repeats=1, budget=20, shared=shared)
    request = MEIRequest(("features", "head"), _space(), {"features": 3, "head": [5, 1, 7]}, settings)
    shares = [request.share(rank, 2) for rank in range(2)]
    for layer, units in request.units.items():
        assert sorted(shares[0][layer] + shares[1][layer]) == sorted(units)
        if shared:  # population mode: whole layers
            assert any(share[layer] == units for share in shares)
    network = PlainClassifier(units=3)
    whole = search_layers(network, request)
    for share in shares:
        part = search_layers(network, request, units=share)
        for layer, chosen in share.items():
            if chosen and not shared:
                rows = [request.units[layer].index(u) for u in chosen]
                assert torch.equal(part[layer].runs["elite"].index, whole[layer].runs["elite"].index[rows])
            elif chosen:
                assert torch.equal(part[layer].runs["elite"].index, whole[layer].runs["elite"].index)


def test_the_engine_says_how_to_pass_a_request_to_callers_of_the_old_signatures():
    from mango_pl.mei import search_checkpoints, search_model

    network = PlainClassifier(units=3)
    with pytest.raises(TypeError, match=r"search_layers takes one MEIRequest, got dict"):
        search_layers(network, {"features": [0, 1]}, _space(), SearchSettings(budget=10))
    with pytest.raises(TypeError, match=r"search_checkpoints takes one MEIRequest after the checkpoints, got list"):
        search_checkpoints("nowhere/*.ckpt", ["features"], _space(), "out")
    with pytest.raises(TypeError, match=r"`probe` takes a ProbeSettings, got int"):
        search_model(network, ["features"], _space(), 2, SearchSettings(budget=10), 3)
