"""Which float dtype a probe evaluates in: ``"float64"``, ``"float32"`` or ``"auto"``.

Spikes are thresholds, so a ~1e-6 difference in a float32 convolution (which CPU kernels show when
only the batch size changes) can flip a spike and change a unit's rate. Evaluating in float64 makes
the result of one stimulus the same alone and inside any batch. ``"auto"`` picks float64 on the
CPU (where it costs about 2x) and float32 on accelerators (where float64 is slow or missing).
"""

from __future__ import annotations

import torch

from mango_pl.checks import check_choice
from mango_pl.models.precision import cast_inputs_to_weights, converted_copy, module_device, module_dtype

__all__ = ["PRECISIONS", "cast_inputs_to_weights", "check_precision", "converted_copy", "module_device",
           "module_dtype", "resolve_dtype"]

#: The valid ``precision`` arguments.
PRECISIONS = ("auto", "float32", "float64")


def check_precision(precision: str) -> str:
    """``precision`` itself if valid; a ``ValueError`` listing the valid choices otherwise."""
    return check_choice("precision", precision, PRECISIONS)


def resolve_dtype(precision: str, device: torch.device | str) -> torch.dtype:
    """The dtype ``precision`` stands for on ``device`` (``"auto"``: float64 on CPU, else float32)."""
    check_precision(precision)
    if precision == "float64":
        return torch.float64
    if precision == "float32":
        return torch.float32
    return torch.float64 if torch.device(device).type == "cpu" else torch.float32
