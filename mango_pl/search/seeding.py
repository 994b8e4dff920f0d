"""Per-problem seeds and per-problem random generators, so no problem depends on its batch.

A search over ``P`` problems gives problem ``p`` its own seed, so its trajectory depends on that
seed only and never on how many other problems share the batch (units of a layer may be sharded
over ranks and must give identical results):

* an ``int`` seed ``s`` gives problem ``p`` the seed sequence ``SeedSequence(s, spawn_key=(p,))``;
* a sequence of ``P`` entries gives problem ``p`` the ``p``-th entry, where an ``int`` ``s`` stands
  for ``SeedSequence(s, spawn_key=(0,))`` (what problem 0 of a search seeded with ``s`` gets, so a
  problem searched alone with seed ``s`` equals the same problem in a batch with ``[..., s, ...]``)
  and a ``SeedSequence`` is used as it is (``problem_seeds(s, P)[a:b]`` reproduces problems
  ``a..b-1`` of a search seeded with ``s``).

``ProblemGenerators`` holds one numpy generator per problem, seeded with its seed sequence.
``unit_seeds`` gives each unit of a layer (each recorded cell of a closed loop) the int seed of its
search, the same everywhere (callback, ``mango-pl search``, ``mango-pl loop``, benchmarks).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from mango_pl.checks import check_non_negative_int

SeedLike = int | np.random.SeedSequence
Seeds = SeedLike | Sequence[SeedLike]


def problem_seeds(seed: Seeds, problems: int) -> list[np.random.SeedSequence]:
    """One ``numpy.random.SeedSequence`` per problem (see the module docstring for the rule).

    Args:
        seed: an ``int``, or a sequence of ``problems`` ints / ``SeedSequence`` objects.
        problems: number of problems ``P``.

    Raises:
        ValueError: a negative seed, or a sequence whose length is not ``problems``.
        TypeError: a seed that is neither an int nor a ``SeedSequence``.

    Example:
        >>> [s.spawn_key for s in problem_seeds(7, 3)]
        [(0,), (1,), (2,)]
    """
    if isinstance(seed, np.random.SeedSequence):
        seed = [seed]
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        base = check_non_negative_int("seed", seed, hint="or a numpy SeedSequence; e.g. abs(seed)")
        return [np.random.SeedSequence(base, spawn_key=(p,)) for p in range(problems)]
    if isinstance(seed, (str, bytes)) or not isinstance(seed, Sequence):
        raise TypeError(f"seed must be an int or a sequence of {problems} ints, got {type(seed).__name__}")
    if len(seed) != problems:
        raise ValueError(f"seed is a sequence of {len(seed)} entries but there are problems={problems}; "
                         f"give one seed per problem or a single int")
    out = []
    for p, entry in enumerate(seed):
        if isinstance(entry, np.random.SeedSequence):
            out.append(entry)
        else:
            entry = check_non_negative_int(f"seed[{p}]", entry, hint="or a numpy SeedSequence; e.g. abs(seed)")
            out.append(np.random.SeedSequence(entry, spawn_key=(0,)))
    return out


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


def seed_int(seq: np.random.SeedSequence, bits: int = 32) -> int:
    """A plain non-negative integer seed of ``bits`` (32 or 64) bits drawn from ``seq``."""
    dtype = {32: np.uint32, 64: np.uint64}[bits]
    return int(seq.generate_state(1, dtype)[0])


class ProblemGenerators:
    """One numpy ``Generator`` (PCG64) per problem, seeded with the problem's ``SeedSequence``.

    Draws are made per problem and stacked, so problem ``p``'s numbers depend on its seed only,
    never on how many problems share the batch; they are made on the CPU and moved to ``device``.

    Args:
        seqs: one ``SeedSequence`` per problem.
        device: where the numbers are put.

    Example:
        >>> gens = ProblemGenerators(problem_seeds(0, 2))
        >>> gens.uniform(3).shape
        torch.Size([2, 3])
    """

    def __init__(self, seqs: Sequence[np.random.SeedSequence], device: torch.device | str | None = None):
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.generators = [np.random.default_rng(s) for s in seqs]

    def uniform(self, *shape: int, dtype: torch.dtype = torch.float64) -> Tensor:
        """The next ``[P, *shape]`` uniform numbers in ``[0, 1)``."""
        np_dtype = np.float32 if dtype == torch.float32 else np.float64
        draws = [g.random(shape, dtype=np_dtype) for g in self.generators]
        draws = draws[0][None] if len(draws) == 1 else np.stack(draws)
        return torch.from_numpy(draws).to(self.device, dtype)

    def normal(self, *shape: int) -> Tensor:
        """The next ``[P, *shape]`` standard normal numbers (float64)."""
        draws = np.stack([g.standard_normal(shape) for g in self.generators])
        return torch.from_numpy(draws).to(self.device)

    def integers(self, high: int, *shape: int, rows: Sequence[int] | None = None) -> Tensor:
        """The next ``[P, *shape]`` integers uniform in ``0 .. high-1`` (``rows``: only those problems
        draw, ``[len(rows), *shape]``; the others' streams are left where they are)."""
        generators = self.generators if rows is None else [self.generators[r] for r in rows]
        draws = np.stack([g.integers(0, high, size=shape, dtype=np.int64) for g in generators])
        return torch.from_numpy(draws).to(self.device)
