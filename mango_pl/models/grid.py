"""Discrete stimulus grids ``{0..n-1}^d`` and what their indices stand for.

A grid belongs to a stimulus space: an SN-GAN latent grid maps index ``i`` of dimension ``j`` to
the ``i``-th of ``n`` evenly spaced values on ``[low, high]`` (the paper: d=128, n=64 on [-4, 4]);
a VQ-VAE code grid maps it to code ``i`` of the codebook (d=64 positions, n=512 codes). Searchers
see ``d`` and ``n``, and, when they model a unit's response, what the values mean: the space's
``grid_features()`` (a :class:`~mango_pl.grid_features.GridFeatures` table, the vector each value
of each coordinate stands for: an SN-GAN grid's latent values, a VQ-VAE's codebook vectors).

The grid lives with the models because a generator carries its own (``generator.grid``);
``mango_pl.stimuli.Grid`` and ``mango_pl.stimuli.grid.Grid`` name the same class.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from mango_pl.checks import check_int, check_positive_int


@dataclass(frozen=True)
class Grid:
    """The grid ``{0..n-1}^d`` and the value each index stands for.

    Args:
        d: number of dimensions (modes).
        n: number of points per dimension.
        values: ``[n]`` (the same points in every dimension) or ``[d, n]`` float tensor of what
            each index means; ``None`` means the indices themselves (a categorical grid).
    """

    d: int
    n: int
    values: Tensor | None = field(default=None, compare=False)

    def __post_init__(self):
        check_positive_int("grid d", self.d, hint="dimensions")
        check_int("grid n", self.n, 2, hint="points per dimension")
        if self.values is not None and tuple(self.values.shape) not in ((self.n,), (self.d, self.n)):
            raise ValueError(f"grid values must have shape [n] or [d, n] = [{self.n}] or [{self.d}, {self.n}], "
                             f"got {tuple(self.values.shape)}")

    @classmethod
    def uniform(cls, d: int, n: int, low: float = -4.0, high: float = 4.0) -> "Grid":
        """``n`` evenly spaced points on ``[low, high]`` in each of ``d`` dimensions (SN-GAN latents)."""
        return cls(d, n, torch.linspace(low, high, n))

    @classmethod
    def categorical(cls, d: int, n: int) -> "Grid":
        """``d`` positions that each choose one of ``n`` categories (VQ-VAE codes)."""
        return cls(d, n, None)

    @property
    def size_log10(self) -> float:
        """log10 of the number of grid points, ``d * log10(n)``."""
        return self.d * torch.log10(torch.tensor(float(self.n))).item()

    def check_index(self, index: Tensor) -> None:
        """Raise a clear error unless ``index[..., d]`` is an integer tensor inside the grid."""
        if index.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8):
            raise TypeError(f"grid indices must be an integer tensor, got {index.dtype}")
        if index.shape[-1] != self.d:
            raise ValueError(f"grid indices must end in d={self.d}, got shape {tuple(index.shape)}")
        if index.numel() and (index.min() < 0 or index.max() >= self.n):
            raise ValueError(f"grid indices must lie in 0..{self.n - 1}, got {index.min().item()}..{index.max().item()}")

    def to_values(self, index: Tensor) -> Tensor:
        """``index[..., d]`` -> what each index stands for, ``[..., d]`` (float; long if categorical)."""
        if self.values is None:
            return index.long()
        values = self.values.to(index.device)
        if values.dim() == 1:
            return values[index.long()]
        return values[torch.arange(self.d, device=index.device), index.long()]

    def nearest_index(self, x: Tensor) -> Tensor:
        """The grid index whose value is nearest to ``x[..., d]`` in each dimension."""
        if self.values is None:
            return x.round().long().clamp(0, self.n - 1)
        values = self.values.to(x.device, x.dtype)
        if values.dim() == 1:
            return (x.unsqueeze(-1) - values).abs().argmin(-1)
        return (x.unsqueeze(-1) - values).abs().argmin(-1)

    def random_index(self, *shape: int, generator: torch.Generator | None = None,
                     device: torch.device | str | None = None) -> Tensor:
        """Uniformly random indices of shape ``[*shape, d]``."""
        return torch.randint(0, self.n, (*shape, self.d), generator=generator, device=device)
