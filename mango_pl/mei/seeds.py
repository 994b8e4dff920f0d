"""The seed of each unit's search, the same everywhere (callback, ``mango-pl search``, benchmarks)."""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np


def unit_seeds(seed: int, epoch: int, layer: str, units: Sequence[int], repeat: int = 0, part: int = 0) -> list[int]:
    """Seed of each unit's search: a function of ``(seed, epoch, layer, unit, repeat, part)`` only,
    never of which other units or ranks share the search, so a sharded search equals an unsharded
    one and a state searched after training equals the same state searched during it (``part``:
    the search of the unit's ``part``-th extra optimum).

    Example:
        >>> unit_seeds(0, 3, "sn1", [0, 1]) == unit_seeds(0, 3, "sn1", [1, 0])[::-1]
        True
    """
    layer_key = zlib.crc32(layer.encode())
    extra = [repeat, part] if part else ([repeat] if repeat else [])
    return [int(np.random.SeedSequence([seed, epoch, layer_key, int(u), *extra]).generate_state(1)[0])
            for u in units]
