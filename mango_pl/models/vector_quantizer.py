"""Vector quantizer with an exponential-moving-average (EMA) codebook (VQ-VAE / VQ-VAE-2)."""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from mango_pl.checks import check_int, check_number, check_positive_int


class EMAVectorQuantizer(nn.Module):
    """Nearest-code quantization of ``[N, code_dim, h, w]`` features with an EMA-updated codebook.

    In training mode every forward moves the codebook towards the mean of the encoder outputs
    assigned to each code: ``cluster_size`` and ``embed_sum`` are EMAs (``decay``) of the per-code
    counts and sums, the counts get Laplace smoothing (``eps``), and ``codebook = embed_sum /
    cluster_size``. Under ``torch.distributed`` the counts and sums are summed over all ranks
    first, so every rank keeps the same codebook. In eval mode the codebook does not change. The
    codebook receives no gradient; the encoder gets the straight-through gradient plus the
    commitment loss ``commitment * ||z - sg(q)||^2``.

    Args:
        num_codes: codebook size K.
        code_dim: code dimension D.
        commitment: weight of the commitment loss.
        decay: EMA decay in (0, 1).
        eps: Laplace smoothing of the cluster sizes.

    Raises:
        ValueError: ``decay`` outside (0, 1), ``num_codes < 2`` or ``code_dim < 1``.

    Example:
        >>> vq = EMAVectorQuantizer(num_codes=16, code_dim=4)
        >>> q, loss, perplexity, index = vq(torch.randn(2, 4, 3, 3))
        >>> q.shape, index.shape
        (torch.Size([2, 4, 3, 3]), torch.Size([2, 9]))
    """

    def __init__(self, num_codes: int = 512, code_dim: int = 64, commitment: float = 0.25, decay: float = 0.99,
                 eps: float = 1e-5):
        super().__init__()
        check_number("ema_decay", decay, 0, 1, open_low=True, open_high=True, hint="e.g. 0.99")
        check_int("num_codes", num_codes, 2)
        check_positive_int("code_dim", code_dim)
        self.num_codes = num_codes
        self.code_dim = code_dim
        self.commitment = commitment
        self.decay = decay
        self.eps = eps
        codebook = torch.randn(num_codes, code_dim)
        self.register_buffer("codebook", codebook)
        self.register_buffer("cluster_size", torch.zeros(num_codes))
        self.register_buffer("embed_sum", codebook.clone())

    def nearest_code(self, flat: Tensor) -> Tensor:
        """``[M, code_dim]`` vectors -> index ``[M]`` of the nearest code (squared Euclidean distance)."""
        distances = (flat.pow(2).sum(1, keepdim=True) - 2.0 * flat @ self.codebook.t()
                     + self.codebook.pow(2).sum(1))
        return distances.argmin(1)

    def lookup(self, index: Tensor) -> Tensor:
        """Code indices ``[...]`` -> code vectors ``[..., code_dim]``."""
        return F.embedding(index.long(), self.codebook)

    @torch.no_grad()
    def _ema_update(self, flat: Tensor, one_hot: Tensor) -> None:
        counts = one_hot.sum(0)
        sums = one_hot.t() @ flat
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(counts)
            dist.all_reduce(sums)
        self.cluster_size.mul_(self.decay).add_(counts, alpha=1.0 - self.decay)
        self.embed_sum.mul_(self.decay).add_(sums, alpha=1.0 - self.decay)
        total = self.cluster_size.sum()
        smoothed = (self.cluster_size + self.eps) / (total + self.num_codes * self.eps) * total
        self.codebook.copy_(self.embed_sum / smoothed.unsqueeze(1))

    def forward(self, z: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``z [N, D, h, w]`` -> (quantized ``[N, D, h, w]`` (straight-through), commitment loss,
        perplexity of the code usage in this batch, index ``[N, h*w]``)."""
        n, d, h, w = z.shape
        if d != self.code_dim:
            raise ValueError(f"expected features with code_dim={self.code_dim} channels, got {d}")
        flat = z.permute(0, 2, 3, 1).reshape(-1, d)
        index = self.nearest_code(flat.detach())
        quantized = self.lookup(index)
        one_hot = F.one_hot(index, self.num_codes).to(flat.dtype)
        if self.training:
            self._ema_update(flat.detach(), one_hot)
        loss = self.commitment * F.mse_loss(flat, quantized.detach())
        quantized = flat + (quantized - flat).detach()
        usage = one_hot.mean(0)
        perplexity = torch.exp(-(usage * torch.log(usage + 1e-10)).sum())
        quantized = quantized.view(n, h, w, d).permute(0, 3, 1, 2).contiguous()
        return quantized, loss, perplexity, index.view(n, h * w)
