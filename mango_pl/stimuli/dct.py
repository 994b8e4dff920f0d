"""Low-frequency DCT images: a parametric stimulus space that needs no training."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from mango_pl.checks import check_choice, check_int, check_positive_int
from mango_pl.models.grid import Grid
from mango_pl.stimuli.space import StimulusSpace


def dct_basis(image_size: int, k: int, dtype: torch.dtype = torch.float32,
              device: torch.device | str = "cpu") -> Tensor:
    """The ``k x k`` lowest-frequency 2-D DCT-II cosines, ``[k*k, image_size, image_size]`` in [-1, 1].

    Basis ``(u, v)`` (row-major, ``u`` vertical) is ``cos(pi (2y+1) u / 2S) * cos(pi (2x+1) v / 2S)``.
    """
    pos = torch.arange(image_size, dtype=dtype, device=device)
    freq = torch.arange(k, dtype=dtype, device=device)
    cos = torch.cos(math.pi * (2 * pos[None, :] + 1) * freq[:, None] / (2 * image_size))   # [k, S]
    return (cos[:, None, :, None] * cos[None, :, None, :]).reshape(k * k, image_size, image_size)


class DCTSpace(StimulusSpace):
    """Images made of the ``k x k`` lowest DCT frequencies of each channel.

    Each of the ``d = channels * k * k`` grid dimensions is one DCT coefficient with ``n`` levels
    evenly spaced on [-1, 1]. The image is the inverse DCT ``x`` of those coefficients, mapped to
    ``0.5 + 0.5 * x / (k * k)``: exactly inside [0, 1] for every index (no clipping), and distinct
    indices give distinct images. Deterministic, pure torch.

    Args:
        image_size: side length of the square images.
        channels: 1 (gray) or 3 (RGB, coefficients per channel).
        coefficients: ``k``, the number of lowest frequencies per axis (``k*k`` per channel).
        n: levels per coefficient (a power of two allows QTT search).

    Raises:
        ValueError: bad ``channels``, ``coefficients`` (must be 1..image_size) or ``n``.

    Example:
        >>> space = DCTSpace(image_size=32, channels=1, coefficients=4, n=16)
        >>> space.grid.d, space.decode(space.grid.random_index(2)).shape
        (16, torch.Size([2, 1, 32, 32]))
    """

    def __init__(self, image_size: int = 32, channels: int = 1, coefficients: int = 4, n: int = 16):
        check_choice("channels", channels, (1, 3), hint="DCTSpace makes gray (1) or RGB (3) images")
        check_positive_int("image_size", image_size)
        check_int("coefficients", coefficients, 1, image_size, hint="k per side, at most image_size")
        check_int("n", n, 2, hint="levels per coefficient")
        super().__init__()
        self._size = image_size
        self._native_channels = channels
        self.k = coefficients
        self.grid = Grid.uniform(channels * coefficients * coefficients, n, -1.0, 1.0)
        self._basis: Tensor | None = None

    @property
    def _channels(self) -> int:
        return self._native_channels

    @property
    def _image_size(self) -> int:
        return self._size

    def _decode(self, index: Tensor) -> Tensor:
        if self._basis is None or self._basis.dtype != self.dtype or self._basis.device != self.device:
            self._basis = dct_basis(self._size, self.k, self.dtype, self.device).flatten(1)
        coeffs = self.grid.to_values(index).to(self.dtype).view(-1, self._native_channels, self.k * self.k)
        x = coeffs @ self._basis                                              # [N, C, S*S]
        images = 0.5 + 0.5 * x / (self.k * self.k)
        return images.view(-1, self._native_channels, self._size, self._size).clamp(0.0, 1.0)
