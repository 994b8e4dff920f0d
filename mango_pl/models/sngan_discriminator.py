"""SN-GAN ResNet discriminator (Miyato et al. 2018, CIFAR-10 architecture)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from mango_pl.models.normalization import check_images


def _sn_conv(in_channels: int, out_channels: int, kernel_size: int, gain: float = 1.0) -> nn.Module:
    conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
    nn.init.xavier_uniform_(conv.weight, gain)
    return spectral_norm(conv)


class OptimizedDiscriminatorBlock(nn.Module):
    """First block: conv3-ReLU-conv3-avgpool, shortcut avgpool-conv1 (all convs spectral-normalized)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv1 = _sn_conv(in_channels, out_channels, 3, math.sqrt(2.0))
        self.conv2 = _sn_conv(out_channels, out_channels, 3, math.sqrt(2.0))
        self.shortcut = _sn_conv(in_channels, out_channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        h = F.avg_pool2d(self.conv2(torch.relu(self.conv1(x))), 2)
        return h + self.shortcut(F.avg_pool2d(x, 2))


class DiscriminatorBlock(nn.Module):
    """Residual block ReLU-conv3-ReLU-conv3 [-avgpool]; shortcut conv1 [-avgpool] or identity."""

    def __init__(self, in_channels: int, out_channels: int, downsample: bool):
        super().__init__()
        self.downsample = downsample
        self.conv1 = _sn_conv(in_channels, out_channels, 3, math.sqrt(2.0))
        self.conv2 = _sn_conv(out_channels, out_channels, 3, math.sqrt(2.0))
        self.shortcut = _sn_conv(in_channels, out_channels, 1) if downsample or in_channels != out_channels else None

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv2(torch.relu(self.conv1(torch.relu(x))))
        s = x if self.shortcut is None else self.shortcut(x)
        if self.downsample:
            h, s = F.avg_pool2d(h, 2), F.avg_pool2d(s, 2)
        return h + s


class SNGANDiscriminator(nn.Module):
    """Spectral-normalized ResNet discriminator: images in [0, 1] -> real/fake score ``[N]``.

    Images are mapped to [-1, 1] inside (so real data and ``SNGANGenerator.generate(z)`` are fed
    as they are). Layout: optimized down-sampling block, ``log2(image_size) - 4`` further
    down-sampling blocks (32x32: one, 16x16: none), two plain blocks, ReLU, global sum pool,
    spectral-normalized linear.

    Args:
        in_channels: image channels.
        channels: channels of every block.
        image_size: input side, a power of two >= 8.

    Raises:
        ValueError: ``image_size`` not a power of two >= 8.

    Example:
        >>> SNGANDiscriminator(channels=16, image_size=16)(torch.rand(4, 3, 16, 16)).shape
        torch.Size([4])
    """

    def __init__(self, in_channels: int = 3, channels: int = 128, image_size: int = 32):
        super().__init__()
        if image_size < 8 or image_size & (image_size - 1):
            raise ValueError(f"image_size must be a power of two >= 8 (8, 16, 32, 64, ...), got {image_size}")
        self.in_channels = in_channels
        self.image_size = image_size
        num_down = max(int(math.log2(image_size)) - 4, 0)
        blocks: list[nn.Module] = [OptimizedDiscriminatorBlock(in_channels, channels)]
        blocks += [DiscriminatorBlock(channels, channels, downsample=True) for _ in range(num_down)]
        blocks += [DiscriminatorBlock(channels, channels, downsample=False) for _ in range(2)]
        self.blocks = nn.Sequential(*blocks)
        linear = nn.Linear(channels, 1)
        nn.init.xavier_uniform_(linear.weight)
        self.linear = spectral_norm(linear)

    def forward(self, x: Tensor) -> Tensor:
        """Images ``[N, C, H, W]`` in [0, 1] -> scores ``[N]`` (higher = more real)."""
        check_images(x, self.in_channels, type(self).__name__)
        h = torch.relu(self.blocks(x * 2.0 - 1.0)).sum(dim=(2, 3))
        return self.linear(h).squeeze(1)

