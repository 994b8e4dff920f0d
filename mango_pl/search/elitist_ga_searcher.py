"""``elitist-ga``: a small elitist genetic algorithm, a strong and simple evolutionary baseline.

Elitism (the best points found always survive as parents) goes back to De Jong's genetic
algorithms (K. A. De Jong, "An analysis of the behavior of a class of genetic adaptive systems",
PhD thesis, University of Michigan, 1975). This searcher is one fixed, small instance of it, with
these settings (the defaults; they are this repository's baseline protocol, not taken from one
paper):

* a generation is ``k = 10`` points per problem;
* an **archive** keeps the ``elite = 3`` best *distinct* points seen so far (a point measured again
  keeps its highest measurement);
* the first generation is uniformly random;
* every later child is a parent drawn uniformly from the archive; with probability
  ``crossover = 0.5`` it is recombined by uniform crossover (each coordinate from either parent
  with probability 1/2) with another archive member (a different one when the archive holds
  more than one); then 1 or 2 coordinates (the count uniform, the coordinates uniform and
  distinct) are set to uniformly random grid values (which may equal the old ones).

The result is the best single measurement (``recommend()`` returns ``None``, so
:func:`~mango_pl.search.maximize` reports the highest value told).

``ask()`` returns a whole generation. A ``tell`` of only its first ``K'`` points (the budget ran
out, or the caller cut the batch to record a checkpoint) keeps the generation open: the next
``ask()`` returns its untold points, and the next generation is bred once every point is told,
so cutting batches never changes the trajectory.

Problems are independent: every random draw is made per problem from its own generator
(:class:`~mango_pl.search.seeding.ProblemGenerators`) and the rest is row-wise tensor math.

Population mode (``ask_shared``/``tell_shared``): every problem keeps its own archive, updated
from every stimulus shown. A step shows ``k`` stimuli; the first step is uniformly random, and in
every later step the problems take turns (round-robin over the steps: stimulus ``j`` of the
``t``-th bred step is a child of problem ``(t * k + j) mod P``'s archive). Its random numbers come
from one stream seeded from problem 0's seed.

Start points (``suggest``, e.g. a natural-image warm start) are proposed first: they make up the
first generation(s), the last one filled up with uniformly random points to ``k``; in population
mode each distinct start point is shown once.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from mango_pl.checks import check_fraction, check_positive_int
from mango_pl.search.archive import first_occurrence
from mango_pl.search.base import Searcher
from mango_pl.search.seeding import ProblemGenerators, Seeds

_SHARED_STREAM = 7321  # spawn-key entry of the population mode's own random stream


class ElitistGASearcher(Searcher):
    """An elitist GA: children of an archive of the ``elite`` best distinct points, by uniform
    crossover and a mutation of 1 or 2 coordinates (see the module docstring).

    Args:
        d, n, problems, seed, device, budget: see ``Searcher`` (``budget`` is not used).
        k: points per generation (population mode: stimuli per step), default 10.
        elite: distinct points kept in the archive that parents are drawn from, default 3.
        crossover: probability that a child is a uniform crossover of two archive members, in
            ``[0, 1]``, default 0.5.

    Raises:
        ValueError: ``k < 1``, ``elite < 1``, ``crossover`` outside ``[0, 1]``.
        TypeError: an option of the wrong type.

    Attributes:
        archive_index: ``LongTensor[P, elite, d]``, each problem's archive, best first.
        archive_value: ``float64[P, elite]``, their (highest) measurements, ``-inf`` for empty slots.

    Example:
        >>> s = ElitistGASearcher(d=16, n=8, problems=2)
        >>> index = s.ask()
        >>> index.shape
        torch.Size([2, 10, 16])
        >>> s.tell(index, -(index - 3).abs().sum(-1).double())
    """

    method = "elitist-ga"
    supports_shared = True
    supports_start = True

    def __init__(self, d: int, n: int, problems: int = 1, seed: Seeds = 0,
                 device: torch.device | str | None = None, budget: int | None = None, *,
                 k: int = 10, elite: int = 3, crossover: float = 0.5):
        super().__init__(d, n, problems, seed, device, budget)
        self.k = check_positive_int("option k", k)
        self.elite = check_positive_int("option elite", elite)
        self.crossover = check_fraction("option crossover", crossover)
        self.options = dict(k=self.k, elite=self.elite, crossover=self.crossover)
        self._rng = ProblemGenerators(self.seeds, self.device)
        first = self.seeds[0]
        self._shared_rng = ProblemGenerators(
            [np.random.SeedSequence(first.entropy, spawn_key=(*first.spawn_key, _SHARED_STREAM))], self.device)
        self.archive_index = torch.zeros(problems, self.elite, d, dtype=torch.long, device=self.device)
        self.archive_value = torch.full((problems, self.elite), -torch.inf, dtype=torch.float64, device=self.device)
        self.generation = 0  # generations bred from the archive so far
        self._index: Tensor | None = None  # the open generation: [P, k, d] (population mode: [k, d])
        self._told = 0  # its points told so far
        self._start: Tensor | None = None  # start points to propose: [P, M, d] (population mode: [M, d])
        self._turn = 0  # population mode: the problem whose turn it is to breed the next stimulus

    # -- the archive ---------------------------------------------------------------------------

    def _add(self, points: Tensor, values: Tensor) -> None:
        """Merge the measurements ``values [P, C]`` of ``points [P, C, d]`` into the archives: the
        ``elite`` best distinct points, each with its highest measurement (ties: the older first)."""
        E = self.elite
        index = torch.cat([self.archive_index, points.long()], 1)
        value = torch.cat([self.archive_value, values.to(torch.float64)], 1)
        filled = torch.isfinite(value)
        first = first_occurrence(index, filled)
        best = torch.full_like(value, -torch.inf).scatter_reduce(1, first, value, "amax")
        lead = filled & (first == torch.arange(index.shape[1], device=self.device))
        score = torch.where(lead, best, torch.full_like(best, -torch.inf))
        order = score.argsort(dim=1, descending=True, stable=True)[:, :E]
        self.archive_index = index.gather(1, order.unsqueeze(-1).expand(-1, -1, self.d))
        self.archive_value = score.gather(1, order)

    # -- breeding ------------------------------------------------------------------------------

    def _breed(self, index: Tensor, size: Tensor, rng: ProblemGenerators, rows: int, per: int) -> Tensor:
        """``per`` children of each of ``rows`` archives ``index [rows, elite, d]`` holding ``size [rows]``
        points, with random numbers drawn as ``[G, rows * per / G, ...]`` from ``rng``'s ``G``
        generators: ``[rows, per, d]``."""
        d, n = self.d, self.n

        def draw(kind: str, *shape: int) -> Tensor:  # [G, count, *shape] -> [rows, per, *shape]
            count = rows * per // len(rng.generators)
            out = rng.uniform(count, *shape) if kind == "uniform" else rng.integers(n, count, *shape)
            return out.reshape(rows, per, *shape)

        u_parent, u_cross, u_second, u_many = (draw("uniform") for _ in range(4))
        u_mask = draw("uniform", d)
        u_where = draw("uniform", d)
        values = draw("integers", 2)

        m = size.to(torch.float64)[:, None]  # [rows, 1]
        first = (u_parent * m).long().clamp_max(size[:, None] - 1)  # uniform over the archive
        # another member, different when there is one: first + 1 + uniform(0 .. m - 2), mod m
        others = (m - 1).clamp_min(1)
        second = torch.where(size[:, None] > 1,
                             (first + 1 + (u_second * others).long().clamp_max(others.long() - 1)) % size[:, None],
                             first)
        rows_ix = torch.arange(rows, device=self.device)[:, None]
        child = index[rows_ix, first]  # [rows, per, d]
        mate = index[rows_ix, second]
        crossed = (u_cross < self.crossover)[..., None] & (u_mask < 0.5)
        child = torch.where(crossed, mate, child)
        # 1 or 2 distinct coordinates (uniform count, uniform coordinates) set to uniform values
        many = min(2, d)
        coords = u_where.argsort(-1)[..., :many]  # [rows, per, many]
        mutate = torch.ones(rows, per, many, dtype=torch.bool, device=self.device)
        if many == 2:
            mutate[..., 1] = u_many < 0.5
        current = child.gather(-1, coords)
        child = child.scatter(-1, coords, torch.where(mutate, values[..., :many], current))
        return child

    def _generation(self) -> Tensor:
        """The next generation ``[P, k, d]``: queued start points, else random (first), else children."""
        K = self.k
        if self._start is not None:
            taken = self._start[:, :K]
            self._start = self._start[:, K:] if self._start.shape[1] > K else None
            if taken.shape[1] < K:
                taken = torch.cat([taken, self._rng.integers(self.n, K - taken.shape[1], self.d)], 1)
            return taken
        if not bool(torch.isfinite(self.archive_value[:, 0]).all()):
            return self._rng.integers(self.n, K, self.d)
        size = torch.isfinite(self.archive_value).sum(1)
        self.generation += 1
        return self._breed(self.archive_index, size, self._rng, self.problems, K)

    def _ask(self) -> Tensor:
        if self._index is None:
            self._index, self._told = self._generation(), 0
        return self._index[:, self._told:].clone()

    def _tell(self, index: Tensor, values: Tensor) -> None:
        self._add(index, values)
        self._told += index.shape[1]
        if self._told == self._index.shape[1]:
            self._index = None

    def _suggest(self, index: Tensor) -> None:
        self._start = index if self._start is None else torch.cat([self._start, index], 1)

    # -- population mode -----------------------------------------------------------------------

    def _shared_generation(self) -> Tensor:
        """The next step's stimuli ``[k, d]``."""
        K = self.k
        if self._start is not None:
            if self._start.dim() == 3:  # each distinct start point once, for every problem
                flat = self._start.reshape(1, -1, self.d)
                keep = first_occurrence(flat)[0]
                self._start = flat[0][keep == torch.arange(flat.shape[1], device=self.device)]
            taken = self._start[:K]
            self._start = self._start[K:] if self._start.shape[0] > K else None
            if taken.shape[0] < K:
                taken = torch.cat([taken, self._shared_rng.integers(self.n, K - taken.shape[0], self.d)[0]])
            return taken
        if not bool(torch.isfinite(self.archive_value[:, 0]).all()):
            return self._shared_rng.integers(self.n, K, self.d)[0]
        owners = (self._turn + torch.arange(K, device=self.device)) % self.problems
        self._turn = (self._turn + K) % self.problems
        size = torch.isfinite(self.archive_value).sum(1)
        self.generation += 1
        return self._breed(self.archive_index[owners], size[owners], self._shared_rng, K, 1)[:, 0]

    def _ask_shared(self) -> Tensor:
        if self._index is None:
            self._index, self._told = self._shared_generation(), 0
        return self._index[self._told:].clone()

    def _tell_shared(self, index: Tensor, values: Tensor) -> None:
        self._add(index.unsqueeze(0).expand(self.problems, -1, -1), values.T)
        self._told += index.shape[0]
        if self._told == self._index.shape[0]:
            self._index = None
