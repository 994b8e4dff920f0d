"""Train an SN-GAN (hinge loss, ``n_dis`` discriminator steps per generator step) on images in [0, 1]."""

from __future__ import annotations

import torch
from lightning.pytorch import LightningModule
from torch import Tensor

from mango_pl.checks import check_number, check_positive_int, check_positive_number
from mango_pl.lit.image_logging import log_image_grid
from mango_pl.models.state import eval_mode
from mango_pl.models import SNGANDiscriminator, SNGANGenerator, hinge_d_loss, hinge_g_loss


class SNGANModule(LightningModule):
    """SN-GAN training with manual optimization; the generator is ``self.generator``.

    Real images come from any mango-pl datamodule in [0, 1]; fakes are ``generator.generate(z)``,
    also in [0, 1] (the generator's tanh output rescaled); the discriminator maps both to [-1, 1]
    itself. Each training batch is one discriminator
    step; every ``n_dis``-th discriminator step is followed by one generator step. Logs
    ``train/d_loss``, ``train/g_loss`` and, each ``sample_every_n_epochs`` epochs, a grid of
    samples from a fixed latent batch (seed ``sample_seed``) as ``samples`` to TensorBoard/W&B.
    ``mango_pl.models.checkpoint.load_generator`` reads the trained generator back from the
    checkpoint without Lightning.

    Args:
        latent_dim: generator latent size (paper: 128).
        channels: generator width (paper: 256).
        bottom: side of the generator's first feature map.
        out_channels: image channels (1 gray, 3 RGB).
        image_size: image side (the data must deliver the same).
        disc_channels: discriminator width (paper: 128).
        grid_points: points per latent dimension of the search grid (paper: 64).
        grid_range: the grid spans ``[-grid_range, grid_range]`` (paper: 4).
        lr_g: generator learning rate (Adam).
        lr_d: discriminator learning rate (Adam).
        betas: Adam betas of both optimizers.
        n_dis: discriminator steps per generator step (paper: 5).
        num_samples: images in the logged sample grid.
        sample_seed: seed of the fixed latent batch of the sample grid.
        sample_every_n_epochs: how often the grid is logged.

    Raises:
        ValueError: for out-of-range arguments.

    Example:
        >>> gan = SNGANModule(latent_dim=16, channels=32, out_channels=1, image_size=16, disc_channels=16, n_dis=2)
        >>> gan.generator(torch.randn(4, 16)).shape
        torch.Size([4, 1, 16, 16])
    """

    def __init__(
        self,
        latent_dim: int = 128,
        channels: int = 256,
        bottom: int = 4,
        out_channels: int = 3,
        image_size: int = 32,
        disc_channels: int = 128,
        grid_points: int = 64,
        grid_range: float = 4.0,
        lr_g: float = 2e-4,
        lr_d: float = 2e-4,
        betas: tuple[float, float] = (0.0, 0.9),
        n_dis: int = 5,
        num_samples: int = 64,
        sample_seed: int = 0,
        sample_every_n_epochs: int = 1,
    ) -> None:
        super().__init__()
        check_positive_int("n_dis", n_dis, hint="discriminator steps per generator step")
        check_positive_number("lr_g", lr_g, hint="the generator's learning rate")
        check_positive_number("lr_d", lr_d, hint="the discriminator's learning rate")
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas must be two numbers in [0, 1) (Adam), got {betas!r}.")
        for i, beta in enumerate(betas):
            check_number(f"betas[{i}]", beta, 0, 1, open_high=True, hint="Adam")
        check_positive_int("num_samples", num_samples, hint="images in the logged sample grid")
        check_positive_int("sample_every_n_epochs", sample_every_n_epochs)
        self.save_hyperparameters()
        self.automatic_optimization = False
        generator_kwargs = dict(latent_dim=latent_dim, channels=channels, bottom=bottom, out_channels=out_channels,
                                image_size=image_size, grid_points=grid_points, grid_range=grid_range)
        self.generator = SNGANGenerator(**generator_kwargs)
        self.generator.init_kwargs = generator_kwargs  # read by mango_pl.models.checkpoint.save_generator
        self.discriminator = SNGANDiscriminator(in_channels=out_channels, channels=disc_channels, image_size=image_size)
        latents = torch.randn(num_samples, latent_dim, generator=torch.Generator().manual_seed(sample_seed))
        self.register_buffer("sample_latents", latents, persistent=False)
        self.d_steps = 0

    def forward(self, z: Tensor) -> Tensor:
        """Latents ``[B, latent_dim]`` -> images ``[B, C, H, W]`` in [-1, 1]."""
        return self.generator(z)

    def _latents(self, n: int) -> Tensor:
        return torch.randn(n, self.hparams.latent_dim, device=self.device)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        real = batch[0] if isinstance(batch, (tuple, list)) else batch
        opt_g, opt_d = self.optimizers()

        with torch.no_grad():
            fake = self.generator.generate(self._latents(len(real)))
        d_loss = hinge_d_loss(self.discriminator(real), self.discriminator(fake))
        opt_d.zero_grad(set_to_none=True)
        self.manual_backward(d_loss)
        opt_d.step()
        self.d_steps += 1
        self.log("train/d_loss", d_loss.detach(), prog_bar=True, batch_size=len(real))

        if self.d_steps % self.hparams.n_dis == 0:
            g_loss = hinge_g_loss(self.discriminator(self.generator.generate(self._latents(len(real)))))
            opt_g.zero_grad(set_to_none=True)
            self.manual_backward(g_loss)
            opt_g.step()
            self.log("train/g_loss", g_loss.detach(), prog_bar=True, batch_size=len(real))

    @torch.no_grad()
    def sample_images(self) -> Tensor:
        """The fixed-latent sample batch, ``[num_samples, C, H, W]`` in [0, 1] (generator in eval mode)."""
        with eval_mode(self.generator):
            return self.generator.generate(self.sample_latents).clamp(0.0, 1.0)

    def on_train_epoch_end(self) -> None:
        if (self.current_epoch + 1) % self.hparams.sample_every_n_epochs == 0:
            log_image_grid(self, "samples", self.sample_images())

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["sngan_d_steps"] = self.d_steps

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.d_steps = int(checkpoint.get("sngan_d_steps", 0))

    def configure_optimizers(self):
        hp = self.hparams
        opt_g = torch.optim.Adam(self.generator.parameters(), lr=hp.lr_g, betas=tuple(hp.betas))
        opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=hp.lr_d, betas=tuple(hp.betas))
        return [opt_g, opt_d]
