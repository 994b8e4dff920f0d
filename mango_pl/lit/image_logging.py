"""Log an image grid (generator samples, reconstructions) to whatever loggers a Trainer has."""

from __future__ import annotations

from lightning.pytorch import LightningModule
from torch import Tensor
from torchvision.utils import make_grid

from mango_pl.lit.loggers import log_image


def image_grid(images: Tensor, nrow: int = 8) -> Tensor:
    """``[N, C, H, W]`` images in [0, 1] -> one ``[3, H', W']`` grid (gray repeated to RGB), clamped to [0, 1].

    Example:
        >>> image_grid(torch.rand(16, 1, 8, 8), nrow=4).shape
        torch.Size([3, 42, 42])
    """
    images = images.detach().float().cpu().clamp(0.0, 1.0)
    if images.shape[1] == 1:
        images = images.repeat(1, 3, 1, 1)
    return make_grid(images, nrow=nrow, padding=2, pad_value=1.0)


def log_image_grid(module: LightningModule, tag: str, images: Tensor, nrow: int = 8) -> int:
    """Log ``images`` (``[N, C, H, W]`` in [0, 1]) as one grid to each TensorBoard / W&B logger of the trainer.

    Other loggers are skipped. Logs on global rank 0 only (image logging is never collective).

    Args:
        module: the LightningModule whose ``trainer.loggers`` receive the grid.
        tag: image name, e.g. ``"samples"``.
        images: the images.
        nrow: images per grid row.

    Returns:
        How many loggers received the grid.
    """
    trainer = module.trainer
    if trainer is None or trainer.global_rank != 0 or not trainer.loggers:
        return 0
    return log_image(trainer.loggers, tag, image_grid(images, nrow), trainer.global_step)
