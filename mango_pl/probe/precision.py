"""Which float dtype a probe evaluates in: ``"float64"``, ``"float32"`` or ``"auto"``.

Spikes are thresholds, so a ~1e-6 difference in a float32 convolution (which CPU kernels show when
only the batch size changes) can flip a spike and change a unit's rate. Evaluating in float64 makes
the result of one stimulus the same alone and inside any batch. ``"auto"`` picks float64 on the
CPU (where it costs about 2x) and float32 on accelerators (where float64 is slow or missing).
"""

from __future__ import annotations

import torch

#: The valid ``precision`` arguments.
PRECISIONS = ("auto", "float32", "float64")


def check_precision(precision: str) -> str:
    """``precision`` itself if valid; a ``ValueError`` listing the valid choices otherwise."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    return precision


def resolve_dtype(precision: str, device: torch.device | str) -> torch.dtype:
    """The dtype ``precision`` stands for on ``device`` (``"auto"``: float64 on CPU, else float32)."""
    check_precision(precision)
    if precision == "float64":
        return torch.float64
    if precision == "float32":
        return torch.float32
    return torch.float64 if torch.device(device).type == "cpu" else torch.float32


def module_device(module: torch.nn.Module) -> torch.device:
    """The device of the first parameter (or buffer) of ``module``; CPU if it has none."""
    for tensor in module.parameters():
        return tensor.device
    for tensor in module.buffers():
        return tensor.device
    return torch.device("cpu")


def module_dtype(module: torch.nn.Module) -> torch.dtype:
    """The dtype of the first floating parameter (or buffer) of ``module``; float32 if it has none."""
    for tensor in module.parameters():
        if tensor.is_floating_point():
            return tensor.dtype
    for tensor in module.buffers():
        if tensor.is_floating_point():
            return tensor.dtype
    return torch.float32


def _cast_floating_inputs(dtype: torch.dtype):
    def pre_hook(module: torch.nn.Module, args: tuple) -> tuple:
        return tuple(a.to(dtype) if isinstance(a, torch.Tensor) and a.is_floating_point() else a for a in args)

    return pre_hook


def cast_inputs_to_weights(model: torch.nn.Module, dtype: torch.dtype) -> None:
    """Make every layer of ``model`` that owns float weights cast its float inputs to ``dtype``.

    Needed to run a model in float64 whose code makes float32 tensors on the way, e.g. snnTorch
    neurons, whose spikes are always float32 (casting 0/1 spikes is exact).
    """
    for module in model.modules():
        own = (*module.parameters(recurse=False), *module.buffers(recurse=False))
        if any(t.is_floating_point() for t in own):
            module.register_forward_pre_hook(_cast_floating_inputs(dtype))
