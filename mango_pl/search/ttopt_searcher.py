"""TTOpt (the ``ttopt`` package) behind the ask/tell interface.

``ttopt.ttopt`` is a loop that calls a function with batches of grid indices. ``ttopt_queries``
is that same loop as a Python generator (built from the package's own helpers: ``ttopt_init``,
``_iter``, ``_merge``, ``ttopt_fs``, ``ttopt_find``, ``_update_iter``): it yields each batch and
receives its values, so one generator per problem can be driven by ask/tell without threads and
without the package's cache or evaluation limit. TTOpt minimizes, so the values told are negated.
"""

from __future__ import annotations

from collections.abc import Generator

import numpy as np
import torch
from torch import Tensor

from mango_pl.checks import check_bool, check_positive_int, check_positive_number
from mango_pl.search.base import Searcher
from mango_pl.search.qtt import qtt_bits, qtt_decode
from mango_pl.search.seeding import Seeds, seed_int


def ttopt_queries(sizes: list[int], rank: int, seed: int, fs_opt: float | None = 1.0
                  ) -> Generator[np.ndarray, np.ndarray, None]:
    """The loop of ``ttopt.ttopt`` (minimization, default flags) as a generator.

    Yields ``int[K, D]`` batches of multi-indices; ``send`` the minimized values ``float[K]``.
    """
    from ttopt.ttopt_raw import _iter, _merge, _reshape, _update_iter, ttopt_find, ttopt_fs, ttopt_init

    d = len(sizes)
    grid = [np.reshape(np.arange(k), (-1, 1)) for k in sizes]
    cores, ranks = ttopt_init(sizes, rank, None, seed, with_rank=True)
    rows: list = [None] * (d + 1)
    for i in range(d - 1):
        rows[i + 1] = _iter(cores[i], rows[i], grid[i], l2r=True)
    i_opt = y_opt = opt_opt = None
    sweep, i, l2r = 0, d - 1, False
    while True:
        points = _merge(rows[i], rows[i + 1], grid[i])
        y = yield points
        i_opt, y_opt, opt_opt = ttopt_find(points, y, [None] * len(y), i_opt, y_opt, opt_opt, False)
        z = ttopt_fs(_reshape(y, (ranks[i], sizes[i], ranks[i + 1])), y_opt, fs_opt)
        if l2r and i < d - 1:
            rows[i + 1] = _iter(z, rows[i], grid[i], l2r, True, False, False)
            ranks[i + 1] = rows[i + 1].shape[0]
        if not l2r and i > 0:
            rows[i] = _iter(z, rows[i + 1], grid[i], l2r, True, False, False)
            ranks[i] = rows[i].shape[0]
        i, sweep, l2r = _update_iter(d, i, sweep, l2r)


class TTOptSearcher(Searcher):
    """TTOpt (cross maximum-volume search in the TT format), one ``ttopt`` loop per problem.

    The batch size ``K`` of each ask is the size of the current TT-cross fiber (``r1 * n * r2``),
    the same for every problem. If fewer than ``K`` values are told (the budget ran out), the rest
    of that batch is asked again next time, so the loop only ever sees complete batches.

    Args:
        d, n, problems, seed, device, budget: see ``Searcher``.
        rank: maximum TT rank of the cross.
        fs_opt: smoothing ``exp(fs_opt * (y_opt - y))`` of the minimized values; ``None`` uses arctan.
        qtt: search ``d*q`` binary modes (``n = 2**q``).

    Example:
        >>> s = TTOptSearcher(d=4, n=8, rank=2)
        >>> s.ask().shape
        torch.Size([1, 16, 4])
    """

    method = "ttopt"

    def __init__(self, d: int, n: int, problems: int = 1, seed: Seeds = 0,
                 device: torch.device | str | None = None, budget: int | None = None, *,
                 rank: int = 4, fs_opt: float | None = 1.0, qtt: bool = False):
        super().__init__(d, n, problems, seed, device, budget)
        rank = check_positive_int("option rank", rank)
        if fs_opt is not None:
            fs_opt = check_positive_number("option fs_opt", fs_opt)
        check_bool("option qtt", qtt)
        self.options = dict(rank=rank, fs_opt=fs_opt, qtt=qtt)
        self.qtt = qtt
        self.modes, self.mode_size = (d * qtt_bits(n), 2) if qtt else (d, n)
        self._loops = [ttopt_queries([self.mode_size] * self.modes, rank, seed_int(s, 32), fs_opt)
                       for s in self.seeds]
        self._batch: list[np.ndarray] = [next(loop) for loop in self._loops]
        self._told: list[np.ndarray] = [np.empty(0) for _ in self._loops]

    def _ask(self) -> Tensor:
        done = self._told[0].size
        sizes = {len(batch) for batch in self._batch}
        if len(sizes) != 1:
            raise RuntimeError(f"ttopt asked batches of different sizes {sorted(sizes)} for the problems; "
                               "search them in separate searchers")
        drawn = torch.from_numpy(np.stack([batch[done:] for batch in self._batch]).astype(np.int64))
        index = qtt_decode(drawn, self.n) if self.qtt else drawn
        return index.to(self.device)

    def _tell(self, index: Tensor, values: Tensor) -> None:
        minimized = (-values).cpu().numpy()
        for p, loop in enumerate(self._loops):
            told = np.concatenate((self._told[p], minimized[p]))
            if told.size < len(self._batch[p]):
                self._told[p] = told
                continue
            self._told[p] = np.empty(0)
            self._batch[p] = loop.send(told)
