"""Stimulus spaces: parametric gratings and DCT images, generator wrapping, adaptation, errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mango_pl.stimuli.grid import Grid
from mango_pl.stimuli import DCTSpace, GeneratorSpace, GratingSpace, adapt_images


class TinyGenerator(nn.Module):
    """Generator-like module: latent grid -> linear layer -> sigmoid image."""

    def __init__(self, d: int = 3, n: int = 8, channels: int = 1, size: int = 6, with_shape: bool = True):
        super().__init__()
        self.grid = Grid.uniform(d, n, -2.0, 2.0)
        self.linear = nn.Linear(d, channels * size * size)
        self._shape = (channels, size)
        if with_shape:
            self.out_channels, self.image_size = channels, size

    def decode(self, index):
        z = self.grid.to_values(index)                  # float32, whatever the module's dtype
        return torch.sigmoid(self.linear(z)).view(-1, *self._shape[:1], self._shape[1], self._shape[1])


@pytest.mark.parametrize("make", [
    lambda: GratingSpace(image_size=12, channels=1, n=8),
    lambda: GratingSpace(image_size=12, channels=3, n=8),
    lambda: DCTSpace(image_size=12, channels=1, coefficients=3, n=4),
    lambda: DCTSpace(image_size=12, channels=3, coefficients=2, n=4),
])
def test_parametric_spaces_shape_range_determinism(make):
    space = make()
    index = space.grid.random_index(10, generator=torch.Generator().manual_seed(0))
    images = space.decode(index)
    assert images.shape == (10, space.channels, 12, 12) and images.dtype == torch.float32
    assert images.min() >= 0 and images.max() <= 1
    assert torch.equal(images, make().decode(index))
    assert torch.equal(space.decode(index.view(2, 5, -1)), images.view(2, 5, *images.shape[1:]))
    unique_index = torch.unique(index, dim=0)
    flat = space.decode(unique_index).flatten(1)
    assert torch.cdist(flat, flat).add(torch.eye(len(flat))).min() > 1e-3        # distinct -> distinct
    latents = space.latents(index)
    assert latents.shape == (10, space.grid.d) and latents.dtype == torch.float32
    wide = space.to(dtype=torch.float64).decode(index)
    assert wide.dtype == torch.float64 and torch.allclose(wide.float(), images, atol=1e-5)


def test_grating_dims_and_contrast():
    gray, color = GratingSpace(image_size=16, n=4), GratingSpace(image_size=16, channels=3, n=4)
    assert gray.dims == ("orientation", "frequency", "phase", "contrast") and gray.grid.d == 4
    assert color.dims[-1] == "hue" and color.grid.d == 5
    low, high = gray.decode(torch.tensor([[0, 3, 0, 0], [0, 3, 0, 3]]))
    assert (high - 0.5).abs().max() > 3 * (low - 0.5).abs().max()               # contrast scales swing
    vertical = gray.decode(torch.tensor([[0, 2, 1, 3]]))[0, 0]                   # orientation 0: varies along x
    assert torch.allclose(vertical, vertical[:1].expand_as(vertical))
    red = color.decode(torch.tensor([[0, 2, 1, 3, 0]]))[0]
    assert torch.allclose(red[1], red[2]) and not torch.allclose(red[0], red[1])


def test_dct_dc_coefficient_sets_brightness():
    space = DCTSpace(image_size=8, channels=1, coefficients=2, n=4)
    dark = space.decode(torch.tensor([[0, 1, 2, 1]]))
    bright = space.decode(torch.tensor([[3, 1, 2, 1]]))
    assert bright.mean() > dark.mean()
    flat = space.decode(torch.tensor([[3, 3, 3, 3]])) - space.decode(torch.tensor([[0, 0, 0, 0]]))
    assert flat.abs().max() <= 1.0


def test_adaptation_gray_rgb_and_size():
    gray = torch.rand(2, 1, 6, 6)
    rgb = adapt_images(gray, channels=3)
    assert rgb.shape == (2, 3, 6, 6) and torch.equal(rgb[:, 0], rgb[:, 2])
    assert torch.allclose(adapt_images(rgb, channels=1), gray)
    resized = adapt_images(gray, image_size=9)
    assert resized.shape == (2, 1, 9, 9) and 0 <= resized.min() and resized.max() <= 1
    with pytest.raises(ValueError, match="cannot convert 3-channel"):
        adapt_images(rgb, channels=2)
    space = GratingSpace(image_size=8, n=4).with_channels(3).with_size(10)
    assert space.channels == 3 and space.image_size == 10
    assert space.decode(torch.zeros(2, 4, dtype=torch.long)).shape == (2, 3, 10, 10)
    assert GratingSpace(image_size=8, n=4).channels == 1                          # the original is unchanged


def test_generator_space_wraps_and_freezes():
    torch.manual_seed(0)
    generator = TinyGenerator().train()
    space = GeneratorSpace(generator, channels=3, image_size=8)
    assert not generator.training and not any(p.requires_grad for p in generator.parameters())
    assert space.grid is generator.grid and space.channels == 3 and space.image_size == 8
    index = space.grid.random_index(5, generator=torch.Generator().manual_seed(1))
    images = space.decode(index)
    assert images.shape == (5, 3, 8, 8) and images.min() >= 0 and images.max() <= 1
    native = GeneratorSpace(generator).decode(index)
    assert torch.allclose(images, adapt_images(native, 3, 8))
    assert torch.equal(space.latents(index), generator.grid.to_values(index))
    inferred = GeneratorSpace(TinyGenerator(with_shape=False, channels=3, size=5))
    assert (inferred.channels, inferred.image_size) == (3, 5)


def test_grid_old_path_names_the_models_class():
    import importlib.resources as res
    import pickle

    from mango_pl.models.checkpoint import load_generator
    from mango_pl.models.grid import Grid as ModelsGrid
    from mango_pl.stimuli import Grid as PackageGrid

    assert Grid is ModelsGrid and PackageGrid is ModelsGrid
    assert pickle.loads(b"cmango_pl.stimuli.grid\nGrid\n.") is ModelsGrid       # pickles of the old class path
    grid = Grid.uniform(3, 5)
    assert pickle.loads(pickle.dumps(grid)) == grid
    for name in ("digits_sngan.pt", "digits_vqvae.pt"):                          # the shipped generators still load
        generator = load_generator(res.files("mango_pl") / "assets" / name)
        assert isinstance(generator.grid, ModelsGrid)
        assert GeneratorSpace(generator).decode(generator.grid.random_index(2)).shape[0] == 2


def test_generator_space_float64_is_batch_invariant():
    torch.manual_seed(0)
    space = GeneratorSpace(TinyGenerator(d=16, size=16)).to(dtype=torch.float64)
    index = space.grid.random_index(16, generator=torch.Generator().manual_seed(2))
    batch = space.decode(index)
    assert batch.dtype == torch.float64
    assert next(space.generator.parameters()).dtype == torch.float32             # the original stays float32
    for i in range(16):
        assert torch.equal(space.decode(index[i:i + 1])[0], batch[i])


def test_generator_space_errors(tmp_path):
    with pytest.raises(ValueError, match="exactly one.*neither"):
        GeneratorSpace()
    with pytest.raises(ValueError, match="exactly one.*both"):
        GeneratorSpace(TinyGenerator(), checkpoint="x.ckpt")
    missing = tmp_path / "missing.ckpt"
    with pytest.raises(FileNotFoundError, match=r"missing\.ckpt.*mango-pl fit --config configs/<dataset>/sngan.yaml"):
        GeneratorSpace(checkpoint=missing)
    with pytest.raises(TypeError, match=r"lacks \.grid.*and \.decode"):
        GeneratorSpace(nn.Linear(2, 2))
    with pytest.raises(TypeError, match="nn.Module"):
        GeneratorSpace(generator="not a module")
    with pytest.raises(ValueError, match="grid indices must lie"):
        GeneratorSpace(TinyGenerator()).decode(torch.full((1, 3), 8))
    with pytest.raises(ValueError, match="gray"):
        GratingSpace(channels=2)
    with pytest.raises(ValueError, match="coefficients"):
        DCTSpace(image_size=4, coefficients=5)
