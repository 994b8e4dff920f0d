"""LightningModules that train the classifiers (spiking or not) and the stimulus generators."""

from mango_pl.lit.classifier import ClassifierModule
from mango_pl.lit.image_logging import image_grid, log_image_grid
from mango_pl.lit.sngan import SNGANModule
from mango_pl.lit.vqvae import VQVAEModule

__all__ = ["ClassifierModule", "SNGANModule", "VQVAEModule", "image_grid", "log_image_grid"]
