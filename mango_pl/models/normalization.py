"""Per-channel input normalization inside the models, and the image-batch shape check.

Every model in mango-pl takes images in [0, 1] of shape ``[B, C, H, W]`` and normalizes them
itself, so a generator's [0, 1] output can be fed to it directly.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from mango_pl.checks import check_positive_int

#: CIFAR-10 training-set channel statistics (RGB), used by default for 3-channel models.
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


def default_mean_std(in_channels: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Default normalization for ``in_channels``: CIFAR-10 statistics for 3, 0.5 / 0.5 otherwise.

    Example:
        >>> default_mean_std(1)
        ((0.5,), (0.5,))
    """
    check_positive_int("in_channels", in_channels, hint="1 = gray, 3 = RGB")
    if in_channels == 3:
        return CIFAR10_MEAN, CIFAR10_STD
    return (0.5,) * in_channels, (0.5,) * in_channels


def check_images(x: Tensor, in_channels: int, model: str) -> None:
    """Raise a clear ``ValueError`` unless ``x`` is a ``[B, in_channels, H, W]`` floating tensor."""
    if x.dim() != 4 or x.shape[1] != in_channels:
        raise ValueError(
            f"{model} expects images [B, {in_channels}, H, W] with values in [0, 1], got shape {tuple(x.shape)}. "
            f"Pass a batch (unsqueeze(0) for one image) or build the model with in_channels={x.shape[1] if x.dim() == 4 else '...'}."
        )
    if not torch.is_floating_point(x):
        raise TypeError(f"{model} expects floating-point images in [0, 1], got dtype {x.dtype}; use x.float() / 255.")


class ImageNormalize(nn.Module):
    """``(x - mean) / std`` per channel, with statistics stored as (non-persistent) buffers.

    Args:
        in_channels: number of image channels.
        mean: per-channel means (length ``in_channels``); ``None`` for :func:`default_mean_std`.
        std: per-channel standard deviations (positive); ``None`` for :func:`default_mean_std`.

    Raises:
        ValueError: if ``mean``/``std`` do not have ``in_channels`` entries or a std is not positive.

    Example:
        >>> ImageNormalize(1)(torch.ones(2, 1, 4, 4)).unique()
        tensor([1.])
    """

    def __init__(self, in_channels: int, mean: Sequence[float] | None = None, std: Sequence[float] | None = None):
        super().__init__()
        default_mean, default_std = default_mean_std(in_channels)
        mean = tuple(float(m) for m in (default_mean if mean is None else mean))
        std = tuple(float(s) for s in (default_std if std is None else std))
        if len(mean) != in_channels or len(std) != in_channels:
            raise ValueError(
                f"mean and std need one value per channel (in_channels={in_channels}), got mean={mean}, std={std}"
            )
        if min(std) <= 0:
            raise ValueError(f"std values must be positive, got {std}")
        self.in_channels = in_channels
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.mean) / self.std

    def extra_repr(self) -> str:
        return f"mean={tuple(round(v, 4) for v in self.mean.flatten().tolist())}, " \
               f"std={tuple(round(v, 4) for v in self.std.flatten().tolist())}"
