"""The reference PROTES (the ``protes`` package, JAX) behind the ask/tell interface.

This re-runs the loop of ``protes.protes`` with the package's own jitted internals
(``_generate_initial``, ``_interface_matrices``, ``_sample``, ``_likelihood``) and ``optax.adam``,
one problem after the other; for the same per-problem seed it proposes exactly the points
``protes.protes(f, D, N, seed=...)`` would. JAX is imported only when this searcher is made, and
``XLA_PYTHON_CLIENT_PREALLOCATE=false`` is set (if unset) first so it does not grab GPU memory.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import numpy as np
import torch
from torch import Tensor

from mango_pl.search.base import Searcher
from mango_pl.search.protes_torch import check_protes_options
from mango_pl.search.qtt import qtt_bits, qtt_decode
from mango_pl.search.seeding import Seeds, seed_int


def jax_seed(seq: np.random.SeedSequence) -> int:
    """The ``jax.random.PRNGKey`` seed (31 bits) that problem seed ``seq`` stands for."""
    return seed_int(seq, 32) >> 1


def _import_jax() -> Any:
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    import jax

    return jax


@functools.lru_cache(maxsize=None)
def _jitted(lr: float) -> dict[str, Any]:
    """The reference's jitted sample / interface / Adam step (cached per learning rate)."""
    jax = _import_jax()
    import jax.numpy as jnp
    import optax
    from protes.protes import _interface_matrices, _likelihood, _sample

    optim = optax.adam(lr)
    interface_matrices = jax.jit(_interface_matrices)
    likelihood = jax.jit(jax.vmap(_likelihood, (None, None, None, None, 0)))

    @jax.jit
    def loss(cores, index):
        first, middle, last = cores
        return jnp.mean(-likelihood(first, middle, last, interface_matrices(middle, last), index))

    loss_grad = jax.grad(loss)

    @jax.jit
    def optimize(state, cores, index):
        updates, state = optim.update(loss_grad(cores, index), state)
        return state, jax.tree_util.tree_map(lambda p, u: p + u, cores, updates)

    return dict(optim=optim, interface_matrices=interface_matrices, optimize=optimize,
                sample=jax.jit(jax.vmap(_sample, (None, None, None, None, 0))))


class ProtesRefSearcher(Searcher):
    """The ``protes`` package (JAX) as a ``Searcher``: the reference to check ``protes`` against.

    Args:
        d, n, problems, seed, device, budget: see ``Searcher``; problem ``p`` uses
            ``jax.random.PRNGKey(jax_seed(seeds[p]))``.
        k, k_top, k_gd, lr, r, qtt: as for ``ProtesSearcher`` (``protes.protes`` arguments).

    Raises:
        ValueError: bad option values; fewer than 2 modes (the reference needs ``D >= 2``).

    Example:
        >>> s = ProtesRefSearcher(d=4, n=8, k=10, k_top=1)
        >>> s.ask().shape
        torch.Size([1, 10, 4])
    """

    method = "protes-ref"

    def __init__(self, d: int, n: int, problems: int = 1, seed: Seeds = 0,
                 device: torch.device | str | None = None, budget: int | None = None, *,
                 k: int = 100, k_top: int = 10, k_gd: int = 1, lr: float = 5e-2, r: int = 5,
                 qtt: bool = False):
        super().__init__(d, n, problems, seed, device, budget)
        k, k_top, k_gd, lr, r, qtt = check_protes_options(k, k_top, k_gd, lr, r, qtt)
        self.options = dict(k=k, k_top=k_top, k_gd=k_gd, lr=lr, r=r, qtt=qtt)
        self.k, self.k_top, self.k_gd, self.qtt = k, k_top, k_gd, qtt
        self.modes, self.mode_size = (d * qtt_bits(n), 2) if qtt else (d, n)
        if self.modes < 2:
            raise ValueError("protes-ref (the protes package) needs at least 2 modes; use method 'protes' "
                             "for a 1-dimensional grid")
        jax = _import_jax()
        from protes.protes import _generate_initial

        self._jax = jax
        self._fn = _jitted(lr)
        self._rngs, self._cores, self._states = [], [], []
        for seq in self.seeds:
            rng, key = jax.random.split(jax.random.PRNGKey(jax_seed(seq)))
            cores = _generate_initial(self.modes, self.mode_size, r, key)
            self._rngs.append(rng)
            self._cores.append(cores)
            self._states.append(self._fn["optim"].init(cores))
        self._drawn: list[Any] = []

    def _ask(self) -> Tensor:
        jax, fn = self._jax, self._fn
        self._drawn = []
        for p in range(self.problems):
            first, middle, last = self._cores[p]
            self._rngs[p], key = jax.random.split(self._rngs[p])
            interface = fn["interface_matrices"](middle, last)
            self._drawn.append(fn["sample"](first, middle, last, interface, jax.random.split(key, self.k)))
        drawn = torch.from_numpy(np.stack([np.asarray(i) for i in self._drawn]).astype(np.int64))
        index = qtt_decode(drawn, self.n) if self.qtt else drawn
        return index.to(self.device)

    def _tell(self, index: Tensor, values: Tensor) -> None:
        jnp = self._jax.numpy
        count = index.shape[1]
        minimized = (-values).cpu().numpy()
        for p in range(self.problems):
            drawn = self._drawn[p][:count]
            best = jnp.argsort(jnp.array(minimized[p]))[: self.k_top]
            for _ in range(self.k_gd):
                self._states[p], self._cores[p] = self._fn["optimize"](self._states[p], self._cores[p], drawn[best, :])
