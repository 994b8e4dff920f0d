"""The stimulus-space base class: a discrete grid whose every index decodes to an image."""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod

import torch
from torch import Tensor

from mango_pl.checks import check_positive_int
from mango_pl.models.grid import Grid
from mango_pl.grid_features import GridFeatures
from mango_pl.stimuli.adapt import adapt_images

#: side of the pooled image a model of a unit's response sees (``pixel_features``)
PIXEL_SIDE = 8
#: The float dtypes a space can decode in.
_DTYPES = (torch.float32, torch.float64)


class StimulusSpace(ABC):
    """A grid ``{0..n-1}^d`` (``self.grid``) and the image each index stands for.

    Subclasses implement :meth:`_decode` (native channels and size, in ``self.dtype`` on
    ``self.device``) and the native ``_channels`` / ``_image_size``; this class checks indices,
    adapts the output to a target channel count and size, and carries device and dtype.

    Args:
        channels: convert the output to this channel count (gray <-> RGB), ``None`` to keep it.
        image_size: resize the output to this side length (bilinear), ``None`` to keep it.

    Example:
        >>> space = GratingSpace(image_size=28, channels=1).with_channels(3).with_size(32)
        >>> space.decode(space.grid.random_index(4)).shape
        torch.Size([4, 3, 32, 32])
    """

    grid: Grid

    def __init__(self, channels: int | None = None, image_size: int | None = None):
        check_positive_int("channels", channels, optional=True)
        check_positive_int("image_size", image_size, optional=True)
        self._target_channels = channels
        self._target_size = image_size
        self.device = torch.device("cpu")
        self.dtype = torch.float32

    # -- what subclasses provide ------------------------------------------------------------

    @property
    @abstractmethod
    def _channels(self) -> int:
        """Channel count of the native images."""

    @property
    @abstractmethod
    def _image_size(self) -> int:
        """Side length of the native (square) images."""

    @abstractmethod
    def _decode(self, index: Tensor) -> Tensor:
        """``index [N, d]`` (long, on ``self.device``) -> native images ``[N, C, H, W]`` in [0, 1]."""

    # -- public API --------------------------------------------------------------------------

    @property
    def channels(self) -> int:
        """Channel count of the decoded images (after adaptation)."""
        return self._target_channels or self._channels

    @property
    def image_size(self) -> int:
        """Side length of the decoded images (after adaptation)."""
        return self._target_size or self._image_size

    @torch.no_grad()
    def decode(self, index: Tensor) -> Tensor:
        """``index [..., d]`` -> images ``[..., channels, image_size, image_size]`` in [0, 1].

        Raises:
            TypeError / ValueError: indices that are not integers inside the grid.
        """
        self.grid.check_index(index)
        lead = index.shape[:-1]
        flat = index.reshape(-1, self.grid.d).to(self.device, torch.long)
        images = self._decode(flat).to(self.dtype)
        images = adapt_images(images, self._target_channels, self._target_size)
        return images.reshape(*lead, *images.shape[1:])

    def encode(self, images: Tensor, seed: int = 0) -> Tensor:
        """The grid index of each image ``[N, C, H, W]`` in [0, 1] (the nearest stimulus of the space):
        ``LongTensor[N, d]``. Used to start a search from natural images.

        Raises:
            NotImplementedError: spaces that cannot encode images (this base class).
        """
        raise NotImplementedError(f"{type(self).__name__} cannot encode images into its grid; a natural-image "
                                  f"warm start needs a GeneratorSpace (VQ-VAE encoder or GAN inversion)")

    def latents(self, index: Tensor) -> Tensor:
        """A float vector per stimulus, ``index [N, d]`` -> ``[N, D]`` (default: the grid values).

        Used to measure the latent diversity of a set of MEIs.
        """
        self.grid.check_index(index)
        return self.grid.to_values(index.reshape(-1, self.grid.d).cpu()).to(torch.float32)

    def grid_features(self) -> GridFeatures:
        """What each grid point stands for, for searchers that model a unit's response
        (``maximize(..., features=space.grid_features())``): the grid's values as a ``[n, 1]`` or
        ``[d, n, 1]`` table (no table for a categorical grid whose values mean nothing more: such
        searchers then see the index as an ordinal value), and the decoded image of any point
        (``pixels``: :meth:`pixel_features`, used by ``surrogate-image``)."""
        values = self.grid.values
        if values is None:
            return GridFeatures(None, f"{type(self).__name__} grid", pixels=self.pixel_features, values=self.grid.n)
        return GridFeatures(values.detach().double().unsqueeze(-1), f"{type(self).__name__} grid values",
                            pixels=self.pixel_features)

    def pixel_features(self, index: Tensor, side: int = PIXEL_SIDE, chunk: int = 1024) -> Tensor:
        """``index [N, d]`` -> each stimulus's image avg-pooled to at most ``side x side``, flattened:
        ``[N, channels * side * side]`` float64 (on ``index``'s device). What a model of a unit's
        response sees of a stimulus (:class:`~mango_pl.grid_features.GridFeatures`' ``pixels``);
        decoded ``chunk`` stimuli at a time."""
        side = min(side, self.image_size)
        rows = []
        for part in index.reshape(-1, self.grid.d).split(chunk):
            images = self.decode(part)
            images = images.reshape(-1, *images.shape[-3:])
            rows.append(torch.nn.functional.adaptive_avg_pool2d(images.float(), side).flatten(1))
        pooled = torch.cat(rows) if rows else torch.zeros(0, self.channels * side * side)
        return pooled.to(index.device, torch.float64)

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> "StimulusSpace":
        """A copy of this space that decodes on ``device`` in ``dtype`` (float32 or float64).

        The space itself is not changed (an objective that needs float64 never turns the user's
        space into float64); the copy shares what it can (a generator already on ``device``).
        """
        if dtype is not None and dtype not in _DTYPES:
            raise ValueError(f"a stimulus space decodes in one of {_DTYPES}, got {dtype}")
        other = copy.copy(self)
        if device is not None:
            other.device = torch.device(device)
        if dtype is not None:
            other.dtype = dtype
        other._moved()
        return other

    def _moved(self) -> None:
        """Called on a copy made by :meth:`to` after its device/dtype were set (subclasses move weights)."""

    def with_channels(self, channels: int | None) -> "StimulusSpace":
        """A copy of this space whose images are converted to ``channels`` (gray <-> RGB)."""
        other = copy.copy(self)
        StimulusSpace.__init__(other, channels, self._target_size)
        other.device, other.dtype = self.device, self.dtype
        return other

    def with_size(self, image_size: int | None) -> "StimulusSpace":
        """A copy of this space whose images are resized to ``image_size`` (bilinear)."""
        other = copy.copy(self)
        StimulusSpace.__init__(other, self._target_channels, image_size)
        other.device, other.dtype = self.device, self.dtype
        return other

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(d={self.grid.d}, n={self.grid.n}, channels={self.channels}, "
                f"image_size={self.image_size}, device={self.device}, dtype={self.dtype})")
