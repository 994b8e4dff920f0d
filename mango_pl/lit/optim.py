"""Optimizer and learning-rate schedule builders, chosen by name (for YAML configs)."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from mango_pl.checks import check_choice, check_positive_int

#: Optimizer names understood by :func:`build_optimizer`.
OPTIMIZERS = ("adam", "adamw", "sgd")
#: Schedule names understood by :func:`build_scheduler` (``None`` = constant learning rate).
SCHEDULERS = (None, "cosine", "step")


def check_optimizer_name(name: str) -> None:
    """A ``ValueError`` listing :data:`OPTIMIZERS` if ``name`` is not one of them."""
    check_choice("optimizer", name, OPTIMIZERS)


def check_scheduler_name(name: str | None) -> None:
    """A ``ValueError`` listing :data:`SCHEDULERS` if ``name`` is not one of them."""
    check_choice("scheduler", name, SCHEDULERS, hint="None = a constant learning rate")


def build_optimizer(
    name: str, params: Iterable[nn.Parameter], lr: float, weight_decay: float = 0.0, momentum: float = 0.9
) -> torch.optim.Optimizer:
    """``adam`` / ``adamw`` / ``sgd`` (Nesterov-free momentum) over ``params``.

    Raises:
        ValueError: for an unknown name (lists the valid ones).

    Example:
        >>> build_optimizer("sgd", nn.Linear(2, 2).parameters(), lr=0.1).__class__.__name__
        'SGD'
    """
    check_optimizer_name(name)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)


def build_scheduler(
    name: str | None, optimizer: torch.optim.Optimizer, epochs: int, step_size: int = 30, gamma: float = 0.1
) -> torch.optim.lr_scheduler.LRScheduler | None:
    """A per-epoch schedule: ``cosine`` (annealed to 0 over ``epochs``), ``step`` (x ``gamma`` every ``step_size``).

    Raises:
        ValueError: for an unknown name or ``epochs < 1`` with ``cosine``.
    """
    check_scheduler_name(name)
    if name is None:
        return None
    if name == "cosine":
        check_positive_int("epochs", epochs, hint="the cosine schedule anneals over them: set "
                           "max_epochs_for_schedule or trainer.max_epochs")
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=step_size, gamma=gamma)
