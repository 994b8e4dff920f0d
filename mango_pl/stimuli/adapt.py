"""Convert images to another channel count and size, so a space can feed any classifier."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def adapt_images(images: Tensor, channels: int | None = None, image_size: int | None = None) -> Tensor:
    """``images [N, C, H, W]`` in [0, 1] -> ``[N, channels, image_size, image_size]`` in [0, 1].

    Gray -> RGB repeats the channel; RGB (or any C) -> gray takes the channel mean; other channel
    changes are not defined. The size changes by bilinear resizing (no antialiasing, so the same
    image always gives the same result), then the values are clamped back into [0, 1].

    Args:
        images: ``[N, C, H, W]``.
        channels: target channel count, or ``None`` to keep it.
        image_size: target side length (square), or ``None`` to keep it.

    Raises:
        ValueError: a channel change other than 1 -> C or C -> 1.

    Example:
        >>> adapt_images(torch.rand(2, 1, 28, 28), channels=3, image_size=32).shape
        torch.Size([2, 3, 32, 32])
    """
    if images.dim() != 4:
        raise ValueError(f"images must have shape [N, C, H, W], got {tuple(images.shape)}")
    x = images
    if channels is not None and channels != x.shape[1]:
        if x.shape[1] == 1:
            x = x.expand(-1, channels, -1, -1)
        elif channels == 1:
            x = x.mean(1, keepdim=True)
        else:
            raise ValueError(f"cannot convert {x.shape[1]}-channel images to {channels} channels; "
                             "only gray (1) <-> any channel count is supported")
    if image_size is not None and tuple(x.shape[-2:]) != (image_size, image_size):
        x = F.interpolate(x, size=(image_size, image_size), mode="bilinear", align_corners=False).clamp(0.0, 1.0)
    return x.contiguous()
