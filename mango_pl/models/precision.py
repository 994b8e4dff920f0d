"""A module's device and float dtype, and a copy of it that computes in another float dtype.

Spikes are thresholds, and float32 CPU kernels differ by ~1e-6 with the batch size, enough to flip
a spike: probes and generators that must score a stimulus the same alone and in any batch run a
float64 copy of their module, made here (one helper for both).
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn


def module_device(module: nn.Module) -> torch.device:
    """The device of the first parameter (or buffer) of ``module``; CPU if it has none."""
    for tensor in module.parameters():
        return tensor.device
    for tensor in module.buffers():
        return tensor.device
    return torch.device("cpu")


def module_dtype(module: nn.Module) -> torch.dtype:
    """The dtype of the first floating parameter (or buffer) of ``module``; float32 if it has none."""
    for tensor in (*module.parameters(), *module.buffers()):
        if tensor.is_floating_point():
            return tensor.dtype
    return torch.float32


def _cast_floating_inputs(dtype: torch.dtype):
    def pre_hook(module: nn.Module, args: tuple) -> tuple:
        return tuple(a.to(dtype) if isinstance(a, Tensor) and a.is_floating_point() else a for a in args)

    return pre_hook


def cast_inputs_to_weights(model: nn.Module, dtype: torch.dtype) -> None:
    """Make every layer of ``model`` that owns float weights cast its float inputs to ``dtype``.

    Needed to run a model in float64 whose code makes float32 tensors on the way, e.g. snnTorch
    neurons, whose spikes are always float32 (casting 0/1 spikes is exact), or a generator whose
    ``decode`` builds float32 latents from its grid values.
    """
    for module in model.modules():
        own = (*module.parameters(recurse=False), *module.buffers(recurse=False))
        if any(t.is_floating_point() for t in own):
            module.register_forward_pre_hook(_cast_floating_inputs(dtype))


def converted_copy(module: nn.Module, dtype: torch.dtype) -> nn.Module:
    """A deep copy of ``module`` in ``dtype``, with frozen weights, whose weighted layers cast their
    float inputs to ``dtype`` (see :func:`cast_inputs_to_weights`). The original is not touched.

    Example:
        >>> mirror = converted_copy(nn.Linear(3, 2), torch.float64)
        >>> mirror(torch.ones(1, 3)).dtype
        torch.float64
    """
    mirror = copy.deepcopy(module).to(dtype=dtype)
    cast_inputs_to_weights(mirror, dtype)
    for parameter in mirror.parameters():
        parameter.grad = None
        parameter.requires_grad_(False)
    return mirror
