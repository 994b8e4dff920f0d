"""``sphere-cma``: the SphereCMA of Wang & Ponce (GECCO 2022) on a sphere in a generator's latent, snapped to the grid.

Wang & Ponce, "High-performance evolutionary algorithms for online neuron control" (GECCO 2022),
found that CMA-ES works on generator latents less through its covariance than through an
implicit decay of its *angular* step: its codes drift outward (their norm grows like the square
root of the generation) while its steps stay about the same length. SphereCMA
(``ZOHA_Sphere_lr_euclid`` in ``core/Optimizers.py`` of github.com/Animadversio/ActMax-Optimizer-Dev)
makes that explicit: every code lies on the sphere of radius ``R`` about the latent's centre,
and the angle of exploration follows a fixed decaying schedule. Per problem:

* generation 0: ``popsize`` points uniform on the sphere; the new centre point is their
  rank-weighted mean (the ``popsize / 2`` best, weights ``∝ ln(popsize/2 + 1/2) - ln r``) pushed
  back onto the sphere;
* generation ``g >= 1``: the centre point ``x`` itself, then ``popsize`` samples
  ``ExpMap_x(mu_g u_i)``: ``u_i ~ N(0, I)`` projected on the tangent plane of ``x``, scaled by
  ``mu_g = angle_g / sqrt(D)`` so that the sample is about ``angle_g`` away from ``x`` on the
  great circle through ``u_i``;
* update: the rank-weighted mean ``w`` of the ``popsize`` samples (the ``select_size`` best,
  weights ``∝ ln(select_size + 1/2) - ln r``; the centre point's own score is not ranked), put on the
  sphere, and the new centre ``SLERP(x, w, lr)``: ``lr = 1.5`` goes half as far again beyond
  ``w`` along the great circle from ``x``.

Settings (the repository's, as in its benchmark and README): ``popsize = 40``, ``select_size = 20``,
``lr = 1.5``, the exponential schedule ``angle_g`` from 50° down to 7.33° over the run (``lr_schedule(
n_gen=75, mode="exp", lim=(50, 7.33))``; the repository sets ``n_gen`` to the generations its
budget allows, 75 for 3000 evaluations in generations of 40, and so does ``decay_generations=None``
here from the searcher's ``budget``; after the last generation of the schedule the angle stays
at its end). ``schedule="lin"`` is its linear decay between the same angles, ``"inv"`` its
``15 + 1 / (0.0017 g + 0.0146)`` degrees (which ignores the angles).

The radius. The repository's ``sphere_norm = 300`` is for the DeePSim fc6 generator (4096-d): the
norm its CMA-ES evolutions reach, i.e. where that generator's codes make good images (its
``analyze_traj`` measures the sphere as the mean norm of the last generation). On a latent whose
generator was trained on an ``N(0, I)`` prior (SN-GAN, BigGAN) the same reasoning gives the
shell where the prior puts its mass, ``R = sqrt(D)`` latent units (the norm of a typical prior
sample), which is the default here: on the SN-GAN grid (``[-4, 4]``) its points have coordinates
of about one latent unit, well inside the grid, as the generator's training codes had; ``300`` on a
128-d latent would put every coordinate far beyond the grid's edge. With a VQ-VAE codebook the
centre is the mean code and a latent unit the codebook's RMS spread (:class:`GridLatent`), so
``sqrt(D)`` is the typical distance of a random code configuration from the mean one; without
features, ``sqrt(d)`` latent units of ``(n - 1) / 8`` index steps about the grid centre.
``radius`` sets ``R`` in latent units.

The latent, the snapping, the per-problem seeding and the open generations under prefix tells are
those of ``cholesky-cma`` (:class:`~mango_pl.search.cholesky_cma_searcher.LatentEvolutionSearcher`).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from mango_pl.checks import check_choice, check_int, check_positive_int, check_positive_number
from mango_pl.search.cholesky_cma_searcher import LatentEvolutionSearcher, _rows, _top, log_rank_weights
from mango_pl.search.seeding import Seeds

SCHEDULES = ("exp", "lin", "inv")

#: generations of the repository's schedule (3000 evaluations in generations of 40)
DEFAULT_DECAY_GENERATIONS = 75


def angle_schedule(schedule: str, generations: int, start: float, end: float) -> Tensor:
    """The exploration angle of generations ``1..generations`` in degrees, float64 ``[generations]``."""
    if schedule == "inv":
        return 15 + 1 / (0.0017 * torch.arange(1, generations + 1, dtype=torch.float64) + 0.0146)
    if generations == 1:
        return torch.tensor([start], dtype=torch.float64)
    t = torch.arange(generations, dtype=torch.float64) / (generations - 1)
    if schedule == "exp":
        return start * (end / start) ** t
    return start + (end - start) * t


def _on_sphere(x: Tensor, radius: float) -> Tensor:
    """``x [..., D]`` scaled to norm ``radius`` (a zero vector stays zero)."""
    norm = x.square().sum(-1, keepdim=True).sqrt()
    return x * (radius / norm.clamp_min(1e-300))


class SphereCMASearcher(LatentEvolutionSearcher):
    """SphereCMA (Wang & Ponce 2022) per problem on a sphere in the grid's continuous latent, vectorized over problems.

    See the module docstring for the update rules, the radius and where the defaults come from.
    Generation 0 has ``popsize`` candidates, every later one ``popsize + 1`` (its centre first).

    Args:
        d, n, problems, seed, device: see ``Searcher``.
        budget: the planned evaluations per problem; ``decay_generations=None`` spreads the angle
            schedule over the generations it allows.
        popsize: samples per generation, ``>= 2`` (40).
        select_size: how many of the best samples the weighted mean takes, ``1..popsize`` (20).
        lr: how far along the great circle from the centre to the weighted mean the new centre
            lies (1.5: beyond the mean), ``> 0``.
        radius: the sphere's radius in latent units (``None``: ``sqrt(D)``, see the module docstring).
        schedule: the angle decay, ``"exp"`` (default), ``"lin"`` or ``"inv"``.
        angle_start, angle_end: the first and last exploration angle in degrees (50, 7.33).
        decay_generations: generations the schedule spans (``None``: ``budget / popsize``, rounded,
            or 75 when the budget is unknown).
        latent_scale: the size of one latent unit, see
            :class:`~mango_pl.search.cholesky_cma_searcher.GridLatent` (``None``: its default).

    Raises:
        ValueError: a bad option value (the message names the option).
        TypeError: an option of the wrong type.

    Example:
        >>> s = SphereCMASearcher(d=16, n=8, problems=2, popsize=6, select_size=3)
        >>> index = s.ask()
        >>> index.shape
        torch.Size([2, 6, 16])
        >>> s.tell(index, -(index - 3).abs().sum(-1).double())
        >>> s.ask().shape  # the centre, then 6 samples around it
        torch.Size([2, 7, 16])
    """

    method = "sphere-cma"

    def __init__(self, d: int, n: int, problems: int = 1, seed: Seeds = 0,
                 device: torch.device | str | None = None, budget: int | None = None, *,
                 popsize: int = 40, select_size: int = 20, lr: float = 1.5, radius: float | None = None,
                 schedule: str = "exp", angle_start: float = 50.0, angle_end: float = 7.33,
                 decay_generations: int | None = None, latent_scale: float | None = None):
        super().__init__(d, n, problems, seed, device, budget, latent_scale=latent_scale)
        self.popsize = check_int("option popsize", popsize, 2)
        self.select_size = check_int("option select_size", select_size, 1, self.popsize, hint="at most popsize")
        self.lr = check_positive_number("option lr", lr)
        self.radius = check_positive_number("option radius", radius, optional=True)
        self.schedule = check_choice("option schedule", schedule, SCHEDULES)
        self.angle_start = check_positive_number("option angle_start", angle_start)
        self.angle_end = check_positive_number("option angle_end", angle_end)
        if decay_generations is None:
            decay_generations = (DEFAULT_DECAY_GENERATIONS if budget is None
                                 else max(1, round(budget / self.popsize)))
        self.decay_generations = check_positive_int("option decay_generations", decay_generations)
        self.options = dict(popsize=self.popsize, select_size=self.select_size, lr=self.lr, radius=self.radius,
                            schedule=self.schedule, angle_start=self.angle_start, angle_end=self.angle_end,
                            decay_generations=self.decay_generations, latent_scale=self.latent_scale)

    def _setup(self, dim: int) -> None:
        self.dim = dim
        if self.radius is None:
            self.radius = math.sqrt(dim)
        self.options["radius"] = self.radius
        dev = self.device
        self.first_weights = log_rank_weights(self.popsize, self.popsize / 2).to(dev)
        self.weights = log_rank_weights(self.popsize, self.select_size).to(dev)
        self.angles = angle_schedule(self.schedule, self.decay_generations, self.angle_start, self.angle_end)
        #: each problem's centre point on the sphere, ``[P, D]`` (``None`` before generation 0 is told)
        self.centre: Tensor | None = None

    def angle(self, generation: int) -> float:
        """The exploration angle (degrees) of ``generation`` (``>= 1``)."""
        return float(self.angles[min(generation, len(self.angles)) - 1])

    def _sample(self) -> Tensor:
        if self.centre is None:  # generation 0: uniform on the sphere
            return _on_sphere(self._rng.normal(self.popsize, self.dim), self.radius)
        x = self.centre  # [P, D], norm R
        unit = x / self.radius
        u = self._rng.normal(self.popsize, self.dim)  # [P, K, D]
        u = u - (u * unit[:, None]).sum(-1, keepdim=True) * unit[:, None]  # onto the tangent plane at x
        tangent = (math.radians(self.angle(self.generation)) / math.sqrt(self.dim)) * u
        turn = tangent.square().sum(-1, keepdim=True).sqrt()  # the angle of each sample from x
        direction = tangent / turn.clamp_min(1e-300)
        samples = self.radius * (torch.cos(turn) * unit[:, None] + torch.sin(turn) * direction)
        return torch.cat([x[:, None], _on_sphere(samples, self.radius)], 1)

    def _update(self, z: Tensor, values: Tensor) -> None:
        if self.centre is None:
            order = _top(values, self.popsize)
            mean = (self.first_weights[None, :, None] * _rows(z, order)).sum(1)
            self.centre = _on_sphere(mean, self.radius)
            return
        current, samples = z[:, 0], z[:, 1:]  # the centre point is shown but not ranked
        order = _top(values[:, 1:], self.select_size)
        mean = _on_sphere((self.weights[None, : self.select_size, None] * _rows(samples, order)).sum(1), self.radius)
        self.centre = _on_sphere(slerp(current, mean, self.lr), self.radius)


def slerp(a: Tensor, b: Tensor, t: float) -> Tensor:
    """Spherical interpolation (``t`` in ``[0, 1]``) or extrapolation (``t > 1``) from ``a [P, D]`` to
    ``b [P, D]`` (both of the same norm) along their great circle; ``b`` where they (nearly) coincide."""
    cos = ((a * b).sum(-1) / (a.square().sum(-1) * b.square().sum(-1)).sqrt().clamp_min(1e-300)).clamp(-1, 1)
    angle = torch.arccos(cos)[:, None]
    sin = torch.sin(angle)
    safe = sin.clamp_min(1e-12)
    out = (torch.sin((1 - t) * angle) * a + torch.sin(t * angle) * b) / safe
    return torch.where(sin > 1e-12, out, b)
