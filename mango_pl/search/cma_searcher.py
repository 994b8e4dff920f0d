"""``cma``: CMA-ES (pycma) in the continuous latent of a generator, snapped to the grid.

CMA-ES on a generator's latent is the standard of in-vivo evolution labs (e.g. the CMA benchmark
of Wang & Ponce). Here each problem runs its own ``cma.CMAEvolutionStrategy`` in the box
``[-0.5, n - 0.5]^d`` of index units (pycma's ``bounds``; the half cells give the edge indices
``0`` and ``n - 1`` the same width as the others): it starts at the grid centre with a step size of
``sigma`` latent units, learns from the continuous candidates it asked, and the objective sees
each candidate rounded to the nearest grid point.

pycma draws its samples from the global ``numpy.random`` state (which its ``seed`` option
re-seeds), so every call into a problem's strategy runs with that problem's own saved global
state swapped in and the caller's state restored afterwards: problems stay independent of their
batch and the caller's ``numpy.random`` is left alone. pycma's linear algebra runs on one BLAS
thread (with ``threadpoolctl``, which scikit-learn brings): its matrices are only ``d x d``, where
more OpenBLAS threads cost more than they give (at d=128 on 2 cores, 2 threads made pycma's
eigendecompositions about 10x slower) and would make the results depend on the thread count.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager, nullcontext
from typing import Any

import numpy as np
import torch
from torch import Tensor

from mango_pl.checks import check_int, check_positive_number
from mango_pl.search.base import Searcher
from mango_pl.search.genetic_searcher import default_latent_scale
from mango_pl.search.seeding import Seeds, seed_int


_BLAS_CONTROLLER: Any = None


def _one_blas_thread():
    """A context that limits the BLAS libraries (numpy's OpenBLAS) to one thread, if threadpoolctl
    is installed; else a no-op."""
    global _BLAS_CONTROLLER
    if _BLAS_CONTROLLER is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # pragma: no cover - scikit-learn, a dependency, brings threadpoolctl
            _BLAS_CONTROLLER = False
        else:
            _BLAS_CONTROLLER = ThreadpoolController()
    if _BLAS_CONTROLLER is False:
        return nullcontext()
    return _BLAS_CONTROLLER.limit(limits=1, user_api="blas")


class CMASearcher(Searcher):
    """CMA-ES per problem (the ``cma`` package) on continuous codes, each shown as its nearest grid point.

    Problem ``p`` gets ``cma.CMAEvolutionStrategy(x0, sigma0, options)`` with ``x0`` the grid
    centre ``(n - 1) / 2`` in every dimension, ``sigma0 = sigma * latent_scale`` index steps, the
    pycma options ``seed`` (drawn from the problem's seed), ``popsize``, ``bounds = [-0.5, n - 0.5]``
    and the ones that keep pycma silent (``verbose=-9``, no display, no log files, no signals
    file). ``ask()`` returns a generation, ``[P, popsize, d]``: each continuous candidate rounded
    and clipped to ``0..n-1``. pycma is told the continuous candidates with the values negated
    (it minimizes) once the whole generation is told.

    A ``tell`` of only the first ``K'`` points of a generation (the budget ran out, or the caller
    cut the batch to record a checkpoint) keeps the generation open: the next ``ask()`` returns
    its untold points, and pycma learns once every point is told, so cutting batches never
    changes the trajectory. A generation never completed (the search ended) is dropped: pycma
    needs a full population to learn.

    pycma's termination criteria are not applied: a budget-bound search keeps sampling (pycma
    widens its step when a generation scores flat, which on a grid happens when every candidate
    rounds to the same point).

    Args:
        d, n, problems, seed, device, budget: see ``Searcher`` (``budget`` is not used).
        sigma: initial step size in latent units (default 1: the ``N(0, 1)`` prior of a GAN latent).
        latent_scale: grid points per latent unit; ``None`` is ``(n - 1) / 8``, the SN-GAN grid of
            ``n`` points on ``[-4, 4]``.
        popsize: candidates per generation, ``>= 2``; ``None`` is pycma's default
            ``4 + floor(3 ln d)``.

    Raises:
        ValueError: a non-positive ``sigma`` or ``latent_scale``, ``popsize < 2``.
        TypeError: an option of the wrong type.

    Example:
        >>> s = CMASearcher(d=16, n=8, problems=2, popsize=6)
        >>> index = s.ask()
        >>> index.shape
        torch.Size([2, 6, 16])
        >>> s.tell(index, -(index - 3).abs().sum(-1).double())
    """

    method = "cma"

    def __init__(self, d: int, n: int, problems: int = 1, seed: Seeds = 0,
                 device: torch.device | str | None = None, budget: int | None = None, *,
                 sigma: float = 1.0, latent_scale: float | None = None, popsize: int | None = None):
        super().__init__(d, n, problems, seed, device, budget)
        try:
            import cma
        except ImportError as err:  # pragma: no cover - cma is a dependency of mango-pl
            raise ImportError("search method 'cma' needs the pycma package: pip install cma") from err

        self.sigma = check_positive_number("option sigma", sigma)
        self.latent_scale = (default_latent_scale(n) if latent_scale is None
                             else check_positive_number("option latent_scale", latent_scale))
        if popsize is not None:
            popsize = check_int("option popsize", popsize, 2)
        x0 = np.full(d, (n - 1) / 2)
        self._strategies = []
        self._random_states: list[tuple] = []
        for seq in self.seeds:
            opts: dict[str, Any] = {
                "seed": seed_int(seq, 32) % (2**31 - 1) + 1,  # pycma takes 0 / None as "seed from the clock"
                "bounds": [-0.5, n - 0.5],
                "verbose": -9, "verb_disp": 0, "verb_log": 0, "verb_plot": 0, "verb_time": False,
                "signals_filename": "",  # do not read options from a cma_signals.in file
            }
            if popsize is not None:
                opts["popsize"] = popsize
            # pycma seeds the global numpy.random with opts["seed"]; keep that state per problem
            saved = np.random.get_state()
            try:
                with _one_blas_thread():
                    self._strategies.append(cma.CMAEvolutionStrategy(x0, self.sigma * self.latent_scale, opts))
                self._random_states.append(np.random.get_state())
            finally:
                np.random.set_state(saved)
        self.popsize = int(self._strategies[0].popsize)
        self.options = dict(sigma=self.sigma, latent_scale=self.latent_scale, popsize=self.popsize)
        self._solutions: list[list[np.ndarray]] = []  # per problem: the continuous candidates asked
        self._index: Tensor | None = None  # [P, popsize, d], the grid points of the open generation
        self._values = np.empty((problems, self.popsize))
        self._told = 0
        self.generation = 0

    @contextmanager
    def _random_state_of(self, p: int):
        """Run pycma's draws for problem ``p`` on its own global ``numpy.random`` state."""
        saved = np.random.get_state()
        np.random.set_state(self._random_states[p])
        try:
            yield
        finally:
            self._random_states[p] = np.random.get_state()
            np.random.set_state(saved)

    def _each(self, call: Callable[[int, Any], Any]) -> list[Any]:
        out = []
        with _one_blas_thread():
            for p, es in enumerate(self._strategies):
                with self._random_state_of(p):
                    out.append(call(p, es))
        return out

    def _ask(self) -> Tensor:
        if self._index is None:
            self._solutions = self._each(lambda p, es: es.ask())
            x = np.asarray(self._solutions, dtype=np.float64)  # [P, popsize, d]
            index = np.clip(np.rint(x), 0, self.n - 1).astype(np.int64)
            self._index = torch.from_numpy(index).to(self.device)
        return self._index[:, self._told:].clone()

    def _tell(self, index: Tensor, values: Tensor) -> None:
        count = values.shape[1]
        self._values[:, self._told: self._told + count] = values.cpu().numpy()
        self._told += count
        if self._told == self.popsize:
            losses = -self._values
            self._each(lambda p, es: es.tell(self._solutions[p], losses[p].tolist()))
            self._solutions, self._index, self._told = [], None, 0
            self.generation += 1
