"""Planted search problems shared by the search tests."""

from __future__ import annotations

import torch


class Counted:
    """The negative L1 distance to a planted target per problem; counts evaluations per problem."""

    def __init__(self, target: torch.Tensor):
        self.target = target
        self.evaluations = torch.zeros(target.shape[0], dtype=torch.long)

    def __call__(self, index: torch.Tensor) -> torch.Tensor:
        assert index.dtype == torch.long and index.min() >= 0
        self.evaluations += index.shape[1]
        return -(index - self.target[:, None]).abs().sum(-1).double()

    def grid_mean(self, n: int) -> torch.Tensor:
        """Mean of the objective over the whole grid, per problem."""
        values = torch.arange(n)
        return -(values - self.target[..., None]).abs().double().mean(-1).sum(-1)


def planted(problems: int, d: int, n: int, seed: int) -> Counted:
    return Counted(torch.randint(0, n, (problems, d), generator=torch.Generator().manual_seed(seed)))
