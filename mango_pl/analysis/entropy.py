"""Normalized entropy of class probabilities: 0 for a one-hot prediction, 1 for a uniform one."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from mango_pl.analysis._checks import check_probs


def class_entropy(probs: Tensor) -> Tensor:
    """Entropy of each class-probability vector divided by ``log(C)``, so it lies in ``[0, 1]``.

    The paper (Fig. 6) uses this on the network's class probabilities for each MEI: low entropy means
    the MEI looks like one class. ``0 · log 0`` counts as 0.

    Args:
        probs: ``[..., C]`` probabilities (classes last, C >= 2), each row summing to 1 within 1e-3.

    Returns:
        ``[...]`` normalized entropies in ``[0, 1]``, same float dtype as ``probs``.

    Raises:
        TypeError: ``probs`` is not a tensor.
        ValueError: not floating point, NaN/inf, fewer than 2 classes, negative entries, or rows
            that do not sum to 1 (e.g. logits passed instead of probabilities).

    Example:
        >>> class_entropy(torch.tensor([[0.25, 0.25, 0.25, 0.25], [1.0, 0.0, 0.0, 0.0]]))
        tensor([1., 0.])
    """
    check_probs(probs)
    p = probs.clamp_min(0)
    entropy = (0.0 - torch.special.xlogy(p, p).sum(-1)) / math.log(probs.shape[-1])  # xlogy(0, 0) = 0; 0 - 0 = +0
    return entropy.clamp(0.0, 1.0)
