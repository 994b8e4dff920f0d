"""Tests of the ``mango-pl`` command: every YAML in configs/ parses and builds, and a short real run
of ``fit`` + ``export-generator`` works end to end (offline digits, tiny sizes)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
import yaml

from mango_pl.cli import MangoCLI, main
from mango_pl.lit import ClassifierModule
from mango_pl.models.checkpoint import load_generator

REPO = Path(__file__).resolve().parents[1]
#: mango-pl search configs (not LightningCLI configs)
SEARCH_CONFIGS = sorted((REPO / "configs").rglob("search.yaml"))
CONFIGS = sorted(set((REPO / "configs").rglob("*.yaml")) - set(SEARCH_CONFIGS))
#: MEI-tracking runs: the callback needs its generator checkpoint (the shipped one for digits, run from the repo)
TRACKING_CONFIGS = sorted((REPO / "configs").rglob("mei_tracking.yaml")) + [REPO / "configs/digits/paper_study.yaml"]
#: configs of this package's own experiments (demo.yaml also needs the MEI callback and the shipped generator)
EXPERIMENT_CONFIGS = [c for c in CONFIGS if c.parent.name != "configs" and c not in TRACKING_CONFIGS]


def config_id(path: Path) -> str:
    return str(path.relative_to(REPO / "configs"))


@pytest.fixture(autouse=True)
def quiet(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # runs/ and data/ of the configs land in tmp_path, never in the repo
    monkeypatch.setattr(sys, "argv", ["mango-pl"])  # the arguments come from the test, not from pytest's command line
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*(num_workers|log_every_n_steps|LeafSpec|val_dataloader|dirpath has changed).*")
        yield
    torch.set_num_threads(threads)


def test_configs_exist_for_every_dataset_and_network():
    names = {config_id(c) for c in CONFIGS}
    for dataset in ("cifar10", "mnist", "fashion_mnist", "digits"):
        for network in ("spiking_resnet18", "snntorch_snn", "sngan"):
            assert f"{dataset}/{network}.yaml" in names
    assert {"cifar10/vqvae.yaml", "digits/vqvae.yaml", "digits/alexnet.yaml"} <= names


@pytest.mark.parametrize("config", CONFIGS, ids=config_id)
def test_every_config_prints_as_a_full_config(config, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--config", str(config), "--print_config"])
    assert exit_info.value.code in (0, None)
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["model"]["class_path"].startswith("mango_pl.lit.")
    assert printed["data"]["class_path"].startswith("mango_pl.data.")
    assert isinstance(printed["seed_everything"], int)


@pytest.mark.parametrize("config", EXPERIMENT_CONFIGS, ids=config_id)
def test_every_experiment_config_instantiates_model_data_and_trainer(config):
    cli = MangoCLI(args=["--config", str(config)], run=False)
    assert type(cli.model).__module__.startswith("mango_pl.lit")
    assert cli.datamodule.num_classes == 10
    loggers = [type(logger).__name__ for logger in cli.trainer.loggers]
    assert loggers == ["TensorBoardLogger"] and Path(cli.trainer.logger.save_dir).name == "runs"
    assert cli.trainer.checkpoint_callback is not None and cli.trainer.checkpoint_callback.save_last
    image_shape = cli.datamodule.image_shape
    if isinstance(cli.model, ClassifierModule):
        assert cli.model.model.in_channels == image_shape[0]
    else:  # the generator makes images the size the data delivers
        network = getattr(cli.model, "generator", None) or cli.model.vqvae
        assert (network.out_channels, network.image_size, network.image_size) == image_shape


@pytest.mark.parametrize("config", SEARCH_CONFIGS, ids=config_id)
def test_search_configs_parse(config, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["search", "--config", str(config), "--print_config"])
    assert exit_info.value.code in (0, None)
    printed = yaml.safe_load(capsys.readouterr().out)
    assert len(printed["layers"]) == 9 and printed["space"]["class_path"] == "mango_pl.stimuli.GeneratorSpace"


def test_mei_tracking_configs_search_nine_layers_and_keep_every_epoch(monkeypatch):
    digits = REPO / "configs/digits/mei_tracking.yaml"
    monkeypatch.chdir(REPO)  # the digits config reads the shipped generator relative to the repository
    cli = MangoCLI(args=["--config", str(digits)], run=False)
    mei = next(c for c in cli.trainer.callbacks if type(c).__name__ == "MEISearchCallback")
    assert len(mei.layers) == 9 and mei.layers[0] == "sn1" and mei.layers[-1] == "layer4.1.sn2"
    checkpoint = cli.trainer.checkpoint_callback
    assert checkpoint.save_top_k == -1 and checkpoint._every_n_epochs == 1
    # without its trained SN-GAN the CIFAR-10 run stops at once, saying how to make it
    with pytest.raises(ValueError, match=r"(?s)not found.*mango-pl fit --config configs/<dataset>/sngan.yaml"):
        MangoCLI(args=["--config", str(REPO / "configs/cifar10/mei_tracking.yaml")], run=False)


def test_the_paper_study_config_searches_nine_layers_of_32_units_with_the_default_three_times(monkeypatch):
    from mango_pl.search import DEFAULT_METHOD

    monkeypatch.chdir(REPO)  # it reads the shipped generator relative to the repository
    cli = MangoCLI(args=["--config", str(REPO / "configs/digits/paper_study.yaml")], run=False)
    mei = next(c for c in cli.trainer.callbacks if type(c).__name__ == "MEISearchCallback")
    assert len(mei.layers) == 9 and mei.layers[0] == "sn1" and mei.layers[-1] == "layer4.1.sn2"
    assert all(len(units) >= 32 for units in mei.request.units.values())
    assert mei.labels == [f"{DEFAULT_METHOD}#{r}" for r in (1, 2, 3)]
    assert mei.epochs[0] == 0 and len(mei.epochs) >= 8 and mei.epochs[-1] == cli.trainer.max_epochs - 1
    assert cli.trainer.checkpoint_callback.save_top_k == -1 and cli.trainer.checkpoint_callback._every_n_epochs == 1


def test_cifar10_configs_follow_the_paper():
    resnet = MangoCLI(args=["--config", str(REPO / "configs/cifar10/spiking_resnet18.yaml")], run=False).model.model
    assert (resnet.time_steps, resnet.base_width, resnet.decay) == (50, 64, 0.9)
    snn = MangoCLI(args=["--config", str(REPO / "configs/cifar10/snntorch_snn.yaml")], run=False).model.model
    assert (snn.time_steps, snn.beta) == (100, 0.9)
    gan = MangoCLI(args=["--config", str(REPO / "configs/cifar10/sngan.yaml")], run=False).model
    assert (gan.hparams.latent_dim, gan.hparams.channels, gan.hparams.n_dis) == (128, 256, 5)
    assert (gan.generator.grid.d, gan.generator.grid.n) == (128, 64)
    vq = MangoCLI(args=["--config", str(REPO / "configs/cifar10/vqvae.yaml")], run=False).model.vqvae
    assert (vq.num_codes, vq.code_dim, vq.latent_side) == (512, 64, 8)


def test_fit_then_test_a_classifier_from_its_checkpoint(tmp_path):
    config = str(REPO / "configs/digits/spiking_resnet18.yaml")
    tiny = ["--model.init_args.model.init_args.base_width", "8", "--model.init_args.model.init_args.time_steps", "2",
            "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1",
            "--trainer.limit_test_batches", "1", "--trainer.enable_progress_bar", "false"]
    main(["fit", "--config", config, *tiny])
    last = tmp_path / "runs/digits_spiking_resnet18/version_0/checkpoints/last.ckpt"
    assert last.is_file() and (last.parents[1] / "config.yaml").is_file()
    hparams = torch.load(last, weights_only=False)["hyper_parameters"]
    assert hparams["model"]["class_path"] == "mango_pl.models.SpikingResNet18"  # rebuildable from the checkpoint
    reloaded = ClassifierModule.load_from_checkpoint(last)
    assert reloaded.model.base_width == 8 and reloaded.model.time_steps == 2
    main(["test", "--config", config, *tiny, "--ckpt_path", str(last)])


def test_fit_sngan_then_export_its_generator(tmp_path, capsys):
    config = str(REPO / "configs/digits/sngan.yaml")
    main(["fit", "--config", config, "--model.init_args.channels", "8", "--model.init_args.disc_channels", "8",
          "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2", "--trainer.enable_progress_bar", "false"])
    last = tmp_path / "runs/digits_sngan/version_0/checkpoints/last.ckpt"
    assert main(["export-generator", str(last), "exported/generator.pt"]) == 0
    assert "saved SNGANGenerator" in capsys.readouterr().out
    generator = load_generator(tmp_path / "exported/generator.pt")
    with torch.no_grad():
        images = generator.decode(torch.zeros(2, 128, dtype=torch.long))
    assert images.shape == (2, 1, 16, 16)


def test_export_generator_bad_path_is_a_clear_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["export-generator", "missing.ckpt", "out.pt"])
    assert exit_info.value.code == 2
    assert "no generator checkpoint at 'missing.ckpt'" in capsys.readouterr().err


def test_console_script_help_lists_the_subcommands():
    result = subprocess.run([sys.executable, "-m", "mango_pl.cli", "--help"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0
    for word in ("fit", "validate", "test", "export-generator", "search", "report", "loop"):
        assert word in result.stdout


#: libraries that take seconds to import and that ``mango-pl --help``, ``report`` and ``loop`` do not need
HEAVY_LIBRARIES = ("lightning", "spikingjelly", "nevergrad", "jax")


def run_fresh_python(code: str) -> subprocess.CompletedProcess:
    """``python -c code`` in a fresh process on this checkout (nothing imported beforehand)."""
    environment = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-c", code], check=False, cwd=REPO, env=environment, capture_output=True,
                          text=True, timeout=300)


def test_help_lists_every_subcommand_without_importing_lightning():
    result = run_fresh_python("import sys\nfrom mango_pl.cli import main\ntry:\n    main(['--help'])\n"
                              "except SystemExit as exit:\n    print('exit code', exit.code)\n"
                              "print('lightning imported:', 'lightning' in sys.modules)")
    assert result.returncode == 0, result.stderr
    assert "exit code 0" in result.stdout and "lightning imported: False" in result.stdout
    for command in ("fit", "validate", "test", "predict", "export-generator", "search", "report", "loop"):
        assert re.search(rf"^  {command}  ", result.stdout, re.MULTILINE), command
    assert "mango-pl fit --help" in result.stdout


def test_no_command_prints_the_subcommands_as_an_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert "export-generator" in error and "a command is required" in error


@pytest.mark.parametrize("module", ["mango_pl.report.command", "mango_pl.report.write", "mango_pl.loop.command"])
def test_report_and_loop_commands_import_no_heavy_library(module):
    # mango_pl.report.write is what `mango-pl report RUN_DIR` imports to draw
    result = run_fresh_python(f"import sys, {module}\n"
                              f"print(sorted(name for name in {HEAVY_LIBRARIES!r} if name in sys.modules))")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
