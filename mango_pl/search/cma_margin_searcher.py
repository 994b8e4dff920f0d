"""``cma-margin``: CMA-ES with margin (Hamano et al., GECCO 2022) over the grid's integer indices.

CMA-ES with margin (R. Hamano, S. Saito, M. Nomura, S. Shirakawa, "CMA-ES with Margin:
Lower-Bounding Marginal Probability for Mixed-Integer Black-Box Optimization", GECCO 2022,
arXiv:2205.13482) runs CMA-ES on a continuous vector and rounds the integer coordinates to their
nearest value; where the Gaussian has shrunk so far that a coordinate would never leave its
value, it corrects the mean and a per-coordinate scaling so that the probability of moving to a
neighbouring value stays at least the ``margin`` (default ``1 / (d * popsize)``). The
implementation is the ``cmaes`` package's ``cmaes.CMAwM``.

Every coordinate is an integer in the box ``[0, n - 1]`` with steps of 1. The search starts at
the centre ``(n - 1) / 2`` with a step size of ``sigma`` index steps; the default ``(n - 1) / 6``
(a sixth of the range) is what Optuna's ``CmaEsSampler`` uses for CMA-ES with margin.

Integers have an order, and CMA-ES assumes that neighbouring values mean neighbouring things. On
an SN-GAN grid (values of a latent coordinate) they do; on a VQ-VAE grid (codebook indices) the
index order means nothing. So, when the searcher is given the grid's features
(``Searcher.use_features`` / ``maximize(..., features=...)``: e.g. the VQ-VAE codebook, a table
``[n, e]``), the ``n`` values are re-ordered by :meth:`GridFeatures.ordering` — their projection
on the table's first principal component (per coordinate for a ``[d, n, e]`` table): the
optimizer works on **ranks** ``0..n-1`` along that order, and the searcher maps rank -> grid value
when asking (``index = order[rank]``) and grid value -> rank when telling (the optimizer learns
from the ranks it asked). Without features it uses the index order (the rank is the index).

Each problem runs its own optimizer, seeded from the problem's seed (its random numbers come from
its own ``numpy.random.RandomState``, so problems are independent of their batch and the global
``numpy.random`` is left alone); its ``d x d`` linear algebra runs on one BLAS thread, as for
``cma``. ``ask()`` returns a generation ``[P, popsize, d]``. The optimizer minimizes, so it is told
the values negated, once the whole generation is told: a ``tell`` of only the first ``K'``
points (the budget ran out, or the caller cut the batch to record a checkpoint) keeps the
generation open and the next ``ask()`` returns its untold points, so cutting batches never
changes the trajectory. A generation never completed (the search ended) is dropped. The
package's termination criteria are not applied: a budget-bound search keeps sampling.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from mango_pl.checks import check_int, check_number, check_positive_number
from mango_pl.search.base import Searcher
from mango_pl.search.cma_searcher import _one_blas_thread
from mango_pl.grid_features import GridFeatures
from mango_pl.search.seeding import Seeds, seed_int


class CMAMarginSearcher(Searcher):
    """CMA-ES with margin per problem (``cmaes.CMAwM``) on the ranks ``0..n-1`` of every coordinate.

    Args:
        d, n, problems, seed, device, budget: see ``Searcher`` (``budget`` is not used).
        sigma: initial step size in index steps; ``None`` is ``(n - 1) / 6``.
        popsize: points per generation, ``>= 2``; ``None`` is the package default
            ``4 + floor(3 ln d)``.
        margin: the lower bound of the probability of leaving a value, in ``(0, 0.5)``; ``None``
            is the package default ``1 / (d * popsize)``.

    Raises:
        ValueError: a non-positive ``sigma``, ``popsize < 2``, ``margin`` outside ``(0, 0.5)``.
        TypeError: an option of the wrong type.
        ImportError: the ``cmaes`` package is missing.

    Attributes:
        order: ``LongTensor[d, n]``, the grid value at each rank of each coordinate (the identity
            until :meth:`use_features` re-orders it).

    Example:
        >>> s = CMAMarginSearcher(d=16, n=8, problems=2, popsize=6)
        >>> index = s.ask()
        >>> index.shape
        torch.Size([2, 6, 16])
        >>> s.tell(index, -(index - 3).abs().sum(-1).double())
    """

    method = "cma-margin"
    uses_features = True

    def __init__(self, d: int, n: int, problems: int = 1, seed: Seeds = 0,
                 device: torch.device | str | None = None, budget: int | None = None, *,
                 sigma: float | None = None, popsize: int | None = None, margin: float | None = None):
        super().__init__(d, n, problems, seed, device, budget)
        try:
            from cmaes import CMAwM
        except ImportError as err:  # pragma: no cover - cmaes is a dependency of mango-pl
            raise ImportError("search method 'cma-margin' needs the cmaes package: pip install cmaes") from err
        self.sigma = (n - 1) / 6 if sigma is None else check_positive_number("option sigma", sigma)
        if popsize is not None:
            popsize = check_int("option popsize", popsize, 2)
        if margin is not None:
            margin = check_number("option margin", margin, 0, 0.5, open_low=True, open_high=True,
                                  hint="the least probability of leaving a value")
        mean = np.full(d, (n - 1) / 2)
        bounds = np.tile([0.0, n - 1.0], (d, 1))
        steps = np.ones(d)
        self._optimizers = []
        with _one_blas_thread(), np.errstate(divide="ignore"):  # popsize 2: the package divides by cmu = 0
            for seq in self.seeds:
                self._optimizers.append(CMAwM(mean=mean, sigma=self.sigma, bounds=bounds, steps=steps,
                                              seed=seed_int(seq, 32), population_size=popsize, margin=margin))
        self.popsize = int(self._optimizers[0].population_size)
        self.margin = float(self._optimizers[0].margin)
        self.options = dict(sigma=self.sigma, popsize=self.popsize, margin=self.margin)
        self.order = torch.arange(n, device=self.device).expand(d, -1).clone()
        self._rank_of = self.order.clone()  # the inverse permutation: grid value -> rank
        self._solutions: list[list[np.ndarray]] = []  # per problem: the continuous vectors of the open generation
        self._ranks: Tensor | None = None  # [P, popsize, d], the ranks asked
        self._index: Tensor | None = None  # [P, popsize, d], their grid values
        self._values = np.empty((problems, self.popsize))
        self._told = 0
        self.generation = 0

    def _use_features(self, features: GridFeatures) -> None:
        order = features.ordering().to(self.device)
        self.order = order.expand(self.d, -1).clone() if order.dim() == 1 else order.clone()
        self._rank_of = self.order.argsort(-1)

    def to_index(self, ranks: Tensor) -> Tensor:
        """Ranks ``[..., d]`` -> grid values ``[..., d]`` (``order[j, rank]`` per coordinate ``j``)."""
        return self.order[torch.arange(self.d, device=self.device), ranks]

    def to_ranks(self, index: Tensor) -> Tensor:
        """Grid values ``[..., d]`` -> their ranks ``[..., d]``."""
        return self._rank_of[torch.arange(self.d, device=self.device), index]

    def _ask(self) -> Tensor:
        if self._index is None:
            encoded = []
            self._solutions = []
            with _one_blas_thread():
                for opt in self._optimizers:
                    pairs = [opt.ask() for _ in range(self.popsize)]
                    encoded.append([x for x, _ in pairs])
                    self._solutions.append([raw for _, raw in pairs])
            ranks = np.clip(np.rint(np.asarray(encoded, dtype=np.float64)), 0, self.n - 1).astype(np.int64)
            self._ranks = torch.from_numpy(ranks).to(self.device)
            self._index = self.to_index(self._ranks)
        return self._index[:, self._told:].clone()

    def _tell(self, index: Tensor, values: Tensor) -> None:
        count = values.shape[1]
        # grid value -> rank: the optimizer learns from the ranks (its own continuous vectors) it asked
        assert torch.equal(self.to_ranks(index), self._ranks[:, self._told: self._told + count])
        self._values[:, self._told: self._told + count] = values.cpu().numpy()
        self._told += count
        if self._told == self.popsize:
            losses = -self._values
            with _one_blas_thread():
                for opt, raw, loss in zip(self._optimizers, self._solutions, losses):
                    opt.tell(list(zip(raw, loss.tolist())))
            self._solutions, self._ranks, self._index, self._told = [], None, None, 0
            self.generation += 1
