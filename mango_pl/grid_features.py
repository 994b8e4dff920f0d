"""What a grid point means: the features a searcher may model a unit's response on.

Searchers see the grid ``{0..n-1}^d`` as integers. A stimulus space knows more: index ``i`` of
coordinate ``j`` of an SN-GAN grid stands for a latent value, index ``i`` of a VQ-VAE position
stands for the ``i``-th codebook vector. :class:`GridFeatures` carries that meaning to the
searcher as a **table**: the vector each value of each coordinate stands for, ``[n, e]`` (the same
for every coordinate: VQ-VAE codes, an evenly spaced latent grid) or ``[d, n, e]`` (one table per
coordinate). A point's feature vector is the concatenation of its coordinates' vectors,
``[d * e]``. The table form is what makes a model of the response cheap to evaluate on many
candidates: a linear map of the features is a sum of ``d`` looked-up rows.

Every point also stands for an image. ``pixels`` (optional) maps grid points to their decoded
image as a vector, ``index [N, d] -> [N, f]`` (a space gives its images avg-pooled to at most 8 x 8,
:meth:`mango_pl.stimuli.space.StimulusSpace.pixel_features`). It is what a unit actually sees, so
a model on it can learn units whose response the grid's own meaning hides; but every candidate it
rates must be decoded, which costs far more than a table lookup. Searchers use it only when asked
(``surrogate-image``). A space whose grid values mean nothing beyond their index has no table
(``table=None``) and may still have ``pixels``; searchers then see the index as an ordinal value.

Spaces hand their features over with :meth:`mango_pl.stimuli.space.StimulusSpace.grid_features`;
:func:`mango_pl.search.maximize` takes them as ``features=`` and gives them to searchers that use
them (``Searcher.uses_features``); every other searcher sees the grid as before.

It lives at the top of the package, like :mod:`mango_pl.checks`, because the layers that make
features (models, stimuli) and the one that uses them (search) must not import each other; it
imports torch only. ``from mango_pl.search import GridFeatures`` works too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor


@dataclass(frozen=True)
class GridFeatures:
    """The vector each grid value stands for.

    Args:
        table: float tensor ``[n, e]`` (every coordinate's value ``i`` stands for row ``i``) or
            ``[d, n, e]`` (coordinate ``j``'s value ``i`` stands for ``table[j, i]``); ``None`` when the
            values mean nothing beyond their index (then ``n`` must be given and ``pixels`` should be).
        name: what the features are (shown in errors and reprs), e.g. ``"sngan latent"``.
        pixels: ``index [N, d] -> [N, f]`` float, the decoded image of each point as a vector (on
            demand; see the module doc), or ``None``.
        values: grid values per coordinate when there is no table (``n``).

    Raises:
        ValueError: a table that is not 2-D or 3-D, empty, or not finite; no table and no ``n``.

    Example:
        >>> f = GridFeatures(torch.linspace(-4, 4, 64)[:, None], "latent")
        >>> f.vectors(torch.tensor([[0, 63]])).shape      # [1, d=2, e=1]
        torch.Size([1, 2, 1])
    """

    table: Tensor | None
    name: str = "features"
    pixels: Callable[[Tensor], Tensor] | None = field(default=None, compare=False, repr=False)
    values: int | None = None

    def __post_init__(self):
        table = self.table
        if self.pixels is not None and not callable(self.pixels):
            raise ValueError(f"GridFeatures' pixels must be a function index -> vectors, got {self.pixels!r}")
        if table is None:
            if not isinstance(self.values, int) or self.values < 1:
                raise ValueError("GridFeatures without a table needs the grid's values per coordinate: values=n")
            return
        if not isinstance(table, Tensor) or table.dim() not in (2, 3) or table.numel() == 0:
            shape = tuple(table.shape) if isinstance(table, Tensor) else type(table).__name__
            raise ValueError(f"GridFeatures needs a float table [n, e] or [d, n, e], got {shape}")
        if not table.is_floating_point():
            table = table.double()
        if not bool(torch.isfinite(table).all()):
            raise ValueError("GridFeatures' table holds NaN or inf; every grid value needs a finite vector")
        object.__setattr__(self, "table", table.detach().cpu())

    @classmethod
    def one_hot(cls, n: int) -> "GridFeatures":
        """A categorical grid whose values mean nothing beyond being different: the identity table."""
        return cls(torch.eye(n, dtype=torch.float64), "one-hot")

    @property
    def n(self) -> int:
        """Grid values per coordinate."""
        return self.values if self.table is None else self.table.shape[-2]

    @property
    def has_table(self) -> bool:
        """Whether the grid's values stand for vectors (else only ``pixels`` says what points mean)."""
        return self.table is not None

    @property
    def e(self) -> int:
        """Length of one coordinate's vector."""
        return self._table().shape[-1]

    @property
    def per_coordinate(self) -> bool:
        """Whether each coordinate has its own table (``[d, n, e]``)."""
        return self.table is not None and self.table.dim() == 3

    def _table(self) -> Tensor:
        if self.table is None:
            raise ValueError(f"grid features {self.name!r} have no table (the grid's values mean nothing beyond their "
                             f"index); check has_table first")
        return self.table

    def images(self, index: Tensor) -> Tensor:
        """``index [..., d]`` -> each point's decoded image as a vector ``[..., f]`` (float64, on
        ``index``'s device).

        Raises:
            ValueError: these features carry no ``pixels``.
        """
        if self.pixels is None:
            raise ValueError(f"grid features {self.name!r} carry no decoded images (pixels=None); use a stimulus "
                             f"space's grid_features(), which adds them")
        lead = index.shape[:-1]
        flat = self.pixels(index.reshape(-1, index.shape[-1]))
        return flat.to(index.device, torch.float64).reshape(*lead, -1)

    def check(self, d: int, n: int) -> None:
        """Raise a clear error unless the table fits the grid ``{0..n-1}^d``."""
        if self.table is None:
            if self.n != n:
                raise ValueError(f"grid features {self.name!r} are for n={self.n} values per coordinate, the grid has "
                                 f"n={n}; pass the features of the space that is searched (space.grid_features())")
            return
        if self.n != n or (self.per_coordinate and self.table.shape[0] != d):
            expected = f"[{n}, e] or [{d}, {n}, e]"
            raise ValueError(f"grid features {self.name!r} have a table of shape {tuple(self.table.shape)}, which does "
                             f"not fit the grid d={d}, n={n} (expected {expected}); pass the features of the space "
                             f"that is searched (space.grid_features())")

    def coordinate_tables(self, d: int, dtype: torch.dtype = torch.float64,
                          device: torch.device | str | None = None) -> Tensor:
        """The table of every coordinate, ``[d, n, e]`` (a view when the table is shared)."""
        table = self._table().to(device=device, dtype=dtype)
        return table if self.per_coordinate else table.unsqueeze(0).expand(d, -1, -1)

    def vectors(self, index: Tensor) -> Tensor:
        """``index [..., d]`` -> each coordinate's vector, ``[..., d, e]`` (float64, on ``index``'s device)."""
        table = self._table().to(index.device, torch.float64)
        if not self.per_coordinate:
            return table[index.long()]
        d = index.shape[-1]
        return table[torch.arange(d, device=index.device), index.long()]

    def flat(self, index: Tensor) -> Tensor:
        """``index [..., d]`` -> the point's feature vector, ``[..., d * e]``."""
        vectors = self.vectors(index)
        return vectors.reshape(*vectors.shape[:-2], -1)

    def ordering(self) -> Tensor:
        """A permutation of the ``n`` values ``LongTensor[n]`` (``[d, n]`` per coordinate) that sorts them
        by their projection on the table's first principal component, so that neighbouring positions
        in the order mean similar things (e.g. a VQ-VAE codebook made ordinal for CMA-ES with margin).
        Without a table the values keep their own order."""
        if self.table is None:
            return torch.arange(self.n)
        table = self.table.double()
        centred = table - table.mean(-2, keepdim=True)
        if self.e == 1:
            score = centred[..., 0]
        else:
            _, _, vh = torch.linalg.svd(centred, full_matrices=False)
            score = (centred @ vh[..., 0, :].unsqueeze(-1)).squeeze(-1)
        return score.argsort(dim=-1, stable=True)

    def __repr__(self) -> str:
        table = None if self.table is None else tuple(self.table.shape)
        images = ", pixels" if self.pixels is not None else ""
        return f"GridFeatures({self.name!r}, table={table}{images})"
