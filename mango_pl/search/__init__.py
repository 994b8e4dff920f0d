"""Black-box maximizers over a discrete grid (no torch.nn, no Lightning in here)."""

from mango_pl.search.grid import Grid, qtt_bits, qtt_decode, qtt_encode

__all__ = ["Grid", "qtt_bits", "qtt_decode", "qtt_encode"]
