"""Pure summary statistics of the report's figures: mean with a 95% interval, running maximum."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

#: the confidence level of every interval in the report
CONFIDENCE = 0.95


@dataclass(frozen=True)
class MeanInterval:
    """Mean over a set of values and the 95% confidence interval of that mean (Student's t).

    ``low == high == mean`` for a single value (no spread to estimate).
    """

    mean: float
    low: float
    high: float
    count: int


def mean_interval(values: Tensor) -> MeanInterval:
    """The mean of ``values`` (flattened) and its 95% confidence interval,
    ``mean ± t(0.975, n-1) · sd / sqrt(n)``.

    Example:
        >>> mean_interval(torch.tensor([1.0, 2.0, 3.0]))
        MeanInterval(mean=2.0, low=-0.484..., high=4.484..., count=3)
    """
    x = values.detach().flatten()
    if x.numel() == 0:
        raise ValueError("mean_interval needs at least one value")
    mean, low, high = mean_intervals(x[:, None])
    return MeanInterval(mean.item(), low.item(), high.item(), x.numel())

def mean_intervals(values: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Column-wise :func:`mean_interval` of ``values [n, K]``: ``(mean, low, high)``, each ``[K]``."""
    x = values.detach().double().cpu()
    count = x.shape[0]
    mean = x.mean(0)
    if count == 1:
        return mean, mean.clone(), mean.clone()
    half = t_quantile(count - 1) * x.std(0) / math.sqrt(count)
    return mean, mean - half, mean + half


def t_quantile(degrees_of_freedom: int) -> float:
    """The two-sided 95% quantile of Student's t (1.96 for many samples)."""
    from scipy.stats import t  # scipy comes with scikit-learn, a mango-pl dependency

    return float(t.ppf(0.5 + CONFIDENCE / 2, degrees_of_freedom))


def running_max(history: Tensor) -> Tensor:
    """``[U, Q]`` query values in order -> ``[U, Q]`` best value so far after each query."""
    return torch.cummax(history.double(), dim=-1).values
