"""Build torchvision networks cheaply: construct on the meta device, keep the parts we reuse, materialize.

torchvision's AlexNet and VGG carry 4096-wide ImageNet classifiers (VGG: 120 M parameters) that the
32x32 variants replace anyway; building them on the ``meta`` device costs no memory and no time.
"""

from __future__ import annotations

import torch
import torchvision
from torch import nn


def meta_torchvision_model(name: str, **kwargs) -> nn.Module:
    """``torchvision.models.get_model(name, weights=None, **kwargs)`` with every tensor on the meta device."""
    with torch.device("meta"):
        return torchvision.models.get_model(name, weights=None, **kwargs)


def materialize(module: nn.Module) -> nn.Module:
    """Move every meta-device layer of ``module`` to the CPU and give it PyTorch's default initialization.

    Layers that already hold real tensors are left untouched. BatchNorm layers get weight 1, bias 0
    and fresh running statistics.

    Raises:
        RuntimeError: if a meta-device layer with parameters has no ``reset_parameters`` method.
    """
    for m in module.modules():
        tensors = (*m.parameters(recurse=False), *m.buffers(recurse=False))
        if not any(t.is_meta for t in tensors):
            continue
        if not callable(getattr(m, "reset_parameters", None)):
            raise RuntimeError(f"cannot initialize {type(m).__name__} built on the meta device: no reset_parameters()")
        m.to_empty(device="cpu", recurse=False)
        m.reset_parameters()
    return module
