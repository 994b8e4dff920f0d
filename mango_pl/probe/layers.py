"""Finding a layer by its dotted name, and telling spiking layers from ordinary ones."""

from __future__ import annotations

from torch import nn

from mango_pl.models.state import spiking_layer_names

#: How many names an error message lists before it shortens the list.
_MAX_LISTED = 24


def is_multistep(module: nn.Module) -> bool:
    """Whether ``module`` maps a whole ``[T, B, ...]`` sequence in one call (SpikingJelly ``step_mode="m"``)."""
    return getattr(module, "step_mode", None) == "m"


def weight_layers(model: nn.Module) -> list[str]:
    """Dotted names of the convolution and linear layers of ``model``, in registration order."""
    kinds = (nn.modules.conv._ConvNd, nn.Linear)
    return [name for name, module in model.named_modules() if name and isinstance(module, kinds)]


def _shorten(names: list[str]) -> str:
    if len(names) <= _MAX_LISTED:
        return ", ".join(names)
    head, tail = names[: _MAX_LISTED - 6], names[-4:]
    return f"{', '.join(head)}, ... ({len(names) - len(head) - len(tail)} more) ..., {', '.join(tail)}"


def resolve_layer(model: nn.Module, name: str) -> nn.Module:
    """The submodule of ``model`` called ``name`` (a dotted name as ``model.named_modules()`` gives it).

    Args:
        model: the network.
        name: e.g. ``"layer1.0.sn1"`` (spiking ResNet18) or ``"lif2"`` (snnTorch ConvSNN).

    Raises:
        ValueError: unknown name; the message lists the spiking layers of ``model``, or its
            convolution/linear layers if it has no spiking layers.

    Example:
        >>> resolve_layer(model, "layer1.0.sn1")
        LIFNode(...)
    """
    if not isinstance(name, str):
        raise TypeError(f"a layer name must be a string such as 'layer1.0.sn1', got {type(name).__name__}")
    modules = dict(model.named_modules())
    if name and name in modules:
        return modules[name]
    spiking = spiking_layer_names(model)
    if spiking:
        choices = f"its spiking layers are: {_shorten(spiking)}"
    else:
        weights = weight_layers(model)
        listed = _shorten(weights) if weights else ", ".join(n for n in modules if n) or "(none)"
        choices = f"it has no spiking layers; its conv/linear layers are: {listed}"
    raise ValueError(f"unknown layer {name!r} in {type(model).__name__}: {choices}. "
                     "Any dotted name from model.named_modules() works.")
