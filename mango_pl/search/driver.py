"""``maximize``: drive a searcher against an objective until the query budget is spent."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from mango_pl.search.base import check_finite, check_positive_int
from mango_pl.search.registry import make_searcher
from mango_pl.search.seeding import Seeds

Objective = Callable[[Tensor], Tensor]


@dataclass
class SearchResult:
    """What one batched search found.

    Attributes:
        best_index: ``LongTensor[P, d]``, the best point of each problem (first one on ties).
        best_value: ``float64[P]``, its value.
        history: ``float64[P, budget]``, the value of every query in query order.
        objective_seconds: wall time spent inside the objective.
        optimizer_seconds: wall time spent inside ``ask``/``tell`` (searcher construction included).
        method: the method name.
        options: the searcher's options after presets and defaults.
    """

    best_index: Tensor
    best_value: Tensor
    history: Tensor
    objective_seconds: float
    optimizer_seconds: float
    method: str
    options: dict[str, Any] = field(default_factory=dict)


def _as_values(raw: Any, problems: int, count: int, device: torch.device) -> Tensor:
    values = torch.as_tensor(raw)
    if values.dim() != 2 or tuple(values.shape) != (problems, count):
        raise ValueError(f"the objective must return values of shape [P, K] = [{problems}, {count}] for an "
                         f"index of shape [P, K, d]; it returned shape {list(values.shape)}")
    if not (values.is_floating_point() or values.dtype in (torch.int64, torch.int32, torch.int16, torch.uint8)):
        raise TypeError(f"the objective must return a real tensor, got dtype {values.dtype}")
    return values.to(device=device, dtype=torch.float64)


def maximize(objective: Objective, method: str, d: int, n: int, budget: int, problems: int = 1,
             seed: Seeds = 0, device: torch.device | str | None = None,
             progress: Callable[[int, int], None] | None = None, **options: Any) -> SearchResult:
    """Maximize ``objective`` over ``{0..n-1}^d`` for ``problems`` problems at once.

    Every proposal counts against ``budget`` (evaluations per problem). The last batch is cut to
    what the budget leaves: only its first points are evaluated, and only those are told to the
    searcher, so ``history`` has exactly ``budget`` entries per problem.

    Args:
        objective: ``f(index: LongTensor[P, K, d]) -> Tensor[P, K]``, maximized.
        method: a search method name (see ``available_methods``), e.g. ``"tt"`` or ``"ng:CMA"``.
        d: grid dimensions.
        n: grid points per dimension.
        budget: objective evaluations per problem.
        problems: number of problems ``P``.
        seed: int, or one seed per problem; the same seed gives the same result.
        device: where the indices are made (and torch-native searchers compute).
        progress: optional ``progress(queries_done, budget)`` called after each batch.
        **options: method options, see ``make_searcher``.

    Raises:
        ValueError: ``budget <= 0``, unknown method / option, values of the wrong shape, NaN / inf.

    Example:
        >>> target = torch.tensor([[1, 2, 3, 0]])
        >>> res = maximize(lambda i: -(i - target[:, None]).abs().sum(-1), "tt", d=4, n=4, budget=200)
        >>> res.history.shape
        torch.Size([1, 200])
    """
    if isinstance(budget, bool) or not isinstance(budget, int) or budget <= 0:
        raise ValueError(f"budget must be a positive int (objective evaluations per problem), got {budget!r}")
    check_positive_int("problems", problems)
    optimizer_seconds = objective_seconds = 0.0
    start = time.perf_counter()
    searcher = make_searcher(method, d, n, problems, seed, device, budget, **options)
    optimizer_seconds += time.perf_counter() - start
    history = torch.empty(problems, budget, dtype=torch.float64, device=searcher.device)
    best_value = torch.full((problems,), -torch.inf, dtype=torch.float64, device=searcher.device)
    best_index = torch.zeros(problems, d, dtype=torch.long, device=searcher.device)
    rows = torch.arange(problems, device=searcher.device)
    done = 0
    while done < budget:
        start = time.perf_counter()
        index = searcher.ask()
        optimizer_seconds += time.perf_counter() - start
        index = index[:, : budget - done]
        count = index.shape[1]

        start = time.perf_counter()
        values = _as_values(objective(index), problems, count, searcher.device)
        check_finite(values, "the objective", first_query=done)
        objective_seconds += time.perf_counter() - start

        history[:, done: done + count] = values
        batch_best, where = values.max(1)
        better = batch_best > best_value
        best_value = torch.where(better, batch_best, best_value)
        best_index = torch.where(better[:, None], index[rows, where], best_index)

        start = time.perf_counter()
        searcher.tell(index, values)
        optimizer_seconds += time.perf_counter() - start
        done += count
        if progress is not None:
            progress(done, budget)
    return SearchResult(best_index, best_value, history, objective_seconds, optimizer_seconds,
                        searcher.method, dict(searcher.options))
