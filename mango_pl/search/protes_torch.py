"""PROTES written natively in torch, all problems of a batch in the same tensor ops."""

from __future__ import annotations

import torch
from torch import Tensor

from mango_pl.checks import check_bool, check_choice, check_positive_int, check_positive_number
from mango_pl.search.base import Searcher
from mango_pl.search.qtt import qtt_bits, qtt_decode
from mango_pl.search.seeding import ProblemGenerators, Seeds
from mango_pl.search.tt_distribution import Adam, initial_cores, interfaces, loss_and_grad, random_shape, sample

_DTYPES = {"float64": torch.float64, "float32": torch.float32}


def check_protes_options(k: int, k_top: int, k_gd: int, lr: float, r: int, qtt: bool) -> tuple:
    """PROTES's options checked (both the torch and the reference searcher take them):
    ``(k, k_top, k_gd, lr, r, qtt)``, or an error naming the option and its valid values."""
    k = check_positive_int("option k", k)
    k_top = check_positive_int("option k_top", k_top)
    if k_top > k:
        raise ValueError(f"option k_top={k_top} must not exceed k={k} (the samples per step)")
    k_gd = check_positive_int("option k_gd", k_gd)
    lr = check_positive_number("option lr", lr)
    r = check_positive_int("option r", r)
    return k, k_top, k_gd, lr, r, check_bool("option qtt", qtt)


class ProtesSearcher(Searcher):
    """PROTES (Batsheva et al., NeurIPS 2023): sample from a TT probability tensor, raise the
    likelihood of the best samples with Adam. Same math as the ``protes`` package (which minimizes;
    this maximizes), batched over problems: cores ``[P, D, r, r, n]`` on ``device``.

    Each problem draws its numbers from its own generator (seeded from its seed), so a
    problem's trajectory does not depend on the batch it is in.

    Args:
        d, n, problems, seed, device, budget: see ``Searcher``.
        k: samples per step (``K`` of each ask).
        k_top: number of best samples whose likelihood each step raises.
        k_gd: Adam steps per iteration.
        lr: Adam learning rate.
        r: TT rank.
        qtt: search ``d*q`` binary modes instead of ``d`` modes of ``n = 2**q`` points.
        dtype: ``"float32"`` (default, the precision the reference runs in) or ``"float64"``.

    Raises:
        ValueError: bad option values; ``qtt=True`` with ``n`` not a power of two.

    Example:
        >>> s = ProtesSearcher(d=6, n=8, problems=2, k=10, k_top=1)
        >>> index = s.ask()
        >>> index.shape
        torch.Size([2, 10, 6])
        >>> s.tell(index, -(index - 3).abs().sum(-1).double())
    """

    method = "protes"

    def __init__(self, d: int, n: int, problems: int = 1, seed: Seeds = 0,
                 device: torch.device | str | None = None, budget: int | None = None, *,
                 k: int = 100, k_top: int = 10, k_gd: int = 1, lr: float = 5e-2, r: int = 5,
                 qtt: bool = False, dtype: str = "float32"):
        super().__init__(d, n, problems, seed, device, budget)
        k, k_top, k_gd, lr, r, qtt = check_protes_options(k, k_top, k_gd, lr, r, qtt)
        check_choice("option dtype", dtype, sorted(_DTYPES))
        self.options = dict(k=k, k_top=k_top, k_gd=k_gd, lr=lr, r=r, qtt=qtt, dtype=dtype)
        self.k, self.k_top, self.k_gd = k, k_top, k_gd
        self.qtt = qtt
        self.modes, self.mode_size = (d * qtt_bits(n), 2) if qtt else (d, n)
        self._rng = ProblemGenerators(self.seeds, self.device)
        uniform = self._rng.uniform(self.modes, r, r, self.mode_size, dtype=_DTYPES[dtype])
        self.cores = initial_cores(uniform)
        self._adam = Adam(self.cores, lr)
        self._drawn: Tensor | None = None
        self._found = None

    def _ask(self) -> Tensor:
        uniform = self._rng.uniform(*random_shape(self.k, self.modes, self.mode_size), dtype=self.cores.dtype)
        self._found = interfaces(self.cores)  # the loss of the coming tell needs them too
        self._drawn = sample(self.cores, uniform, self._found).clone()  # a normal tensor (sample runs in inference mode)
        return qtt_decode(self._drawn, self.n) if self.qtt else self._drawn

    def _tell(self, index: Tensor, values: Tensor) -> None:
        drawn = self._drawn[:, : index.shape[1]]
        top = min(self.k_top, drawn.shape[1])
        # best first; stable, like the reference's argsort of the values it minimizes
        order = torch.argsort(-values, dim=1, stable=True)[:, :top]
        best = torch.gather(drawn, 1, order.unsqueeze(-1).expand(-1, -1, drawn.shape[-1]))
        for step in range(self.k_gd):
            _, grad = loss_and_grad(self.cores, best, self._found if step == 0 else None)
            self._adam.step(self.cores, grad)
