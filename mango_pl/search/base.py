"""The ask/tell interface every maximizer of mango-pl implements.

A ``Searcher`` maximizes ``P`` independent black-box functions over the grid ``{0..n-1}^d`` at
once: ``ask()`` proposes ``K`` points per problem, the caller evaluates them and ``tell()``-s the
values back. ``K`` is chosen by the method and may change between asks.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import torch
from torch import Tensor

from mango_pl.checks import check_int, check_positive_int
from mango_pl.grid_features import GridFeatures
from mango_pl.search.seeding import Seeds, problem_seeds


def check_finite(values: Tensor, where: str, first_query: int = 0) -> None:
    """Raise a ``ValueError`` naming the first NaN / inf in ``values[P, K]`` (problem and query)."""
    bad = ~torch.isfinite(values)
    if bool(bad.any()):
        p, k = (int(v) for v in bad.nonzero()[0])
        raise ValueError(
            f"{where} returned a non-finite value {values[p, k].item()} for problem {p}, query "
            f"{first_query + k} (0-based); the objective must return finite numbers (replace NaN/inf, "
            f"e.g. with torch.nan_to_num, before returning)")


class Searcher(ABC):
    """Batched ask/tell maximizer over ``P`` independent problems on the grid ``{0..n-1}^d``.

    Subclasses implement ``_ask`` and ``_tell``; this base class checks the calls: ``ask`` and
    ``tell`` alternate, and ``tell`` takes the points of the last ``ask`` (all ``K`` of them, or the
    first ``K'`` along dim 1 when the budget ran out mid-batch) with finite values ``[P, K']``.

    Args:
        d: number of grid dimensions.
        n: number of grid points per dimension.
        problems: number of independent problems ``P`` searched together.
        seed: an int, or one seed per problem (see ``mango_pl.search.seeding``); problem ``p``'s
            trajectory depends on its own seed only, never on ``P``.
        device: where ``ask`` puts its indices (and where torch-native methods compute).
        budget: the number of evaluations per problem the caller plans, for methods that adapt to
            it (Nevergrad); ``None`` if unknown.

    Raises:
        ValueError: ``d < 1``, ``n < 2``, ``problems < 1``, bad seeds; misuse of ``ask``/``tell``.

    Example:
        >>> from mango_pl.search import make_searcher
        >>> s = make_searcher("random", d=4, n=8, problems=2, k=3)
        >>> index = s.ask()                       # LongTensor[2, 3, 4]
        >>> s.tell(index, -index.float().sum(-1))  # values [2, 3]
    """

    method: str = ""
    #: whether the method can search in population mode (``ask_shared``/``tell_shared``): every
    #: stimulus is scored on every problem and every problem learns from every stimulus
    supports_shared: bool = False
    #: whether the method takes start points (``suggest``), e.g. from a natural-image warm start
    supports_start: bool = False
    #: whether the method models the response on what grid points mean (``use_features``); the
    #: others see the grid as integers and are not given the features
    uses_features: bool = False

    def __init__(self, d: int, n: int, problems: int = 1, seed: Seeds = 0,
                 device: torch.device | str | None = None, budget: int | None = None):
        d, n, problems = check_positive_int("d", d), check_int("n", n, 2), check_positive_int("problems", problems)
        check_positive_int("option budget", budget, optional=True)
        self.d = d
        self.n = n
        self.problems = problems
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.seeds = problem_seeds(seed, problems)
        self.budget = budget
        self.options: dict[str, Any] = {}
        self._asked: Tensor | None = None
        self._asked_shared = False
        self._started = False
        #: what grid points mean (``use_features``), ``None`` until given
        self.features: GridFeatures | None = None

    def use_features(self, features: GridFeatures) -> None:
        """Tell the searcher what each grid value stands for (before the first ``ask``), e.g.
        ``space.grid_features()``. Searchers that do not model the response (``uses_features`` is
        False) keep it and ignore it.

        Raises:
            TypeError: ``features`` is not a :class:`~mango_pl.grid_features.GridFeatures`.
            ValueError: its table does not fit this grid.
            RuntimeError: the search has already started.
        """
        if not isinstance(features, GridFeatures):
            raise TypeError(f"features must be a mango_pl.search.GridFeatures (e.g. space.grid_features()), "
                            f"got {type(features).__name__}")
        features.check(self.d, self.n)
        if self._asked is not None or self._started:
            raise RuntimeError("use_features() must come before the first ask()")
        self.features = features
        self._use_features(features)

    def _use_features(self, features: GridFeatures) -> None:
        """Hook for searchers with ``uses_features``: prepare whatever depends on the features."""

    def ask(self) -> Tensor:
        """Propose points: ``LongTensor[P, K, d]`` on ``self.device`` with entries in ``0..n-1``."""
        if self._asked is not None:
            raise RuntimeError("ask() was called twice in a row; tell() the values of the last ask() first")
        with torch.enable_grad():  # a searcher may fit its model with autograd (PROTES), even
            index = self._ask()  # when the caller runs its objective under no_grad
        self._asked, self._asked_shared, self._started = index, False, True
        return index

    def ask_shared(self) -> Tensor:
        """Population mode: propose stimuli shown to every problem, ``LongTensor[N, d]``.

        Raises:
            NotImplementedError: the method has no population mode (``supports_shared`` is False).
            RuntimeError: a previous ask was not told.
        """
        self._check_shared()
        if self._asked is not None:
            raise RuntimeError("ask_shared() was called twice in a row; tell_shared() the values of the last "
                               "ask_shared() first")
        index = self._ask_shared()
        self._asked, self._asked_shared, self._started = index, True, True
        return index

    def tell_shared(self, index: Tensor, values: Tensor) -> None:
        """Population mode: the responses ``[N', P]`` of every problem to the stimuli ``index[N', d]``
        of the last ``ask_shared()`` (all of them, or the first ``N'``).

        Raises:
            RuntimeError: no ``ask_shared()`` before.
            ValueError: ``index`` is not (a prefix of) the last asked stimuli, ``values`` has the wrong
                shape, or holds NaN / inf.
        """
        self._check_shared()
        if self._asked is None or not self._asked_shared:
            raise RuntimeError("tell_shared() needs a previous ask_shared(): call ask_shared(), show its "
                               "stimuli, then tell_shared() every problem's responses")
        asked = self._asked
        index = torch.as_tensor(index, device=self.device)
        count = index.shape[0] if index.dim() == 2 else -1
        if (index.dim() != 2 or index.shape[1] != self.d or not 1 <= count <= asked.shape[0]
                or not torch.equal(index.long(), asked[:count])):
            raise ValueError(
                f"tell_shared() takes the stimuli of the last ask_shared(), shape [N, d] = {list(asked.shape)}, "
                f"or its first N' rows; got a tensor of shape {list(index.shape)} that is not that")
        values = torch.as_tensor(values, device=self.device).to(torch.float64)
        if tuple(values.shape) != (count, self.problems):
            raise ValueError(f"tell_shared() values must have shape [N, P] = [{count}, {self.problems}] (every "
                             f"problem's response to every stimulus), got {list(values.shape)}")
        check_finite(values.T, "tell_shared()")
        self._asked = None
        self._tell_shared(asked[:count], values)

    def suggest(self, index: Tensor) -> None:
        """Start points: ``index [P, M, d]`` that the next asks propose (and count) before the method's
        own, e.g. natural images encoded into the grid (a warm start). Population mode proposes
        each distinct point once, for every problem.

        Raises:
            NotImplementedError: the method takes no start points (``supports_start`` is False).
            ValueError: ``index`` is not ``[P, M, d]`` inside the grid.
        """
        if not self.supports_start:
            raise NotImplementedError(f"search method {self.method or type(self).__name__!r} takes no start points; "
                                      f"use one that does (see mango_pl.search.start_methods())")
        index = torch.as_tensor(index, device=self.device)
        if (index.dim() != 3 or index.shape[0] != self.problems or index.shape[2] != self.d
                or index.is_floating_point()):
            raise ValueError(f"start points must be an integer tensor [P, M, d] with P={self.problems}, d={self.d}; "
                             f"got {index.dtype} of shape {list(index.shape)}")
        if index.numel() and (index.min() < 0 or index.max() >= self.n):
            raise ValueError(f"start points must lie in 0..{self.n - 1}, got {index.min().item()}..{index.max().item()}")
        self._suggest(index.long())

    def _suggest(self, index: Tensor) -> None:
        """Queue checked start points ``[P, M, d]`` (methods with ``supports_start``)."""
        raise NotImplementedError(f"{type(self).__name__} sets supports_start but does not define _suggest()")

    def recommend(self) -> tuple[Tensor, Tensor] | None:
        """The method's own choice of each problem's best point so far, ``(index [P, d], value [P])``.

        Methods that re-measure points under noise choose on their repeated measurements and return
        their estimate of its value; the default ``None`` lets the caller take the point with the
        highest value told (what :func:`~mango_pl.search.maximize` does then).
        """
        return None

    def _check_shared(self) -> None:
        if not self.supports_shared:
            raise NotImplementedError(
                f"search method {self.method or type(self).__name__!r} has no population (shared-stimuli) mode; "
                f"use one that has (see mango_pl.search.shared_methods())")

    def _ask_shared(self) -> Tensor:
        """Return ``LongTensor[N, d]`` on ``self.device`` (methods with ``supports_shared``)."""
        raise NotImplementedError(f"{type(self).__name__} sets supports_shared but does not define _ask_shared()")

    def _tell_shared(self, index: Tensor, values: Tensor) -> None:
        """Take checked values ``float64[N', P]`` of ``index[N', d]`` (methods with ``supports_shared``)."""
        raise NotImplementedError(f"{type(self).__name__} sets supports_shared but does not define _tell_shared()")

    def tell(self, index: Tensor, values: Tensor) -> None:
        """Report the values ``[P, K']`` of the points ``index[P, K', d]`` of the last ``ask()``.

        Raises:
            RuntimeError: no ``ask()`` before.
            ValueError: ``index`` is not (a prefix along dim 1 of) the last asked points, ``values``
                has the wrong shape, or holds NaN / inf.
        """
        if self._asked is None or self._asked_shared:
            raise RuntimeError("tell() needs a previous ask(): call ask(), evaluate its points, then tell()")
        asked = self._asked
        index = torch.as_tensor(index, device=self.device)
        count = index.shape[1] if index.dim() == 3 else -1
        if (index.dim() != 3 or index.shape[0] != self.problems or index.shape[2] != self.d
                or not 1 <= count <= asked.shape[1] or not torch.equal(index.long(), asked[:, :count])):
            raise ValueError(
                f"tell() takes the points of the last ask(), shape [P, K, d] = {list(asked.shape)}, or its "
                f"first K' points along dim 1; got a tensor of shape {list(index.shape)} that is not that")
        values = torch.as_tensor(values, device=self.device).to(torch.float64)
        if tuple(values.shape) != (self.problems, count):
            raise ValueError(f"tell() values must have shape [P, K] = [{self.problems}, {count}], "
                             f"got {list(values.shape)}")
        check_finite(values, "tell()")
        self._asked = None
        with torch.enable_grad():
            self._tell(asked[:, :count], values)

    @abstractmethod
    def _ask(self) -> Tensor:
        """Return ``LongTensor[P, K, d]`` on ``self.device``."""

    @abstractmethod
    def _tell(self, index: Tensor, values: Tensor) -> None:
        """Take checked values ``float64[P, K']`` of ``index[P, K', d]`` (a prefix of the last ask)."""

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
        return (f"{type(self).__name__}(method={self.method!r}, d={self.d}, n={self.n}, "
                f"problems={self.problems}{', ' + opts if opts else ''})")
