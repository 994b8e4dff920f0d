"""The first images (and labels) of a data loader: what a warm start shows and an ablation scores."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor


def first_images(batches: Iterable, count: int, what: str) -> tuple[Tensor, Tensor | None]:
    """The first ``count`` images of ``batches`` and their labels (``None`` when the batches hold images
    alone): ``([count, C, H, W]`` float on CPU, ``[count]`` long or ``None``). A batch is
    ``(images, labels, ...)`` or images alone; batches are read in order until ``count`` images.

    Args:
        batches: a data loader (or any iterable of batches).
        count: images needed.
        what: who needs them, for the error message (e.g. ``"MEISearchCallback(warm_start)"``).

    Raises:
        ValueError: fewer than ``count`` images.
    """
    images, labels, total = [], [], 0
    for batch in batches:
        x = batch[0] if isinstance(batch, (list, tuple)) else batch
        images.append(x.detach().cpu().float())
        if isinstance(batch, (list, tuple)) and len(batch) > 1 and isinstance(batch[1], Tensor):
            labels.append(batch[1].detach().cpu().long())
        total += x.shape[0]
        if total >= count:
            break
    if total < count:
        raise ValueError(f"{what} needs {count} validation images, the data has {total}")
    return torch.cat(images)[:count], (torch.cat(labels)[:count] if len(labels) == len(images) else None)
