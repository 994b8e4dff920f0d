"""The search driver: :class:`SearchRun` asks and tells a searcher within a query budget;
:func:`maximize` drives one against an objective until the budget is spent.

A run is driven from outside: ``ask()`` gives the next batch, cut to the budget and to the next
record mark; ``tell(index, values)`` takes that batch (or its first points) with their values.
The run keeps the history, the best point of each problem, the checkpoints and the budget count,
so every caller (``maximize``, ``mango-pl loop`` over its journal) counts and records the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from mango_pl.checks import check_int, check_positive_int
from mango_pl.search.base import Searcher, check_finite
from mango_pl.grid_features import GridFeatures
from mango_pl.search.registry import make_searcher
from mango_pl.search.seeding import Seeds

Objective = Callable[[Tensor], Tensor]


@dataclass
class Checkpoint:
    """The best points of a search after its first ``queries`` queries (see ``record_at``).

    Attributes:
        queries: queries made per problem (population mode: stimuli shown in total).
        best_index: ``LongTensor[P, d]``, each problem's best point at that moment (the method's
            own choice when it makes one, see :meth:`Searcher.recommend`).
        best_value: ``float64[P]``, its value (the method's estimate when it chooses).
    """

    queries: int
    best_index: Tensor
    best_value: Tensor


@dataclass
class SearchResult:
    """What one batched search found.

    Attributes:
        best_index: ``LongTensor[P, d]``, the best point of each problem: the method's own choice
            when it makes one (methods that re-measure points under noise choose on their repeated
            measurements, see :meth:`Searcher.recommend`), else the point with the highest value
            (first one on ties).
        best_value: ``float64[P]``, its value (the method's estimate when it chooses).
        history: ``float64[P, budget]``, the value of every query in query order (population mode:
            every problem's response to every stimulus shown).
        objective_seconds: wall time spent inside the objective.
        optimizer_seconds: wall time spent inside ``ask``/``tell`` (searcher construction included).
        method: the method name.
        options: the searcher's options after presets and defaults.
        checkpoints: the best points after each query count of ``record_at``.
        stimuli: population mode: ``LongTensor[budget, d]``, every stimulus shown, in order; else ``None``.
    """

    best_index: Tensor
    best_value: Tensor
    history: Tensor
    objective_seconds: float
    optimizer_seconds: float
    method: str
    options: dict[str, Any] = field(default_factory=dict)
    checkpoints: list[Checkpoint] = field(default_factory=list)
    stimuli: Tensor | None = None


@dataclass(frozen=True)
class RunPlan:
    """How :func:`maximize` goes through a run: when it records, when it stops early, whom it tells.

    Attributes:
        record_at: query counts after which to record each problem's best point
            (``SearchResult.checkpoints``); batches are cut at them, so the record is exact.
        max_steps: stop after this many ask/tell steps even if budget is left (a smoke test); the
            history then holds only the queries made.
        progress: optional ``progress(queries_done, budget)`` called after each batch.

    Raises:
        ValueError: ``max_steps`` that is not a positive int (``record_at`` is checked against the
            budget by :class:`SearchRun`).

    Example:
        >>> RunPlan(record_at=[50, 100], max_steps=None).record_at
        (50, 100)
    """

    record_at: Sequence[int] = ()
    max_steps: int | None = None
    progress: Callable[[int, int], None] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "record_at", tuple(self.record_at))
        if self.max_steps is not None:
            check_positive_int("max_steps", self.max_steps)


def _as_values(raw: Any, shape: tuple[int, int], device: torch.device, shared: bool) -> Tensor:
    values = torch.as_tensor(raw)
    if values.dim() != 2 or tuple(values.shape) != shape:
        expected = (f"[N, P] = {list(shape)} for stimuli of shape [N, d] (population mode: every problem's "
                    f"response to every stimulus)" if shared else f"[P, K] = {list(shape)} for an index of shape [P, K, d]")
        raise ValueError(f"the objective must return values of shape {expected}; it returned shape {list(values.shape)}")
    if not (values.is_floating_point() or values.dtype in (torch.int64, torch.int32, torch.int16, torch.uint8)):
        raise TypeError(f"the objective must return a real tensor, got dtype {values.dtype}")
    return values.to(device=device, dtype=torch.float64)


def _check_record_at(record_at: Sequence[int], budget: int) -> list[int]:
    marks = [check_int("a record_at mark", mark, 1, budget, hint=f"a query count, from 1 to the budget {budget}")
             for mark in record_at]
    return sorted(set(marks))


class SearchRun:
    """One batched search, asked and told by its caller until its query budget is spent.

    Every proposal counts against ``budget``: ``ask`` cuts its batch to what the budget leaves
    (and at the next ``record_at`` mark), and the points told are counted. A caller may tell only
    the first points of a batch (a rig's aborted trials); the others are never counted or told.
    A run asked and told in pieces (a closed loop over days) equals one :func:`maximize` call.

    Args:
        method: a search method name (see ``available_methods``; your own after
            :func:`~mango_pl.search.register_method`), e.g. ``"elite"`` or ``"ng:CMA"``, or a
            :class:`Searcher` instance made for this ``d``, ``n`` and ``problems`` (then ``seed``,
            ``device`` and options are the instance's own).
        d: grid dimensions.
        n: grid points per dimension.
        budget: queries per problem (population mode: stimuli in total).
        problems: number of problems ``P``.
        seed: int, or one seed per problem; the same seed gives the same run.
        device: where the indices are made (and torch-native searchers compute).
        shared: population mode: ``ask`` gives stimuli ``[N, d]`` and ``tell`` takes every
            problem's response ``[N, P]`` (methods in :func:`mango_pl.search.shared_methods`).
        start: start points ``LongTensor[P, M, d]`` the search proposes first (counted as queries);
            methods in :func:`mango_pl.search.start_methods`.
        features: what each grid value stands for (``space.grid_features()``), for methods that
            model the response on it (``Searcher.uses_features``).
        record_at: query counts after which each problem's best point is recorded (``checkpoints``).
        **options: method options, see ``make_searcher``.

    Raises:
        ValueError: ``budget <= 0``, unknown method / option, ``record_at`` outside ``1..budget``,
            a searcher made for another grid or number of problems.
        NotImplementedError: ``shared=True`` with a method that has no population mode, ``start``
            with a method that takes no start points.

    Example:
        >>> run = SearchRun("random", d=3, n=4, budget=10, problems=2)
        >>> while not run.done:
        ...     index = run.ask()                       # [P, K, d], K cut to the budget
        ...     run.tell(index, index.sum(-1).double())
        >>> run.result().history.shape
        torch.Size([2, 10])
    """

    def __init__(self, method: str | Searcher, d: int, n: int, budget: int, problems: int = 1, seed: Seeds = 0,
                 device: torch.device | str | None = None, shared: bool = False, start: Tensor | None = None,
                 features: GridFeatures | None = None, record_at: Sequence[int] = (), **options: Any):
        budget = check_positive_int("budget", budget, hint="objective evaluations per problem")
        check_positive_int("problems", problems)
        self.marks = _check_record_at(record_at, budget)
        self.budget, self.problems, self.d, self.shared = budget, problems, d, bool(shared)
        tic = time.perf_counter()
        if isinstance(method, Searcher):
            searcher = method
            if (searcher.d, searcher.n, searcher.problems) != (d, n, problems):
                raise ValueError(f"the searcher was made for d={searcher.d}, n={searcher.n}, "
                                 f"problems={searcher.problems}, the search asks for d={d}, n={n}, problems={problems}")
            if options:
                raise ValueError(f"options {sorted(options)} go to the searcher's constructor when a Searcher instance "
                                 f"is passed, not to the search")
        else:
            searcher = make_searcher(method, d, n, problems, seed, device, budget, **options)
        if shared:
            searcher._check_shared()
        if features is not None:
            searcher.use_features(features)
        if start is not None:
            searcher.suggest(start)
        self.searcher = searcher
        self.optimizer_seconds = time.perf_counter() - tic
        device = searcher.device
        self.history = torch.empty(problems, budget, dtype=torch.float64, device=device)
        self.stimuli = torch.empty(budget, d, dtype=torch.long, device=device) if shared else None
        self.best_value = torch.full((problems,), -torch.inf, dtype=torch.float64, device=device)
        self.best_index = torch.zeros(problems, d, dtype=torch.long, device=device)
        self.checkpoints: list[Checkpoint] = []
        self.queries = 0  #: queries told per problem (population mode: stimuli told in total)
        self.steps = 0  #: ask/tell steps told
        self.pending: Tensor | None = None  #: the batch asked and not yet told

    @property
    def remaining(self) -> int:
        """Queries left per problem (population mode: stimuli left in total)."""
        return self.budget - self.queries

    @property
    def done(self) -> bool:
        """Whether the budget is spent."""
        return self.queries >= self.budget

    def ask(self) -> Tensor:
        """The next batch: ``LongTensor[P, K, d]`` (population mode: stimuli ``[N, d]``), cut to what
        the budget leaves and at the next ``record_at`` mark.

        Raises:
            RuntimeError: the budget is spent, or the last batch was not told yet.
        """
        if self.pending is not None:
            raise RuntimeError("SearchRun.ask called twice without a tell; tell the pending batch first")
        if self.done:
            raise RuntimeError(f"the budget of {self.budget} queries is spent; take the result()")
        tic = time.perf_counter()
        index = self.searcher.ask_shared() if self.shared else self.searcher.ask()
        self.optimizer_seconds += time.perf_counter() - tic
        limit = min([m for m in self.marks if m > self.queries], default=self.budget) - self.queries
        self.pending = index[:limit] if self.shared else index[:, :limit]
        return self.pending

    def tell(self, index: Tensor, values: Any) -> None:
        """Tell the values of the last batch asked, or of its first points (the rest is dropped).

        Args:
            index: the batch :meth:`ask` returned, or its first ``K'`` points (``index[:, :K']``;
                population mode ``index[:N']``).
            values: ``[P, K']`` real values (population mode: every problem's response ``[N', P]``).

        Raises:
            RuntimeError: nothing was asked.
            ValueError: an index that is not the asked batch or its start, values of the wrong
                shape, NaN / inf (naming the problem and the query).
            TypeError: values that are not real numbers.
        """
        asked = self.pending
        if asked is None:
            raise RuntimeError("SearchRun.tell needs a previous ask")
        shared, problems, done = self.shared, self.problems, self.queries
        count = index.shape[0] if shared else index.shape[1]
        prefix = asked[:count] if shared else asked[:, :count]
        if index.shape != prefix.shape or not torch.equal(index.to(asked.device), prefix):
            raise ValueError(f"tell takes the batch of the last ask (shape {list(asked.shape)}) or its first points, "
                             f"got an index of shape {list(index.shape)} that is not")
        if shared:
            values = _as_values(values, (count, problems), self.searcher.device, True)
            check_finite(values.T, "the objective", first_query=done)
            per_problem = values.T  # [P, N]
            candidates = prefix.unsqueeze(0).expand(problems, -1, -1)
        else:
            values = _as_values(values, (problems, count), self.searcher.device, False)
            check_finite(values, "the objective", first_query=done)
            per_problem, candidates = values, prefix
        self.history[:, done: done + count] = per_problem
        if self.stimuli is not None:
            self.stimuli[done: done + count] = prefix
        batch_best, where = per_problem.max(1)
        better = batch_best > self.best_value
        self.best_value = torch.where(better, batch_best, self.best_value)
        rows = torch.arange(problems, device=self.best_index.device)
        self.best_index = torch.where(better[:, None], candidates[rows, where], self.best_index)
        tic = time.perf_counter()
        if shared:
            self.searcher.tell_shared(prefix, values)
        else:
            self.searcher.tell(prefix, values)
        self.optimizer_seconds += time.perf_counter() - tic
        self.pending = None
        self.queries += count
        self.steps += 1
        if self.queries in self.marks:
            self.checkpoints.append(Checkpoint(self.queries, *self.chosen()))

    def chosen(self) -> tuple[Tensor, Tensor]:
        """Each problem's best point and value now: the searcher's recommendation when it makes one,
        else the best value told (first one on ties); copies."""
        recommended = self.searcher.recommend()
        if recommended is None:
            return self.best_index.clone(), self.best_value.clone()
        index, value = recommended
        return (index.to(self.best_index.device).long().clone(),
                value.to(self.best_value.device, torch.float64).clone())

    def result(self, objective_seconds: float = 0.0) -> SearchResult:
        """What the run found so far (the history cut to the queries told).

        Args:
            objective_seconds: the caller's time spent computing the values, for the record.
        """
        best_index, best_value = self.chosen()
        history, stimuli = self.history, self.stimuli
        if self.queries < self.budget:  # stopped early
            history = history[:, :self.queries]
            stimuli = None if stimuli is None else stimuli[:self.queries]
        return SearchResult(best_index, best_value, history, objective_seconds, self.optimizer_seconds,
                            self.searcher.method, dict(self.searcher.options), list(self.checkpoints), stimuli)


def maximize(objective: Objective, method: str | Searcher, d: int, n: int, budget: int, problems: int = 1,
             seed: Seeds = 0, device: torch.device | str | None = None, shared: bool = False,
             start: Tensor | None = None, features: GridFeatures | None = None, plan: RunPlan | None = None,
             **options: Any) -> SearchResult:
    """Maximize ``objective`` over ``{0..n-1}^d`` for ``problems`` problems at once.

    Every proposal counts against ``budget``. The last batch is cut to what the budget leaves:
    only its first points are evaluated, and only those are told to the searcher, so ``history``
    has exactly ``budget`` entries per problem. (A thin loop over :class:`SearchRun`; drive one
    yourself when the values come from elsewhere, e.g. a rig.)

    Population mode (``shared=True``): the ``P`` problems are units that see the same stimuli
    (imaging records a whole population at once). The objective takes stimuli ``index [N, d]`` and
    returns every unit's response ``[N, P]``; every unit's search learns from every stimulus, and
    ``budget`` counts the stimuli shown in total. Only methods with a population mode can do this
    (:func:`mango_pl.search.shared_methods`).

    Args:
        objective: ``f(index: LongTensor[P, K, d]) -> Tensor[P, K]``, maximized (population mode:
            ``f(index: LongTensor[N, d]) -> Tensor[N, P]``).
        method: a search method name (see ``available_methods``; your own after
            :func:`~mango_pl.search.register_method`), e.g. ``"elite"`` or ``"ng:CMA"``, or a
            :class:`Searcher` instance made for this ``d``, ``n`` and ``problems`` (then ``seed``,
            ``device`` and options are the instance's own).
        d: grid dimensions.
        n: grid points per dimension.
        budget: objective evaluations per problem (population mode: stimuli in total).
        problems: number of problems ``P``.
        seed: int, or one seed per problem; the same seed gives the same result.
        device: where the indices are made (and torch-native searchers compute).
        shared: population mode (see above).
        start: start points ``LongTensor[P, M, d]`` the search proposes first (counted as queries),
            e.g. natural images encoded into the grid; methods in :func:`mango_pl.search.start_methods`.
        features: what each grid value stands for (``space.grid_features()``: SN-GAN latent values,
            VQ-VAE codebook vectors), for methods that model the response on it
            (``Searcher.uses_features``); the other methods search the grid as integers.
        plan: when to record the best points, when to stop early, whom to tell of progress
            (:class:`RunPlan`; default: no record, the whole budget, no progress calls).
        **options: method options, see ``make_searcher``.

    Raises:
        ValueError: ``budget <= 0``, unknown method / option, values of the wrong shape, NaN / inf,
            ``plan.record_at`` outside ``1..budget``.
        NotImplementedError: ``shared=True`` with a method that has no population mode, ``start``
            with a method that takes no start points.

    Example:
        >>> target = torch.tensor([[1, 2, 3, 0]])
        >>> res = maximize(lambda i: -(i - target[:, None]).abs().sum(-1), "tt", d=4, n=4, budget=200)
        >>> res.history.shape
        torch.Size([1, 200])
    """
    moved = sorted(set(options) & {"record_at", "max_steps", "progress"})
    if moved:
        raise TypeError(f"maximize takes {', '.join(moved)} in one plan: maximize(..., plan=RunPlan("
                        f"{', '.join(f'{name}=...' for name in moved)})) (from mango_pl.search import RunPlan)")
    plan = plan or RunPlan()
    run = SearchRun(method, d, n, budget, problems, seed, device, shared, start, features, plan.record_at, **options)
    objective_seconds = 0.0
    while not run.done and (plan.max_steps is None or run.steps < plan.max_steps):
        index = run.ask()
        tic = time.perf_counter()
        values = objective(index)
        objective_seconds += time.perf_counter() - tic
        run.tell(index, values)
        if plan.progress is not None:
            plan.progress(run.queries, budget)
    return run.result(objective_seconds)
