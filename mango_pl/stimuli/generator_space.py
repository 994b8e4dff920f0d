"""A stimulus space made of a frozen generator (SN-GAN, VQ-VAE, ...) and its grid."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import torch
from torch import Tensor, nn

from mango_pl.models.grid import Grid
from mango_pl.models.precision import converted_copy, module_device, module_dtype
from mango_pl.grid_features import GridFeatures
from mango_pl.stimuli.space import StimulusSpace

#: How to make the generator checkpoint the digits examples use.
_MAKE_CHECKPOINT = "mango-pl fit --config configs/<dataset>/sngan.yaml"


class GeneratorSpace(StimulusSpace):
    """Stimulus space of a frozen generator: ``index [N, d] -> generator.decode(index)``.

    The generator is an ``nn.Module`` with ``.grid`` (a :class:`~mango_pl.models.grid.Grid`) and
    ``.decode(index [N, d]) -> images [N, C, H, W]`` in [0, 1], optionally ``.out_channels``,
    ``.image_size`` and ``.latents(index) -> [N, D]`` (the float vector of each stimulus; default:
    the grid values). It is put in eval mode with gradients off. Decoding in float64 (``to(dtype=
    torch.float64)``) runs a float64 copy of the generator, made once, so a stimulus decodes to
    exactly the same image alone and inside any batch.

    Args:
        generator: the generator module (exclusive with ``checkpoint``).
        checkpoint: path of a generator checkpoint, loaded with
            :func:`mango_pl.models.checkpoint.load_generator` (exclusive with ``generator``).
        channels: convert the output to this channel count (gray <-> RGB), ``None`` to keep it.
        image_size: resize the output to this side length (bilinear), ``None`` to keep it.

    Raises:
        ValueError: neither or both of ``generator`` and ``checkpoint``.
        FileNotFoundError: the checkpoint does not exist (the message says how to make one).
        TypeError: the generator lacks ``.grid`` or ``.decode``.

    Example:
        >>> space = GeneratorSpace(checkpoint="checkpoints/digits_sngan.ckpt", channels=3, image_size=32)
        >>> images = space.decode(space.grid.random_index(8))   # [8, 3, 32, 32] in [0, 1]
    """

    def __init__(self, generator: nn.Module | None = None, checkpoint: str | Path | None = None,
                 channels: int | None = None, image_size: int | None = None):
        if (generator is None) == (checkpoint is None):
            raise ValueError("GeneratorSpace needs exactly one of generator=<nn.Module> or checkpoint=<path>, "
                             f"got {'both' if generator is not None else 'neither'}")
        if checkpoint is not None:
            generator = self._load(Path(checkpoint))
        self._check_generator(generator)
        super().__init__(channels, image_size)
        generator.eval()
        generator.requires_grad_(False)
        self.generator = generator
        self.grid: Grid = generator.grid
        self._converted: nn.Module | None = None
        self._native_shape: tuple[int, int] | None = None

    @staticmethod
    def _load(path: Path) -> nn.Module:
        if not path.is_file():
            raise FileNotFoundError(f"generator checkpoint {str(path)!r} not found. Train one with "
                                    f"`{_MAKE_CHECKPOINT}` (or pass generator=<nn.Module>)")
        from mango_pl.models.checkpoint import load_generator

        return load_generator(str(path), map_location="cpu")

    @staticmethod
    def _check_generator(generator: object) -> None:
        if not isinstance(generator, nn.Module):
            raise TypeError(f"generator must be a torch.nn.Module, got {type(generator).__name__}")
        missing = []
        if not isinstance(getattr(generator, "grid", None), Grid):
            missing.append(".grid (a mango_pl.models.grid.Grid)")
        if not callable(getattr(generator, "decode", None)):
            missing.append(".decode(index [N, d]) -> images [N, C, H, W]")
        if missing:
            raise TypeError(f"{type(generator).__name__} cannot be a stimulus space: it lacks {' and '.join(missing)}. "
                            "Use a generator from mango_pl.models (SNGANGenerator, VQVAE) or add them.")

    # -- native shape ------------------------------------------------------------------------

    def _shape(self) -> tuple[int, int]:
        if self._native_shape is None:
            channels = getattr(self.generator, "out_channels", None)
            size = getattr(self.generator, "image_size", None)
            if not isinstance(channels, int) or not isinstance(size, int):
                probe = self._decode(torch.zeros(1, self.grid.d, dtype=torch.long, device=self.device))
                channels, size = probe.shape[1], probe.shape[-1]
            self._native_shape = (channels, size)
        return self._native_shape

    @property
    def _channels(self) -> int:
        return self._shape()[0]

    @property
    def _image_size(self) -> int:
        return self._shape()[1]

    # -- decoding ----------------------------------------------------------------------------

    def _generator_in(self, dtype: torch.dtype) -> nn.Module:
        if module_dtype(self.generator) == dtype:
            return self.generator
        if self._converted is None or module_dtype(self._converted) != dtype:
            self._converted = converted_copy(self.generator, dtype)
        return self._converted

    def _decode(self, index: Tensor) -> Tensor:
        generator = self._generator_in(self.dtype)
        index = index.to(module_device(generator))
        images = generator.decode(index)
        if not isinstance(images, Tensor) or images.dim() != 4 or images.shape[0] != index.shape[0]:
            shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
            raise ValueError(f"{type(self.generator).__name__}.decode must return images [N, C, H, W] with "
                             f"N={index.shape[0]}, got {shape}")
        return images.to(self.device, self.dtype).clamp(0.0, 1.0)

    def encode(self, images: Tensor, seed: int = 0) -> Tensor:
        """The grid index of each image ``[N, C, H, W]`` in [0, 1]: ``LongTensor[N, d]``.

        The images are converted to the generator's own channels and size, then encoded: a VQ-VAE
        by its encoder, a GAN by gradient descent on its latent (seeded by ``seed``) snapped to the
        grid (see :mod:`mango_pl.stimuli.inversion`).

        Raises:
            ValueError: images that are not ``[N, C, H, W]``.
            TypeError: a generator with neither an encoder nor ``generate`` on a latent grid.
        """
        from mango_pl.stimuli.adapt import adapt_images
        from mango_pl.stimuli.inversion import encode_images

        if not isinstance(images, Tensor) or images.dim() != 4:
            raise ValueError(f"encode() takes images [N, C, H, W] in [0, 1], got "
                             f"{tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__}")
        native = adapt_images(images.float().clamp(0, 1), self._channels, self._image_size)
        return encode_images(self.generator, native, self.grid, seed=seed).cpu()

    def latents(self, index: Tensor) -> Tensor:
        """``generator.latents(index)`` if the generator has it, else the grid values, ``[N, D]`` float32."""
        self.grid.check_index(index)
        flat = index.reshape(-1, self.grid.d)
        own = getattr(self.generator, "latents", None)
        if callable(own):
            with torch.no_grad():
                vectors = own(flat.to(module_device(self.generator)))
            return vectors.reshape(flat.shape[0], -1).to("cpu", torch.float32)
        return super().latents(flat)

    def grid_features(self) -> GridFeatures:
        """The generator's own table if it has ``grid_features()`` (a VQ-VAE: its codebook vectors,
        ``[num_codes, code_dim]``; a table ``[n, e]`` or ``[d, n, e]``, or a ``GridFeatures``), else
        the grid's values (an SN-GAN: the latent value of each grid point); see
        :meth:`StimulusSpace.grid_features`. Models return a plain tensor (they know nothing of
        searchers); the space makes it a :class:`~mango_pl.grid_features.GridFeatures`."""
        own = getattr(self.generator, "grid_features", None)
        if callable(own):
            table = own()
            if isinstance(table, GridFeatures):
                return table if table.pixels is not None else dataclasses.replace(table, pixels=self.pixel_features)
            return GridFeatures(table, f"{type(self.generator).__name__} grid features", pixels=self.pixel_features)
        return super().grid_features()

    def _moved(self) -> None:
        """A copy for another device gets its own generator there (and no float64 copy yet)."""
        if module_device(self.generator) != self.device:
            self.generator = copy.deepcopy(self.generator).to(self.device)
            self._converted = None
