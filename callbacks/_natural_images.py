"""Natural images for a warm start: the first validation images of the training's own data."""

from __future__ import annotations

import lightning.pytorch as pl
import torch
from torch import Tensor


def natural_images(trainer: "pl.Trainer", count: int) -> Tensor:
    """The first ``count`` images of the trainer's validation data, ``[count, C, H, W]`` float on CPU.

    The batches are read in order from a fresh iterator (the caller isolates the RNGs that a
    ``DataLoader`` draws its base seed from); a batch is ``(images, ...)`` or images alone.

    Raises:
        ValueError: the trainer has no validation data, or fewer than ``count`` images.
    """
    loaders = trainer.val_dataloaders
    if loaders is None and trainer.datamodule is not None:
        loaders = trainer.datamodule.val_dataloader()
    if isinstance(loaders, (list, tuple)):
        loaders = loaders[0] if loaders else None
    if loaders is None:
        raise ValueError("MEISearchCallback(warm_start=...) takes its natural images from the validation data, and "
                         "this training has none: give the Trainer validation data or set warm_start=0")
    images, total = [], 0
    for batch in loaders:
        x = batch[0] if isinstance(batch, (list, tuple)) else batch
        images.append(x.detach().cpu().float())
        total += x.shape[0]
        if total >= count:
            break
    if total < count:
        raise ValueError(f"MEISearchCallback(warm_start={count}) needs {count} validation images, the data has {total}")
    return torch.cat(images)[:count]
