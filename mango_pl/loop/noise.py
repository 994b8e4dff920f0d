"""Measurement noise of a recording rig, for benchmarks and simulated experiments.

A living neuron never answers the same stimulus twice with the same number. These models turn
noise-free responses ``r`` (e.g. a unit's spike rate) into noisy measurements, each problem with
its own random stream (so a problem's noise does not depend on its batch):

* :class:`MultiplicativeNoise` — ``r * max(0, 1 + sigma * eps)``, ``eps ~ N(0, 1)``: the model of
  Wang & Ponce's benchmark of optimizers for in-vivo evolution (sigma 0.2 and 0.5);
* :class:`PoissonNoise` — the rate read as a spike count over a short window:
  ``Poisson(window * r / scale) * scale / window`` (``scale`` maps a unit's response to a rate of
  about 1; 1 for spike rates in [0, 1]).

:class:`NoisyObjective` wraps an objective ``f(index [P, K, d]) -> [P, K]`` with a noise model and
keeps the noise-free values it saw, so a benchmark can score what a method *returns* by its true
response.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor

from mango_pl.search.seeding import Seeds, problem_seeds


class NoiseModel(ABC):
    """Noisy measurements of noise-free responses, one random stream per problem."""

    #: a short name for tables (``"none"``, ``"mult0.5"``, ``"poisson10"``)
    name: str = ""

    @abstractmethod
    def sample(self, values: np.ndarray, generator: np.random.Generator, problem: int) -> np.ndarray:
        """Noisy measurements of problem ``problem``'s noise-free ``values [K]``."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name})"


class NoNoise(NoiseModel):
    """Measurements equal the noise-free responses."""

    name = "none"

    def sample(self, values: np.ndarray, generator: np.random.Generator, problem: int) -> np.ndarray:
        return values


class MultiplicativeNoise(NoiseModel):
    """``r * max(0, 1 + sigma * eps)``, ``eps ~ N(0, 1)`` (Wang & Ponce's noise model).

    Args:
        sigma: relative noise level (> 0).

    Raises:
        ValueError: ``sigma <= 0``.
    """

    def __init__(self, sigma: float):
        if not sigma > 0:
            raise ValueError(f"sigma must be > 0, got {sigma}")
        self.sigma = float(sigma)
        self.name = f"mult{self.sigma:g}"

    def sample(self, values: np.ndarray, generator: np.random.Generator, problem: int) -> np.ndarray:
        return values * np.maximum(0.0, 1.0 + self.sigma * generator.standard_normal(values.shape))


class PoissonNoise(NoiseModel):
    """The response read as a spike count over a short window: ``Poisson(window * r / s) * s / window``.

    Args:
        window: expected spikes at response ``r = s`` (a short window: ~10).
        scale: ``s``, the response that stands for one spike per slot: a float for every problem,
            or one per problem (e.g. each unit's typical high response); 1 for spike rates.

    Raises:
        ValueError: ``window <= 0`` or a non-positive scale.
    """

    def __init__(self, window: float = 10.0, scale: float | Sequence[float] = 1.0):
        if not window > 0:
            raise ValueError(f"window must be > 0 (expected spikes at the scale), got {window}")
        scales = np.atleast_1d(np.asarray(scale, dtype=np.float64))
        if not (scales > 0).all():
            raise ValueError(f"scale must be > 0, got {scale}")
        self.window = float(window)
        self.scale = scales
        self.name = f"poisson{self.window:g}"

    def sample(self, values: np.ndarray, generator: np.random.Generator, problem: int) -> np.ndarray:
        scale = self.scale[problem] if self.scale.size > 1 else self.scale[0]
        rate = np.maximum(values, 0.0) * self.window / scale
        return generator.poisson(rate) * scale / self.window


def noise_model(name: str, scale: float | Sequence[float] = 1.0) -> NoiseModel:
    """The noise model called ``name``: ``"none"``, ``"mult<sigma>"`` (e.g. ``"mult0.5"``) or
    ``"poisson<window>"`` (e.g. ``"poisson10"``; ``scale`` as in :class:`PoissonNoise`).

    Raises:
        ValueError: any other name.
    """
    try:
        if name == "none":
            return NoNoise()
        if name.startswith("mult"):
            return MultiplicativeNoise(float(name[4:]))
        if name.startswith("poisson"):
            return PoissonNoise(float(name[7:]), scale)
    except ValueError as error:
        raise ValueError(f"bad noise model {name!r}: {error}") from error
    raise ValueError(f"unknown noise model {name!r}; use 'none', 'mult<sigma>' (e.g. 'mult0.5') or "
                     f"'poisson<window>' (e.g. 'poisson10')")


class NoisyObjective:
    """``objective`` measured through ``noise``; remembers the noise-free values.

    Args:
        objective: ``f(index [P, K, d]) -> values [P, K]`` (noise-free).
        noise: the noise model.
        problems: ``P``.
        seed: seeds of the noise streams (int or one per problem), independent of the search's.

    Attributes:
        true_max: ``float64[P]``, the highest noise-free value of any point measured so far.
        measured: number of points measured per problem.

    Example:
        >>> f = NoisyObjective(lambda i: i.sum(-1).double(), MultiplicativeNoise(0.5), problems=2, seed=0)
        >>> noisy = f(torch.ones(2, 3, 4, dtype=torch.long))   # [2, 3], around 4
    """

    def __init__(self, objective: Callable[[Tensor], Tensor], noise: NoiseModel, problems: int, seed: Seeds = 0):
        self.objective = objective
        self.noise = noise
        self.problems = problems
        self.generators = [np.random.default_rng(s) for s in problem_seeds(seed, problems)]
        self.true_max = torch.full((problems,), -torch.inf, dtype=torch.float64)
        self.measured = 0

    def __call__(self, index: Tensor) -> Tensor:
        true = torch.as_tensor(self.objective(index)).to(torch.float64)
        self.true_max = torch.maximum(self.true_max, true.max(1).values.cpu())
        self.measured += true.shape[1]
        return self.measure(true)

    def measure(self, true: Tensor) -> Tensor:
        """Noisy measurements of noise-free values ``[P, K]`` (from each problem's stream)."""
        values = true.detach().cpu().to(torch.float64).numpy()
        noisy = np.stack([self.noise.sample(values[p], g, p) for p, g in enumerate(self.generators)])
        return torch.from_numpy(noisy).to(true.device)
