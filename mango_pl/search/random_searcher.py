"""Uniform random search: the baseline every method must beat."""

from __future__ import annotations

import torch
from torch import Tensor

from mango_pl.checks import check_positive_int
from mango_pl.search.base import Searcher
from mango_pl.search.seeding import ProblemGenerators, Seeds


class RandomSearcher(Searcher):
    """Proposes ``k`` uniformly random grid points per problem and step.

    Each problem draws from its own generator, so its points depend only on its seed,
    not on the batch.

    Args:
        d, n, problems, seed, device, budget: see ``Searcher``.
        k: points per ask.

    Example:
        >>> s = RandomSearcher(d=3, n=5, problems=2, k=4)
        >>> s.ask().shape
        torch.Size([2, 4, 3])
    """

    method = "random"
    supports_shared = True

    def __init__(self, d: int, n: int, problems: int = 1, seed: Seeds = 0,
                 device: torch.device | str | None = None, budget: int | None = None, *, k: int = 100):
        super().__init__(d, n, problems, seed, device, budget)
        self.k = check_positive_int("option k", k)
        self.options = dict(k=self.k)
        self._rng = ProblemGenerators(self.seeds, self.device)
        self._shared_rng: ProblemGenerators | None = None

    def _ask(self) -> Tensor:
        return self._rng.integers(self.n, self.k, self.d)

    def _tell(self, index: Tensor, values: Tensor) -> None:
        """Random search learns nothing from the values."""

    def _ask_shared(self) -> Tensor:
        if self._shared_rng is None:  # population mode: one stream, seeded like problem 0
            self._shared_rng = ProblemGenerators(self.seeds[:1], self.device)
        return self._shared_rng.integers(self.n, self.k, self.d)[0]

    def _tell_shared(self, index: Tensor, values: Tensor) -> None:
        """Random search learns nothing from the values."""
