"""``elite``: mango-pl's default searcher — an elite archive evolved by adaptive local changes.

Why this design: a stimulus grid of a generator is local — changing a few of the 128 latent
coordinates (or 64 codes) of a good stimulus changes its image, and its response, a little — and
a neuron's budget is a few hundred to a few thousand stimuli. So the searcher keeps the best
distinct stimuli it has seen (an :class:`~mango_pl.search.archive.EliteArchive` per problem) and
proposes children of them. A child's parent is drawn with a strong bias to the top elites, with
probability ``crossover`` mixed coordinate-wise with a second elite, and then changed in one of
four kinds of way:

0. a step along the grid (``index +- a few``: a nearby latent value) in a few coordinates;
1. a jump to any other value (another VQ-VAE code) in a few coordinates;
2. a Gaussian step in every coordinate from the weighted mean of the ``4`` best elites — an
   evolution strategy's move, which suits grids of a continuous latent (SN-GAN);
3. a step from the best elite along the gradient of a linear model fitted (ridge regression,
   nearer points weighing more) to the last 256 measurements — a model-based move, which keeps
   a smooth latent landscape climbing after single-coordinate changes stop paying.

Each kind is drawn with a probability that follows its recent success (at least 5 % each), so the
searcher finds out by itself whether a grid is ordinal or categorical. How many coordinates kinds
0 and 1 change, the size of a step, the Gaussian's width and the model step's length adapt per
problem by the 1/5 success rule (larger while children often beat or tie their parent, smaller when
they rarely do).

Plateaus: a spiking unit answers in spike counts, so late in a search most small changes of a good
stimulus leave its response exactly where it was (on the bank's SN-GAN grid, 34-60 % of the grid
steps after 1,000 queries on early spiking layers). Two rules keep the search moving across such a
plateau instead of freezing on it: a child that ties the elite it would displace takes its slot (the
archive drifts, see :meth:`EliteArchive.add`), and a tie counts as a success for the sizes of the
moves (so they grow until they leave the plateau). On the bank's development layers (6 layers, 2
units, 3 seeds, noise-free) ``surrogate`` gained .008/.015/.019/.020/.019 of the reference at
100/250/500/1,000/2,000 queries on the SN-GAN grid and .008/.008/.009/.004/.004 on the VQ-VAE grid
(``elite`` itself: level up to 500 queries, at 2,000 +.005 on SN-GAN and +.011 on VQ-VAE). Noisy
measurements never tie, so searches under noise are all but unchanged.

Under noise the searcher measures its leading candidates again: the first evolved step re-tests
each problem's best point once; if the repeat differs, the measurement noise is estimated from
every re-test, and a share of each batch (growing with the noise, at most ``retest``) re-tests
the ``leaders`` best elites, highest upper confidence bound first. Elites are ranked, and the
result is chosen, by an empirical-Bayes estimate of their true value (see
:meth:`EliteArchive.scores`), so a lucky single measurement does not win. When the children's
values spread no more than ``uncertainty`` times the noise, selection sees noise rather than
progress (and the success rule, fooled by the winner's curse of the parents' scores, would
shrink the moves), so the moves grow instead (the uncertainty handling of UH-CMA-ES). Without
noise the one re-test is the only cost.

Population mode (``ask_shared``/``tell_shared``): every problem keeps its own archive and learns
from every stimulus shown; each step, the responding problems (not every response equal so far)
take turns proposing children, least recently served first, and problems that have not responded
to anything propose nothing, so silent units do not eat the budget (a tenth of the stimuli stay
random while any problem is silent). Problems that share their stimuli are not independent of one
another, so their children are drawn from one stream (``PooledGenerator``: one numpy call per draw
instead of one per problem).

A problem whose responses have all been equal so far (a unit silent on everything it was shown)
has nothing to climb, so it keeps drawing uniformly random points until something responds.

Start points (``suggest``, e.g. a natural-image warm start) are proposed before the first
random points.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from mango_pl.checks import (
    check_fraction,
    check_int,
    check_number,
    check_positive_int,
    check_positive_number,
)
from mango_pl.search.archive import EliteArchive, first_occurrence
from mango_pl.search.base import Searcher
from mango_pl.search.pooled_generator import PooledGenerator
from mango_pl.search.seeding import ProblemGenerators, Seeds

#: success rate the mutation count is steered to (Rechenberg's 1/5 rule)
_TARGET_SUCCESS = 0.2
#: kinds of change (see ``_children``), the least share of children each kind keeps, elites recombined
_KINDS, _KIND_FLOOR, _MU = 4, 0.05, 4
#: recent measurements per problem that the local linear model (kind 3) is fitted to, and how many
#: steps a fit serves while the best elite stays where it is
_MEMORY, _REFIT = 256, 4
#: spawn-key entries of the streams that draw population mode's random stimuli and its children
_SHARED_STREAM, _POOLED_STREAM = 1 << 20, (1 << 20) + 1


def _one_fifth(log_size: Tensor, tried: Tensor, success: Tensor, drowned: Tensor, gain: float,
               low: float, high: float) -> Tensor:
    """One step of the 1/5 success rule for the log-size of a move (``[P]``): moved by ``gain``
    times (the success rate of the children ``tried [P, K]`` minus the target) where a problem tried
    any, then clamped to ``[low, high]``. ``success [P, K]``: children that beat (or tied) their parent;
    ``drowned [P]``: problems whose selection the noise drowned, whose rate counts as above the
    target (so the moves grow)."""
    trials = tried.double().sum(1)
    rate = (success & tried).double().sum(1) / trials.clamp_min(1)
    rate = torch.where(drowned, torch.full_like(rate, _TARGET_SUCCESS + 0.2), rate)
    return torch.where(trials > 0, log_size + gain * (rate - _TARGET_SUCCESS), log_size).clamp(low, high)


class EliteSearcher(Searcher):
    """Elite-archive evolution with adaptive local mutations and noise-aware selection.

    Args:
        d, n, problems, seed, device, budget: see ``Searcher``.
        k: children per problem and step.
        archive: elite points kept per problem.
        initial: uniformly random points per problem before evolving (population mode: stimuli).
        crossover: probability that a child mixes two elites coordinate-wise.
        mutation: initial expected number of coordinates a child of kind 0 or 1 changes (>= 1).
        step: initial size of a step along the grid and width of the Gaussian, as a fraction of ``n``.
        retest: most of each batch spent re-measuring elites under noise (0 turns re-tests off).
        shared_k: population mode: stimuli per step.
        leaders: the best elites that re-tests choose from.
        uncertainty: moves grow while the children's values vary less than this times the noise.
        temperature: parent rank ``r`` is drawn with weight ``exp(-r / temperature)``.

    Raises:
        ValueError: bad option values.

    Example:
        >>> s = EliteSearcher(d=16, n=8, problems=2, k=8)
        >>> index = s.ask()
        >>> index.shape
        torch.Size([2, 8, 16])
        >>> s.tell(index, -(index - 3).abs().sum(-1).double())
    """

    method = "elite"
    supports_shared = True
    supports_start = True

    def __init__(self, d: int, n: int, problems: int = 1, seed: Seeds = 0,
                 device: torch.device | str | None = None, budget: int | None = None, *,
                 k: int = 10, archive: int = 16, initial: int = 20, crossover: float = 0.3,
                 mutation: float = 4.0, step: float = 0.1, retest: float = 0.3, shared_k: int = 32,
                 leaders: int = 4, uncertainty: float = 2.0, temperature: float = 3.0):
        super().__init__(d, n, problems, seed, device, budget)
        self.k = check_positive_int("option k", k)
        self.archive_size = check_int("option archive", archive, 2)
        self.initial = check_positive_int("option initial", initial)
        self.crossover = check_fraction("option crossover", crossover)
        mutation = check_number("option mutation", mutation, 1, hint="expected coordinates changed per child")
        self.step = check_fraction("option step", step)
        self.retest = check_fraction("option retest", retest)
        self.shared_k = check_positive_int("option shared_k", shared_k)
        self.leaders = check_positive_int("option leaders", leaders)
        self.uncertainty = check_positive_number("option uncertainty", uncertainty)
        self.temperature = check_positive_number("option temperature", temperature)
        self.options = dict(k=self.k, archive=self.archive_size, initial=self.initial, crossover=self.crossover,
                            mutation=mutation, step=self.step, retest=self.retest, shared_k=self.shared_k,
                            leaders=self.leaders, uncertainty=self.uncertainty, temperature=self.temperature)
        P = problems
        self._rng = ProblemGenerators(self.seeds, self.device)
        self.elites = EliteArchive(P, self.archive_size, d, self.device)
        self.told = 0  # points told per problem (population mode: stimuli)
        self._ones = torch.ones(P, dtype=torch.float64, device=self.device)
        self.log_mutation = self._ones * math.log(mutation)  # log expected coordinates changed
        self.log_step = self._ones * math.log(max(1.0, self.step * n))  # log step size in grid units
        # decayed success counts of the four kinds of change (see `_children`): [P, 4] (0: step along
        # the grid, 1: jump, 2: Gaussian step from the best elites' mean, 3: step along the linear model)
        self.kind_trials = torch.ones(P, _KINDS, dtype=torch.float64, device=self.device)
        self.kind_wins = torch.full((P, _KINDS), _TARGET_SUCCESS, dtype=torch.float64, device=self.device)
        self.log_sigma = self._ones * math.log(max(0.5, self.step * n))  # Gaussian step (kind 2), grid units
        self.log_reach = self.log_sigma + 0.5 * math.log(d)  # length of a model step (kind 3), grid units
        self._memory_index = torch.zeros(P, _MEMORY, d, dtype=torch.float64, device=self.device)
        self._memory_value = torch.zeros(P, _MEMORY, dtype=torch.float64, device=self.device)
        self._memory_count = 0
        self._direction: Tensor | None = None  # [P, d] unit gradient of each problem's last fit
        self._direction_origin: Tensor | None = None  # [P, d] where it was fitted
        self._direction_age = torch.zeros(P, dtype=torch.long, device=self.device)
        self.last_served = torch.zeros(P, dtype=torch.float64, device=self.device)
        self._low = torch.full((P,), math.inf, dtype=torch.float64, device=self.device)  # the range of
        self._high = torch.full((P,), -math.inf, dtype=torch.float64, device=self.device)  # responses so far
        self._pending: dict[str, Tensor] | None = None
        #: population mode, while ``_children`` breeds: the problems whose children will be shown
        self._proposers: Tensor | None = None
        self._start: Tensor | None = None  # start points still to propose: [P, M, d] (population: [M, d])
        first = self.seeds[0]  # population mode's random stimuli: a stream of their own
        self._shared_rng = ProblemGenerators(
            [np.random.SeedSequence(first.entropy, spawn_key=(*first.spawn_key, _SHARED_STREAM))], self.device)
        #: population mode breeds every problem's children from one stream (see ``PooledGenerator``)
        self._pooled_rng = PooledGenerator(
            np.random.SeedSequence(first.entropy, spawn_key=(*first.spawn_key, _POOLED_STREAM)), P, self.device)

    # -- the archive's view --------------------------------------------------------------------

    def noise(self) -> Tensor:
        """``[P]`` the estimated variance of one measurement (0 when no re-test differed)."""
        return self.elites.noise_variance()

    def recommend(self) -> tuple[Tensor, Tensor] | None:
        if self.told == 0:
            return None
        return self.elites.best()

    # -- making children -----------------------------------------------------------------------

    def _parents(self, K: int) -> tuple[Tensor, Tensor]:
        """Draw ``K`` parents per problem from the archive, biased to the top: ``(index [P, K, d], score [P, K])``."""
        scores = self.elites.scores()
        order = scores.argsort(dim=1, descending=True, stable=True)  # filled slots first
        filled = self.elites.filled.sum(1, keepdim=True)  # [P, 1]
        ranks = torch.arange(self.archive_size, device=self.device, dtype=torch.float64)
        weight = torch.exp(-ranks / self.temperature).expand(self.problems, -1).masked_fill(ranks >= filled, 0.0)
        cdf = weight.cumsum(1)
        cdf = cdf / cdf[:, -1:]
        rank = torch.searchsorted(cdf, self._rng.uniform(K), right=True).clamp_max(self.archive_size - 1)
        slot = order.gather(1, rank)
        index = self.elites.index.gather(1, slot.unsqueeze(-1).expand(-1, -1, self.d))
        return index, scores.gather(1, slot)

    def _recombined(self) -> tuple[Tensor, Tensor]:
        """The weighted mean of the ``mu`` best elites (continuous, ``[P, d]``) and the score a
        child of it must beat (the median score of those elites), ``[P]``."""
        scores = self.elites.scores()
        top = scores.topk(min(_MU, self.archive_size), dim=1)
        weight = torch.log(torch.tensor(_MU + 0.5, dtype=torch.float64)) - torch.log1p(
            torch.arange(top.values.shape[1], dtype=torch.float64, device=self.device))
        weight = weight.expand(self.problems, -1).masked_fill(~torch.isfinite(top.values), 0.0)
        weight = weight / weight.sum(1, keepdim=True).clamp_min(1e-300)
        points = self.elites.index.gather(1, top.indices.unsqueeze(-1).expand(-1, -1, self.d)).double()
        center = (weight.unsqueeze(-1) * points).sum(1)
        finite = torch.where(torch.isfinite(top.values), top.values, torch.full_like(top.values, torch.nan))
        return center, finite.nanmedian(1).values

    def _model_origin(self) -> tuple[Tensor, Tensor]:
        """The best elite (``[P, d]`` float) and its score: where model steps start."""
        scores = self.elites.scores()
        slot = scores.argmax(1)
        rows = torch.arange(self.problems, device=self.device)
        return self.elites.index[rows, slot].double(), scores[rows, slot]

    def _model_step(self, origin: Tensor, scale: Tensor, jitter: Tensor) -> Tensor:
        """Kind 3: steps from ``origin`` along the gradient of a linear model of the recent
        measurements (ridge regression, the nearer points weighing more), of adapted length
        ``reach`` times a random factor, plus a little Gaussian noise: ``[P, K, d]``."""
        K = scale.shape[1]
        count = min(self._memory_count, _MEMORY)
        if count < 2:  # nothing to fit yet
            return origin[:, None].expand(-1, K, -1).round().long()
        direction = self._model_direction(origin, count)
        length = self.log_reach.exp()[:, None] * (0.5 + scale)  # [P, K]
        step = origin[:, None] + length.unsqueeze(-1) * direction[:, None] + jitter * 0.3 * self.log_sigma.exp()[:, None, None]
        return step.round().clamp(0, self.n - 1).long()

    def _model_direction(self, origin: Tensor, count: int) -> Tensor:
        """The unit gradient ``[P, d]`` of the linear model around ``origin``; a problem's model is
        refitted when its best elite moved or every ``_REFIT`` steps (a fit costs a d x d solve)."""
        if self._direction is None:
            self._direction = torch.zeros(self.problems, self.d, dtype=torch.float64, device=self.device)
            self._direction_origin = torch.full_like(self._direction, -1.0)
        moved = (self._direction_origin != origin).any(1)
        stale = moved | (self._direction_age >= _REFIT)
        self._direction_age += 1
        rows = stale.nonzero().flatten()
        if rows.numel() == 0:
            return self._direction
        x = self._memory_index[rows, :count] - origin[rows, None]  # [R, B, d]
        y = self._memory_value[rows, :count]
        squared = x.pow(2).sum(-1)  # [R, B]
        width = squared.median(1, keepdim=True).values.clamp_min(1.0)  # [R, 1]
        weight = torch.exp(-squared / width)
        y = y - (weight * y).sum(1, keepdim=True) / weight.sum(1, keepdim=True).clamp_min(1e-300)
        xw = x * weight.unsqueeze(-1)
        gram = xw.transpose(1, 2) @ x + 1e-3 * width[..., None] * torch.eye(self.d, dtype=x.dtype, device=x.device)
        gradient = torch.linalg.solve(gram, (xw * y.unsqueeze(-1)).sum(1))  # [R, d]
        self._direction[rows] = gradient / gradient.norm(dim=1, keepdim=True).clamp_min(1e-300)
        self._direction_origin[rows] = origin[rows]
        self._direction_age[rows] = 0
        return self._direction

    def _children(self, K: int) -> dict[str, Tensor]:
        """``K`` children per problem: ``index [P, K, d]``, their parent's score, the kind of change."""
        d, n = self.d, self.n
        first, parent_score = self._parents(K)
        second, _ = self._parents(K)
        mix = (self._rng.uniform(K) < self.crossover).unsqueeze(-1) & (self._rng.uniform(K, d) < 0.5)
        child = torch.where(mix, second, first)
        # which coordinates change: one chosen at random, plus each other with probability (m - 1) / d
        extra = ((self.log_mutation.exp() - 1.0) / d).clamp(0.0, 0.5)
        change = self._rng.uniform(K, d) < extra[:, None, None]
        change.scatter_(2, self._rng.integers(d, K, 1), True)
        # the kind of change of each child, drawn by each kind's recent success:
        # 0: a step along the grid in a few coordinates; 1: a jump to any other value in a few
        # coordinates; 2: a Gaussian step in every coordinate from the weighted mean of the best
        # elites (an evolution strategy's move, for grids of a continuous latent); 3: a step from the
        # best elite along the gradient of a linear model of the recent measurements
        rate = self.kind_wins / self.kind_trials
        share = (rate / rate.sum(1, keepdim=True)).clamp_min(_KIND_FLOOR)
        cdf = (share / share.sum(1, keepdim=True)).cumsum(1)
        kind = torch.searchsorted(cdf, self._rng.uniform(K), right=True).clamp_max(_KINDS - 1)  # [P, K]
        size = (self._rng.normal(K, d).abs() * self.log_step.exp()[:, None, None]).round().clamp_min(1).long()
        sign = torch.where(self._rng.uniform(K, d) < 0.5, -1, 1)
        stepped = child + sign * size
        stepped = torch.where((stepped < 0) | (stepped >= n), child - sign * size, stepped).clamp(0, n - 1)
        jumped = (child + self._rng.integers(n - 1, K, d) + 1) % n
        moved = torch.where((kind == 1).unsqueeze(-1), jumped, stepped)
        child = torch.where(change, moved, child)
        noise = self._rng.normal(K, d)  # drawn whether used or not: a problem's stream is its own
        if (kind == 2).any():
            center, center_score = self._recombined()
            gauss = (center[:, None] + noise * self.log_sigma.exp()[:, None, None]).round().clamp(0, n - 1).long()
            child = torch.where((kind == 2).unsqueeze(-1), gauss, child)
            parent_score = torch.where(kind == 2, center_score[:, None].expand(-1, K), parent_score)
        scale = self._rng.uniform(K)
        jitter = self._rng.normal(K, d)
        best, best_score = self._model_origin()
        modelled = self._model_step(best, scale, jitter)  # every step: each problem's refit schedule is its own
        child = torch.where((kind == 3).unsqueeze(-1), modelled, child)
        parent_score = torch.where(kind == 3, best_score[:, None].expand(-1, K), parent_score)
        child = self._unique(child)
        return {"index": child, "parent_score": parent_score, "kind": kind}

    def _unique(self, child: Tensor, passes: int = 3) -> Tensor:
        """Change one more coordinate of children that repeat an elite or an earlier child."""
        P, K, d = child.shape
        for _ in range(passes):
            coordinate = self._rng.integers(d, K, 1)
            shift = self._rng.integers(self.n - 1, K, 1) + 1
            repeat = (self.elites.match(child) >= 0) | (first_occurrence(child) != torch.arange(K, device=self.device))
            if not repeat.any():
                continue
            current = child.gather(2, coordinate)
            changed = child.scatter(2, coordinate, (current + shift) % self.n)
            child = torch.where(repeat.unsqueeze(-1), changed, child)
        return child

    # -- re-tests ------------------------------------------------------------------------------

    def _retest_count(self, K: int) -> Tensor:
        """``[P]`` how many of ``K`` slots re-measure elites this step."""
        measured = self.elites.residual_count > 0
        noise = self.noise()
        _, best_mean = self.elites.best()
        relative = noise.sqrt() / best_mean.abs().clamp_min(1e-12)
        share = torch.clamp(2.0 * relative, max=self.retest)
        count = torch.where(relative > 1e-3, (share * K).round().clamp_min(1), torch.zeros_like(share))
        unknown = ~measured
        if self.retest == 0:
            return torch.zeros(self.problems, dtype=torch.long, device=self.device)
        return torch.where(unknown, torch.ones_like(count), count).long().clamp_max(K)

    def _retests(self, K: int) -> Tensor:
        """``[P, K, d]`` the elites to re-measure, best upper confidence bound first."""
        scores = self.elites.scores()
        bound = scores + 2.0 * (self.noise()[:, None] / self.elites.count.clamp_min(1)).sqrt()
        leaders = scores.argsort(dim=1, descending=True, stable=True)[:, : self.leaders]
        bound = torch.full_like(bound, -torch.inf).scatter(1, leaders, bound.gather(1, leaders))
        order = bound.argsort(dim=1, descending=True, stable=True)
        order = order[:, :K] if K <= self.archive_size else torch.cat(
            [order, order[:, :1].expand(-1, K - self.archive_size)], 1)
        return self.elites.index.gather(1, order.unsqueeze(-1).expand(-1, -1, self.d))

    # -- ask / tell ----------------------------------------------------------------------------

    def _random(self, K: int, rows: Tensor | None = None) -> Tensor:
        """``K`` uniformly random points per problem (``rows``: those problems only; others' streams untouched)."""
        return self._rng.integers(self.n, K, self.d, rows=None if rows is None else rows.tolist())

    def _suggest(self, index: Tensor) -> None:
        self._start = index if self._start is None else torch.cat([self._start, index], 1)

    def _next_start(self, K: int, shared: bool) -> Tensor | None:
        """Up to ``K`` queued start points (``[P, K', d]``; population mode ``[K', d]``), or None."""
        if self._start is None:
            return None
        if shared and self._start.dim() == 3:  # each distinct point once, for every problem
            flat = self._start.reshape(-1, self.d)
            keep = first_occurrence(flat.unsqueeze(0))[0] == torch.arange(flat.shape[0], device=self.device)
            self._start = flat[keep]
        axis = 0 if shared else 1
        taken, rest = self._start.split([min(K, self._start.shape[axis]), max(0, self._start.shape[axis] - K)], axis)
        self._start = rest if rest.shape[axis] else None
        return taken

    def _ask(self) -> Tensor:
        K = self.k
        start = self._next_start(K, shared=False)
        if start is not None:
            self._pending = None
            return torch.cat([start, self._random(K - start.shape[1])], 1) if start.shape[1] < K else start
        if self.told < self.initial:
            self._pending = None
            return self._random(K)
        born = self._children(K)
        count = self._retest_count(K)
        retest = torch.arange(K, device=self.device)[None, :] < count[:, None]  # [P, K]
        index = torch.where(retest.unsqueeze(-1), self._retests(K), born["index"])
        child = ~retest
        # a problem whose every response so far is equal (a unit silent on all it was shown) has
        # nothing to climb: changing a few coordinates of arbitrary points explores less than
        # uniformly random points, so it keeps drawing those until something responds
        flat = (self._high <= self._low).nonzero().flatten()
        if flat.numel():
            index[flat] = self._random(K, flat)
            child[flat] = False
        self._pending = {**born, "child": child}
        return index

    def _learn(self, values: Tensor, pending: dict[str, Tensor]) -> None:
        """Adapt the mutation count, step sizes and kinds of change from the children's success."""
        child = pending["child"]
        K = values.shape[1]
        child = child[:, :K]
        wins = (values > pending["parent_score"][:, :K]) & child
        # a child that ties its parent moved along a plateau of the response (spiking units answer in
        # spike counts): for the moves' sizes it counts as a success, so that on a plateau the moves
        # grow until they leave it instead of shrinking onto it; the kinds' shares follow strict wins
        success = wins | ((values == pending["parent_score"][:, :K]) & child)
        kind = pending["kind"][:, :K]
        local = child & (kind < 2)  # children that changed a few coordinates: they steer how many
        # uncertainty handling (as in UH-CMA-ES): when the children's values spread no more than the
        # noise, selection sees noise, not progress, and the success rule would shrink the moves
        # (a parent's score carries the winner's curse); then the moves grow instead
        noise = self.noise()
        told = child.double().sum(1)
        shown = torch.where(child, values, torch.zeros_like(values))
        mean = shown.sum(1) / told.clamp_min(1)
        spread = torch.where(child, (values - mean[:, None]) ** 2, torch.zeros_like(values)).sum(1) / (told - 1).clamp_min(1)
        drowned = (noise > 0) & (told > 1) & (spread < self.uncertainty * noise)
        self.log_mutation = _one_fifth(self.log_mutation, local, success, drowned, 0.5,
                                       0.0, math.log(max(1.0, self.d / 4)))
        self.log_step = _one_fifth(self.log_step, child & (kind == 0), success, drowned, 0.3,
                                   0.0, math.log(max(1.0, self.n / 2)))
        self.log_reach = _one_fifth(self.log_reach, child & (kind == 3), success, drowned, 0.3,
                                    math.log(0.5), math.log(self.n * math.sqrt(self.d)))
        self.log_sigma = _one_fifth(self.log_sigma, child & (kind == 2), success, drowned, 0.3,
                                    math.log(0.3), math.log(max(1.0, self.n / 2)))
        for which in range(_KINDS):
            mask = child & (kind == which)
            self.kind_trials[:, which] = 0.95 * self.kind_trials[:, which] + mask.double().sum(1)
            self.kind_wins[:, which] = 0.95 * self.kind_wins[:, which] + (wins & mask).double().sum(1)

    def _remember(self, index: Tensor, values: Tensor) -> None:
        """Keep the last ``_MEMORY`` measurements per problem (a ring buffer) for the linear model."""
        count = index.shape[1]
        slots = (self._memory_count + torch.arange(count, device=self.device)) % _MEMORY
        self._memory_index[:, slots] = index.double()
        self._memory_value[:, slots] = values
        self._memory_count += count

    def _tell(self, index: Tensor, values: Tensor) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            self._learn(values, pending)
        self.elites.add(index, values)
        self._remember(index, values)
        self._low = torch.minimum(self._low, values.min(1).values)
        self._high = torch.maximum(self._high, values.max(1).values)
        self.told += index.shape[1]

    # -- population mode -----------------------------------------------------------------------

    def _ask_shared(self) -> Tensor:
        self._rng = self._pooled_rng
        N = self.shared_k
        start = self._next_start(N, shared=True)
        if start is not None:
            self._pending = None
            return torch.cat([start, self._shared_random(N - start.shape[0])]) if start.shape[0] < N else start
        if self.told < self.initial:
            self._pending = None
            return self._shared_random(N)
        # responding problems (not every response equal so far) take turns, least recently served
        # first, each proposing `per` children; silent ones propose nothing and a tenth of the
        # stimuli stay random for them
        responding = self._high > self._low
        silent = int((~responding).sum())
        explore = (N + 9) // 10 if silent else 0
        active = int(responding.sum())
        proposers = min(active, max(1, (N - explore) // 2))
        per = (N - explore) // proposers if proposers else 0
        priority = torch.where(responding, -self.last_served, torch.full_like(self.last_served, -math.inf))
        chosen = priority.argsort(dim=0, descending=True, stable=True)[:proposers]
        self._proposers = chosen
        born = self._children(max(per, 1))
        self._proposers = None
        explore = N - per * chosen.numel()
        parts = [born["index"][chosen].reshape(-1, self.d)]
        if explore > 0:
            parts.append(self._shared_random(explore))
        self.last_served[chosen] = float(self.told + 1)
        self._pending = {**born, "owners": chosen, "per": torch.tensor(per)}
        return torch.cat(parts)

    def _shared_random(self, count: int) -> Tensor:
        """``count`` uniformly random stimuli from the population's own stream (seeded from problem 0's seed)."""
        return self._shared_rng.integers(self.n, count, self.d)[0]

    def _tell_shared(self, index: Tensor, values: Tensor) -> None:
        pending, self._pending = self._pending, None
        if pending is not None and pending["owners"].numel():
            owners, per = pending["owners"], int(pending["per"])
            own = torch.full((self.problems, per), -math.inf, dtype=torch.float64, device=self.device)
            shown = min(owners.numel() * per, index.shape[0])
            block = values[:shown].T  # [P, shown]
            for j, owner in enumerate(owners.tolist()):
                lo = j * per
                if lo >= shown:
                    break
                hi = min(lo + per, shown)
                own[owner, : hi - lo] = block[owner, lo:hi]
            told = torch.isfinite(own)
            mask = {**pending, "child": told}
            self._learn(torch.where(told, own, torch.zeros_like(own)), mask)
        shown = index.unsqueeze(0).expand(self.problems, -1, -1)
        self.elites.add(shown, values.T)
        self._remember(shown[:, -_MEMORY:], values.T[:, -_MEMORY:])
        self._low = torch.minimum(self._low, values.min(0).values)
        self._high = torch.maximum(self._high, values.max(0).values)
        self.told += index.shape[0]
