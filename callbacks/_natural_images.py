"""Natural images for a warm start and labelled images for unit importance: the first validation
images of the training's own data."""

from __future__ import annotations

import lightning.pytorch as pl
from torch import Tensor

from mango_pl.data.first_images import first_images


def validation_images(trainer: "pl.Trainer", count: int, why: str) -> tuple[Tensor, Tensor | None]:
    """The first ``count`` images of the trainer's validation data and their labels (``None`` when the
    batches hold images alone): ``([count, C, H, W]`` float on CPU, ``[count]`` long or ``None``).

    The batches are read in order from a fresh iterator (the caller isolates the RNGs that a
    ``DataLoader`` draws its base seed from), by :func:`mango_pl.data.first_images.first_images`.

    Args:
        trainer: the running trainer.
        count: images needed.
        why: the option that needs them, for the error messages (e.g. ``"warm_start=50"``).

    Raises:
        ValueError: the trainer has no validation data, or fewer than ``count`` images.
    """
    loaders = trainer.val_dataloaders
    if loaders is None and trainer.datamodule is not None:
        loaders = trainer.datamodule.val_dataloader()
    if isinstance(loaders, (list, tuple)):
        loaders = loaders[0] if loaders else None
    if loaders is None:
        raise ValueError(f"MEISearchCallback({why}) takes its images from the validation data, and this training "
                         f"has none: give the Trainer validation data or turn the option off")
    return first_images(loaders, count, f"MEISearchCallback({why})")
