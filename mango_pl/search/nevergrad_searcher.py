"""Any Nevergrad optimizer over the discrete grid, one optimizer per problem.

The grid is an integer-cast box ``ng.p.Array(shape=(d,), lower=-0.5, upper=n-0.5)``: continuous
optimizers (CMA, DE, ...) work in the box and each candidate is rounded to a grid index; the half
cells at both ends give the edge indices ``0`` and ``n-1`` the same width as the others (with
``lower=0, upper=n-1`` they would get half of it). (A ``ng.p.Choice`` per dimension makes
Portfolio stall for hours at d=128, n=64.)
"""

from __future__ import annotations

import difflib
import warnings

import numpy as np
import torch
from torch import Tensor

from mango_pl.checks import check_positive_int
from mango_pl.search.base import Searcher
from mango_pl.search.seeding import Seeds, seed_int

COMMON_OPTIMIZERS = ("Portfolio", "CMA", "DE", "OnePlusOne", "NoisyBandit", "SPSA", "NGOpt")


def nevergrad_optimizer_class(name: str):
    """The Nevergrad optimizer (class or configured factory) called ``name``.

    Raises:
        ValueError: no such name in ``nevergrad.optimizers.registry`` (close names are suggested).
    """
    import nevergrad as ng

    registry = ng.optimizers.registry
    if name not in registry:
        close = difflib.get_close_matches(name, list(registry), n=5)
        hint = f"; did you mean {', '.join('ng:' + c for c in close)}?" if close else ""
        raise ValueError(f"unknown Nevergrad optimizer {name!r} in method 'ng:{name}'{hint} "
                         f"'ng:<Name>' takes any name of nevergrad.optimizers.registry "
                         f"({len(registry)} names, e.g. {', '.join(COMMON_OPTIMIZERS)})")
    return registry[name]


class NevergradSearcher(Searcher):
    """A Nevergrad optimizer per problem, seeded through its parametrization's random state.

    Args:
        d, n, problems, seed, device, budget: see ``Searcher``; ``budget`` is passed to the
            optimizers (NGOpt and Portfolio choose their algorithms from it).
        optimizer: a name of ``nevergrad.optimizers.registry`` (e.g. ``"CMA"``).
        k: asks per step (the optimizers' ``num_workers``); optimizers that refuse parallel asks
            (SPSA) get ``k=1`` with a warning. With a ``budget``, the last step asks only what is
            left of it (some Nevergrad optimizers fail when asked past their budget).

    Raises:
        ValueError: unknown optimizer name, bad ``k``.

    Example:
        >>> s = NevergradSearcher(d=4, n=8, optimizer="OnePlusOne", k=2, budget=50)
        >>> s.ask().shape
        torch.Size([1, 2, 4])
    """

    method = "ng"

    def __init__(self, d: int, n: int, problems: int = 1, seed: Seeds = 0,
                 device: torch.device | str | None = None, budget: int | None = None, *,
                 optimizer: str = "NGOpt", k: int = 1):
        super().__init__(d, n, problems, seed, device, budget)
        import nevergrad as ng

        factory = nevergrad_optimizer_class(optimizer)
        k = check_positive_int("option k", k)
        if k > 1 and getattr(factory, "no_parallelization", False):
            warnings.warn(f"Nevergrad optimizer {optimizer} does not support parallel asks; using k=1 "
                          f"instead of k={k}", stacklevel=3)
            k = 1
        self.options = dict(optimizer=optimizer, k=k)
        self.method = f"ng:{optimizer}"
        self.k = k
        self._optimizers = []
        for seq in self.seeds:
            space = ng.p.Array(shape=(d,), lower=-0.5, upper=n - 0.5).set_integer_casting()
            space.random_state = np.random.RandomState(seed_int(seq, 32))
            self._optimizers.append(factory(space, budget=budget, num_workers=k))
        self._candidates: list[list] = []
        self._asked_count = 0

    def _ask(self) -> Tensor:
        count = self.k if self.budget is None else min(self.k, self.budget - self._asked_count)
        if count < 1:
            raise RuntimeError(f"the Nevergrad optimizers were made for budget={self.budget} asks and it is spent; "
                               "make the searcher with a larger budget (or budget=None)")
        self._asked_count += count
        self._candidates = [[opt.ask() for _ in range(count)] for opt in self._optimizers]
        index = np.array([[np.asarray(c.value) for c in cands] for cands in self._candidates], dtype=np.int64)
        return torch.from_numpy(np.clip(index, 0, self.n - 1)).to(self.device)

    def _tell(self, index: Tensor, values: Tensor) -> None:
        minimized = (-values).cpu().numpy()
        for opt, cands, losses in zip(self._optimizers, self._candidates, minimized):
            for cand, loss in zip(cands, losses):
                opt.tell(cand, float(loss))
