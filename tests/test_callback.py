"""MEISearchCallback end to end with real Trainers, real networks and real log files read back."""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from lightning.pytorch.loggers import TensorBoardLogger

from callbacks import MEISearchCallback
from mango_pl.mei import load_meis
from mango_pl.search import DEFAULT_METHOD
from mango_pl.stimuli import GeneratorSpace
from tests.mei_helpers import ASSET_GENERATOR, PlainClassifier, PlantedGenerator, planted_loader

#: tiny networks and searches: one torch thread (as on a pytest-xdist worker) also when run in one process
pytestmark = pytest.mark.usefixtures("one_thread")


def _trainer(tmp_path: Path, callbacks, logger=None, max_epochs: int = 1, **kwargs) -> pl.Trainer:
    return pl.Trainer(
        max_epochs=max_epochs, accelerator="cpu", devices=1, logger=logger if logger is not None else False,
        callbacks=callbacks, enable_checkpointing=False, enable_model_summary=False,
        enable_progress_bar=False, default_root_dir=tmp_path, deterministic=True, **kwargs,
    )


def test_planted_preference_is_found_through_the_callback_in_a_plain_lightning_module(tmp_path):
    """Each unit of a layer of a LightningModule that is not one of ours is wired to prefer one
    known grid point; the paper's PROTES presets find every unit's point through the callback."""
    pl.seed_everything(0)
    module = PlainClassifier(units=4, n=8)
    space = GeneratorSpace(generator=PlantedGenerator(n=8))
    mei = MEISearchCallback(layers=["features"], units=4, budget=1200, space=space, seed=1,
                            methods=["tt", "tt-s", "tt-b"], save_dir=str(tmp_path), progress=False)
    _trainer(tmp_path, [mei]).fit(module, planted_loader())
    result = mei.last_results["features"].meis
    expected = module.planted_optimum()
    assert result.labels == ["tt", "tt-s", "tt-b"]
    best = module.features.weight.flatten(1).clamp(min=0).sum(1)  # each unit's activation at its optimum
    for method in ("tt-s", "tt-b"):  # the paper's QTT presets land exactly on every planted point
        found = result.runs[method].index
        assert torch.equal(found, expected), f"{method} missed the planted optimum"
        torch.testing.assert_close(result.runs[method].activation, best, rtol=1e-5, atol=1e-5)
    # plain TT (no QTT) may stop one grid step short on a weak dimension: within 5 % of the optimum
    reached = result.runs["tt"].activation
    assert (reached >= 0.95 * best).all(), (reached, best)
    assert mei.searched_epochs == [0]


def test_default_method_runs_three_times_and_each_run_finds_the_planted_optimum(tmp_path):
    """The default searcher, from three independent seeds per unit (so the stability criterion
    compares three searches), reaches every unit's planted grid point with a third of the budget."""
    pl.seed_everything(0)
    module = PlainClassifier(units=4, n=8)
    space = GeneratorSpace(generator=PlantedGenerator(n=8))
    mei = MEISearchCallback(layers=["features"], units=4, budget=400, space=space, seed=1,
                            save_dir=str(tmp_path), progress=False)
    _trainer(tmp_path, [mei]).fit(module, planted_loader())
    result = mei.last_results["features"].meis
    assert result.labels == [f"{DEFAULT_METHOD}#{r}" for r in (1, 2, 3)]
    for run in result.runs.values():
        assert torch.equal(run.index, module.planted_optimum())
    histories = [run.history for run in result.runs.values()]
    assert not torch.equal(histories[0], histories[1])  # independent seeds: different searches
    saved = load_meis(tmp_path / "meis" / "epoch=0000" / "features.pt").meis.settings
    assert (saved.methods, saved.repeat_count, saved.shared, saved.warm_start) == ((DEFAULT_METHOD,), 3, False, 0)


def _tiny_spiking_fit(tmp_path: Path, logger, methods=("tt-s", "random"), budget=24, epochs=1):
    from mango_pl.data import DigitsDataModule
    from mango_pl.lit import ClassifierModule
    from mango_pl.models import SpikingResNet18

    pl.seed_everything(0)
    network = SpikingResNet18(num_classes=10, in_channels=1, time_steps=2, base_width=4)
    module = ClassifierModule(model=network, lr=1e-2)
    data = DigitsDataModule(image_size=16, channels=1, batch_size=32)
    mei = MEISearchCallback(layers=["sn1", "layer1.0.sn1"], units=4, methods=list(methods), budget=budget,
                            space=GeneratorSpace(checkpoint=ASSET_GENERATOR), seed=0, progress=False)
    trainer = _trainer(tmp_path, [mei], logger=logger, max_epochs=epochs, limit_train_batches=2,
                       limit_val_batches=1)
    trainer.fit(module, datamodule=data)
    return mei, trainer, module


@pytest.fixture(scope="module")
def tensorboard_fit(tmp_path_factory):
    """One tiny spiking fit with a TensorBoard logger, read (never changed) by the two tests below (one
    pytest-xdist group: they run on one worker, so the fit is made once)."""
    folder = tmp_path_factory.mktemp("tensorboard_fit")
    logger = TensorBoardLogger(save_dir=str(folder), name="tb")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # (module fixtures come before the tests' one_thread)
    try:
        mei, trainer, module = _tiny_spiking_fit(folder, logger)
    finally:
        torch.set_num_threads(threads)
    return logger, mei, module


@pytest.mark.xdist_group("callback_tensorboard_fit")
def test_tensorboard_event_file_holds_mei_images_scalars_and_histograms(tensorboard_fit):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logger, mei, _ = tensorboard_fit
    events = EventAccumulator(logger.log_dir, size_guidance={"images": 0, "scalars": 0, "histograms": 0})
    events.Reload()
    tags = events.Tags()
    for layer in ("sn1", "layer1.0.sn1"):
        for method in ("tt-s", "random"):
            assert f"mei/{layer}/{method}" in tags["images"]
        for name in ("mean_activation", "selective_fraction", "mean_entropy", "jpeg_ratio", "zip_ratio",
                     "diversity_euclidean", "stable_fraction", "labile_fraction"):
            assert f"mei/{layer}/{name}" in tags["scalars"], name
        assert f"mei/{layer}/entropy" in tags["histograms"]
    image = events.Images("mei/sn1/tt-s")[0]
    assert image.width > 16 and image.height > 16  # a grid of 4 upscaled MEIs with captions
    logged = events.Scalars("mei/sn1/mean_activation")[0].value
    assert logged == pytest.approx(mei.last_results["sn1"].report.activation.mean().item(), abs=1e-6)
    assert "val/acc" in tags["scalars"]  # MEI scalars sit next to the accuracy


@pytest.mark.xdist_group("callback_tensorboard_fit")
def test_saved_mei_files_load_and_hold_what_they_claim(tensorboard_fit):
    logger, mei, module = tensorboard_fit
    path = Path(logger.log_dir) / "meis" / "epoch=0000" / "layer1.0.sn1.pt"
    assert torch.load(path, weights_only=False)["format"] == "mango-pl-meis"
    saved = load_meis(path)
    meis = saved.meis
    assert meis.epoch == 0 and meis.layer == "layer1.0.sn1" and meis.units == [0, 1, 2, 3]
    space = GeneratorSpace(checkpoint=ASSET_GENERATOR)
    assert meis.grid == (space.grid.d, space.grid.n) and meis.labels == ["tt-s", "random"]
    for run in meis.runs.values():
        assert run.index.shape == (4, space.grid.d) and run.index.dtype == torch.long
        assert run.images.dtype == torch.uint8 and run.images.shape == (4, 1, 16, 16)
        assert run.history.shape == (4, 24)
        assert run.probs.shape == (4, 10)
        torch.testing.assert_close(run.probs.sum(-1), torch.ones(4))
        # the stored images are the generator's images of the stored indices
        decoded = (space.decode(run.index).clamp(0, 1) * 255).round().to(torch.uint8)
        assert torch.equal(decoded, run.images)
        # the stored activation is the best value its search saw
        torch.testing.assert_close(run.activation, run.history.max(1).values)
    assert saved.report.entropy.shape == (2, 4)
    assert saved.tracking.epochs == [0]
    assert mei.files == {0: {"sn1": str(path.parent / "sn1.pt"), "layer1.0.sn1": str(path)}}


def test_files_of_mango_pl_0_1_still_load(tmp_path):
    """The callback of mango-pl 0.1 wrote a plain dict (no format key): it loads into typed results."""
    runs = {m: {"index": torch.zeros(2, 4, dtype=torch.long), "search_value": torch.ones(2), "history": torch.ones(2, 5),
                "activation": torch.ones(2), "probs": torch.full((2, 3), 1 / 3), "latents": torch.zeros(2, 4),
                "images": torch.zeros(2, 1, 8, 8, dtype=torch.uint8), "objective_seconds": 1.0,
                "optimizer_seconds": 0.5} for m in ("tt", "tt-s")}
    analysis = {"entropy": torch.ones(2, 2), "selective": torch.zeros(2, dtype=torch.bool),
                "strong": torch.ones(2, dtype=torch.bool), "top_class": torch.zeros(2, dtype=torch.long),
                "strong_fraction": 1.0, "selective_fraction": 0.0, "jpeg_ratio": torch.ones(2, 2),
                "zip_ratio": torch.ones(2, 2), "diversity_euclidean": torch.zeros(2), "diversity_cosine": torch.zeros(2),
                "first_strong_epoch": torch.zeros(2, dtype=torch.long), "stable_fraction": 0.0, "labile_fraction": 0.0,
                "non_specialized_fraction": 1.0, "nan_units": []}
    old = {"epoch": 3, "layer": "sn1", "units": [0, 5], "methods": ["tt", "tt-s"], "budget": 5,
           "grid": {"d": 4, "n": 8}, "meis": runs, "analysis": analysis}
    torch.save(old, tmp_path / "sn1.pt")
    loaded = load_meis(tmp_path / "sn1.pt")
    assert loaded.meis.epoch == 3 and loaded.meis.units == [0, 5] and loaded.meis.labels == ["tt", "tt-s"]
    assert loaded.meis.grid == (4, 8) and loaded.report.strong_fraction == 1.0
    assert loaded.tracking.non_specialized_fraction == 1.0
    torch.save({"weights": torch.ones(2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="is not an MEI file written by mango-pl"):
        load_meis(tmp_path / "other.pt")
    torch.save({"format": "mango-pl-meis", "version": 99}, tmp_path / "future.pt")
    with pytest.raises(ValueError, match="newer mango-pl .* upgrade"):
        load_meis(tmp_path / "future.pt")


def test_wandb_offline_run_logs_the_same_keys(tmp_path, monkeypatch):
    wandb = pytest.importorskip("wandb")
    from lightning.pytorch.loggers import WandbLogger

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    logger = WandbLogger(save_dir=str(tmp_path), offline=True, project="mango-pl-test")
    try:
        mei, trainer, _ = _tiny_spiking_fit(tmp_path, logger)
        keys = set(logger.experiment.summary.keys())
    finally:
        wandb.finish()
    for layer in ("sn1", "layer1.0.sn1"):
        assert {f"mei/{layer}/tt-s", f"mei/{layer}/random", f"mei/{layer}/mean_activation",
                f"mei/{layer}/selective_fraction", f"mei/{layer}/entropy"} <= keys
