"""``cholesky-cma``: the CholeskyCMA of Wang & Ponce (GECCO 2022) in a generator's latent, snapped to the grid.

Wang & Ponce, "High-performance evolutionary algorithms for online neuron control" (GECCO 2022),
benchmarked gradient-free optimizers on generator latents for activation maximization and found
CMA-type strategies best, in silico and in vivo (where CholeskyCMA replaced the genetic
algorithm). Their CholeskyCMA (``CholeskyCMAES`` in ``core/Optimizers.py`` of
github.com/Animadversio/ActMax-Optimizer-Dev) is CMA-ES for high-dimensional latents: the
covariance ``C = A^T A`` is kept as its factor ``A`` (and ``A^-1``), changed by a rank-one
(Cholesky) update with the evolution path ``p_c`` only once every ``a_update_freq`` generations,
with no rank-mu update; the step size follows cumulative step-size adaptation. Per generation,
with ``z_i ~ N(0, I)`` and candidates ``x_i = m + sigma z_i A`` (row vectors):

* ``m <- sum_i w_i x_(i)`` over the ``mu = floor(popsize / 2)`` best, ``w_i ∝ ln(popsize/2 + 1/2) - ln i``;
* ``p_s <- (1 - c_s) p_s + sqrt(c_s (2 - c_s) mu_eff) z_w``, ``p_c <- (1 - c_c) p_c + sqrt(c_c (2 - c_c) mu_eff) z_w A``
  with ``z_w = sum_i w_i z_(i)``;
* ``sigma <- sigma exp(c_s / d_s (|p_s| / E|N(0, I)| - 1))``;
* every ``a_update_freq + 1``-th generation: ``v = p_c A^-1`` and ``A <- sqrt(1 - c_1) A + ...`` so that
  ``A^T A <- (1 - c_1) A^T A + c_1 p_c^T p_c`` (and ``A^-1`` to match).

The settings are the repository's: ``c_c = 4 / (D + 4)``, ``c_s = sqrt(mu_eff) / (sqrt(mu_eff) + sqrt(D))``,
``c_1 = 2 / (D + sqrt 2)^2``, ``d_s = 1 + c_s + 2 max(0, sqrt((mu_eff - 1) / (D + 1)) - 1)``,
``a_update_freq = 10``, an initial step size of 3 latent units (``init_sigma=3.0``: its benchmark
and its class default), the search starting at the latent's centre (``init_code`` zeros), and 40
candidates per generation (the population of all of the paper's in-silico and in-vivo runs;
``popsize=None`` gives the class's own ``4 + floor(3 log2 D)``). The repository shows its start
code alone as a first generation of one and never learns from its score; here the first
generation is already the first sampled population. ``A`` and ``A^-1`` start as the identity and
only ever take rank-one updates, so they are kept as ``s I + L R^T`` (``L, R`` of one column per
update): a VQ-VAE latent of ``D = 64 x 64 = 4096`` needs no dense ``D x D`` matrix per problem.

The latent and the grid (shared with ``sphere-cma``, see :class:`GridLatent`): with grid
features whose table is ``[n, 1]`` / ``[d, n, 1]`` (a latent grid: SN-GAN on ``[-4, 4]``) the
search runs in ``R^d`` and each coordinate is snapped to its nearest grid value; with a codebook
``[n, e]`` / ``[d, n, e]`` (VQ-VAE), in ``R^(d e)`` and each position's ``e``-vector is snapped to
its nearest code (Euclidean); without features, in index units (centred at ``(n - 1) / 2``) and
rounded. The strategy learns from the continuous candidates it asked; the objective sees their
grid points. All ``P`` problems run in the same torch tensor ops; each draws its numbers from its
own generator (``ProblemGenerators``), so its trajectory depends on its seed only. A tell of the
first ``K'`` candidates of a generation keeps the generation open (the next ask returns the rest)
and the update runs once it is complete, so batches cut by the driver never change the search.
"""

from __future__ import annotations

import math
from abc import abstractmethod

import torch
from torch import Tensor

from mango_pl.checks import check_int, check_number, check_positive_int, check_positive_number
from mango_pl.search.base import Searcher
from mango_pl.grid_features import GridFeatures
from mango_pl.search.genetic_searcher import default_latent_scale
from mango_pl.search.seeding import ProblemGenerators, Seeds

#: elements of one block of candidate-to-code distances computed at once when snapping
_SNAP_BLOCK = 1 << 20


def log_rank_weights(count: int, mu: float) -> Tensor:
    """Recombination weights of ranks ``0..count-1`` (0 the best): ``ln(mu + 1/2) - ln(r + 1)`` for the
    ``floor(mu)`` best, 0 for the rest, normalized to sum 1 (float64 ``[count]``)."""
    weights = torch.zeros(count, dtype=torch.float64)
    top = int(math.floor(mu))
    weights[:top] = math.log(mu + 0.5) - torch.log(torch.arange(1, top + 1, dtype=torch.float64))
    return weights / weights.sum()


def snap_to_table(y: Tensor, table: Tensor) -> Tensor:
    """The nearest table row (Euclidean) of every coordinate's vector.

    Args:
        y: float ``[..., d, e]``: one ``e``-vector per coordinate.
        table: ``[n, e]`` (shared by the coordinates) or ``[d, n, e]`` (one per coordinate).

    Returns:
        ``LongTensor[..., d]``: for each coordinate the row of its table closest to its vector
        (the first of equally close rows).

    Example:
        >>> codes = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
        >>> snap_to_table(torch.tensor([[[0.9, 0.2], [0.1, 1.4]]]), codes)
        tensor([[1, 2]])
    """
    d, e = y.shape[-2], y.shape[-1]
    lead = y.shape[:-2]
    table = table.to(y.device, y.dtype)
    tables = table if table.dim() == 3 else table.unsqueeze(0).expand(d, -1, -1)  # [d, n, e]
    n = tables.shape[1]
    rows = y.reshape(-1, d, e)
    out = torch.empty(rows.shape[0], d, dtype=torch.long, device=y.device)
    block = max(1, _SNAP_BLOCK // max(1, d * n * (1 if e == 1 else 2)))
    if e > 1:
        squared = (tables * tables).sum(-1)  # [d, n]
    for start in range(0, rows.shape[0], block):
        chunk = rows[start: start + block]  # [M, d, e]
        if e == 1:
            distance = (chunk - tables[:, :, 0]).abs()  # [M, d, 1] - [d, n] -> [M, d, n]
        else:  # |y - c|^2 - |y|^2 = |c|^2 - 2 y.c, one matrix product per coordinate
            distance = squared - 2 * torch.bmm(chunk.transpose(0, 1), tables.transpose(1, 2)).transpose(0, 1)
        out[start: start + block] = distance.argmin(-1)
    return out.reshape(*lead, d)


class GridLatent:
    """The continuous latent a grid is searched in: centred coordinates in latent units -> grid points.

    A latent point is ``z in R^(d e)`` (``e = 1`` without features); coordinate ``j`` stands for the
    vector ``centre_j + unit * z_j`` of the grid's own space, and its grid value is the table row
    nearest to that vector (without features: the index, rounded and clipped to ``0..n-1``).

    * no features: ``centre = (n - 1) / 2`` index units, ``unit = latent_scale`` grid steps
      (default ``(n - 1) / 8``: ``n`` points on the SN-GAN range ``[-4, 4]``);
    * a latent table ``[n, 1]`` / ``[d, n, 1]``: ``centre`` = the mean grid value (0 for a grid
      symmetric about the latent's origin), ``unit = latent_scale`` latent values (default 1, the
      ``N(0, 1)`` prior of a GAN latent);
    * a codebook ``[n, e]`` / ``[d, n, e]``, ``e > 1``: ``centre`` = the mean code, ``unit =
      latent_scale`` codebook units (default: the RMS spread of the codes' components about the mean
      code, so that ``N(0, I)`` spreads like the codebook).

    Args:
        d, n: the grid.
        features: the grid's features, or ``None``.
        latent_scale: size of one latent unit (see above), ``None`` for the default.
        device: where the table lives.
    """

    def __init__(self, d: int, n: int, features: GridFeatures | None, latent_scale: float | None,
                 device: torch.device):
        self.d, self.n = d, n
        if features is None or not features.has_table:  # the index is the latent (decoded images are not)
            self.table = None
            self.e = 1
            self.centre = torch.full((d, 1), (n - 1) / 2, dtype=torch.float64, device=device)
            self.unit = default_latent_scale(n) if latent_scale is None else latent_scale
        else:
            self.table = features.coordinate_tables(d, torch.float64, device)  # [d, n, e]
            self.e = features.e
            self.centre = self.table.mean(1)  # [d, e]
            if latent_scale is not None:
                self.unit = latent_scale
            elif self.e == 1:
                self.unit = 1.0
            else:
                spread = float((self.table - self.centre[:, None]).square().mean().sqrt())
                self.unit = spread if spread > 0 else 1.0
        self.dim = d * self.e

    def vectors(self, z: Tensor) -> Tensor:
        """``z [..., d * e]`` -> each coordinate's vector in the grid's own space, ``[..., d, e]``."""
        return self.centre + self.unit * z.reshape(*z.shape[:-1], self.d, self.e)

    def snap(self, z: Tensor) -> Tensor:
        """``z [..., d * e]`` -> the grid point it stands for, ``LongTensor[..., d]``."""
        y = self.vectors(z)
        if self.table is None:
            return y[..., 0].round().clamp(0, self.n - 1).long()
        return snap_to_table(y, self.table)


class LatentEvolutionSearcher(Searcher):
    """Base of the searchers that evolve a population in the grid's continuous latent (:class:`GridLatent`).

    A subclass samples a generation of latent points (``_sample``, ``[P, K, D]``) and learns from
    the values of the whole generation (``_update``); this class snaps the candidates to the grid,
    keeps a generation open across prefix tells, and builds the latent (and calls ``_setup`` with
    its dimension ``D``) at the first ask, after ``use_features``.
    """

    uses_features = True

    def __init__(self, d: int, n: int, problems: int = 1, seed: Seeds = 0,
                 device: torch.device | str | None = None, budget: int | None = None, *,
                 latent_scale: float | None = None):
        super().__init__(d, n, problems, seed, device, budget)
        self.latent_scale = check_positive_number("option latent_scale", latent_scale, optional=True)
        self._rng = ProblemGenerators(self.seeds, self.device)
        self.latent: GridLatent | None = None
        self._z: Tensor | None = None  # [P, K, D], the open generation's latent points
        self._index: Tensor | None = None  # [P, K, d], their grid points
        self._values: Tensor | None = None  # [P, K]
        self._told = 0
        #: generations completed (told in full)
        self.generation = 0

    def _use_features(self, features: GridFeatures) -> None:
        """The latent is built at the first ``ask`` from whatever features were given by then."""

    def _ready(self) -> None:
        if self.latent is None:
            self.latent = GridLatent(self.d, self.n, self.features, self.latent_scale, self.device)
            self.options["latent_scale"] = self.latent.unit
            self._setup(self.latent.dim)

    @abstractmethod
    def _setup(self, dim: int) -> None:
        """Initialize the strategy for a latent of ``dim`` dimensions."""

    @abstractmethod
    def _sample(self) -> Tensor:
        """The next generation's latent points, float64 ``[P, K, D]``."""

    @abstractmethod
    def _update(self, z: Tensor, values: Tensor) -> None:
        """Learn from a complete generation: its points ``[P, K, D]`` and values ``[P, K]``."""

    def _ask(self) -> Tensor:
        self._ready()
        if self._z is None:
            self._z = self._sample()
            self._index = self.latent.snap(self._z)
            self._values = torch.empty(self._z.shape[:2], dtype=torch.float64, device=self.device)
            self._told = 0
        return self._index[:, self._told:].clone()

    def _tell(self, index: Tensor, values: Tensor) -> None:
        count = values.shape[1]
        self._values[:, self._told: self._told + count] = values
        self._told += count
        if self._told == self._z.shape[1]:
            z, values = self._z, self._values
            self._z = self._index = self._values = None
            self._told = 0
            self._update(z, values)
            self.generation += 1


def _top(values: Tensor, count: int) -> Tensor:
    """Indices ``[P, count]`` of each row's ``count`` highest values, best first (ties: earlier first)."""
    return torch.sort(values, dim=1, descending=True, stable=True).indices[:, :count]


def _rows(x: Tensor, order: Tensor) -> Tensor:
    """``x [P, K, D]`` -> the rows ``order [P, k]`` of each problem, ``[P, k, D]``."""
    return torch.gather(x, 1, order[..., None].expand(-1, -1, x.shape[-1]))


class CholeskyCMASearcher(LatentEvolutionSearcher):
    """CholeskyCMA (Wang & Ponce 2022) per problem in the grid's continuous latent, vectorized over problems.

    See the module docstring for the update rules and where the defaults come from.

    Args:
        d, n, problems, seed, device, budget: see ``Searcher`` (``budget`` is not used).
        sigma: initial step size in latent units (the repository's ``init_sigma``, 3).
        popsize: candidates per generation, ``>= 2`` (40, the paper's; ``None``: ``4 + floor(3 log2 D)``).
        a_update_freq: ``A`` takes its rank-one update once more than this many generations passed
            since the last one (the repository's ``Aupdate_freq``, 10).
        cc, cs, c1: learning rates of the covariance path, the step-size path and the rank-one
            update, in ``(0, 1)``; ``None`` for the repository's defaults (module docstring).
        latent_scale: the size of one latent unit, see :class:`GridLatent` (``None``: its default).

    Raises:
        ValueError: a bad option value (the message names the option).
        TypeError: an option of the wrong type.

    Example:
        >>> s = CholeskyCMASearcher(d=16, n=8, problems=2, popsize=6)
        >>> index = s.ask()
        >>> index.shape
        torch.Size([2, 6, 16])
        >>> s.tell(index, -(index - 3).abs().sum(-1).double())
    """

    method = "cholesky-cma"

    def __init__(self, d: int, n: int, problems: int = 1, seed: Seeds = 0,
                 device: torch.device | str | None = None, budget: int | None = None, *,
                 sigma: float = 3.0, popsize: int | None = 40, a_update_freq: int = 10,
                 cc: float | None = None, cs: float | None = None, c1: float | None = None,
                 latent_scale: float | None = None):
        super().__init__(d, n, problems, seed, device, budget, latent_scale=latent_scale)
        self.sigma0 = check_positive_number("option sigma", sigma)
        self.popsize = check_int("option popsize", popsize, 2, optional=True)
        self.a_update_freq = check_positive_int("option a_update_freq", a_update_freq)
        rates = {name: check_number(f"option {name}", value, 0, 1, open_low=True, open_high=True, optional=True)
                 for name, value in (("cc", cc), ("cs", cs), ("c1", c1))}
        self.cc, self.cs, self.c1 = rates["cc"], rates["cs"], rates["c1"]
        self.options = dict(sigma=self.sigma0, popsize=self.popsize, a_update_freq=self.a_update_freq,
                            cc=self.cc, cs=self.cs, c1=self.c1, latent_scale=self.latent_scale)

    def _setup(self, dim: int) -> None:
        P, D, dev = self.problems, dim, self.device
        if self.popsize is None:
            self.popsize = 4 + int(math.floor(3 * math.log2(D)))
        self.mu = self.popsize // 2
        self.weights = log_rank_weights(self.popsize, self.popsize / 2)[: self.mu].to(dev)
        self.mueff = float(1 / self.weights.square().sum())
        if self.cc is None:
            self.cc = 4 / (D + 4)
        if self.cs is None:
            self.cs = math.sqrt(self.mueff) / (math.sqrt(self.mueff) + math.sqrt(D))
        if self.c1 is None:
            self.c1 = 2 / (D + math.sqrt(2)) ** 2
        self.damps = 1 + self.cs + 2 * max(0.0, math.sqrt((self.mueff - 1) / (D + 1)) - 1)
        self.chi_n = math.sqrt(D) * (1 - 1 / (4 * D) + 1 / (21 * D ** 2))
        self.options.update(popsize=self.popsize, cc=self.cc, cs=self.cs, c1=self.c1)
        self.mean = torch.zeros(P, D, dtype=torch.float64, device=dev)  # the latent's centre
        self.step = torch.full((P,), self.sigma0, dtype=torch.float64, device=dev)  # sigma per problem
        self.ps = torch.zeros(P, D, dtype=torch.float64, device=dev)
        self.pc = torch.zeros(P, D, dtype=torch.float64, device=dev)
        # A = a_scale I + a_left a_right^T and A^-1 = inv_scale I + inv_left inv_right^T
        self.a_scale = self.inv_scale = 1.0
        empty = torch.zeros(P, D, 0, dtype=torch.float64, device=dev)
        self.a_left, self.a_right, self.inv_left, self.inv_right = empty, empty, empty, empty
        self._last_a_update = 0
        self._randz: Tensor | None = None

    def _times_a(self, z: Tensor) -> Tensor:
        """Rows ``z [P, K, D]`` times ``A``."""
        return self.a_scale * z + torch.bmm(torch.bmm(z, self.a_left), self.a_right.transpose(1, 2))

    def _times_a_inverse(self, z: Tensor) -> Tensor:
        """Rows ``z [P, K, D]`` times ``A^-1``."""
        return self.inv_scale * z + torch.bmm(torch.bmm(z, self.inv_left), self.inv_right.transpose(1, 2))

    def factor(self) -> tuple[Tensor, Tensor]:
        """The dense ``A`` and ``A^-1``, ``[P, D, D]`` each (for inspection and tests)."""
        eye = torch.eye(self.mean.shape[1], dtype=torch.float64, device=self.device).expand(self.problems, -1, -1)
        return self._times_a(eye), self._times_a_inverse(eye)

    def _sample(self) -> Tensor:
        self._randz = self._rng.normal(self.popsize, self.mean.shape[1])  # [P, K, D]
        return self.mean[:, None] + self.step[:, None, None] * self._times_a(self._randz)

    def _update(self, z: Tensor, values: Tensor) -> None:
        order = _top(values, self.mu)
        w = self.weights[None, :, None]
        self.mean = (w * _rows(z, order)).sum(1)
        zw = (w * _rows(self._randz, order)).sum(1)  # [P, D]
        self.ps = (1 - self.cs) * self.ps + math.sqrt(self.cs * (2 - self.cs) * self.mueff) * zw
        self.pc = ((1 - self.cc) * self.pc
                   + math.sqrt(self.cc * (2 - self.cc) * self.mueff) * self._times_a(zw[:, None])[:, 0])
        ps_norm = self.ps.square().sum(-1).sqrt()
        self.step = self.step * torch.exp((self.cs / self.damps) * (ps_norm / self.chi_n - 1))
        generation = self.generation + 1
        if generation - self._last_a_update > self.a_update_freq:
            self._last_a_update = generation
            self._rank_one_update()

    def _rank_one_update(self) -> None:
        """``A^T A <- (1 - c1) A^T A + c1 pc^T pc`` on the factor itself, and ``A^-1`` to match."""
        c1 = self.c1
        v = self._times_a_inverse(self.pc[:, None])[:, 0]  # pc = v A
        norm_v = v.square().sum(-1).clamp_min(1e-300)  # [P]
        a = math.sqrt(1 - c1)
        root = torch.sqrt(1 + norm_v * c1 / (1 - c1))
        b = a / norm_v * (root - 1)  # A <- (a I + b v^T v) A = a A + b v^T pc
        beta = (1 - 1 / root) / norm_v  # (a I + b v^T v)^-1 = (I - beta v^T v) / a
        inv_v = self.inv_scale * v + torch.bmm(self.inv_left, torch.bmm(self.inv_right.transpose(1, 2),
                                                                        v[..., None]))[..., 0]  # A^-1 v^T
        self.a_left = torch.cat([a * self.a_left, (b[:, None] * v)[..., None]], -1)
        self.a_right = torch.cat([self.a_right, self.pc[..., None]], -1)
        self.a_scale *= a
        self.inv_left = torch.cat([self.inv_left / a, (-(beta / a)[:, None] * inv_v)[..., None]], -1)
        self.inv_right = torch.cat([self.inv_right, v[..., None]], -1)
        self.inv_scale /= a
