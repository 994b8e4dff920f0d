"""``mango-pl search`` and the MEI engine outside training: checkpoint series equal the callback's
MEIs, kill-and-rerun, the Python one-liner, bad input; and the engine's structural contracts."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import TensorBoardLogger

from callbacks import MEISearchCallback
from mango_pl.mei import MEIRequest, SearchSettings, find_mei_files, load_meis, search_layers, search_model
from mango_pl.probe import ProbeSettings
from mango_pl.models import SpikingResNet18
from mango_pl.search import DEFAULT_METHOD, RandomSearcher, maximize, register_method
from mango_pl.search.registry import METHODS
from mango_pl.stimuli import GeneratorSpace
from tests.mei_helpers import ASSET_GENERATOR

ROOT = Path(__file__).resolve().parents[1]
NETWORK = dict(num_classes=10, in_channels=1, time_steps=2, base_width=4)
SPACE_ARGS = ["--space.class_path", "mango_pl.stimuli.GeneratorSpace", "--space.init_args.checkpoint",
              str(ROOT / ASSET_GENERATOR)]
MODEL_ARGS = ["--model.class_path", "mango_pl.models.SpikingResNet18", "--model.init_args.num_classes", "10",
              "--model.init_args.in_channels", "1", "--model.init_args.time_steps", "2",
              "--model.init_args.base_width", "4"]


pytestmark = pytest.mark.usefixtures("one_thread")


def _fit(root: Path, epochs: int = 3, callbacks=(), logger=None, ckpt_path=None, checkpoint_kwargs=None,
         **trainer_kwargs) -> pl.Trainer:
    from mango_pl.data import DigitsDataModule
    from mango_pl.lit import ClassifierModule

    pl.seed_everything(0)
    module = ClassifierModule(model=SpikingResNet18(**NETWORK), lr=1e-2)
    checkpoint = ModelCheckpoint(dirpath=root / "ckpt", save_top_k=-1, every_n_epochs=1, **(checkpoint_kwargs or {}))
    trainer = pl.Trainer(max_epochs=epochs, accelerator="cpu", devices=1, logger=logger or False,
                         callbacks=[*callbacks, checkpoint], enable_model_summary=False, enable_progress_bar=False,
                         default_root_dir=root, limit_train_batches=2, limit_val_batches=1, deterministic=True,
                         **trainer_kwargs)
    trainer.fit(module, datamodule=DigitsDataModule(image_size=16, channels=1, batch_size=32), ckpt_path=ckpt_path)
    return trainer


def _callback(save_dir: Path, **kwargs) -> MEISearchCallback:
    options = dict(layers=["sn1", "layer1.0.sn1"], units=3, budget=24, seed=5, progress=False,
                   space=GeneratorSpace(checkpoint=ASSET_GENERATOR), save_dir=save_dir and str(save_dir))
    options.update(kwargs)
    return MEISearchCallback(**options)


def _search(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "mango_pl.cli", "search", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_search_over_checkpoints_equals_the_callbacks_meis(tmp_path):
    """Three epochs trained without the callback, one checkpoint each; mango-pl search over the folder
    finds, epoch by epoch, exactly the MEIs the callback finds in the same seeded training."""
    _fit(tmp_path / "plain")
    ckpts = sorted((tmp_path / "plain" / "ckpt").glob("*.ckpt"))
    assert len(ckpts) == 3
    mei = _callback(tmp_path / "with")
    _fit(tmp_path / "with", callbacks=[mei])
    out = tmp_path / "search"
    run = _search("--checkpoints", str(tmp_path / "plain" / "ckpt"), "--layers", "[sn1, layer1.0.sn1]", "--units", "3",
                  "--budget", "24", "--seed", "5", "--output", str(out), "--progress", "false", *SPACE_ARGS,
                  *MODEL_ARGS)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "MEIs of epochs [0, 1, 2]" in run.stdout
    for epoch in range(3):
        for layer in ("sn1", "layer1.0.sn1"):
            ours = load_meis(out / "meis" / f"epoch={epoch:04d}" / f"{layer}.pt")
            theirs = load_meis(tmp_path / "with" / "meis" / f"epoch={epoch:04d}" / f"{layer}.pt")
            assert ours.meis.labels == theirs.meis.labels == [f"{DEFAULT_METHOD}#{r}" for r in (1, 2, 3)]
            for label in ours.meis.labels:
                assert torch.equal(ours.meis.runs[label].index, theirs.meis.runs[label].index), (epoch, layer, label)
                assert torch.equal(ours.meis.runs[label].activation, theirs.meis.runs[label].activation)
            assert ours.tracking.stable_fraction == theirs.tracking.stable_fraction
    events = list((out / "tensorboard").glob("events.out.tfevents.*"))
    assert events


def test_killed_search_reruns_only_the_unfinished_layer(tmp_path):
    _fit(tmp_path / "plain", epochs=2)
    out = tmp_path / "search"
    # budget 40: each layer search still takes over a second, time enough for the kill to land between
    # the first layer's file and the last's (the 50 ms polls below)
    args = [sys.executable, "-m", "mango_pl.cli", "search", "--checkpoints", str(tmp_path / "plain" / "ckpt"),
            "--layers", "[sn1, layer1.0.sn1, layer2.0.sn1]", "--units", "3", "--budget", "40", "--output", str(out),
            "--progress", "false", *SPACE_ARGS, *MODEL_ARGS]
    process = subprocess.Popen(args, cwd=ROOT, env=dict(os.environ, OMP_NUM_THREADS="1"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    while not find_mei_files(out) and process.poll() is None:  # killed as soon as its first layer is written
        time.sleep(0.05)
    process.kill()
    process.communicate()
    first = {p: p.stat().st_mtime_ns for p in find_mei_files(out)}
    assert 1 <= len(first) < 6, "the run should be killed after its first layer and before its last"
    run = subprocess.run(args, cwd=ROOT, env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    files = find_mei_files(out)
    assert len(files) == 6 and not any("-v" in p.stem for p in files)  # every layer once, none overwritten
    assert all(p.stat().st_mtime_ns == first[p] for p in first)  # nothing done was redone
    assert f"{6 - len(first)} layer searches written, {len(first)} found done and kept" in run.stdout


@pytest.fixture(scope="module")
def one_epoch_checkpoints(tmp_path_factory):
    """The checkpoint folder of a one-epoch fit, made once for the bad-input cases (none writes to it)."""
    root = tmp_path_factory.mktemp("plain")
    _fit(root, epochs=1)
    return root / "ckpt"


@pytest.mark.parametrize("args,match", [
    (["--checkpoints", "nowhere/*.ckpt"], "no checkpoint matches 'nowhere/\\*.ckpt'"),
    (["--checkpoints", str(ROOT / ASSET_GENERATOR)], "is a stimulus generator .*not a classifier checkpoint"),
    (["--layers", "[nolayer]"], "unknown layer 'nolayer'"),
    (["--space.init_args.channels", "3"], "failed: .*adapt the space"),
])
def test_bad_input_is_a_one_line_error_before_any_search(tmp_path, request, args, match):
    import re

    # the cases that give their own (bad) --checkpoints need no trained one
    plain = None if args[0] == "--checkpoints" else request.getfixturevalue("one_epoch_checkpoints")
    base = {"--checkpoints": str(plain), "--layers": "[sn1]"}
    space_args = args if args[0].startswith("--space") else []
    if not space_args:
        base.update(zip(args[::2], args[1::2]))
    run = _search(*[x for kv in base.items() for x in kv], "--output", str(tmp_path / "out"), *SPACE_ARGS,
                  *space_args, *MODEL_ARGS)
    assert run.returncode == 2
    error = run.stderr.strip().splitlines()[-1]
    assert error.startswith("mango-pl search: error:") and re.search(match, error), run.stderr[-2000:]
    assert not (tmp_path / "out" / "meis").exists()


def test_search_model_is_the_python_one_liner():
    network = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                                  torch.nn.Linear(4 * 14 * 14, 10))
    space = GeneratorSpace(checkpoint=ASSET_GENERATOR)
    found = search_model(network, ["1"], space, units=4, settings=SearchSettings(("elite",), repeats=1, budget=40))
    result = found["1"]
    assert result.meis.units == [0, 1, 2, 3] and result.meis.labels == ["elite"]
    assert result.meis.runs["elite"].images.shape == (4, 1, 16, 16)
    assert result.report.activation.shape == (1, 4) and result.tracking.epochs == [0]
    assert space.dtype == torch.float32  # the user's space is not turned into float64


def test_one_evaluation_copy_of_the_network_serves_every_layer(monkeypatch):
    import mango_pl.mei.search as engine
    import mango_pl.probe.layer_probe as layer_probe

    made = []
    original = engine.converted_copy
    monkeypatch.setattr(engine, "converted_copy", lambda module, dtype: made.append(1) or original(module, dtype))
    monkeypatch.setattr(layer_probe, "converted_copy", lambda *a: pytest.fail("a probe made its own copy"))
    network = SpikingResNet18(**NETWORK)
    search_layers(network, MEIRequest(("sn1", "layer1.0.sn1", "layer2.0.sn1"), GeneratorSpace(checkpoint=ASSET_GENERATOR),
                                      {"sn1": [0, 1], "layer1.0.sn1": [0], "layer2.0.sn1": [1]},
                                      SearchSettings(("random",), budget=8), ProbeSettings(precision="float64")))
    assert made == [1]


def test_a_registered_searcher_and_a_searcher_instance_work_by_name_and_as_object(tmp_path):
    class FixedRandom(RandomSearcher):
        pass

    register_method("fixed-random", FixedRandom, {"k": 5})
    try:
        target = torch.zeros(2, 3, dtype=torch.long)
        result = maximize(lambda i: -(i - target[:, None]).abs().sum(-1).double(), "fixed-random", d=3, n=4,
                          budget=12, problems=2)
        assert result.options == {"k": 5} and result.history.shape == (2, 12)
        instance = FixedRandom(d=3, n=4, problems=2, k=4)
        again = maximize(lambda i: i.sum(-1).double(), instance, d=3, n=4, budget=8, problems=2)
        assert again.history.shape == (2, 8)
        with pytest.raises(ValueError, match="made for d=3, n=4, problems=2"):
            maximize(lambda i: i.sum(-1).double(), FixedRandom(d=3, n=4, problems=2), d=5, n=4, budget=8, problems=2)
        with pytest.raises(ValueError, match="exists; pass overwrite=True"):
            register_method("random", FixedRandom)
        mei = MEISearchCallback(layers=["sn1"], methods=["fixed-random"], space=GeneratorSpace(checkpoint=ASSET_GENERATOR))
        assert mei.labels == ["fixed-random#1", "fixed-random#2", "fixed-random#3"]
    finally:
        METHODS.pop("fixed-random", None)


def test_fast_dev_run_does_a_one_step_search_and_writes_nothing(tmp_path):
    mei = _callback(tmp_path / "out", methods=["random"], repeats=1, budget=500)
    _fit(tmp_path, epochs=1, callbacks=[mei], fast_dev_run=True)
    result = mei.last_results["sn1"].meis.runs["random"]
    assert result.history.shape == (3, 100)  # one ask of random's 100 points, not 500
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("validation_every,checkpoint_kwargs", [(2, {"save_on_train_epoch_end": True}), (1, {})])
def test_every_epochs_checkpoint_holds_that_epochs_meis(tmp_path, validation_every, checkpoint_kwargs):
    """Validation every second epoch (checkpoints at each epoch end), or every epoch (checkpoints at
    each validation end): either way the checkpoint of epoch e holds epoch e in the callback's state,
    because the callback searches before ModelCheckpoint saves."""
    mei = _callback(tmp_path / "out", methods=["random"], budget=8)
    _fit(tmp_path, epochs=2, callbacks=[mei], check_val_every_n_epoch=validation_every,
         checkpoint_kwargs=checkpoint_kwargs)
    ckpts = sorted((tmp_path / "ckpt").glob("*.ckpt"))
    assert len(ckpts) == 2
    for epoch, path in enumerate(ckpts):
        state = next(v for k, v in torch.load(path, weights_only=False)["callbacks"].items() if "MEISearch" in k)
        assert state["searched_epochs"] == list(range(epoch + 1)), path.name
        assert state["tracker"]["history"]["sn1"]["epochs"] == list(range(epoch + 1))


def test_a_resumed_training_is_one_run_of_mei_files(tmp_path, caplog):
    logger = TensorBoardLogger(save_dir=str(tmp_path), name="tb")
    mei = _callback(None, methods=["random"], budget=8)
    _fit(tmp_path, epochs=2, callbacks=[mei], logger=logger)
    last = sorted((tmp_path / "ckpt").glob("*.ckpt"))[-1]
    resumed_logger = TensorBoardLogger(save_dir=str(tmp_path), name="tb")
    resumed = _callback(None, methods=["random"], budget=8)
    with caplog.at_level("INFO"):
        _fit(tmp_path, epochs=3, callbacks=[resumed], logger=resumed_logger, ckpt_path=last)
    assert Path(resumed_logger.log_dir).name == "version_1"  # the resumed fit logs into a new version
    first = Path(logger.log_dir) / "meis"
    assert resumed.meis_root == str(first)
    assert sorted(p.parent.name for p in find_mei_files(first) if p.name == "sn1.pt") == [
        "epoch=0000", "epoch=0001", "epoch=0002"]
    assert sorted(resumed.files) == [0, 1, 2]
    assert f"MEIs of epochs [0, 1, 2] are in {first}" in caplog.text
