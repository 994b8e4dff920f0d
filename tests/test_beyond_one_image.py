"""Several distinct optima per unit, a graded readout for saturated units, and unit importance."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from mango_pl.mei import MEIRequest, SearchSettings, analyse, layer_scalars, search_layers, search_model
from mango_pl.mei.search import optima_radius
from mango_pl.models.lif import make_lif
from mango_pl.probe import LayerObjective, unit_importance
from mango_pl.probe.layer_probe import graded_score
from mango_pl.stimuli import GeneratorSpace
from tests.mei_helpers import PlantedGenerator


pytestmark = pytest.mark.usefixtures("one_thread")


# ---------------------------------------------------------------- several optima
PEAKS = torch.tensor([[0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0], [0.0, 1.0, 1.0, 1.0]])
HEIGHTS = torch.tensor([3.0, 2.8, 2.6])


class ThreePeaks(nn.Module):
    """One unit ("peaks") whose activation over a 2x2 image has three separated maxima:
    ``max_j (h_j - 2 |x - p_j|_1)``, highest at ``PEAKS[0]``, then ``PEAKS[1]``, then ``PEAKS[2]``."""

    def __init__(self):
        super().__init__()
        self.peaks = nn.Identity()
        self.head = nn.Linear(1, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.flatten(1)  # [B, 4]
        score = (HEIGHTS - 2 * (flat[:, None] - PEAKS.to(flat)).abs().sum(-1)).max(-1).values
        return self.head(self.peaks(score[:, None]))


def test_three_optima_are_the_three_separated_maxima():
    space = GeneratorSpace(generator=PlantedGenerator(n=8))  # pixel = index / 7
    settings = SearchSettings(("elite",), repeats=1, budget=300, optima=3)
    found = search_model(ThreePeaks(), ["peaks"], space, units=[0], settings=settings)["peaks"]
    run = found.meis.runs["elite"]
    optima = run.optima_index[0].double() / 7  # [3, 4] pixel values
    expected = {tuple(p.tolist()) for p in PEAKS}
    assert {tuple(row.tolist()) for row in optima} == expected
    assert torch.equal(run.optima_index[0, 0], run.index[0])  # the first optimum is the MEI
    torch.testing.assert_close(run.optima_activation[0].sort(descending=True).values, HEIGHTS)
    assert run.optima_images.shape == (1, 3, 1, 2, 2)
    assert found.report.optima_spread.shape == (1, 1) and found.report.optima_spread[0, 0] > 1.0
    assert "mei/peaks/optima_spread" in layer_scalars(found.report, found.tracking)


def test_optima_radius_is_half_the_typical_distance_between_random_stimuli():
    space = GeneratorSpace(generator=PlantedGenerator(n=8))
    radius = optima_radius(space)
    assert 0.2 < radius < 0.6  # pixel vectors in [0, 1]^4: random pairs lie ~0.8 apart
    assert optima_radius(space) == radius  # seeded


# ---------------------------------------------------------------- graded readout
class Saturating(nn.Module):
    """A LIF unit driven so hard that most images make it fire at every step (rate 1): its input
    current is ``w . x + 2`` with planted signs in ``w``, largest at the corner the signs give."""

    def __init__(self, time_steps: int = 4):
        super().__init__()
        self.time_steps = time_steps
        self.conv = nn.Conv2d(1, 1, kernel_size=2)
        with torch.no_grad():
            self.conv.weight.copy_(torch.tensor([[[[0.5, -0.4], [0.3, -0.6]]]]))
            self.conv.bias.fill_(2.0)
        self.sn = make_lif(0.9)
        self.head = nn.Linear(1, 10)

    def preferred(self, n: int = 8) -> torch.Tensor:
        return (self.conv.weight.flatten() > 0).long() * (n - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        current = self.conv(x)  # [B, 1, 1, 1]
        spikes = self.sn(current.unsqueeze(0).repeat(self.time_steps, 1, 1, 1, 1))
        return self.head(spikes.mean(0).flatten(1))


def test_graded_readout_finds_a_saturated_units_preference_and_the_rate_only_ties():
    space = GeneratorSpace(generator=PlantedGenerator(n=8))
    network = Saturating()
    rate = search_model(network, ["sn"], space, units=[0],
                        settings=SearchSettings(("elite",), repeats=1, budget=200))["sn"].meis.runs["elite"]
    graded = search_model(network, ["sn"], space, units=[0],
                          settings=SearchSettings(("elite",), repeats=1, budget=200, readout="current"))["sn"]
    run = graded.meis.runs["elite"]
    assert torch.equal(run.index[0], network.preferred())  # the planted sub-threshold preference
    assert run.activation[0] == 1.0  # the logged activation stays the spike rate
    # with the rate alone almost every stimulus ties at 1.0: the MEI is just the first of many
    assert (rate.history[0] == 1.0).float().mean() > 0.5
    assert not torch.equal(rate.index[0], network.preferred())


def test_graded_score_orders_equal_rates_by_current_and_never_beats_a_higher_rate():
    slots = 8
    score = graded_score(torch.tensor([1.0, 1.0, 7 / 8]), torch.tensor([5.0, 50.0, 1e6]), slots)
    assert score[1] > score[0] > score[2]


def test_graded_readout_needs_a_spiking_layer():
    network = nn.Sequential(nn.Conv2d(1, 2, 2), nn.ReLU(), nn.Flatten(), nn.Linear(2, 10))
    space = GeneratorSpace(generator=PlantedGenerator(n=8))
    with pytest.raises(ValueError, match=r"readout='current' .* layer '1' is a ReLU, not a SpikingJelly"):
        LayerObjective(network, "1", [0], space, readout="current")


# ---------------------------------------------------------------- unit importance
class ThreeUnits(nn.Module):
    """Hidden units read one input pixel each: class 0 is read from unit 0, class 1 from unit 1;
    unit 2 never fires (its weight is 0): the network needs unit 0 for class 0 and unit 2 for nothing."""

    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(2, 3)
        self.act = nn.ReLU()
        self.out = nn.Linear(3, 2)
        with torch.no_grad():
            self.hidden.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]))
            self.hidden.bias.zero_()
            self.out.weight.copy_(torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0]]))
            self.out.bias.copy_(torch.tensor([0.0, 0.1]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.act(self.hidden(x.flatten(1))))


def test_silencing_a_needed_unit_drops_its_class_and_a_dead_unit_changes_nothing():
    labels = torch.tensor([0, 1] * 10)
    images = torch.zeros(20, 1, 1, 2)
    images[labels == 0, 0, 0, 0] = 1.0
    images[labels == 1, 0, 0, 1] = 1.0
    importance = unit_importance(ThreeUnits(), "act", [0, 1, 2], images, labels)
    assert importance.base_accuracy == 1.0
    assert importance.class_accuracy[0].tolist() == [0.0, 1.0]  # without unit 0, class 0 is lost
    assert importance.drop[0] == pytest.approx(0.5) and importance.class_drop[0, 0] == 1.0
    assert importance.drop[2] == 0 and torch.equal(importance.class_drop[2], torch.zeros(2))  # the dead unit
    assert torch.equal(importance.accuracy.new_tensor(importance.units), torch.tensor([0.0, 1.0, 2.0]))


def test_importance_is_measured_saved_and_related_to_the_meis(tmp_path):
    from mango_pl.mei import load_meis, save_meis

    space = GeneratorSpace(generator=PlantedGenerator(n=8, side=2))
    network = nn.Sequential(nn.Flatten(), nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3))
    images = torch.rand(30, 1, 2, 2, generator=torch.Generator().manual_seed(0))
    labels = network(images).argmax(-1)  # the network's own answers: base accuracy 1
    request = MEIRequest(("2",), space, list(range(6)), SearchSettings(("random",), repeats=2, budget=20),
                         labelled=(images, labels))
    found = search_layers(network, request)["2"]
    assert found.importance.base_accuracy == 1.0 and found.importance.drop.shape == (6,)
    report = analyse(found)
    assert set(report.importance_correlation) == {"activation", "entropy", "selective"}
    path = save_meis(tmp_path / "layer.pt", found, report)
    loaded = load_meis(path)
    assert torch.equal(loaded.meis.importance.accuracy, found.importance.accuracy)
    assert torch.equal(loaded.report.importance_drop, report.importance_drop)


def test_the_callback_searches_logs_and_saves_optima_graded_readout_and_importance(tmp_path):
    import lightning.pytorch as pl
    from lightning.pytorch.loggers import TensorBoardLogger
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from callbacks import MEISearchCallback
    from mango_pl.data import DigitsDataModule
    from mango_pl.lit import ClassifierModule
    from mango_pl.mei import find_mei_files, load_meis
    from mango_pl.models import SpikingResNet18
    from tests.mei_helpers import ASSET_GENERATOR

    pl.seed_everything(0)
    module = ClassifierModule(model=SpikingResNet18(num_classes=10, in_channels=1, time_steps=2, base_width=4), lr=1e-2)
    mei = MEISearchCallback(layers=["sn1"], units=3, budget=16, methods=["elite"], repeats=1, optima=2,
                            readout="current", ablation_samples=32, seed=0, progress=False, precision="float32",
                            space=GeneratorSpace(checkpoint=ASSET_GENERATOR))
    logger = TensorBoardLogger(save_dir=str(tmp_path), name="tb")
    trainer = pl.Trainer(max_epochs=1, accelerator="cpu", devices=1, logger=logger, callbacks=[mei],
                         enable_checkpointing=False, enable_model_summary=False, enable_progress_bar=False,
                         limit_train_batches=2, limit_val_batches=1)
    trainer.fit(module, datamodule=DigitsDataModule(image_size=16, channels=1, batch_size=32))
    saved = load_meis(find_mei_files(Path(logger.log_dir) / "meis")[0])
    run = saved.meis.runs["elite"]
    assert run.optima_index.shape == (3, 2, 128) and run.optima_images.shape == (3, 2, 1, 16, 16)
    assert saved.meis.settings.readout == "current" and saved.meis.settings.optima == 2
    assert saved.meis.importance.samples == 32 and saved.report.importance_drop.shape == (3,)
    events = EventAccumulator(logger.log_dir)
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    assert {"mei/sn1/optima_spread", "mei/sn1/importance/mean_drop", "mei/sn1/importance/corr_activation"} <= scalars
    assert "mei/sn1/elite/optima" in events.Tags()["images"]
