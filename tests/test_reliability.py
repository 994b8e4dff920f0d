"""The callback never harms the training it watches (issue 4/4): the same result with and without
it, resume without losing or repeating history, DDP sharding equal to one process, atomic files,
and bad input caught at setup before any training step."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

import mango_pl.mei.files as mei_files
from callbacks import MEISearchCallback
from mango_pl.stimuli import GeneratorSpace
from tests.mei_helpers import ASSET_GENERATOR, LossRecorder, PlainClassifier, PlantedGenerator, planted_loader

ROOT = Path(__file__).resolve().parents[1]


def _trainer(tmp_path, callbacks, max_epochs=1, **kwargs):
    kwargs.setdefault("enable_checkpointing", False)
    return pl.Trainer(max_epochs=max_epochs, accelerator="cpu", devices=1, logger=False, callbacks=callbacks,
                      enable_model_summary=False, enable_progress_bar=False, default_root_dir=tmp_path,
                      deterministic=True, **kwargs)


# ---------------------------------------------------------------- training unchanged
PAPER_AND_BASELINES = dict(methods=["tt-s", "random", "ng:OnePlusOne"])
#: the default searcher (3 runs), in population mode, after a warm start on validation images
DEFAULT_SHARED_WARM = dict(shared=True, warm_start=4)
#: several optima, the graded readout and unit importance (silencing units on validation images)
BEYOND_ONE_IMAGE = dict(methods=["elite"], repeats=1, optima=2, optima_budget=6, readout="current",
                        ablation_samples=8)


def _digits_fit(tmp_path, with_search: bool, precision: str, search: dict | None = None):
    from mango_pl.data import DigitsDataModule
    from mango_pl.lit import ClassifierModule
    from mango_pl.models import SpikingResNet18

    pl.seed_everything(0)
    module = ClassifierModule(model=SpikingResNet18(num_classes=10, in_channels=1, time_steps=2, base_width=4),
                              lr=1e-2)
    data = DigitsDataModule(image_size=16, channels=1, batch_size=32)  # shuffled batches
    recorder = LossRecorder()
    callbacks = [recorder]
    if with_search:
        callbacks.append(MEISearchCallback(
            layers=["sn1", "layer2.0.sn1"], units=3, budget=12, space=GeneratorSpace(checkpoint=ASSET_GENERATOR),
            precision=precision, save_dir=str(tmp_path), progress=False, **(search or PAPER_AND_BASELINES)))
    _trainer(tmp_path, callbacks, max_epochs=2, limit_train_batches=3, limit_val_batches=1).fit(module, datamodule=data)
    return module.state_dict(), torch.stack(recorder.losses)


@pytest.fixture(scope="module")
def fit_without_search(tmp_path_factory):
    """The seeded fit without the callback (its precision is the callback's: no part of it), made once for
    every case below; later fits with the callback must still equal it (a callback that left global state
    changed behind it would show)."""
    return _digits_fit(tmp_path_factory.mktemp("without"), False, "float32")


@pytest.mark.parametrize("precision,search", [("float64", PAPER_AND_BASELINES), ("float32", PAPER_AND_BASELINES),
                                              ("float32", DEFAULT_SHARED_WARM), ("float32", BEYOND_ONE_IMAGE)])
def test_seeded_fit_is_bit_identical_with_and_without_the_callback(tmp_path, precision, search, fit_without_search):
    weights_without, losses_without = fit_without_search
    weights_with, losses_with = _digits_fit(tmp_path / "with", True, precision, search)
    assert torch.equal(losses_with, losses_without)
    assert weights_with.keys() == weights_without.keys()
    for name, tensor in weights_without.items():  # BatchNorm running statistics included
        assert torch.equal(weights_with[name], tensor), name


def test_search_restores_global_rngs_and_model_modes(tmp_path):
    module = PlainClassifier(units=2)
    module.head.eval()  # a user's half-eval model stays half-eval
    mei = MEISearchCallback(layers=["features"], units=2, methods=["random", "ng:OnePlusOne"], budget=8,
                            space=GeneratorSpace(generator=PlantedGenerator()), save_dir=str(tmp_path),
                            progress=False)
    trainer = _trainer(tmp_path, [mei])
    import random

    import numpy as np

    torch.manual_seed(5), np.random.seed(5), random.seed(5)
    expected = (torch.rand(3), np.random.rand(3), random.random())
    torch.manual_seed(5), np.random.seed(5), random.seed(5)
    module.train()
    module.head.eval()
    trainer.strategy.connect(module)
    mei.setup(trainer, module, "fit")
    mei.search_epoch(trainer, module, epoch=0)
    assert module.training and module.features.training and not module.head.training
    got = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(got[0], expected[0]) and (got[1] == expected[1]).all() and got[2] == expected[2]


# ---------------------------------------------------------------- resume
def _planted_fit(tmp_path, max_epochs, ckpt_path=None):
    pl.seed_everything(0)
    module = PlainClassifier(units=4)
    mei = MEISearchCallback(layers=["features"], units=4, methods=["tt-s", "random"], budget=40,
                            space=GeneratorSpace(generator=PlantedGenerator()), seed=2,
                            activation_threshold=0.5, confidence_threshold=0.2,
                            save_dir=str(tmp_path / "out"), progress=False)
    checkpoint = ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True, save_top_k=-1)
    trainer = _trainer(tmp_path, [mei, checkpoint], max_epochs=max_epochs, enable_checkpointing=True)
    trainer.fit(module, planted_loader(), ckpt_path=ckpt_path)
    return mei


def test_resumed_run_equals_uninterrupted_run(tmp_path):
    full = _planted_fit(tmp_path / "full", max_epochs=4)
    _planted_fit(tmp_path / "cut", max_epochs=2)  # "killed" after epoch 1; its checkpoint holds the history
    resumed = _planted_fit(tmp_path / "cut", max_epochs=4, ckpt_path=tmp_path / "cut" / "ckpt" / "last.ckpt")
    assert full.searched_epochs == [0, 1, 2, 3]
    assert resumed.searched_epochs == [0, 1, 2, 3]  # nothing searched twice, nothing skipped
    a, b = full.history["features"], resumed.history["features"]
    assert a["epochs"] == b["epochs"] == [0, 1, 2, 3]
    for x, y in zip(a["classes"], b["classes"]):
        assert torch.equal(x, y)
    assert torch.equal(a["first_strong"], b["first_strong"])
    for key in ("stable_fraction", "labile_fraction", "non_specialized_fraction"):
        assert getattr(full.last_results["features"].tracking, key) == getattr(resumed.last_results["features"].tracking, key)
    files = sorted(p.name for p in (tmp_path / "cut" / "out" / "meis").rglob("*.pt"))
    assert files == ["features.pt"] * 4  # one file per epoch, none written twice


def test_mei_file_write_is_atomic(tmp_path, monkeypatch):
    def crash_mid_write(obj, file):
        Path(file).write_bytes(b"half a file")
        raise OSError("disk died")

    monkeypatch.setattr(mei_files.torch, "save", crash_mid_write)
    target = tmp_path / "meis" / "layer.pt"
    with pytest.raises(OSError, match="disk died"):
        mei_files.atomic_save({"x": 1}, target)
    assert not target.exists() and list(target.parent.iterdir()) == []
    monkeypatch.undo()
    target.write_bytes(b"the user's file")
    written = mei_files.atomic_save({"x": 2}, target)
    assert target.read_bytes() == b"the user's file" and written.name == "layer-v1.pt"  # never overwritten
    assert torch.load(written)["x"] == 2


# ---------------------------------------------------------------- DDP
def _run_fit_script(out: Path, devices: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    run = subprocess.run([sys.executable, str(ROOT / "tests" / "ddp_fit.py"), str(out), str(devices)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return torch.load(out, weights_only=False)


def test_ddp_two_processes_gather_the_same_meis_as_one_process(tmp_path):
    single = _run_fit_script(tmp_path / "single.pt", devices=1)
    sharded = _run_fit_script(tmp_path / "ddp.pt", devices=2)
    assert sharded["world_size"] == 2 and single["world_size"] == 1
    assert sharded["units"] == single["units"] == list(range(6))
    for method in ("tt-s", "random"):
        for key in ("index", "history", "activation", "probs", "images"):
            assert torch.equal(sharded["meis"][method][key], single["meis"][method][key]), (method, key)
    assert sharded["state"]["searched_epochs"] == [0]


# ---------------------------------------------------------------- bad input, early
class _NoTraining(pl.Callback):
    def on_train_batch_start(self, *args):
        raise AssertionError("a training step ran before the bad input was reported")


def _setup_error(tmp_path, **kwargs):
    options = dict(layers=["features"], units=2, methods=["tt"], budget=10,
                   space=GeneratorSpace(generator=PlantedGenerator()), progress=False, save_dir=str(tmp_path))
    options.update(kwargs)
    mei = MEISearchCallback(**options)
    _trainer(tmp_path, [mei, _NoTraining()]).fit(PlainClassifier(units=4), planted_loader())


def test_unknown_layer_lists_valid_layers(tmp_path):
    with pytest.raises(ValueError, match="head") as info:
        _setup_error(tmp_path, layers=["featurez"])
    assert "features" in str(info.value)


def test_unit_beyond_channels(tmp_path):
    with pytest.raises(ValueError, match="4 channels|channels"):
        _setup_error(tmp_path, units=[0, 7])


def test_unknown_method_lists_methods():
    with pytest.raises(ValueError, match="tt-s"):
        MEISearchCallback(layers=["features"], methods=["protez"], space=GeneratorSpace(generator=PlantedGenerator()))


@pytest.mark.parametrize("budget", [0, -5])
def test_budget_must_be_positive(budget):
    with pytest.raises(ValueError, match="budget"):
        MEISearchCallback(layers=["features"], budget=budget, space=GeneratorSpace(generator=PlantedGenerator()))


def test_qtt_needs_a_power_of_two_grid(tmp_path):
    with pytest.raises(ValueError, match="power of two"):
        _setup_error(tmp_path, methods=["tt-s"], space=GeneratorSpace(generator=PlantedGenerator(n=6)))


def test_missing_generator_checkpoint_names_the_fix(tmp_path):
    with pytest.raises((FileNotFoundError, ValueError), match="sngan"):
        _setup_error(tmp_path, space=GeneratorSpace(checkpoint=str(tmp_path / "nope.pt")))


class _ColorPlantedGenerator(PlantedGenerator):
    out_channels = 3

    def decode(self, index):
        return super().decode(index).repeat(1, 3, 1, 1)


def test_space_whose_images_the_network_cannot_take(tmp_path):
    """A 3-channel space before a 1-channel network: caught at setup, with the fix named."""
    with pytest.raises(ValueError, match="channels"):
        _setup_error(tmp_path, space=GeneratorSpace(generator=_ColorPlantedGenerator()))


def test_checkpoint_that_is_not_a_generator(tmp_path):
    trainer = _trainer(tmp_path, [], max_epochs=1)
    trainer.fit(PlainClassifier(units=4), planted_loader())
    classifier_ckpt = tmp_path / "classifier.ckpt"
    trainer.save_checkpoint(classifier_ckpt)
    with pytest.raises(ValueError, match="generator"):
        _setup_error(tmp_path, space=GeneratorSpace(checkpoint=str(classifier_ckpt)))


def test_epochs_beyond_max_epochs_warn(tmp_path):
    with pytest.warns(UserWarning, match="max_epochs"):
        _setup_error_free = MEISearchCallback(layers=["features"], units=2, methods=["random"], budget=4,
                                              epochs=[0, 5], space=GeneratorSpace(generator=PlantedGenerator()),
                                              progress=False, save_dir=str(tmp_path))
        _trainer(tmp_path, [_setup_error_free]).fit(PlainClassifier(units=4), planted_loader())


class _NaNFromUnitOne(torch.nn.Module):
    """Turns unit 1's activation into NaN for bright inputs, in eval mode (during the search) only."""

    def forward(self, x):
        if self.training:
            return x
        x = x.clone()
        x[:, 1] = torch.where(x[:, 1] > 0.5, torch.nan, x[:, 1])
        return x


def test_nan_activation_is_reported_and_training_goes_on(tmp_path):
    module = PlainClassifier(units=4)
    module.features = torch.nn.Sequential(module.features, _NaNFromUnitOne())
    mei = MEISearchCallback(layers=["features.1"], units=4, methods=["random"], budget=30,
                            space=GeneratorSpace(generator=PlantedGenerator()), progress=False,
                            save_dir=str(tmp_path))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer = _trainer(tmp_path, [mei], max_epochs=2)
        trainer.fit(module, planted_loader())
    assert trainer.current_epoch == 2 and mei.searched_epochs == [0, 1]
    messages = [str(w.message) for w in caught if "NaN" in str(w.message)]
    assert messages and "features.1" in messages[0] and "[1]" in messages[0] and "epoch 0" in messages[0]
    assert mei.nan_reports[0] == {"epoch": 0, "layer": "features.1", "units": [1]}
