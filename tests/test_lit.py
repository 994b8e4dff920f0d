"""Tests of mango_pl.lit (real Lightning Trainer on the offline digits, tiny sizes) and of
mango_pl.models.checkpoint (a generator loads alone from its training checkpoint)."""

from __future__ import annotations

import importlib.resources
import warnings

import pytest
import torch
from lightning.pytorch import Trainer, seed_everything
from lightning.pytorch.loggers import TensorBoardLogger
from torch import nn

from mango_pl.data import DigitsDataModule
from mango_pl.lit import ClassifierModule, SNGANModule, VQVAEModule, image_grid
from mango_pl.models import VQVAE, AlexNet32, ConvSNN, SNGANGenerator, SpikingResNet18
from mango_pl.models.checkpoint import load_generator, save_generator

SHIPPED_GENERATOR = importlib.resources.files("mango_pl") / "assets" / "digits_sngan.pt"


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny convolutions run faster on one thread than on two contended ones."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def quiet_lightning():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*(num_workers|log_every_n_steps|LeafSpec|val_dataloader).*")
        yield


def tiny_trainer(tmp_path=None, batches: int = 2, **kwargs) -> Trainer:
    logger = TensorBoardLogger(str(tmp_path), name="logs") if tmp_path is not None else False
    return Trainer(accelerator="cpu", max_epochs=1, limit_train_batches=batches, limit_val_batches=1,
                   limit_test_batches=1, num_sanity_val_steps=0, logger=logger, enable_checkpointing=False,
                   enable_progress_bar=False, enable_model_summary=False, **kwargs)


def digits(batch_size: int = 16) -> DigitsDataModule:
    return DigitsDataModule(image_size=16, channels=1, batch_size=batch_size)


def snapshot(module: nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in module.named_parameters()}


def changed(before: dict[str, torch.Tensor], module: nn.Module) -> int:
    return sum(not torch.equal(before[name], p.detach()) for name, p in module.named_parameters())


def image_tags(log_dir) -> list[str]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(log_dir), size_guidance={"images": 0})
    events.Reload()
    return events.Tags()["images"]


# --- classifiers -------------------------------------------------------------------------------

CLASSIFIERS = {
    "spiking_resnet18": lambda: SpikingResNet18(num_classes=10, in_channels=1, time_steps=2, base_width=8),
    "conv_snn": lambda: ConvSNN(num_classes=10, in_channels=1, image_size=16, time_steps=2, channels=(4, 8), hidden=16),
    "alexnet": lambda: AlexNet32(num_classes=10, in_channels=1, hidden=32),
}


@pytest.mark.parametrize("name", sorted(CLASSIFIERS))
def test_classifier_module_trains_validates_and_tests(name):
    seed_everything(0)
    module = ClassifierModule(CLASSIFIERS[name](), lr=1e-2)
    before = snapshot(module.model)
    trainer = tiny_trainer()
    trainer.fit(module, digits())
    assert changed(before, module.model) > 0
    metrics = trainer.callback_metrics
    for key in ("train/loss", "train/acc", "val/loss", "val/acc"):
        assert key in metrics and torch.isfinite(metrics[key])
    assert 0.0 <= float(metrics["val/acc"]) <= 1.0
    result = trainer.test(module, digits(), verbose=False)[0]
    assert 0.0 <= result["test/acc"] <= 1.0 and "test/loss" in result


def test_classifier_module_resets_snn_state_after_every_batch():
    seed_everything(0)
    module = ClassifierModule(SpikingResNet18(num_classes=10, in_channels=1, time_steps=2, base_width=8))
    tiny_trainer(batches=1).fit(module, digits())
    neuron = module.model.layer1[0].sn1
    assert not isinstance(neuron.v, torch.Tensor)  # reset to its initial float: no graph kept alive


def test_classifier_module_keeps_network_at_model_and_out_of_hparams():
    net = AlexNet32(num_classes=10, in_channels=1, hidden=8)
    module = ClassifierModule(net, lr=0.01, optimizer="sgd")
    assert module.model is net and module.num_classes == 10
    assert "model" not in module.hparams and module.hparams.lr == 0.01


@pytest.mark.parametrize("scheduler,expected", [(None, None), ("cosine", "CosineAnnealingLR"), ("step", "StepLR")])
@pytest.mark.parametrize("optimizer", ["adam", "adamw", "sgd"])
def test_classifier_module_builds_the_named_optimizer_and_schedule(optimizer, scheduler, expected):
    module = ClassifierModule(AlexNet32(num_classes=10, in_channels=1, hidden=8), optimizer=optimizer,
                              scheduler=scheduler, max_epochs_for_schedule=5)
    config = module.configure_optimizers()
    opt = config["optimizer"] if isinstance(config, dict) else config
    assert type(opt).__name__.lower() == optimizer
    if expected is not None:
        assert type(config["lr_scheduler"]["scheduler"]).__name__ == expected


@pytest.mark.parametrize("kwargs,match", [
    ({"optimizer": "rmsprop"}, r"optimizer must be one of \('adam', 'adamw', 'sgd'\)"),
    ({"scheduler": "plateau"}, "scheduler must be one of"),
    ({"lr": 0.0}, "lr must be a positive number"),
    ({"label_smoothing": 1.0}, "label_smoothing"),
])
def test_classifier_module_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ClassifierModule(AlexNet32(num_classes=10, in_channels=1, hidden=8), **kwargs)


def test_classifier_module_needs_a_module():
    with pytest.raises(TypeError, match="nn.Module"):
        ClassifierModule("resnet18")


# --- SN-GAN ------------------------------------------------------------------------------------

def tiny_gan(**kwargs) -> SNGANModule:
    defaults = dict(latent_dim=8, channels=8, out_channels=1, image_size=16, disc_channels=8, grid_points=16,
                    num_samples=4, n_dis=1)
    return SNGANModule(**{**defaults, **kwargs})


def test_sngan_module_trains_both_networks_and_logs_losses_and_samples(tmp_path):
    seed_everything(0)
    module = tiny_gan()
    g_before, d_before = snapshot(module.generator), snapshot(module.discriminator)
    trainer = tiny_trainer(tmp_path)
    trainer.fit(module, digits())
    assert changed(g_before, module.generator) > 0 and changed(d_before, module.discriminator) > 0
    assert {"train/d_loss", "train/g_loss"} <= set(trainer.callback_metrics)
    assert module.d_steps == 2
    assert "samples" in image_tags(trainer.logger.log_dir)


def test_sngan_module_takes_n_dis_discriminator_steps_per_generator_step():
    seed_everything(0)
    module = tiny_gan(n_dis=3)
    g_before = snapshot(module.generator)
    tiny_trainer(batches=2).fit(module, digits())
    assert changed(g_before, module.generator) == 0  # 2 discriminator steps < n_dis: no generator step yet


def test_sngan_samples_are_fixed_by_the_seed_and_in_unit_range():
    a, b = tiny_gan(sample_seed=7), tiny_gan(sample_seed=7)
    assert torch.equal(a.sample_latents, b.sample_latents)
    images = a.sample_images()
    assert images.shape == (4, 1, 16, 16) and float(images.min()) >= 0 and float(images.max()) <= 1
    assert a.generator.training  # sampling restores the training mode


@pytest.mark.parametrize("kwargs,match", [({"n_dis": 0}, "n_dis"), ({"lr_g": 0.0}, "lr_g"),
                                          ({"betas": (0.0, 1.0)}, "betas")])
def test_sngan_module_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tiny_gan(**kwargs)


# --- VQ-VAE ------------------------------------------------------------------------------------

def tiny_vqvae() -> VQVAEModule:
    return VQVAEModule(in_channels=1, image_size=16, hidden=8, res_hidden=4, res_layers=1, num_codes=16,
                       code_dim=4, num_logged=4)


def test_vqvae_module_trains_and_logs_perplexity_and_reconstructions(tmp_path):
    seed_everything(0)
    module = tiny_vqvae()
    before = snapshot(module.vqvae)
    trainer = tiny_trainer(tmp_path)
    trainer.fit(module, digits())
    assert changed(before, module.vqvae) > 0
    metrics = trainer.callback_metrics
    for key in ("train/loss", "train/recon_loss", "train/vq_loss", "train/perplexity", "val/recon_loss"):
        assert key in metrics and torch.isfinite(metrics[key])
    assert 1.0 <= float(metrics["train/perplexity"]) <= 16.0
    assert float(metrics["train/dead_codes"]) >= 0
    assert "reconstructions" in image_tags(trainer.logger.log_dir)


@pytest.mark.parametrize("kwargs,match", [({"lr": 0.0}, "lr"), ({"dead_code_threshold": -1.0}, "dead_code_threshold"),
                                          ({"num_logged": 0}, "num_logged")])
def test_vqvae_module_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        VQVAEModule(in_channels=1, image_size=16, hidden=8, res_hidden=4, num_codes=16, code_dim=4, **kwargs)


def test_vqvae_dead_codes_restart_on_encoder_outputs():
    module = tiny_vqvae()
    quantizer = module.vqvae.quantizer
    quantizer.cluster_size.fill_(5.0)
    quantizer.cluster_size[[2, 7]] = 0.1
    kept = quantizer.codebook.clone()
    encoded = torch.randn(2, 4, 3, 3)
    assert module.restart_dead_codes(encoded, threshold=1.0) == 2
    vectors = encoded.permute(0, 2, 3, 1).reshape(-1, 4)
    for code in (2, 7):
        assert (quantizer.codebook[code] == vectors).all(1).any()  # moved onto an encoder output
        assert float(quantizer.cluster_size[code]) == 1.0
    others = [k for k in range(16) if k not in (2, 7)]
    assert torch.equal(quantizer.codebook[others], kept[others])
    assert module.restart_dead_codes(encoded, threshold=1.0) == 0


def test_vqvae_reconstruction_grid_interleaves_inputs_and_outputs():
    module = tiny_vqvae()
    images = torch.rand(4, 1, 16, 16)
    grid = module.reconstruction_grid_images(images, nrow=2)
    assert grid.shape == (8, 1, 16, 16)
    assert torch.equal(grid[:2], images[:2]) and torch.equal(grid[4:6], images[2:])


def test_image_grid_makes_gray_rgb_and_clamps():
    grid = image_grid(torch.full((4, 1, 8, 8), 2.0), nrow=2)
    assert grid.shape == (3, 22, 22) and float(grid.max()) == 1.0


# --- generator checkpoints ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def trained_checkpoints(tmp_path_factory):
    """Lightning checkpoints of a tiny SN-GAN, a tiny VQ-VAE and a tiny classifier, each after 1 step."""
    folder = tmp_path_factory.mktemp("ckpt")
    paths = {}
    seed_everything(0)
    torch.set_num_threads(1)
    for name, module in (("sngan", tiny_gan()), ("vqvae", tiny_vqvae()),
                         ("classifier", ClassifierModule(AlexNet32(num_classes=10, in_channels=1, hidden=8)))):
        trainer = tiny_trainer(batches=1)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore")
            trainer.fit(module, digits())
        paths[name] = folder / f"{name}.ckpt"
        trainer.save_checkpoint(paths[name])
        paths[f"{name}_module"] = module
    return paths


def test_load_generator_reads_the_sngan_generator_alone(trained_checkpoints):
    generator = load_generator(trained_checkpoints["sngan"])
    assert isinstance(generator, SNGANGenerator) and not generator.training
    assert (generator.grid.d, generator.grid.n) == (8, 16)
    index = generator.grid.random_index(3, generator=torch.Generator().manual_seed(0))
    trained = trained_checkpoints["sngan_module"].generator.eval()
    with torch.no_grad():
        images = generator.decode(index)
        assert torch.allclose(images, trained.decode(index), atol=1e-6)
    assert images.shape == (3, 1, 16, 16) and float(images.min()) >= 0 and float(images.max()) <= 1


def test_load_generator_reads_the_vqvae_alone(trained_checkpoints):
    vqvae = load_generator(trained_checkpoints["vqvae"])
    assert isinstance(vqvae, VQVAE) and not vqvae.training
    assert (vqvae.grid.d, vqvae.grid.n) == (16, 16)
    with torch.no_grad():
        images = vqvae.decode(torch.randint(0, 16, (2, 16)))
    assert images.shape == (2, 1, 16, 16) and float(images.min()) >= 0 and float(images.max()) <= 1


def test_save_generator_round_trip_is_small_and_exact(trained_checkpoints, tmp_path):
    for name in ("sngan", "vqvae"):
        generator = load_generator(trained_checkpoints[name])
        path = save_generator(generator, tmp_path / f"{name}.pt")
        assert path.stat().st_size < trained_checkpoints[name].stat().st_size  # no optimizer/discriminator
        again = load_generator(path)
        index = torch.zeros(2, generator.grid.d, dtype=torch.long)
        with torch.no_grad():
            assert torch.equal(again.decode(index), generator.decode(index))


def test_save_generator_of_a_hand_built_generator_reads_its_arguments(tmp_path):
    generator = SNGANGenerator(latent_dim=6, channels=8, out_channels=1, image_size=8, grid_points=4, grid_range=2.0)
    again = load_generator(save_generator(generator, tmp_path / "g.pt"))
    assert (again.grid.d, again.grid.n) == (6, 4) and float(again.grid.values.max()) == 2.0


def test_save_generator_rejects_other_modules(tmp_path):
    with pytest.raises(TypeError, match="SNGANGenerator"):
        save_generator(nn.Linear(2, 2), tmp_path / "x.pt")


def test_load_generator_missing_file_names_the_path(tmp_path):
    missing = tmp_path / "nope" / "last.ckpt"
    with pytest.raises(FileNotFoundError, match="nope/last.ckpt"):
        load_generator(missing)


def test_load_generator_on_a_classifier_checkpoint_says_what_it_is(trained_checkpoints):
    with pytest.raises(ValueError, match=r"not a generator checkpoint.*classifier.*SNGANModule.*VQVAEModule"):
        load_generator(trained_checkpoints["classifier"])


def test_load_generator_on_a_non_checkpoint_file(tmp_path):
    junk = tmp_path / "junk.ckpt"
    junk.write_text("not a checkpoint")
    with pytest.raises(ValueError, match="not a PyTorch checkpoint"):
        load_generator(junk)
    torch.save([1, 2, 3], tmp_path / "list.pt")
    with pytest.raises(ValueError, match="holds a list"):
        load_generator(tmp_path / "list.pt")


def test_shipped_digits_generator_loads_and_decodes():
    generator = load_generator(SHIPPED_GENERATOR)
    assert isinstance(generator, SNGANGenerator)
    assert (generator.grid.d, generator.grid.n) == (128, 64)
    assert torch.allclose(generator.grid.values[[0, -1]], torch.tensor([-4.0, 4.0]))
    index = torch.randint(0, 64, (4, 128), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        images = generator.decode(index)
    assert images.shape == (4, 1, 16, 16) and float(images.min()) >= 0 and float(images.max()) <= 1
    assert float(images.std()) > 0.05  # not a constant image
