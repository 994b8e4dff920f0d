"""``maximize``: drive a searcher against an objective until the query budget is spent."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from mango_pl.search.base import Searcher, check_finite, check_positive_int
from mango_pl.search.features import GridFeatures
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
    marks = []
    for mark in record_at:
        if isinstance(mark, bool) or not isinstance(mark, int) or not 1 <= mark <= budget:
            raise ValueError(f"record_at takes query counts between 1 and the budget ({budget}), got {mark!r}")
        marks.append(mark)
    return sorted(set(marks))


def maximize(objective: Objective, method: str | Searcher, d: int, n: int, budget: int, problems: int = 1,
             seed: Seeds = 0, device: torch.device | str | None = None,
             progress: Callable[[int, int], None] | None = None, shared: bool = False,
             record_at: Sequence[int] = (), start: Tensor | None = None, max_steps: int | None = None,
             features: GridFeatures | None = None, **options: Any) -> SearchResult:
    """Maximize ``objective`` over ``{0..n-1}^d`` for ``problems`` problems at once.

    Every proposal counts against ``budget``. The last batch is cut to what the budget leaves:
    only its first points are evaluated, and only those are told to the searcher, so ``history``
    has exactly ``budget`` entries per problem.

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
        progress: optional ``progress(queries_done, budget)`` called after each batch.
        shared: population mode (see above).
        record_at: query counts after which to record each problem's best point
            (``SearchResult.checkpoints``); batches are cut at them, so the record is exact.
        start: start points ``LongTensor[P, M, d]`` the search proposes first (counted as queries),
            e.g. natural images encoded into the grid; methods in :func:`mango_pl.search.start_methods`.
        max_steps: stop after this many ask/tell steps even if budget is left (a smoke test); the
            history then holds only the queries made.
        features: what each grid value stands for (``space.grid_features()``: SN-GAN latent values,
            VQ-VAE codebook vectors), for methods that model the response on it
            (``Searcher.uses_features``); the other methods search the grid as integers.
        **options: method options, see ``make_searcher``.

    Raises:
        ValueError: ``budget <= 0``, unknown method / option, values of the wrong shape, NaN / inf,
            ``record_at`` outside ``1..budget``.
        NotImplementedError: ``shared=True`` with a method that has no population mode, ``start``
            with a method that takes no start points.

    Example:
        >>> target = torch.tensor([[1, 2, 3, 0]])
        >>> res = maximize(lambda i: -(i - target[:, None]).abs().sum(-1), "tt", d=4, n=4, budget=200)
        >>> res.history.shape
        torch.Size([1, 200])
    """
    if isinstance(budget, bool) or not isinstance(budget, int) or budget <= 0:
        raise ValueError(f"budget must be a positive int (objective evaluations per problem), got {budget!r}")
    check_positive_int("problems", problems)
    if max_steps is not None:
        check_positive_int("max_steps", max_steps)
    marks = _check_record_at(record_at, budget)
    optimizer_seconds = objective_seconds = 0.0
    tic = time.perf_counter()
    if isinstance(method, Searcher):
        searcher = method
        if (searcher.d, searcher.n, searcher.problems) != (d, n, problems):
            raise ValueError(f"the searcher was made for d={searcher.d}, n={searcher.n}, problems={searcher.problems}, "
                             f"the search asks for d={d}, n={n}, problems={problems}")
        if options:
            raise ValueError(f"options {sorted(options)} go to the searcher's constructor when a Searcher instance "
                             f"is passed, not to maximize")
    else:
        searcher = make_searcher(method, d, n, problems, seed, device, budget, **options)
    if shared:
        searcher._check_shared()
    if features is not None:
        searcher.use_features(features)
    if start is not None:
        searcher.suggest(start)
    optimizer_seconds += time.perf_counter() - tic
    history = torch.empty(problems, budget, dtype=torch.float64, device=searcher.device)
    stimuli = torch.empty(budget, d, dtype=torch.long, device=searcher.device) if shared else None
    best_value = torch.full((problems,), -torch.inf, dtype=torch.float64, device=searcher.device)
    best_index = torch.zeros(problems, d, dtype=torch.long, device=searcher.device)
    rows = torch.arange(problems, device=searcher.device)
    checkpoints: list[Checkpoint] = []
    done = steps = 0
    while done < budget and (max_steps is None or steps < max_steps):
        steps += 1
        tic = time.perf_counter()
        index = searcher.ask_shared() if shared else searcher.ask()
        optimizer_seconds += time.perf_counter() - tic
        limit = min([m for m in marks if m > done], default=budget) - done
        index = index[:limit] if shared else index[:, :limit]
        count = index.shape[0] if shared else index.shape[1]

        tic = time.perf_counter()
        if shared:
            values = _as_values(objective(index), (count, problems), searcher.device, True)
            check_finite(values.T, "the objective", first_query=done)
            per_problem = values.T  # [P, N]
            candidates = index.unsqueeze(0).expand(problems, -1, -1)
        else:
            values = _as_values(objective(index), (problems, count), searcher.device, False)
            check_finite(values, "the objective", first_query=done)
            per_problem, candidates = values, index
        objective_seconds += time.perf_counter() - tic

        history[:, done: done + count] = per_problem
        if stimuli is not None:
            stimuli[done: done + count] = index
        batch_best, where = per_problem.max(1)
        better = batch_best > best_value
        best_value = torch.where(better, batch_best, best_value)
        best_index = torch.where(better[:, None], candidates[rows, where], best_index)

        tic = time.perf_counter()
        if shared:
            searcher.tell_shared(index, values)
        else:
            searcher.tell(index, values)
        optimizer_seconds += time.perf_counter() - tic
        done += count
        if progress is not None:
            progress(done, budget)
        if done in marks:
            checkpoints.append(Checkpoint(done, *_chosen(searcher, best_index, best_value)))
    final_index, final_value = _chosen(searcher, best_index, best_value)
    if done < budget:  # stopped by max_steps
        history = history[:, :done]
        stimuli = None if stimuli is None else stimuli[:done]
    return SearchResult(final_index, final_value, history, objective_seconds, optimizer_seconds,
                        searcher.method, dict(searcher.options), checkpoints, stimuli)


def _chosen(searcher, best_index: Tensor, best_value: Tensor) -> tuple[Tensor, Tensor]:
    """The searcher's recommendation when it makes one, else the best values told (copies)."""
    recommended = searcher.recommend()
    if recommended is None:
        return best_index.clone(), best_value.clone()
    index, value = recommended
    return index.to(best_index.device).long().clone(), value.to(best_value.device, torch.float64).clone()
