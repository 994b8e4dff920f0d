"""Class probabilities of a classifier: softmax of its (time-mean) logits, with SNN state reset."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mango_pl.models.state import reset_states
from mango_pl.probe.precision import module_device, module_dtype


@torch.no_grad()
def class_probabilities(model: nn.Module, images: Tensor) -> Tensor:
    """``softmax(model(images))`` as ``[B, classes]`` float32, SNN state reset before and after.

    Every classifier of mango-pl returns logits ``[B, classes]`` (SNNs: the mean over time steps),
    so this is the paper's class-probability vector of each image. The images are moved to the
    model's device and float dtype. The model's train/eval mode is left as it is.

    Args:
        model: the classifier.
        images: ``[B, C, H, W]`` in [0, 1].

    Raises:
        ValueError: if the model does not return ``[B, classes]`` logits.

    Example:
        >>> probs = class_probabilities(model.eval(), torch.rand(4, 3, 32, 32))
        >>> probs.sum(-1)   # ones
    """
    if not isinstance(images, Tensor):
        raise TypeError(f"images must be a tensor [B, C, H, W], got {type(images).__name__}")
    x = images.to(device=module_device(model), dtype=module_dtype(model))
    reset_states(model)
    try:
        logits = model(x)
    finally:
        reset_states(model)
    if isinstance(logits, (tuple, list)):
        logits = logits[0]
    if not isinstance(logits, Tensor) or logits.dim() != 2 or logits.shape[0] != x.shape[0]:
        shape = tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__
        raise ValueError(f"the classifier must return logits [B, classes] = [{x.shape[0]}, classes], got {shape}")
    return logits.softmax(-1).float()
