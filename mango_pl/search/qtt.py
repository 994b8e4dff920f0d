"""The binary "QTT" re-indexing of grid modes, for searchers that quantize (``qtt=True``).

Quantized ("QTT") search sees each mode of size ``n = 2**q`` as ``q`` binary modes, so a grid of
``d`` modes of size ``n`` becomes one of ``d*q`` modes of size 2. ``qtt_encode`` / ``qtt_decode``
convert between the two; the most significant bit comes first.
"""

from __future__ import annotations

import torch
from torch import Tensor


def qtt_bits(n: int) -> int:
    """Number of binary modes ``q`` with ``2**q == n``; a clear error if ``n`` is not a power of 2."""
    if n < 2 or n & (n - 1):
        raise ValueError(
            f"QTT quantization needs a mode size that is a power of two (2, 4, ..., 64, ...), got n={n}. "
            "Use a grid with n = 2**q points per dimension, or turn QTT off (qtt=False)."
        )
    return n.bit_length() - 1


def qtt_encode(index: Tensor, n: int) -> Tensor:
    """``index[..., d]`` in ``{0..n-1}`` -> bits ``[..., d*q]`` in ``{0, 1}``, most significant first."""
    q = qtt_bits(n)
    shifts = torch.arange(q - 1, -1, -1, device=index.device)
    bits = (index.long().unsqueeze(-1) >> shifts) & 1
    return bits.flatten(-2)


def qtt_decode(bits: Tensor, n: int) -> Tensor:
    """Bits ``[..., d*q]`` (most significant first) -> ``index[..., d]`` in ``{0..n-1}``."""
    q = qtt_bits(n)
    if bits.shape[-1] % q:
        raise ValueError(f"{bits.shape[-1]} binary modes do not split into groups of q={q} for n={n}")
    weights = 2 ** torch.arange(q - 1, -1, -1, device=bits.device)
    return (bits.long().unflatten(-1, (-1, q)) * weights).sum(-1)
