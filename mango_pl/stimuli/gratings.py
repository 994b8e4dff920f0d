"""Sinusoidal gratings: a parametric stimulus space that needs no training."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from mango_pl.checks import check_choice, check_int
from mango_pl.models.grid import Grid
from mango_pl.stimuli.space import StimulusSpace

#: The grid dimensions of a gray grating space, in order (a color space adds "hue").
GRATING_DIMS = ("orientation", "frequency", "phase", "contrast")


def hue_to_rgb(hue: Tensor) -> Tensor:
    """Fully saturated, full-value colors for ``hue [...]`` in [0, 1) -> ``[..., 3]`` in [0, 1]."""
    h6 = hue.unsqueeze(-1) * 6.0
    centers = torch.tensor([3.0, 2.0, 4.0], dtype=hue.dtype, device=hue.device)
    signs = torch.tensor([1.0, -1.0, -1.0], dtype=hue.dtype, device=hue.device)
    offsets = torch.tensor([-1.0, 2.0, 2.0], dtype=hue.dtype, device=hue.device)
    return (signs * (h6 - centers).abs() + offsets).clamp(0.0, 1.0)


class GratingSpace(StimulusSpace):
    """Sinusoidal gratings on a grid of orientation, spatial frequency, phase, contrast (and hue).

    Pixel value ``0.5 + 0.5 * contrast * sin(2 pi f u + phase)`` with ``u`` the coordinate along
    the orientation (image side = 1). A color grating swings between a hue and its complement:
    ``0.5 + 0.5 * contrast * sin(...) * (2 rgb(hue) - 1)``. Values of each dimension (``n`` each):
    orientation on [0, pi), frequency geometric from 0.5 to ``image_size / 4`` cycles per image,
    phase on [0, 2 pi), contrast ``1/n .. 1``, hue on [0, 1). Deterministic; images in [0, 1].

    Args:
        image_size: side length of the square images (>= 4).
        channels: 1 (gray, d=4) or 3 (color, d=5).
        n: number of values per dimension (a power of two allows QTT search).

    Raises:
        ValueError: bad ``channels``, ``image_size`` or ``n``.

    Example:
        >>> space = GratingSpace(image_size=32, channels=3, n=16)
        >>> space.grid.d, space.decode(torch.tensor([[0, 3, 0, 15, 5]])).shape
        (5, torch.Size([1, 3, 32, 32]))
    """

    def __init__(self, image_size: int = 32, channels: int = 1, n: int = 16):
        check_choice("channels", channels, (1, 3), hint="GratingSpace makes gray (1) or color (3) gratings")
        check_int("image_size", image_size, 4)
        check_int("n", n, 2, hint="values per dimension")
        super().__init__()
        self._size = image_size
        self._native_channels = channels
        rows = [
            torch.linspace(0.0, math.pi, n + 1)[:-1],
            torch.logspace(math.log10(0.5), math.log10(image_size / 4), n),
            torch.linspace(0.0, 2 * math.pi, n + 1)[:-1],
            torch.arange(1, n + 1) / n,
        ]
        if channels == 3:
            rows.append(torch.linspace(0.0, 1.0, n + 1)[:-1])
        self.grid = Grid(len(rows), n, torch.stack(rows).float())
        self.dims = GRATING_DIMS + (("hue",) if channels == 3 else ())

    @property
    def _channels(self) -> int:
        return self._native_channels

    @property
    def _image_size(self) -> int:
        return self._size

    def _decode(self, index: Tensor) -> Tensor:
        values = self.grid.to_values(index).to(self.dtype)
        orientation, frequency, phase, contrast = (values[:, i, None, None] for i in range(4))
        coords = (torch.arange(self._size, device=self.device, dtype=self.dtype) + 0.5) / self._size - 0.5
        y, x = coords[:, None], coords[None, :]
        along = x * torch.cos(orientation) + y * torch.sin(orientation)
        wave = contrast * torch.sin(2 * math.pi * frequency * along + phase)   # [N, H, W]
        if self._native_channels == 1:
            return (0.5 + 0.5 * wave).unsqueeze(1)
        color = 2 * hue_to_rgb(values[:, 4]) - 1                              # [N, 3]
        return 0.5 + 0.5 * wave.unsqueeze(1) * color[:, :, None, None]
