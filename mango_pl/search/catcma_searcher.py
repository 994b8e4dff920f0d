"""``catcma``: CatCMA (Hamano et al., GECCO 2024) on the grid seen as ``d`` categorical variables.

CatCMA (R. Hamano, S. Saito, M. Nomura, K. Uchida, S. Shirakawa, "CatCMA: Stochastic Optimization
for Mixed-Category Problems", GECCO 2024, arXiv:2405.09962) samples mixed continuous/categorical
points from the product of a Gaussian (adapted as in CMA-ES) and one categorical distribution per
categorical variable, adapted by the natural gradient with an adaptive step (ASNG, Akimoto et al.
2019) and a margin: every category keeps a probability of at least
``(1 - 0.73 ** (1 / d)) / (n - 1)``, so no value is lost for good. Here every grid coordinate is a
categorical variable of ``n`` categories (a VQ-VAE code: the values have no order), and there are
no continuous variables.

The implementation is the ``cmaes`` package's. ``cmaes.CatCMA`` insists on at least two
continuous variables (``assert cont_dim > 1``), so this searcher uses the package's
mixed-variable class ``cmaes.CatCMAwM`` (its successor, Hamano et al. 2025, arXiv:2504.07884)
with categorical variables only (``c_space = [n] * d``): with no continuous or integer
variable it has no Gaussian and runs exactly CatCMA's categorical part — the same positive
weights on the better half, the same ASNG update, the same margin — and the same default
population ``4 + floor(3 ln d)``.

Each problem runs its own optimizer, seeded from the problem's seed (its random numbers come from
its own ``numpy.random.RandomState``, so problems are independent of their batch and the global
``numpy.random`` is left alone). ``ask()`` returns a generation ``[P, popsize, d]``: each sampled
one-hot matrix as its category indices. The optimizer minimizes, so it is told the values negated,
once the whole generation is told: a ``tell`` of only the first ``K'`` points (the budget ran out,
or the caller cut the batch to record a checkpoint) keeps the generation open and the next
``ask()`` returns its untold points, so cutting batches never changes the trajectory. A
generation never completed (the search ended) is dropped.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from mango_pl.checks import check_int
from mango_pl.search.base import Searcher
from mango_pl.search.seeding import Seeds, seed_int


class CatCMASearcher(Searcher):
    """CatCMA per problem (``cmaes.CatCMAwM`` with ``d`` categorical variables of ``n`` categories).

    Args:
        d, n, problems, seed, device, budget: see ``Searcher`` (``budget`` is not used).
        popsize: points per generation, ``>= 2``; ``None`` is the package default
            ``4 + floor(3 ln d)``.

    Raises:
        ValueError: ``popsize < 2``.
        TypeError: an option of the wrong type.
        ImportError: the ``cmaes`` package is missing.

    Example:
        >>> s = CatCMASearcher(d=16, n=8, problems=2, popsize=6)
        >>> index = s.ask()
        >>> index.shape
        torch.Size([2, 6, 16])
        >>> s.tell(index, -(index - 3).abs().sum(-1).double())
    """

    method = "catcma"

    def __init__(self, d: int, n: int, problems: int = 1, seed: Seeds = 0,
                 device: torch.device | str | None = None, budget: int | None = None, *,
                 popsize: int | None = None):
        super().__init__(d, n, problems, seed, device, budget)
        try:
            from cmaes import CatCMAwM
        except ImportError as err:  # pragma: no cover - cmaes is a dependency of mango-pl
            raise ImportError("search method 'catcma' needs the cmaes package (>= 0.12): pip install cmaes") from err
        if popsize is not None:
            popsize = check_int("option popsize", popsize, 2)
        self._optimizers = [CatCMAwM(c_space=[n] * d, population_size=popsize, seed=seed_int(seq, 32))
                            for seq in self.seeds]
        self.popsize = int(self._optimizers[0].population_size)
        self.options = dict(popsize=self.popsize)
        self._solutions: list[list] = []  # per problem: the sampled solutions of the open generation
        self._index: Tensor | None = None  # [P, popsize, d]
        self._values = np.empty((problems, self.popsize))
        self._told = 0
        self.generation = 0

    def _ask(self) -> Tensor:
        if self._index is None:
            self._solutions = [[opt.ask() for _ in range(self.popsize)] for opt in self._optimizers]
            index = np.array([[sol.c.argmax(1) for sol in sols] for sols in self._solutions], dtype=np.int64)
            self._index = torch.from_numpy(index).to(self.device)
        return self._index[:, self._told:].clone()

    def _tell(self, index: Tensor, values: Tensor) -> None:
        count = values.shape[1]
        self._values[:, self._told: self._told + count] = values.cpu().numpy()
        self._told += count
        if self._told == self.popsize:
            for opt, sols, vals in zip(self._optimizers, self._solutions, -self._values):
                opt.tell(list(zip(sols, vals.tolist())))
            self._solutions, self._index, self._told = [], None, 0
            self.generation += 1
