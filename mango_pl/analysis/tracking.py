"""Following units over training: when a strong MEI first appears, and whether selectivity is stable.

Paper Fig. 8 (left): the first epoch at which a unit's MEI activates it strongly (>= 75%).
Paper Fig. 10 (left): units that were never selective ("non-specialized"), selective for exactly
one class whenever selective ("stable"), or for two or more classes over training ("labile").

A class history is ``[E, U]`` integers (or a list of E tensors ``[U]``): the class a unit was
selective for at each analysed epoch, ``-1`` when it was not selective then
(``SelectivityReport.top_class`` where ``selective``, else -1).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from mango_pl.analysis._checks import check_finite_float, check_ndim, check_nonempty, check_tensor
from mango_pl.checks import check_fraction, check_non_negative_int


def _check_epoch(epoch: object, name: str = "epoch") -> int:
    if isinstance(epoch, Tensor) and epoch.numel() == 1 and not epoch.is_floating_point():
        epoch = int(epoch.item())
    return check_non_negative_int(name, epoch, hint="-1 is reserved for 'never'")


def first_strong_epoch(activations_by_epoch: Tensor, epochs: Sequence[int], threshold: float = 0.75) -> Tensor:
    """The first epoch at which each unit's activation reached ``threshold``, ``-1`` if it never did.

    Args:
        activations_by_epoch: ``[E, U]`` activation of each unit by its MEI at each analysed epoch
            (e.g. ``SelectivityReport.best_activation`` stacked over epochs).
        epochs: the E epoch numbers of the rows, strictly increasing, non-negative.
        threshold: activation a unit must reach, in [0, 1].

    Returns:
        ``[U]`` long tensor of epoch numbers (``-1`` for never).

    Raises:
        TypeError: ``activations_by_epoch`` is not a tensor.
        ValueError: wrong shape, NaN/inf, ``epochs`` of the wrong length or not strictly
            increasing non-negative ints, or a threshold outside [0, 1].

    Example:
        >>> first_strong_epoch(torch.tensor([[0.1, 0.8], [0.9, 0.2]]), epochs=[5, 10])
        tensor([10,  5])
    """
    check_tensor(activations_by_epoch, "activations_by_epoch")
    check_ndim(activations_by_epoch, 2, "activations_by_epoch", "[E epochs, U units]")
    check_nonempty(activations_by_epoch, "activations_by_epoch")
    check_finite_float(activations_by_epoch, "activations_by_epoch")
    check_fraction("threshold", threshold, hint="the paper uses 0.75")
    epoch_list = [_check_epoch(e, "every entry of epochs") for e in epochs]
    if len(epoch_list) != activations_by_epoch.shape[0]:
        raise ValueError(
            f"epochs has {len(epoch_list)} entries but activations_by_epoch has {activations_by_epoch.shape[0]} rows; "
            "give one epoch number per row."
        )
    if any(b <= a for a, b in zip(epoch_list, epoch_list[1:])):
        raise ValueError(f"epochs must be strictly increasing (rows in training order), got {epoch_list}.")
    device = activations_by_epoch.device
    strong = activations_by_epoch >= threshold  # [E, U]
    epoch_values = torch.tensor(epoch_list, dtype=torch.long, device=device)
    first_row = strong.to(torch.uint8).argmax(dim=0)  # first True (0 where none)
    return torch.where(strong.any(dim=0), epoch_values[first_row], torch.full_like(first_row, -1))


def update_first_strong(first: Tensor, activations: Tensor, epoch: int, threshold: float = 0.75) -> Tensor:
    """One incremental step of :func:`first_strong_epoch`: set ``epoch`` where a unit first turns strong.

    Units that already have a first epoch (``first >= 0``) keep it. ``first`` is not modified.

    Args:
        first: ``[U]`` long, the first strong epoch so far (``-1`` for not yet); start from
            ``torch.full((U,), -1)``.
        activations: ``[U]`` activation of each unit by its MEI at ``epoch``.
        epoch: the current epoch, a non-negative int.
        threshold: activation a unit must reach, in [0, 1].

    Returns:
        The updated ``[U]`` long tensor.

    Raises:
        TypeError: a tensor argument is not a tensor.
        ValueError: shapes differ, ``first`` not integer or below -1, NaN/inf activations, a
            negative epoch, or a threshold outside [0, 1].

    Example:
        >>> update_first_strong(torch.tensor([-1, 3, -1]), torch.tensor([0.9, 0.9, 0.1]), epoch=7)
        tensor([ 7,  3, -1])
    """
    check_tensor(first, "first")
    check_tensor(activations, "activations")
    check_ndim(first, 1, "first", "[U units]")
    check_ndim(activations, 1, "activations", "[U units]")
    if first.shape != activations.shape:
        raise ValueError(
            f"first {tuple(first.shape)} and activations {tuple(activations.shape)} must have the same shape [U]."
        )
    if first.is_floating_point() or first.dtype == torch.bool:
        raise ValueError(f"first must be an integer tensor of epochs (-1 = never), got dtype {first.dtype}.")
    if first.numel() and first.min().item() < -1:
        raise ValueError("first holds values below -1; use -1 for 'not strong yet' and epoch numbers otherwise.")
    check_finite_float(activations, "activations")
    check_fraction("threshold", threshold, hint="the paper uses 0.75")
    epoch = _check_epoch(epoch)
    newly_strong = (first < 0) & (activations.to(first.device) >= threshold)
    return torch.where(newly_strong, torch.full_like(first, epoch), first).long()


def _class_history_tensor(class_history: Tensor | Sequence[Tensor]) -> Tensor:
    """Validate a class history and return it as a long ``[E, U]`` tensor."""
    if isinstance(class_history, Tensor):
        history = class_history
        check_ndim(history, 2, "class_history", "[E epochs, U units]")
    elif isinstance(class_history, Sequence) and not isinstance(class_history, (str, bytes)):
        if len(class_history) == 0:
            raise ValueError(
                "class_history is empty; pass at least one epoch's [U] tensor of classes (-1 = not selective)."
            )
        rows = []
        for k, row in enumerate(class_history):
            row = torch.as_tensor(row)
            check_ndim(row, 1, f"class_history[{k}]", "[U units]")
            rows.append(row)
        if len({row.shape for row in rows}) != 1:
            raise ValueError(
                f"every epoch in class_history must cover the same units; got shapes {[tuple(r.shape) for r in rows]}."
            )
        history = torch.stack([row.to(rows[0].device) for row in rows])
    else:
        raise TypeError(
            f"class_history must be a [E, U] tensor or a list of [U] tensors, got {type(class_history).__name__}."
        )
    check_nonempty(history, "class_history")
    if history.is_floating_point() or history.is_complex() or history.dtype == torch.bool:
        raise ValueError(
            f"class_history must hold integer class indices (-1 = not selective), got dtype {history.dtype}."
        )
    if history.min().item() < -1:
        raise ValueError(
            "class_history holds values below -1; use -1 for 'not selective' and class indices >= 0 otherwise."
        )
    return history.long()


def classes_seen(class_history: Tensor | Sequence[Tensor]) -> list[set[int]]:
    """The set of classes each unit was selective for at any epoch (``-1`` entries ignored).

    Args:
        class_history: ``[E, U]`` integer tensor, or a list of E ``[U]`` tensors; ``-1`` = not
            selective at that epoch.

    Returns:
        A list of U sets of class indices.

    Raises:
        TypeError: not a tensor or a list of tensors.
        ValueError: empty, wrong rank, rows of different lengths, non-integer, or values below -1.

    Example:
        >>> classes_seen(torch.tensor([[3, -1, 2], [3, -1, 5]]))
        [{3}, set(), {2, 5}]
    """
    history = _class_history_tensor(class_history).cpu()
    return [{c for c in column.tolist() if c >= 0} for column in history.T]


def specialization_fractions(class_history: Tensor | Sequence[Tensor]) -> dict[str, float]:
    """Fractions of stable, labile and non-specialized units over training (they sum to 1).

    * ``stable``: selective at some epoch, and always for the same single class;
    * ``labile``: selective for two or more different classes over training;
    * ``non_specialized``: never selective.

    Args:
        class_history: ``[E, U]`` integer tensor, or a list of E ``[U]`` tensors; ``-1`` = not
            selective at that epoch.

    Returns:
        ``{"stable": float, "labile": float, "non_specialized": float}``.

    Raises:
        TypeError: not a tensor or a list of tensors.
        ValueError: empty, wrong rank, rows of different lengths, non-integer, or values below -1.

    Example:
        >>> specialization_fractions(torch.tensor([[1, 2, -1, 0], [1, 4, -1, -1]]))
        {'stable': 0.5, 'labile': 0.25, 'non_specialized': 0.25}
    """
    seen = classes_seen(class_history)
    counts = [len(classes) for classes in seen]
    units = len(counts)
    stable = sum(1 for n in counts if n == 1)
    labile = sum(1 for n in counts if n >= 2)
    return {
        "stable": stable / units,
        "labile": labile / units,
        "non_specialized": (units - stable - labile) / units,
    }
