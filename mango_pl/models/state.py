"""Where SNN state lives, how to reset it, and how to name the spiking layers of any model.

* SpikingJelly neurons (``BaseNode`` and every other ``MemoryModule``) keep their membrane
  potential in ``module.v`` (registered "memory"); ``reset()`` puts it back to its initial value.
* snnTorch neurons (``SpikingNeuron`` subclasses such as ``Leaky``) keep it in the non-persistent
  buffer ``module.mem`` (``Synaptic`` also ``syn``, ...); ``reset_mem()`` zeroes it.

:func:`reset_states` does both and nothing else (ANNs: no-op). It deliberately does not call
``spikingjelly.activation_based.functional.reset_net``: that function calls ``reset()`` on *every*
submodule that has one (e.g. torchmetrics metrics inside a LightningModule) and caches the module
list per network; here only neuron state is touched and the module tree is walked each time.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

import torch
from torch import nn


class _NeuronTypes(NamedTuple):
    memory: type  # SpikingJelly MemoryModule: state reset by reset(), detached by detach()
    snntorch: type  # snnTorch SpikingNeuron: state in buffers, reset by reset_mem()
    spiking: tuple[type, ...]  # every spiking neuron type (SpikingJelly nodes and snnTorch neurons)


@functools.cache
def _neuron_types() -> _NeuronTypes:
    """The neuron classes of SpikingJelly and snnTorch, imported on first use (not by importing this module)."""
    from snntorch import SpikingNeuron
    from spikingjelly.activation_based import base as sj_base
    from spikingjelly.activation_based import neuron as sj_neuron

    nodes = tuple(t for t in (getattr(sj_neuron, "BaseNode", None), getattr(sj_neuron, "SimpleBaseNode", None))
                  if t is not None)
    return _NeuronTypes(sj_base.MemoryModule, SpikingNeuron, (*nodes, SpikingNeuron))


def is_spiking_neuron(module: nn.Module) -> bool:
    """True for SpikingJelly ``BaseNode``/``SimpleBaseNode`` and snnTorch ``SpikingNeuron`` modules."""
    return isinstance(module, _neuron_types().spiking)


def _spiking_modules(model: nn.Module) -> Iterator[tuple[str, nn.Module]]:
    return ((name, m) for name, m in model.named_modules() if name and is_spiking_neuron(m))


def reset_states(module: nn.Module) -> None:
    """Reset the state of every spiking neuron in ``module`` (SpikingJelly and snnTorch); no-op for ANNs.

    Example:
        >>> from mango_pl.models import ConvSNN
        >>> net = ConvSNN(image_size=16, time_steps=2)
        >>> _ = net(torch.rand(1, 1, 16, 16)); reset_states(net)
        >>> float(net.lif1.mem.abs().sum())
        0.0
    """
    types = _neuron_types()
    for m in module.modules():
        if isinstance(m, types.memory):
            m.reset()
        elif isinstance(m, types.snntorch) and callable(getattr(m, "reset_mem", None)):
            m.reset_mem()


def detach_states(module: nn.Module) -> None:
    """Cut the neuron state of ``module`` from the autograd graph, keeping its values.

    The SNNs call this at the end of every forward: the returned output keeps its own graph, and the
    stored state no longer pins the graph nor breaks ``copy.deepcopy(model)`` / pickling (PyTorch
    refuses to deep-copy non-leaf tensors).
    """
    types = _neuron_types()
    for m in module.modules():
        if isinstance(m, types.memory):
            m.detach()
        elif isinstance(m, types.snntorch):
            for name, buffer in list(m.named_buffers(recurse=False)):
                if buffer is not None and buffer.grad_fn is not None:
                    setattr(m, name, buffer.detach())


@contextmanager
def eval_mode(module: nn.Module) -> Iterator[None]:
    """Put every submodule of ``module`` in eval mode (no BatchNorm statistics updates, no dropout)
    and give each back the mode it had, so a model that was half in eval mode stays so.

    Example:
        >>> net = nn.Sequential(nn.BatchNorm1d(2), nn.Dropout()).train()
        >>> with eval_mode(net):
        ...     assert not net.training
        >>> net.training
        True
    """
    modes = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        yield
    finally:
        for m, training in modes:
            m.training = training


@torch.no_grad()
def spiking_layer_names(model: nn.Module, example_input: torch.Tensor | None = None) -> list[str]:
    """Dotted names of all spiking neuron layers of ``model`` (usable with ``model.get_submodule``).

    Args:
        model: any ``nn.Module``.
        example_input: if given, one forward pass (no grad) records the order in which the layers
            first fire, and that order is returned; otherwise the order is the registration order of
            ``named_modules()``, which is the forward order for every model in ``mango_pl.models``.
            The pass runs in eval mode (train/eval flags are restored after) and resets the state.

    Example:
        >>> from mango_pl.models import SpikingResNet18
        >>> spiking_layer_names(SpikingResNet18(base_width=8, time_steps=1))[:3]
        ['sn1', 'layer1.0.sn1', 'layer1.0.sn2']
    """
    names = [name for name, _ in _spiking_modules(model)]
    if example_input is None:
        return names
    order: list[str] = []
    handles = [m.register_forward_hook(lambda mod, inp, out, name=name: order.append(name) if name not in order else None)
               for name, m in _spiking_modules(model)]
    try:
        with eval_mode(model):  # no BatchNorm statistics updates from this probe pass
            model(example_input)
    finally:
        for handle in handles:
            handle.remove()
        reset_states(model)
    return order + [name for name in names if name not in order]
