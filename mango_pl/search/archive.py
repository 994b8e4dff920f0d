"""An elite archive per problem: the best distinct points seen, with repeated-measurement statistics.

Every problem keeps at most ``size`` distinct points. A point told again (a re-test) updates its
mean and count instead of taking a second slot, and the difference between the new measurement
and the old mean feeds an estimate of the measurement noise. Points are ranked by an empirical-
Bayes estimate of their true value: each mean is shrunk toward the archive's average by the
share of its variance that the noise explains (``noise / count``), so a single lucky measurement
under noise ranks below a point measured several times at almost the same value. Without noise
the score is the mean itself.

All state is ``[P, ...]`` tensors and every operation works row by row, so a problem's archive
never depends on the other problems of the batch.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor


_HASH_WEIGHTS: dict[tuple[int, str], Tensor] = {}


def point_hashes(points: Tensor) -> Tensor:
    """An int64 hash of each point ``[..., d]`` (a fixed random linear form, wrapping on overflow):
    equal points hash equal; unequal points almost never do (callers confirm equal hashes)."""
    d = points.shape[-1]
    key = (d, str(points.device))
    if key not in _HASH_WEIGHTS:
        generator = torch.Generator().manual_seed(0x5EED + d)
        _HASH_WEIGHTS[key] = torch.randint(1, 2**62, (d,), generator=generator).bitwise_or(1).to(points.device)
    if points.dim() == 3 and points.shape[0] > 1 and points.stride(0) == 0:  # one set of points for every
        return point_hashes(points[0]).expand(points.shape[:-1])           # problem (population mode)
    return (points.long() * _HASH_WEIGHTS[key]).sum(-1)


def equal_pairs(left: Tensor, right: Tensor) -> Tensor:
    """``same [P, K, A]``: whether ``left[p, k]`` equals ``right[p, a]`` (points ``[P, K, d]``, ``[P, A, d]``).

    Compares hashes first and confirms the few pairs whose hashes agree, so it costs ``K * A``
    comparisons rather than ``K * A * d``."""
    same = point_hashes(left).unsqueeze(2) == point_hashes(right).unsqueeze(1)
    p, k, a = same.nonzero(as_tuple=True)
    if p.numel():
        collision = ~(left[p, k] == right[p, a]).all(-1)
        if bool(collision.any()):
            same[p[collision], k[collision], a[collision]] = False
    return same


def first_occurrence(points: Tensor, filled: Tensor | None = None) -> Tensor:
    """For ``points [P, K, d]``, the index ``[P, K]`` of the first point equal to each point; with
    ``filled [P, K]`` only filled points count as equal (an unfilled point maps to itself)."""
    K = points.shape[1]
    if filled is None and points.shape[0] > 1 and points.stride(0) == 0:  # the same points for every problem
        return first_occurrence(points[:1]).expand(points.shape[0], -1)
    same = equal_pairs(points, points)  # [P, K, K]
    if filled is not None:
        same &= filled.unsqueeze(2) & filled.unsqueeze(1)
        same |= torch.eye(K, dtype=torch.bool, device=points.device)
    earlier = torch.ones(K, K, dtype=torch.bool, device=points.device).tril()
    return (same & earlier).int().argmax(-1)


class EliteArchive:
    """The ``size`` best distinct points of each of ``problems`` problems, with their measurements.

    Args:
        problems: ``P``.
        size: slots per problem.
        d: point dimension.
        device: where the tensors live.

    Attributes:
        index: ``LongTensor[P, size, d]``, the points (rows with ``count == 0`` are empty).
        total: ``float64[P, size]``, the sum of each point's measurements.
        count: ``LongTensor[P, size]``, how many times each point was measured.
        residual_sum, residual_count: ``[P]``, the noise estimate's sums (see :meth:`noise_variance`).

    Example:
        >>> archive = EliteArchive(problems=1, size=2, d=3)
        >>> archive.add(torch.tensor([[[0, 1, 2], [2, 2, 2], [0, 1, 2]]]), torch.tensor([[1.0, 0.5, 3.0]]))
        >>> archive.best()[1]  # [0, 1, 2] measured twice: mean 2.0
        tensor([2.], dtype=torch.float64)
    """

    def __init__(self, problems: int, size: int, d: int, device: torch.device | None = None):
        self.problems, self.size, self.d = problems, size, d
        self.index = torch.zeros(problems, size, d, dtype=torch.long, device=device)
        self.total = torch.zeros(problems, size, dtype=torch.float64, device=device)
        self.count = torch.zeros(problems, size, dtype=torch.long, device=device)
        self.residual_sum = torch.zeros(problems, dtype=torch.float64, device=device)
        self.residual_count = torch.zeros(problems, dtype=torch.long, device=device)
        self._cached_scores: Tensor | None = None  # scores() with the archive's own noise, until it changes
        #: optional model of the true values, ``prior(points [P, M, d]) -> (mean, variance) [P, M]``:
        #: under noise, means are shrunk toward it instead of toward the archive's average
        self.prior: Callable[[Tensor], tuple[Tensor, Tensor]] | None = None

    def prior_changed(self) -> None:
        """Forget cached scores after the prior's model learned something."""
        self._cached_scores = None

    # -- statistics ----------------------------------------------------------------------------

    @property
    def filled(self) -> Tensor:
        """``BoolTensor[P, size]``: the slots that hold a point."""
        return self.count > 0

    def means(self) -> Tensor:
        """``[P, size]`` mean measurement per slot, ``-inf`` for empty slots."""
        mean = self.total / self.count.clamp_min(1)
        return mean.masked_fill(~self.filled, -torch.inf)

    def noise_variance(self) -> Tensor:
        """``[P]`` estimated variance of one measurement (0 until a re-test shows a difference).

        A re-test of a point measured ``c`` times differs from its old mean by noise of variance
        ``sigma^2 (1 + 1/c)``; each such difference, scaled by ``c / (c + 1)``, is an unbiased
        estimate of ``sigma^2``, and this is their average.
        """
        return self.residual_sum / self.residual_count.clamp_min(1)

    def scores(self, noise: Tensor | None = None) -> Tensor:
        """``[P, size]`` empirical-Bayes estimates of each point's true value (``-inf`` if empty).

        Each mean is shrunk toward the average of the archive's means by
        ``noise / count / (noise / count + spread)``, where ``spread`` is the variance of the true
        values among the archive's points (the variance of the means less the noise's share,
        at least a tenth of the variance of the means). Without noise the scores are the means.

        With a ``prior`` (a model of the true values, e.g. a regression on every measurement) the
        shrinkage is toward the prior's mean at each point, by ``noise / count / (noise / count +
        prior variance)``: a point is then judged also by what its neighbours measured.
        """
        if noise is None:
            if self._cached_scores is None:
                self._cached_scores = self.scores(self.noise_variance())
            return self._cached_scores
        means = self.means()
        filled = self.filled
        k = filled.sum(1).clamp_min(1)
        safe = torch.where(filled, means, torch.zeros_like(means))
        center = safe.sum(1) / k
        spread = (torch.where(filled, (safe - center[:, None]) ** 2, torch.zeros_like(safe))).sum(1) / k
        share = torch.where(filled, noise[:, None] / self.count.clamp_min(1), torch.zeros_like(safe))
        true_spread = torch.maximum(spread - share.sum(1) / k, 0.1 * spread).clamp_min(1e-300)
        weight = true_spread[:, None] / (true_spread[:, None] + share)
        scores = center[:, None] + weight * (safe - center[:, None])
        if self.prior is not None and bool((noise > 0).any()):
            prior_mean, prior_variance = self.prior(self.index)
            prior_weight = prior_variance.clamp_min(1e-300) / (prior_variance.clamp_min(1e-300) + share)
            smoothed = prior_mean + prior_weight * (safe - prior_mean)
            scores = torch.where((noise > 0)[:, None], smoothed, scores)
        return scores.masked_fill(~filled, -torch.inf)

    def best(self, noise: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Each problem's best point by score: ``(index [P, d], mean [P])`` (its measured mean)."""
        slot = self.scores(noise).argmax(1)
        rows = torch.arange(self.problems, device=self.index.device)
        return self.index[rows, slot], self.means()[rows, slot]

    # -- updates -------------------------------------------------------------------------------

    def match(self, points: Tensor) -> Tensor:
        """The slot holding each of ``points [P, K, d]``, or -1: ``LongTensor[P, K]``."""
        same = equal_pairs(points, self.index) & self.filled.unsqueeze(1)  # [P, K, A]
        return torch.where(same.any(-1), same.int().argmax(-1), torch.full_like(same[..., 0], -1, dtype=torch.long))

    def add(self, points: Tensor, values: Tensor) -> None:
        """Take the measurements ``values [P, K]`` of ``points [P, K, d]``.

        Points already in the archive update their slot (and the noise estimate); new points
        (equal new points merged) compete for the slots by score, and a new point that ties an
        elite's score ranks before it (on a plateau of the response the archive moves on to the
        newer point rather than freezing on the first ones it kept).
        """
        self._cached_scores = None
        points, values = points.long(), values.to(torch.float64)
        slot = self.match(points)
        known = slot >= 0
        if known.any():
            # every re-test measurement, taken one at a time in batch order within a slot, would need a
            # loop; the batch's re-tests of one slot are merged: their mean against the old mean
            P, A = self.count.shape
            target = slot.clamp_min(0)
            add_total = torch.zeros(P, A, dtype=torch.float64, device=values.device)
            add_count = torch.zeros(P, A, dtype=torch.long, device=values.device)
            add_total.scatter_add_(1, target, torch.where(known, values, torch.zeros_like(values)))
            add_count.scatter_add_(1, target, known.long())
            retested = add_count > 0
            old_mean = self.total / self.count.clamp_min(1)
            new_mean = add_total / add_count.clamp_min(1)
            c, m = self.count.double(), add_count.double()
            # var(new_mean - old_mean) = sigma^2 (1/m + 1/c)
            residual = torch.where(retested, (new_mean - old_mean) ** 2 / (1 / m.clamp_min(1) + 1 / c.clamp_min(1)),
                                   torch.zeros_like(old_mean))
            self.residual_sum += residual.sum(1)
            self.residual_count += retested.sum(1)
            self.total += add_total
            self.count += add_count
        fresh = ~known
        if not fresh.any():
            return
        # merge equal fresh points into their first occurrence
        first = first_occurrence(points)
        lead = fresh & (first == torch.arange(points.shape[1], device=points.device))
        group_total = torch.zeros_like(values).scatter_add_(1, first, torch.where(fresh, values, torch.zeros_like(values)))
        group_count = torch.zeros_like(first).scatter_add_(1, first, fresh.long())
        # the new points first: on a tie of scores (a plateau of the response) the newer point takes the
        # slot, so the archive drifts across the plateau instead of freezing on its first points
        cand_index = torch.cat([points, self.index], 1)
        cand_total = torch.cat([torch.where(lead, group_total, torch.zeros_like(values)), self.total], 1)
        cand_count = torch.cat([torch.where(lead, group_count, torch.zeros_like(first)), self.count], 1)
        self._keep_best(cand_index, cand_total, cand_count)

    def _keep_best(self, index: Tensor, total: Tensor, count: Tensor) -> None:
        noise = self.noise_variance()
        self.index, self.total, self.count = index, total, count
        order = self.scores(noise).argsort(dim=1, descending=True, stable=True)[:, : self.size]
        self._cached_scores = None
        self.index = index.gather(1, order.unsqueeze(-1).expand(-1, -1, self.d))
        self.total = total.gather(1, order)
        self.count = count.gather(1, order)
