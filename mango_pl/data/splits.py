"""Seeded, disjoint index splits of a dataset."""

from __future__ import annotations

import torch


def seeded_split(n: int, sizes: list[int], seed: int) -> list[list[int]]:
    """Split ``range(n)`` into disjoint random parts of the given sizes, the same for the same seed.

    Args:
        n: number of items.
        sizes: size of each part; they must sum to ``n``.
        seed: seed of the permutation.

    Raises:
        ValueError: if a size is negative or the sizes do not sum to ``n``.

    Example:
        >>> [len(p) for p in seeded_split(10, [7, 3], seed=0)]
        [7, 3]
    """
    if any(s < 0 for s in sizes) or sum(sizes) != n:
        raise ValueError(f"split sizes {sizes} must be >= 0 and sum to the dataset size {n}.")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    parts, start = [], 0
    for size in sizes:
        parts.append(sorted(order[start:start + size]))
        start += size
    return parts


def holdout_sizes(n: int, fractions: list[float]) -> list[int]:
    """Sizes ``[rest, round(f1*n), round(f2*n), ...]`` of a split that holds out each fraction of ``n`` items.

    Raises:
        ValueError: if a held-out part or the rest would be empty.
    """
    held = [max(1, round(f * n)) for f in fractions]
    rest = n - sum(held)
    if rest < 1:
        raise ValueError(f"held-out fractions {fractions} leave no training items out of {n}; use smaller fractions.")
    return [rest, *held]
