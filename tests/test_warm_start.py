"""Natural-image warm start, image encoding into grids, population-mode objective, callback options."""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch

from callbacks import MEISearchCallback
from mango_pl.mei import load_meis
from mango_pl.data.digits import load_digit_images
from mango_pl.models import ConvSNN
from mango_pl.probe import LayerObjective, natural_warm_start
from mango_pl.search import DEFAULT_METHOD, maximize
from mango_pl.stimuli import GeneratorSpace, GratingSpace
from tests.mei_helpers import ASSET_GENERATOR

ASSET_VQVAE = "mango_pl/assets/digits_vqvae.pt"


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("checkpoint", [ASSET_VQVAE, ASSET_GENERATOR])
def test_encode_puts_digits_on_the_grid_points_that_look_like_them(checkpoint):
    """The VQ-VAE by its encoder, the SN-GAN by inverting its generator: the decoded grid point is
    far closer to the digit than a random grid point is."""
    space = GeneratorSpace(checkpoint=checkpoint, channels=1, image_size=16)
    digits, _ = load_digit_images(16, 1)
    images = digits[:4]
    index = space.encode(images)
    assert index.shape == (4, space.grid.d) and index.dtype == torch.long
    space.grid.check_index(index)
    error = (space.decode(index) - images).pow(2).mean()
    random = (space.decode(space.grid.random_index(4, generator=torch.Generator().manual_seed(0))) - images).pow(2).mean()
    assert error < random / 10, (error, random)


def test_encode_keeps_the_callers_random_streams():
    space = GeneratorSpace(checkpoint=ASSET_GENERATOR)
    torch.manual_seed(3)
    expected = torch.rand(3)
    torch.manual_seed(3)
    space.encode(load_digit_images(16, 1)[0][:1])
    assert torch.equal(torch.rand(3), expected)


def test_spaces_without_an_encoder_say_what_to_use():
    with pytest.raises(NotImplementedError, match="warm start needs a GeneratorSpace"):
        GratingSpace(image_size=16, channels=1).encode(torch.rand(2, 1, 16, 16))


def _objective(units=4):
    network = ConvSNN(num_classes=10, in_channels=1, image_size=16, time_steps=4).eval()
    space = GeneratorSpace(checkpoint=ASSET_VQVAE, channels=1, image_size=16)
    return LayerObjective(network, "lif1", list(range(units)), space, precision="float64")


def test_population_responses_equal_each_units_own_scores():
    objective = _objective()
    stimuli = objective.space.grid.random_index(5, generator=torch.Generator().manual_seed(1))
    shared = objective.responses(stimuli)  # [N, P]
    own = objective(stimuli.unsqueeze(0).expand(4, -1, -1))  # [P, N]
    assert shared.shape == (5, 4)
    assert torch.equal(shared.T, own)
    assert objective.queries == 5 + 20


def test_natural_warm_start_starts_every_unit_from_its_best_images():
    objective = _objective()
    images = load_digit_images(16, 1)[0][:20]
    warm = natural_warm_start(objective, images, starts=3)
    assert warm.queries == 20 and objective.queries == 20
    assert warm.start.shape == (4, 3, objective.space.grid.d)
    top = warm.responses.topk(3, dim=0).indices.T
    assert torch.equal(warm.chosen, top)
    assert torch.equal(warm.start[2, 0], objective.space.encode(images[top[2, :1]])[0])
    result = maximize(objective, "elite", objective.space.grid.d, objective.space.grid.n, budget=40, problems=4,
                      start=warm.start)
    assert result.history.shape == (4, 40)
    with pytest.raises(ValueError, match="starts must be a positive int"):
        natural_warm_start(objective, images, starts=0)


def _fit(tmp_path: Path, **options) -> MEISearchCallback:
    from mango_pl.data import DigitsDataModule
    from mango_pl.lit import ClassifierModule
    from mango_pl.models import SpikingResNet18

    pl.seed_everything(0)
    module = ClassifierModule(model=SpikingResNet18(num_classes=10, in_channels=1, time_steps=2, base_width=4), lr=1e-2)
    mei = MEISearchCallback(layers=["sn1"], units=4, space=GeneratorSpace(checkpoint=ASSET_GENERATOR), seed=0,
                            save_dir=str(tmp_path), progress=False, precision="float32", **options)
    trainer = pl.Trainer(max_epochs=1, accelerator="cpu", devices=1, logger=False, callbacks=[mei],
                         enable_checkpointing=False, enable_model_summary=False, enable_progress_bar=False,
                         default_root_dir=tmp_path, limit_train_batches=2, limit_val_batches=1)
    trainer.fit(module, datamodule=DigitsDataModule(image_size=16, channels=1, batch_size=32))
    return mei


def test_callback_population_mode_with_warm_start_spends_the_budget_per_layer(tmp_path):
    mei = _fit(tmp_path, budget=40, shared=True, warm_start=8)
    result = mei.last_results["sn1"].meis
    assert result.labels == [f"{DEFAULT_METHOD}#{r}" for r in (1, 2, 3)]
    for run in result.runs.values():
        assert run.history.shape == (4, 40)  # 8 natural images + 32 grid stimuli, every unit told all
        assert torch.equal(run.history[:, :8], result.runs[result.labels[0]].history[:, :8])  # the same images
    saved = load_meis(tmp_path / "meis" / "epoch=0000" / "sn1.pt").meis.settings
    assert (saved.repeat_count, saved.shared, saved.warm_start) == (3, True, 8)


@pytest.mark.parametrize("options,match", [
    (dict(methods=["tt"], shared=True), r"`shared=True` needs methods with a population mode, not \['tt'\]"),
    (dict(methods=["tt"], warm_start=5), r"`warm_start` needs methods that take start points, not \['tt'\]"),
    (dict(warm_start=50, budget=50), r"leave nothing of `budget=50`"),
    (dict(repeats=0), r"`repeats` must be a positive int"),
])
def test_callback_option_errors(options, match):
    with pytest.raises(ValueError, match=match):
        MEISearchCallback(layers=["sn1"], space=GeneratorSpace(checkpoint=ASSET_GENERATOR), **options)
