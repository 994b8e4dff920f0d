"""Images -> grid indices: where in a generator's grid a given (natural) image lies.

A VQ-VAE has an encoder (each 4x4 patch -> its nearest code). A GAN has none, so its latent is
found by gradient descent on the reconstruction error (the probed network is never touched: it
stays a black box), then snapped to the nearest grid point. Used by the natural-image warm start.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mango_pl.models.grid import Grid


def invert_generator(generator: nn.Module, images: Tensor, grid: Grid, steps: int = 150, lr: float = 0.05,
                     prior: float = 1e-3, seed: int = 0) -> Tensor:
    """The grid index whose image best reconstructs each of ``images``, found in the continuous latent.

    Minimizes ``mean((generator.generate(z) - image)^2) + prior * mean(z^2)`` over ``z`` with Adam
    from ``z ~ N(0, 1)`` (seeded), keeps ``z`` inside the grid's range, and returns
    ``grid.nearest_index(z)``. The generator runs in its current (eval) mode; its weights are not
    changed and the caller's RNG streams are not touched.

    Args:
        generator: a module with ``generate(z [N, D]) -> images [N, C, H, W]`` in [0, 1] (e.g. an
            :class:`~mango_pl.models.SNGANGenerator`).
        images: ``[N, C, H, W]`` in [0, 1], in the generator's own channels and size.
        grid: the generator's latent grid (uniform values per dimension).
        steps: Adam steps.
        lr: Adam learning rate.
        prior: weight of the Gaussian prior on ``z``.
        seed: seed of the random starting latents.

    Returns:
        ``LongTensor[N, d]`` on the images' device.

    Raises:
        TypeError: a generator without ``generate`` or a categorical grid.
    """
    if not callable(getattr(generator, "generate", None)) or grid.values is None:
        raise TypeError(f"{type(generator).__name__} cannot be inverted by gradient descent: it needs "
                        f"generate(z) and a grid of latent values (a GAN latent grid)")
    reference = next(generator.parameters())
    target = images.to(reference.device, reference.dtype)
    low, high = float(grid.values.min()), float(grid.values.max())
    z0 = torch.randn(images.shape[0], grid.d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    z = z0.to(reference.device, reference.dtype).requires_grad_(True)
    optimizer = torch.optim.Adam([z], lr=lr)
    frozen = [p.requires_grad for p in generator.parameters()]
    generator.requires_grad_(False)
    try:
        with torch.enable_grad():
            for _ in range(steps):
                optimizer.zero_grad()
                loss = (generator.generate(z) - target).pow(2).mean() + prior * z.pow(2).mean()
                loss.backward()
                optimizer.step()
                with torch.no_grad():
                    z.clamp_(low, high)
    finally:
        for parameter, flag in zip(generator.parameters(), frozen):
            parameter.requires_grad_(flag)
    return grid.nearest_index(z.detach().cpu().to(torch.float32)).to(images.device)


def encode_images(generator: nn.Module, images: Tensor, grid: Grid, seed: int = 0) -> Tensor:
    """``images [N, C, H, W]`` (the generator's channels and size) -> grid indices ``[N, d]``:
    the generator's own ``encode`` when it has one (VQ-VAE), else :func:`invert_generator`."""
    encode = getattr(generator, "encode", None)
    if callable(encode):
        reference = next(generator.parameters())
        with torch.no_grad():
            return encode(images.to(reference.device, reference.dtype)).to(images.device).long()
    return invert_generator(generator, images, grid, seed=seed)
