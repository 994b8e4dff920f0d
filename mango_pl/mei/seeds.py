"""The seed of each unit's search, the same everywhere (callback, ``mango-pl search``, ``mango-pl loop``,
benchmarks); it lives in :mod:`mango_pl.search.seeding` (the loop uses it without loading the engine)."""

from mango_pl.search.seeding import unit_seeds

__all__ = ["unit_seeds"]
