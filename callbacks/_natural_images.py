"""Natural images for a warm start and labelled images for unit importance: the first validation
images of the training's own data."""

from __future__ import annotations

import lightning.pytorch as pl
import torch
from torch import Tensor


def validation_images(trainer: "pl.Trainer", count: int, why: str) -> tuple[Tensor, Tensor | None]:
    """The first ``count`` images of the trainer's validation data and their labels (``None`` when the
    batches hold images alone): ``([count, C, H, W]`` float on CPU, ``[count]`` long or ``None``).

    The batches are read in order from a fresh iterator (the caller isolates the RNGs that a
    ``DataLoader`` draws its base seed from); a batch is ``(images, labels, ...)`` or images alone.

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
    images, labels, total = [], [], 0
    for batch in loaders:
        x = batch[0] if isinstance(batch, (list, tuple)) else batch
        images.append(x.detach().cpu().float())
        if isinstance(batch, (list, tuple)) and len(batch) > 1 and isinstance(batch[1], Tensor):
            labels.append(batch[1].detach().cpu().long())
        total += x.shape[0]
        if total >= count:
            break
    if total < count:
        raise ValueError(f"MEISearchCallback({why}) needs {count} validation images, the data has {total}")
    return torch.cat(images)[:count], (torch.cat(labels)[:count] if len(labels) == len(images) else None)
