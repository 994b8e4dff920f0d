"""Diversity of one unit's MEIs across search methods: mean pairwise latent distance (paper Fig. 11)."""

from __future__ import annotations

import torch
from torch import Tensor

from mango_pl.analysis._checks import check_ndim, check_nonempty, check_tensor


def latent_diversity(latents: Tensor) -> tuple[Tensor, Tensor]:
    """Mean pairwise Euclidean and cosine distance between the M methods' MEI latents of each unit.

    For each unit, over the ``M·(M-1)/2`` pairs ``i < j`` of methods: the mean of
    ``||z_i - z_j||_2`` and the mean of ``1 - cos(z_i, z_j)`` (cosine distance, in [0, 2]). With
    M = 1 both are 0. A zero-norm latent has cosine similarity 0 to everything (distance 1), the
    ``torch.nn.functional.cosine_similarity`` convention. Computed in float64.

    Args:
        latents: ``[M, U, D]`` latent vector of each method's MEI for each unit (integer code
            indices are accepted and treated as numbers).

    Returns:
        ``(euclidean, cosine)``, two tensors ``[U]`` (float dtype of ``latents``, float32 for
        integer input).

    Raises:
        TypeError: ``latents`` is not a tensor.
        ValueError: not 3-dimensional, empty, a bool/complex dtype, or NaN/inf.

    Example:
        >>> z = torch.tensor([[[1.0, 0.0]], [[0.0, 1.0]]])  # M=2 methods, U=1 unit, D=2
        >>> latent_diversity(z)
        (tensor([1.4142]), tensor([1.]))
    """
    check_tensor(latents, "latents")
    check_ndim(latents, 3, "latents", "[M methods, U units, D latent dims]")
    check_nonempty(latents, "latents")
    if latents.dtype == torch.bool or latents.is_complex():
        raise ValueError(f"latents must be a real float or integer tensor, got dtype {latents.dtype}.")
    out_dtype = latents.dtype if latents.is_floating_point() else torch.float32
    z = latents.to(torch.float64)
    if not torch.isfinite(z).all():
        raise ValueError("latents contains NaN or inf.")
    m, u, _ = z.shape
    if m < 2:
        zeros = torch.zeros(u, dtype=out_dtype, device=latents.device)
        return zeros, zeros.clone()
    i, j = torch.triu_indices(m, m, offset=1, device=latents.device)
    euclidean = (z[i] - z[j]).norm(dim=-1).mean(dim=0)
    cosine = (1.0 - torch.nn.functional.cosine_similarity(z[i], z[j], dim=-1)).mean(dim=0)
    return euclidean.to(out_dtype), cosine.to(out_dtype)
