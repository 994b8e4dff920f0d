"""Input checks shared by the analysis functions (private: raise clear ``ValueError``/``TypeError``)."""

from __future__ import annotations

import torch
from torch import Tensor

#: How far the class probabilities of one row may sum away from 1 (float32 softmax is well inside).
PROBS_SUM_ATOL = 1e-3


def check_tensor(x: object, name: str) -> Tensor:
    """``x`` itself if it is a tensor; a ``TypeError`` that names ``name`` otherwise."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}. Wrap it with torch.as_tensor(...).")
    return x


def check_ndim(x: Tensor, ndim: int, name: str, shape_doc: str) -> None:
    """A ``ValueError`` unless ``x`` has ``ndim`` dimensions (``shape_doc`` says which, e.g. ``[M, U]``)."""
    if x.ndim != ndim:
        raise ValueError(f"{name} must have shape {shape_doc} ({ndim} dims), got shape {tuple(x.shape)}.")


def check_nonempty(x: Tensor, name: str) -> None:
    """A ``ValueError`` if ``x`` has a zero-sized dimension."""
    if x.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(x.shape)}); pass at least one element along every dimension.")


def check_finite_float(x: Tensor, name: str) -> None:
    """A ``ValueError`` unless ``x`` is floating point with no NaN/inf."""
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {x.dtype}. Convert it with .float().")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or inf; check the forward pass that produced it.")


def check_probs(probs: Tensor, name: str = "probs") -> None:
    """A ``ValueError`` unless the last dim of ``probs`` holds probability vectors over C >= 2 classes."""
    check_tensor(probs, name)
    if probs.ndim < 1:
        raise ValueError(f"{name} must have shape [..., C] with the classes last, got a 0-dim tensor.")
    check_nonempty(probs, name)
    check_finite_float(probs, name)
    if probs.shape[-1] < 2:
        raise ValueError(f"{name} needs at least 2 classes in its last dim, got C={probs.shape[-1]}.")
    if (probs < -1e-6).any():
        raise ValueError(
            f"{name} has negative entries (min {probs.min().item():.3g}); pass softmax outputs, not logits."
        )
    sums = probs.sum(-1)
    worst = (sums - 1).abs().max().item()
    if worst > PROBS_SUM_ATOL:
        raise ValueError(
            f"{name} must sum to 1 over the last (class) dim within {PROBS_SUM_ATOL}, but a row is off by {worst:.3g}. "
            "Pass softmax(logits, dim=-1), not logits, and keep the classes in the last dim."
        )
