"""``elite``: mango-pl's default searcher — an elite archive evolved by small local changes.

Why this design: a stimulus grid of a generator is local — changing a few of the 128 latent
coordinates (or 64 codes) of a good stimulus changes its image a little and its response a
little — and a neuron's budget is a few hundred to a few thousand stimuli. So the searcher keeps
the best distinct stimuli it has seen (an :class:`~mango_pl.search.archive.EliteArchive` per
problem) and proposes children of them: a parent drawn with a strong bias to the top, with
probability ``crossover`` mixed coordinate-wise with a second elite, then mutated in a few
coordinates. How many coordinates change adapts per problem by the 1/5 success rule (more when
children often beat their parent, fewer when they rarely do), and the kind of change adapts by
the success of each kind: a small step along the grid (``index ± a few``: a nearby latent value)
or a jump to any other value (another VQ-VAE code).

Under noise the searcher measures its leading candidates again: the first evolved step re-tests
each problem's best point once; if the repeat differs, the measurement noise is estimated from
every re-test, and a share of each batch (growing with the noise, at most ``retest``) re-tests the
elites whose upper confidence bound is highest. Elites are ranked, and the result is chosen, by an
empirical-Bayes estimate of their true value (see :meth:`EliteArchive.scores`), so a lucky single
measurement does not win. Without noise the one re-test is the only cost.

Population mode (``ask_shared``/``tell_shared``): every problem keeps its own archive and learns
from every stimulus shown; each step, the responding problems whose turn it is (least recently
served first) propose children, and problems that have not responded to any stimulus propose
nothing, so silent units do not eat the budget.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from mango_pl.search.archive import EliteArchive, first_occurrence
from mango_pl.search.base import Searcher, check_positive_float, check_positive_int
from mango_pl.search.seeding import ProblemGenerators, Seeds

#: success rate the mutation count is steered to (Rechenberg's 1/5 rule)
_TARGET_SUCCESS = 0.2
#: spawn-key entry of the stream that draws population mode's random stimuli
_SHARED_STREAM = 1 << 20


def _check_fraction(name: str, value: float, low: float = 0.0, high: float = 1.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ValueError(f"option {name} must be a number in [{low}, {high}], got {value!r}")
    return float(value)


class EliteSearcher(Searcher):
    """Elite-archive evolution with adaptive local mutations and noise-aware selection.

    Args:
        d, n, problems, seed, device, budget: see ``Searcher``.
        k: children per problem and step (population mode: stimuli per step is ``shared_k``).
        archive: elite points kept per problem.
        initial: uniformly random points per problem before evolving (population mode: stimuli).
        crossover: probability that a child mixes two elites coordinate-wise.
        mutation: initial expected number of coordinates a child changes (adapted, >= 1).
        step: initial size of a step along the grid, as a fraction of ``n`` (adapted).
        retest: most of each batch spent re-measuring elites under noise (0 turns re-tests off).
        shared_k: population mode: stimuli per step.

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

    def __init__(self, d: int, n: int, problems: int = 1, seed: Seeds = 0,
                 device: torch.device | str | None = None, budget: int | None = None, *,
                 k: int = 10, archive: int = 16, initial: int = 20, crossover: float = 0.3,
                 mutation: float = 2.0, step: float = 0.06, retest: float = 0.3, shared_k: int = 32):
        super().__init__(d, n, problems, seed, device, budget)
        self.k = check_positive_int("k", k)
        self.archive_size = check_positive_int("archive", archive, 2)
        self.initial = check_positive_int("initial", initial)
        self.crossover = _check_fraction("crossover", crossover)
        mutation = check_positive_float("mutation", mutation)
        if mutation < 1:
            raise ValueError(f"option mutation (expected coordinates changed per child) must be >= 1, got {mutation}")
        self.step = _check_fraction("step", step, 0.0, 1.0)
        self.retest = _check_fraction("retest", retest)
        self.shared_k = check_positive_int("shared_k", shared_k)
        self.options = dict(k=self.k, archive=self.archive_size, initial=self.initial, crossover=self.crossover,
                            mutation=mutation, step=self.step, retest=self.retest, shared_k=self.shared_k)
        P = problems
        self._rng = ProblemGenerators(self.seeds, self.device)
        self.elites = EliteArchive(P, self.archive_size, d, self.device)
        self.told = 0  # points told per problem (population mode: stimuli)
        self._ones = torch.ones(P, dtype=torch.float64, device=self.device)
        self.log_mutation = self._ones * math.log(mutation)  # log expected coordinates changed
        self.log_step = self._ones * math.log(max(1.0, self.step * n))  # log step size in grid units
        # decayed success counts of the two kinds of change: [P, 2] (0: step along the grid, 1: jump)
        self.kind_trials = torch.ones(P, 2, dtype=torch.float64, device=self.device)
        self.kind_wins = torch.full((P, 2), _TARGET_SUCCESS, dtype=torch.float64, device=self.device)
        self.last_served = torch.zeros(P, dtype=torch.float64, device=self.device)
        self._pending: dict[str, Tensor] | None = None
        first = self.seeds[0]  # population mode's random stimuli: a stream of their own
        self._shared_rng = ProblemGenerators(
            [np.random.SeedSequence(first.entropy, spawn_key=(*first.spawn_key, _SHARED_STREAM))], self.device)

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
        weight = torch.exp(-ranks / 3.0).expand(self.problems, -1).masked_fill(ranks >= filled, 0.0)
        cdf = weight.cumsum(1)
        cdf = cdf / cdf[:, -1:]
        rank = torch.searchsorted(cdf, self._rng.uniform(K), right=True).clamp_max(self.archive_size - 1)
        slot = order.gather(1, rank)
        index = self.elites.index.gather(1, slot.unsqueeze(-1).expand(-1, -1, self.d))
        return index, scores.gather(1, slot)

    def _children(self, K: int) -> dict[str, Tensor]:
        """``K`` children per problem: ``index [P, K, d]``, their parent's score, the kind of change."""
        P, d, n = self.problems, self.d, self.n
        first, parent_score = self._parents(K)
        second, _ = self._parents(K)
        mix = (self._rng.uniform(K) < self.crossover).unsqueeze(-1) & (self._rng.uniform(K, d) < 0.5)
        child = torch.where(mix, second, first)
        # which coordinates change: one chosen at random, plus each other with probability (m - 1) / d
        extra = ((self.log_mutation.exp() - 1.0) / d).clamp(0.0, 0.5)
        change = self._rng.uniform(K, d) < extra[:, None, None]
        change.scatter_(2, self._rng.integers(d, K, 1), True)
        # the kind of change of each child: a step along the grid, or a jump to any other value
        rate = self.kind_wins / self.kind_trials
        p_step = (rate[:, 0] / rate.sum(1)).clamp(0.1, 0.9)
        kind = (self._rng.uniform(K) >= p_step[:, None]).long()  # [P, K]: 0 step, 1 jump
        size = (self._rng.normal(K, d).abs() * self.log_step.exp()[:, None, None]).round().clamp_min(1).long()
        sign = torch.where(self._rng.uniform(K, d) < 0.5, -1, 1)
        stepped = child + sign * size
        stepped = torch.where((stepped < 0) | (stepped >= n), child - sign * size, stepped).clamp(0, n - 1)
        jumped = (child + self._rng.integers(n - 1, K, d) + 1) % n
        moved = torch.where(kind.unsqueeze(-1).bool(), jumped, stepped)
        child = torch.where(change, moved, child)
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
        order = bound.argsort(dim=1, descending=True, stable=True)
        order = order[:, :K] if K <= self.archive_size else torch.cat(
            [order, order[:, :1].expand(-1, K - self.archive_size)], 1)
        return self.elites.index.gather(1, order.unsqueeze(-1).expand(-1, -1, self.d))

    # -- ask / tell ----------------------------------------------------------------------------

    def _random(self, K: int) -> Tensor:
        return self._rng.integers(self.n, K, self.d)

    def _ask(self) -> Tensor:
        K = self.k
        if self.told < self.initial:
            self._pending = None
            return self._random(K)
        born = self._children(K)
        count = self._retest_count(K)
        retest = torch.arange(K, device=self.device)[None, :] < count[:, None]  # [P, K]
        index = torch.where(retest.unsqueeze(-1), self._retests(K), born["index"])
        self._pending = {**born, "child": ~retest}
        return index

    def _learn(self, values: Tensor, pending: dict[str, Tensor], rows: Tensor | None = None) -> None:
        """Adapt the mutation count, step size and kind of change from the children's success."""
        child = pending["child"]
        K = values.shape[1]
        child = child[:, :K]
        success = (values > pending["parent_score"][:, :K]) & child
        trials = child.double().sum(1)
        wins = success.double().sum(1)
        active = trials > 0
        rate = wins / trials.clamp_min(1)
        self.log_mutation = torch.where(active, self.log_mutation + 0.5 * (rate - _TARGET_SUCCESS), self.log_mutation)
        self.log_mutation = self.log_mutation.clamp(0.0, math.log(max(1.0, self.d / 4)))
        kind = pending["kind"][:, :K]
        step_trials = (child & (kind == 0)).double().sum(1)
        step_rate = (success & (kind == 0)).double().sum(1) / step_trials.clamp_min(1)
        self.log_step = torch.where(step_trials > 0, self.log_step + 0.3 * (step_rate - _TARGET_SUCCESS), self.log_step)
        self.log_step = self.log_step.clamp(0.0, math.log(max(1.0, self.n / 2)))
        for which in (0, 1):
            mask = child & (kind == which)
            self.kind_trials[:, which] = 0.95 * self.kind_trials[:, which] + mask.double().sum(1)
            self.kind_wins[:, which] = 0.95 * self.kind_wins[:, which] + (success & mask).double().sum(1)

    def _tell(self, index: Tensor, values: Tensor) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            self._learn(values, pending)
        self.elites.add(index, values)
        self.told += index.shape[1]

    # -- population mode -----------------------------------------------------------------------

    def _ask_shared(self) -> Tensor:
        N = self.shared_k
        if self.told < self.initial:
            self._pending = None
            return self._shared_random(N)
        # responding problems take turns, least recently served first; each proposes `per` children
        _, best_mean = self.elites.best()
        responding = best_mean > 0
        per = 2
        slots = max(1, N // per)
        priority = torch.where(responding, -self.last_served, torch.full_like(self.last_served, -math.inf))
        chosen = priority.argsort(dim=0, descending=True, stable=True)[:slots]
        chosen = chosen[torch.isfinite(priority[chosen])]
        born = self._children(per)  # every problem draws children, so a problem's stream does not
        explore = N - per * chosen.numel()  # depend on who else is served
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
        self.elites.add(index.unsqueeze(0).expand(self.problems, -1, -1), values.T)
        self.told += index.shape[0]
