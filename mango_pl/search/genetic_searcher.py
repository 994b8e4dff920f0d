"""``ga``: the genetic algorithm of XDream (Xiao & Kreiman 2020), the in-vivo neuron-evolution baseline.

XDream evolves the latent codes of an image generator shown to a neuron: each generation is
``population`` images; the ``conserve`` best codes of a generation go on unchanged (and are shown,
so measured, again), and the rest are children of two parents drawn by a softmax of the scores at
temperature ``kT = kt_multiplier * std(scores)``, recombined element-wise (``parental_skew`` of the
elements from the first parent) and mutated (a ``mutation_rate`` share of the elements get
Gaussian noise of std ``mutation_size`` latent units). The defaults are XDream's documented
settings.

On the grid ``{0..n-1}^d`` every individual keeps a continuous code in index units, and the point
shown is the rounded code clipped to ``0..n-1``. ``latent_scale`` converts latent units into index
units (grid points per latent unit): the default ``(n - 1) / 8`` is the SN-GAN grid of ``n``
points on ``[-4, 4]``, so a mutation of ``0.75`` latent units moves a code by about
``0.75 * (n - 1) / 8`` grid steps. On a categorical grid (VQ-VAE codes) the same rule applies: a
mutated element moves by a Gaussian number of index steps, i.e. becomes another, more or less
random, code.
"""

from __future__ import annotations

import torch
from torch import Tensor

from mango_pl.checks import check_fraction, check_int, check_positive_number
from mango_pl.search.base import Searcher
from mango_pl.search.seeding import ProblemGenerators, Seeds


def default_latent_scale(n: int) -> float:
    """Grid points per latent unit of the SN-GAN grid: ``n`` points on ``[-4, 4]``."""
    return (n - 1) / 8


class GeneticSearcher(Searcher):
    """XDream's genetic algorithm on continuous codes, each shown as its nearest grid point.

    Generation 0 is ``population`` uniformly random grid points per problem. Once a generation is
    told, the next one is its ``conserve`` best codes (unchanged, measured again: a generation's
    own scores are the only ones selection looks at) followed by ``population - conserve``
    children: two distinct parents drawn with probabilities ``softmax(score / kT)``, each element
    taken from the first parent with probability ``parental_skew``, then a ``mutation_rate`` share
    of the elements moved by ``N(0, mutation_size * latent_scale)`` index steps.

    ``ask()`` returns a whole generation, ``[P, population, d]``. A ``tell`` of only its first
    ``K'`` points (the budget ran out, or the caller cut the batch to record a checkpoint) keeps
    the generation open: the next ``ask()`` returns its untold points, and the next generation is
    bred once every point is told, so cutting batches never changes the trajectory. Points never
    told (the search ended) do not count.

    Problems are independent: every random draw is made per problem from its own generator
    (:class:`~mango_pl.search.seeding.ProblemGenerators`) and the rest is row-wise tensor math.

    Args:
        d, n, problems, seed, device, budget: see ``Searcher`` (``budget`` is not used).
        population: points per generation (XDream: 30).
        mutation_rate: share of a child's elements that are mutated, in ``[0, 1]`` (XDream: 0.25).
        mutation_size: std of the Gaussian added to a mutated element, in latent units (XDream: 0.75).
        kt_multiplier: selection temperature ``kT = kt_multiplier * std(scores)`` of the generation
            (XDream: 2); smaller is greedier.
        conserve: best codes kept unchanged into the next generation, ``0 .. population - 1``
            (XDream: 10).
        parental_skew: probability that a child takes an element from its first parent, in
            ``[0, 1]`` (XDream: 0.75).
        latent_scale: grid points per latent unit; ``None`` is ``(n - 1) / 8``, the SN-GAN grid
            of ``n`` points on ``[-4, 4]``.

    Raises:
        ValueError: ``population < 2``, a rate or skew outside ``[0, 1]``, a non-positive
            ``mutation_size`` / ``kt_multiplier`` / ``latent_scale``, ``conserve`` outside
            ``0 .. population - 1``.
        TypeError: an option of the wrong type.

    Example:
        >>> s = GeneticSearcher(d=16, n=8, problems=2, population=12, conserve=3)
        >>> index = s.ask()
        >>> index.shape
        torch.Size([2, 12, 16])
        >>> s.tell(index, -(index - 3).abs().sum(-1).double())
    """

    method = "ga"

    def __init__(self, d: int, n: int, problems: int = 1, seed: Seeds = 0,
                 device: torch.device | str | None = None, budget: int | None = None, *,
                 population: int = 30, mutation_rate: float = 0.25, mutation_size: float = 0.75,
                 kt_multiplier: float = 2.0, conserve: int = 10, parental_skew: float = 0.75,
                 latent_scale: float | None = None):
        super().__init__(d, n, problems, seed, device, budget)
        self.population = check_int("option population", population, 2)
        self.mutation_rate = check_fraction("option mutation_rate", mutation_rate)
        self.mutation_size = check_positive_number("option mutation_size", mutation_size)
        self.kt_multiplier = check_positive_number("option kt_multiplier", kt_multiplier)
        self.conserve = check_int("option conserve", conserve, 0, self.population - 1,
                                  hint=f"the best codes kept out of a generation of population={self.population}")
        self.parental_skew = check_fraction("option parental_skew", parental_skew)
        self.latent_scale = (default_latent_scale(n) if latent_scale is None
                             else check_positive_number("option latent_scale", latent_scale))
        self.options = dict(population=self.population, mutation_rate=self.mutation_rate,
                            mutation_size=self.mutation_size, kt_multiplier=self.kt_multiplier,
                            conserve=self.conserve, parental_skew=self.parental_skew,
                            latent_scale=self.latent_scale)
        self._rng = ProblemGenerators(self.seeds, self.device)
        self.generation = 0
        # generation 0: uniformly random grid points, their codes the index values themselves
        self._codes = self._rng.integers(n, self.population, d).to(torch.float64)  # [P, pop, d]
        self._index = self._snap(self._codes)
        self._scores = torch.empty(problems, self.population, dtype=torch.float64, device=self.device)
        self._told = 0  # points of the current generation told so far

    def _snap(self, codes: Tensor) -> Tensor:
        """The grid points shown for ``codes``: rounded, clipped to ``0..n-1``."""
        return codes.round().clamp_(0, self.n - 1).long()

    def _ask(self) -> Tensor:
        return self._index[:, self._told:].clone()

    def _tell(self, index: Tensor, values: Tensor) -> None:
        count = values.shape[1]
        self._scores[:, self._told: self._told + count] = values
        self._told += count
        if self._told == self.population:
            self._codes = self._breed(self._codes, self._scores)
            self._index = self._snap(self._codes)
            self._told = 0
            self.generation += 1

    def _breed(self, codes: Tensor, scores: Tensor) -> Tensor:
        """The next generation's codes ``[P, population, d]`` from this one's ``codes`` and ``scores``."""
        P, pop, d = codes.shape
        children = pop - self.conserve
        rows = torch.arange(P, device=self.device)[:, None]
        # conserved: the best codes, best first (a stable sort keeps ties in generation order)
        order = torch.sort(scores, dim=1, descending=True, stable=True).indices
        kept = codes[rows, order[:, :self.conserve]]
        # fitness = softmax(score / kT); two distinct parents per child drawn by fitness, without
        # replacement: the two largest of log-fitness + Gumbel noise (the Gumbel top-k trick)
        kt = (self.kt_multiplier * scores.std(dim=1, correction=0)).clamp_min(1e-12)[:, None]
        log_fitness = torch.log_softmax(scores / kt, dim=1)  # [P, pop]
        uniform = self._rng.uniform(children, pop).clamp_min_(1e-300)
        gumbel = -torch.log(-torch.log(uniform))
        parents = torch.topk(log_fitness[:, None, :] + gumbel, 2, dim=2).indices  # [P, children, 2]
        first = codes[rows, parents[..., 0]]  # [P, children, d]
        second = codes[rows, parents[..., 1]]
        from_first = self._rng.uniform(children, d) < self.parental_skew
        child = torch.where(from_first, first, second)
        mutate = self._rng.uniform(children, d) < self.mutation_rate
        noise = self._rng.normal(children, d) * (self.mutation_size * self.latent_scale)
        child = child + torch.where(mutate, noise, torch.zeros_like(noise))
        return torch.cat([kept, child], dim=1)
