"""Turning an image batch tensor into ``uint8`` HWC arrays, with the checks that need (private)."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from mango_pl.analysis._checks import check_ndim, check_nonempty, check_tensor

SUPPORTED_CHANNELS = (1, 3)


def images_to_uint8_hwc(images: Tensor, name: str = "images") -> np.ndarray:
    """``[N, C, H, W]`` uint8, or float in [0, 1], with C in {1, 3} -> ``uint8`` array ``[N, H, W, C]``.

    Floats are mapped with ``round(x * 255)``.

    Raises:
        TypeError: not a tensor.
        ValueError: wrong rank, empty, unsupported channel count, a dtype other than uint8/float,
            NaN/inf, or float values outside [0, 1].
    """
    check_tensor(images, name)
    check_ndim(images, 4, name, "[N, C, H, W]")
    check_nonempty(images, name)
    if images.shape[1] not in SUPPORTED_CHANNELS:
        raise ValueError(
            f"{name} must have {SUPPORTED_CHANNELS} channels in dim 1 (layout [N, C, H, W]), "
            f"got shape {tuple(images.shape)}; for a channels-last batch use images.permute(0, 3, 1, 2)."
        )
    x = images.detach().cpu()
    if x.dtype == torch.uint8:
        pass
    elif x.is_floating_point():
        if not torch.isfinite(x).all():
            raise ValueError(f"{name} contains NaN or inf.")
        low, high = x.min().item(), x.max().item()
        if low < 0.0 or high > 1.0:
            raise ValueError(
                f"float {name} must lie in [0, 1], got values in [{low:.3g}, {high:.3g}]; "
                "rescale them (e.g. (x + 1) / 2 for tanh outputs) or pass uint8 in [0, 255]."
            )
        x = (x.float() * 255.0).round().to(torch.uint8)
    else:
        raise ValueError(f"{name} must be uint8 in [0, 255] or float in [0, 1], got dtype {x.dtype}.")
    return np.ascontiguousarray(x.permute(0, 2, 3, 1).numpy())
