"""One random stream for every problem of a population-mode search."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import Tensor


class PooledGenerator:
    """``ProblemGenerators``' draws for ``problems`` problems from one stream, in one call each.

    For population mode, where every problem is told every stimulus and so never was independent
    of the others: ``P`` streams cost a numpy call per problem and draw, one stream a call per draw
    (with 64 units, most of what breeding children cost).

    Example:
        >>> PooledGenerator(np.random.SeedSequence(0), 4).normal(2, 3).shape
        torch.Size([4, 2, 3])
    """

    def __init__(self, seq: np.random.SeedSequence, problems: int, device: torch.device | str | None = None):
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.problems = problems
        self.generator = np.random.default_rng(seq)

    def uniform(self, *shape: int, dtype: torch.dtype = torch.float64) -> Tensor:
        np_dtype = np.float32 if dtype == torch.float32 else np.float64
        return torch.from_numpy(self.generator.random((self.problems, *shape), dtype=np_dtype)).to(self.device, dtype)

    def normal(self, *shape: int) -> Tensor:  # drawn in float32 (twice as fast), returned in float64
        draws = self.generator.standard_normal((self.problems, *shape), dtype=np.float32)
        return torch.from_numpy(draws).to(self.device, torch.float64)

    def integers(self, high: int, *shape: int, rows: Sequence[int] | None = None) -> Tensor:
        count = self.problems if rows is None else len(rows)
        draws = self.generator.integers(0, high, size=(count, *shape), dtype=np.int64)
        return torch.from_numpy(draws).to(self.device)
