"""How a unit's importance to the network relates to its MEI: rank correlations (pure)."""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import Tensor


def _ranks(values: Tensor) -> Tensor:
    """Average ranks (ties share their mean rank), float64."""
    values = values.double().flatten()
    order = values.argsort(stable=True)
    ranks = torch.empty_like(values)
    ranks[order] = torch.arange(len(values), dtype=torch.float64)
    for value in values.unique():
        tied = values == value
        if tied.sum() > 1:
            ranks[tied] = ranks[tied].mean()
    return ranks


def spearman(x: Tensor, y: Tensor) -> float:
    """Spearman's rank correlation of two ``[U]`` tensors; NaN when either is constant or U < 3.

    Example:
        >>> round(spearman(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([10.0, 30.0, 20.0])), 6)
        0.5
    """
    if x.numel() != y.numel():
        raise ValueError(f"spearman needs two tensors of one length, got {x.numel()} and {y.numel()}")
    if x.numel() < 3:
        return math.nan
    rx, ry = _ranks(x), _ranks(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    denominator = float(rx.norm() * ry.norm())
    return float((rx * ry).sum()) / denominator if denominator > 0 else math.nan


def importance_correlations(drop: Tensor, properties: Mapping[str, Tensor]) -> dict[str, float]:
    """Spearman correlation of each unit's accuracy drop when silenced with each MEI property.

    Args:
        drop: ``[U]`` accuracy lost by silencing each unit.
        properties: ``{name: [U]}``, e.g. the MEI activation, class entropy, selective (0/1),
            labile (0/1).

    Returns:
        ``{name: correlation}`` (NaN where a property or the drop is constant).
    """
    return {name: spearman(drop, value.double()) for name, value in properties.items()}
