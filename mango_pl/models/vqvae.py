"""VQ-VAE (van den Oord et al. 2017) with an EMA codebook; its code grid is a stimulus space."""

from __future__ import annotations

from torch import Tensor, nn

from mango_pl.models.grid import Grid
from mango_pl.models.normalization import check_images
from mango_pl.models.vector_quantizer import EMAVectorQuantizer


class ResidualStack(nn.Module):
    """``layers`` residual units ``x + conv1(ReLU(conv3(ReLU(x))))``, then ReLU."""

    def __init__(self, channels: int, hidden: int, layers: int):
        super().__init__()
        self.units = nn.ModuleList(
            nn.Sequential(nn.ReLU(), nn.Conv2d(channels, hidden, 3, padding=1, bias=False),
                          nn.ReLU(), nn.Conv2d(hidden, channels, 1, bias=False))
            for _ in range(layers)
        )

    def forward(self, x: Tensor) -> Tensor:
        for unit in self.units:
            x = x + unit(x)
        return x.relu()


class VQVAE(nn.Module):
    """VQ-VAE for small images: 4x down-sampling encoder, EMA codebook, transposed-conv decoder.

    A ``[C, 32, 32]`` image becomes an 8x8 grid of code indices (64 positions, each one of
    ``num_codes`` codes), so ``grid = Grid.categorical(64, 512)`` by default: the paper's VQ-VAE
    stimulus space. Inputs are images in [0, 1] (shifted to [-0.5, 0.5] inside); outputs are
    sigmoid images in [0, 1]. The codebook changes only in training mode.

    Args:
        in_channels: image channels (also the output channels).
        image_size: image side, a multiple of 4.
        hidden: channels of the encoder/decoder trunk (even).
        res_hidden: channels inside the residual units.
        res_layers: residual units per stack.
        num_codes: codebook size (grid points per position).
        code_dim: code dimension.
        commitment: weight of the commitment loss.
        ema_decay: EMA decay of the codebook update.

    Raises:
        ValueError: ``image_size`` not a positive multiple of 4, odd ``hidden``, bad ``ema_decay``.

    Example:
        >>> vq = VQVAE(image_size=16, hidden=16, res_hidden=8, num_codes=32, code_dim=8).eval()
        >>> index = vq.encode(torch.rand(2, 3, 16, 16)); index.shape
        torch.Size([2, 16])
        >>> vq.decode(index).shape
        torch.Size([2, 3, 16, 16])
    """

    def __init__(self, in_channels: int = 3, image_size: int = 32, hidden: int = 128, res_hidden: int = 32,
                 res_layers: int = 2, num_codes: int = 512, code_dim: int = 64, commitment: float = 0.25,
                 ema_decay: float = 0.99):
        super().__init__()
        if image_size < 4 or image_size % 4:
            raise ValueError(f"VQVAE image_size must be a positive multiple of 4 (the encoder down-samples 4x), "
                             f"got {image_size}")
        if hidden < 2 or hidden % 2:
            raise ValueError(f"hidden must be an even number >= 2, got {hidden}")
        self.in_channels = in_channels
        self.out_channels = in_channels
        self.image_size = image_size
        self.latent_side = image_size // 4
        self.latent_positions = self.latent_side ** 2
        self.num_codes = num_codes
        self.code_dim = code_dim
        self.hidden = hidden
        self.res_hidden = res_hidden
        self.res_layers = res_layers
        self.commitment = commitment
        self.ema_decay = ema_decay
        self._grid = Grid.categorical(self.latent_positions, num_codes)

        self.encoder = nn.Sequential(
            nn.Conv2d(in_channels, hidden // 2, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(hidden // 2, hidden, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(hidden, hidden, 3, padding=1),
            ResidualStack(hidden, res_hidden, res_layers),
        )
        self.pre_quantization = nn.Conv2d(hidden, code_dim, 1)
        self.quantizer = EMAVectorQuantizer(num_codes, code_dim, commitment, ema_decay)
        self.decoder = nn.Sequential(
            nn.Conv2d(code_dim, hidden, 3, padding=1),
            ResidualStack(hidden, res_hidden, res_layers),
            nn.ConvTranspose2d(hidden, hidden // 2, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(hidden // 2, in_channels, 4, stride=2, padding=1),
            nn.Sigmoid(),
        )

    @property
    def grid(self) -> Grid:
        """The code grid: ``latent_positions`` positions, each choosing one of ``num_codes`` codes."""
        return self._grid

    def _latents(self, x: Tensor) -> Tensor:
        check_images(x, self.in_channels, type(self).__name__)
        if tuple(x.shape[-2:]) != (self.image_size, self.image_size):
            raise ValueError(f"VQVAE was built for {self.image_size}x{self.image_size} images, got "
                             f"{tuple(x.shape[-2:])}; resize the images or build it with image_size={x.shape[-1]}")
        return self.pre_quantization(self.encoder(x - 0.5))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Images in [0, 1] -> (reconstruction in [0, 1], commitment loss, codebook perplexity)."""
        quantized, vq_loss, perplexity, _ = self.quantizer(self._latents(x))
        return self.decoder(quantized), vq_loss, perplexity

    def encode(self, x: Tensor) -> Tensor:
        """Images ``[N, C, H, W]`` in [0, 1] -> code indices ``LongTensor[N, latent_positions]`` (row-major)."""
        latents = self._latents(x)
        flat = latents.permute(0, 2, 3, 1).reshape(-1, self.code_dim)
        return self.quantizer.nearest_code(flat.detach()).view(x.shape[0], self.latent_positions)

    def latents(self, index: Tensor) -> Tensor:
        """The code vectors of ``index [N, latent_positions]``, flattened: ``[N, latent_positions * code_dim]``
        (what distances between stimuli are measured in; code numbers themselves are arbitrary)."""
        self._grid.check_index(index)
        codes = self.quantizer.lookup(index.reshape(-1, self.latent_positions).to(self.quantizer.codebook.device))
        return codes.reshape(index.reshape(-1, self.latent_positions).shape[0], -1)

    def grid_features(self) -> Tensor:
        """What each code number stands for: the codebook, float64 ``[num_codes, code_dim]`` (the same
        table at every position), detached. A :class:`~mango_pl.stimuli.GeneratorSpace` hands it to
        searchers that model a unit's response on it (``space.grid_features()``, a ``GridFeatures``)."""
        return self.quantizer.codebook.detach().double()

    def decode(self, index: Tensor) -> Tensor:
        """Code indices ``LongTensor[..., latent_positions]`` (any device; e.g. ``[N, 64]``) -> images
        ``[..., C, H, W]`` in [0, 1], on the model's device."""
        self._grid.check_index(index)
        lead = index.shape[:-1]
        codes = self.quantizer.lookup(index.reshape(-1, self.latent_positions).to(self.quantizer.codebook.device))
        side = self.latent_side
        codes = codes.view(-1, side, side, self.code_dim).permute(0, 3, 1, 2)
        images = self.decoder(codes.contiguous())
        return images.view(*lead, *images.shape[1:])
