"""Train a VQ-VAE (reconstruction MSE + vector-quantization loss) on images in [0, 1]."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from lightning.pytorch import LightningModule
from torch import Tensor

from mango_pl.checks import check_number, check_positive_int, check_positive_number
from mango_pl.lit.image_logging import log_image_grid
from mango_pl.models.state import eval_mode
from mango_pl.models import VQVAE


class VQVAEModule(LightningModule):
    """VQ-VAE training; the network is ``self.vqvae``.

    Loss = MSE(reconstruction, image) + the VQ loss (commitment; the codebook follows an EMA).
    Dead codes are restarted: after every training step, each code whose EMA usage count
    (``quantizer.cluster_size``, vectors per batch) is below ``dead_code_threshold`` is moved onto a
    random encoder output of the batch (the same choice on every rank). At the first step every
    code is dead, so this also initializes the codebook from data; without it the EMA codebook
    collapses onto a couple of codes. Logs ``{train,val}/loss``, ``/recon_loss``, ``/vq_loss``,
    ``/perplexity`` (codebook usage), ``train/dead_codes`` and, each epoch, a grid
    ``reconstructions`` whose odd rows are inputs and even rows their outputs.
    ``mango_pl.models.checkpoint.load_generator`` reads the trained VQ-VAE back without Lightning.

    Args:
        in_channels: image channels.
        image_size: image side.
        hidden: encoder/decoder width.
        res_hidden: width inside the residual blocks.
        res_layers: residual blocks per stack.
        num_codes: codebook size (paper: 512).
        code_dim: code vector size (paper: 64).
        commitment: commitment-loss weight.
        ema_decay: codebook EMA decay (0 = codebook learned by gradient).
        lr: Adam learning rate.
        num_logged: images in the logged reconstruction grid.
        dead_code_threshold: restart codes used less than this many times per batch (EMA); 0 = never.

    Raises:
        ValueError: for out-of-range arguments.

    Example:
        >>> module = VQVAEModule(in_channels=1, image_size=16, hidden=16, res_hidden=8, num_codes=32, code_dim=8)
        >>> recon, vq_loss, perplexity = module(torch.rand(2, 1, 16, 16))
        >>> recon.shape
        torch.Size([2, 1, 16, 16])
    """

    def __init__(
        self,
        in_channels: int = 3,
        image_size: int = 32,
        hidden: int = 128,
        res_hidden: int = 32,
        res_layers: int = 2,
        num_codes: int = 512,
        code_dim: int = 64,
        commitment: float = 0.25,
        ema_decay: float = 0.99,
        lr: float = 2e-4,
        num_logged: int = 16,
        dead_code_threshold: float = 1.0,
    ) -> None:
        super().__init__()
        check_positive_number("lr", lr, hint="the learning rate")
        check_number("dead_code_threshold", dead_code_threshold, 0, hint="0 = never restart codes")
        check_positive_int("num_logged", num_logged, hint="reconstructions in the logged grid")
        self.save_hyperparameters()
        vqvae_kwargs = dict(in_channels=in_channels, image_size=image_size, hidden=hidden, res_hidden=res_hidden,
                            res_layers=res_layers, num_codes=num_codes, code_dim=code_dim, commitment=commitment,
                            ema_decay=ema_decay)
        self.vqvae = VQVAE(**vqvae_kwargs)
        self.vqvae.init_kwargs = vqvae_kwargs  # read by mango_pl.models.checkpoint.save_generator
        self._logged_inputs: Tensor | None = None
        self._encoded: Tensor | None = None
        self.vqvae.quantizer.register_forward_hook(self._keep_encoder_output)

    def _keep_encoder_output(self, quantizer, inputs, output) -> None:
        if quantizer.training:
            self._encoded = inputs[0].detach()

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Images in [0, 1] -> ``(reconstruction, vq_loss, perplexity)``."""
        return self.vqvae(images)

    def _step(self, batch, stage: str) -> Tensor:
        images = batch[0] if isinstance(batch, (tuple, list)) else batch
        recon, vq_loss, perplexity = self.vqvae(images)
        recon_loss = F.mse_loss(recon, images)
        loss = recon_loss + vq_loss
        n = len(images)
        on_step = stage == "train"
        self.log(f"{stage}/loss", loss, on_step=on_step, on_epoch=True, prog_bar=True, batch_size=n)
        self.log(f"{stage}/recon_loss", recon_loss, on_step=on_step, on_epoch=True, batch_size=n)
        self.log(f"{stage}/vq_loss", vq_loss, on_step=on_step, on_epoch=True, batch_size=n)
        self.log(f"{stage}/perplexity", perplexity, on_step=on_step, on_epoch=True, batch_size=n)
        return loss

    def training_step(self, batch, batch_idx: int) -> Tensor:
        if self._logged_inputs is None:
            images = batch[0] if isinstance(batch, (tuple, list)) else batch
            self._logged_inputs = images[: self.hparams.num_logged].detach().clone()
        loss = self._step(batch, "train")
        if self.hparams.dead_code_threshold > 0 and self._encoded is not None:
            dead = self.restart_dead_codes(self._encoded, self.hparams.dead_code_threshold)
            self.log("train/dead_codes", float(dead), on_step=True, on_epoch=False)
        self._encoded = None
        return loss

    @torch.no_grad()
    def restart_dead_codes(self, encoded: Tensor, threshold: float) -> int:
        """Move every code with EMA usage below ``threshold`` onto a random vector of ``encoded``
        (``[N, code_dim, h, w]`` encoder outputs); returns how many codes were restarted."""
        quantizer = self.vqvae.quantizer
        dead = quantizer.cluster_size < threshold
        count = int(dead.sum())
        if count == 0:
            return 0
        flat = encoded.permute(0, 2, 3, 1).reshape(-1, quantizer.code_dim)
        picks = flat[torch.randint(0, len(flat), (count,), device=flat.device)]
        if self._trainer is not None and self.trainer.world_size > 1:
            picks = self.trainer.strategy.broadcast(picks, src=0)  # identical codebooks on every rank
        quantizer.codebook[dead] = picks
        quantizer.cluster_size[dead] = threshold
        quantizer.embed_sum[dead] = picks * threshold
        return count

    def validation_step(self, batch, batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch, batch_idx: int) -> None:
        self._step(batch, "test")

    @torch.no_grad()
    def reconstruction_grid_images(self, images: Tensor, nrow: int = 8) -> Tensor:
        """Rows of ``nrow`` inputs each followed by a row of their reconstructions (eval mode), in [0, 1]."""
        with eval_mode(self.vqvae):
            recon = self.vqvae(images.to(self.device))[0].clamp(0.0, 1.0)
        rows = []
        for start in range(0, len(images), nrow):
            rows += [images[start:start + nrow].to(recon.device), recon[start:start + nrow]]
        return torch.cat(rows)

    def on_train_epoch_end(self) -> None:
        if self._logged_inputs is not None:
            log_image_grid(self, "reconstructions", self.reconstruction_grid_images(self._logged_inputs))

    def configure_optimizers(self):
        return torch.optim.Adam(self.vqvae.parameters(), lr=self.hparams.lr)
