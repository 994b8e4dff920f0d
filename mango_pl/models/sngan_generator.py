"""SN-GAN ResNet generator (Miyato et al. 2018, CIFAR-10 architecture) with a discrete latent grid."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from mango_pl.checks import check_positive_number
from mango_pl.models.grid import Grid


def _power_of_two_ratio(image_size: int, bottom: int) -> int:
    """``log2(image_size / bottom)``; a clear error unless it is a positive integer."""
    ratio = image_size / bottom
    blocks = round(math.log2(ratio)) if ratio >= 1 else 0
    if blocks < 1 or bottom * 2 ** blocks != image_size:
        raise ValueError(
            f"image_size must be bottom * 2**k with k >= 1 (e.g. bottom=4: 8, 16, 32, 64), "
            f"got image_size={image_size}, bottom={bottom}"
        )
    return blocks


class GeneratorBlock(nn.Module):
    """Up-sampling residual block: BN-ReLU-up-conv3-BN-ReLU-conv3, shortcut up-conv1."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        for conv in (self.conv1, self.conv2):
            nn.init.xavier_uniform_(conv.weight, math.sqrt(2.0))
        nn.init.xavier_uniform_(self.shortcut.weight)

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv1(self.up(torch.relu(self.bn1(x))))
        h = self.conv2(torch.relu(self.bn2(h)))
        return h + self.shortcut(self.up(x))


class SNGANGenerator(nn.Module):
    """ResNet generator: ``z [N, latent_dim] -> images [N, out_channels, image_size, image_size]`` in [-1, 1].

    ``linear -> [channels, bottom, bottom] -> log2(image_size / bottom)`` up-sampling residual blocks
    ``-> BN -> ReLU -> conv3x3 -> tanh`` (32x32 with bottom 4: 4 -> 8 -> 16 -> 32).

    As a stimulus space (the paper: d=128 latents, n=64 points on [-4, 4]) the generator exposes
    ``grid``, ``decode(index)`` (images in [0, 1]), ``out_channels`` and ``image_size``. Call
    ``.eval()`` before decoding so BatchNorm uses its running statistics.

    Args:
        latent_dim: dimension of the latent vector z.
        channels: channels of every residual block.
        bottom: side of the first feature map.
        out_channels: image channels (3 RGB, 1 gray).
        image_size: output side, ``bottom * 2**k``.
        grid_points: points per latent dimension of the search grid.
        grid_range: the grid covers ``[-grid_range, grid_range]`` in every dimension.

    Raises:
        ValueError: ``image_size`` not ``bottom * 2**k`` (k >= 1), ``grid_points < 2``, ``grid_range <= 0``.

    Example:
        >>> g = SNGANGenerator(latent_dim=8, channels=16, image_size=16).eval()
        >>> g.decode(g.grid.random_index(2)).shape
        torch.Size([2, 3, 16, 16])
    """

    def __init__(self, latent_dim: int = 128, channels: int = 256, bottom: int = 4, out_channels: int = 3,
                 image_size: int = 32, grid_points: int = 64, grid_range: float = 4.0):
        super().__init__()
        num_blocks = _power_of_two_ratio(image_size, bottom)
        check_positive_number("grid_range", grid_range, hint="grid on [-grid_range, grid_range]")
        self.latent_dim = latent_dim
        self.channels = channels
        self.bottom = bottom
        self.out_channels = out_channels
        self.image_size = image_size
        self.grid_points = grid_points
        self.grid_range = float(grid_range)
        self._grid = Grid.uniform(latent_dim, grid_points, -float(grid_range), float(grid_range))

        self.linear = nn.Linear(latent_dim, bottom * bottom * channels)
        self.blocks = nn.Sequential(*(GeneratorBlock(channels, channels) for _ in range(num_blocks)))
        self.bn = nn.BatchNorm2d(channels)
        self.conv = nn.Conv2d(channels, out_channels, 3, padding=1)
        nn.init.xavier_uniform_(self.linear.weight)
        nn.init.xavier_uniform_(self.conv.weight)

    @property
    def grid(self) -> Grid:
        """The latent search grid: ``grid_points`` values on ``[-grid_range, grid_range]`` per dimension."""
        return self._grid

    def forward(self, z: Tensor) -> Tensor:
        """Latents ``[N, latent_dim]`` -> images ``[N, C, H, W]`` in [-1, 1]."""
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"SNGANGenerator expects latents [N, {self.latent_dim}], got shape {tuple(z.shape)}")
        h = self.linear(z).view(-1, self.channels, self.bottom, self.bottom)
        h = torch.relu(self.bn(self.blocks(h)))
        return torch.tanh(self.conv(h))

    def generate(self, z: Tensor) -> Tensor:
        """Latents ``[N, latent_dim]`` -> images in [0, 1] (what the classifiers and the discriminator take)."""
        return (self.forward(z) + 1.0) / 2.0

    def decode(self, index: Tensor) -> Tensor:
        """Grid indices ``LongTensor[..., latent_dim]`` (any device; e.g. ``[N, 128]``) -> images
        ``[..., C, H, W]`` in [0, 1], on the model's device."""
        self._grid.check_index(index)
        weight = self.linear.weight
        z = self._grid.to_values(index.reshape(-1, self.latent_dim).to(weight.device)).to(weight.dtype)
        images = self.generate(z)
        return images.view(*index.shape[:-1], *images.shape[1:])
