"""What silencing a unit costs the network: accuracy with one unit's output forced to zero.

A unit (one channel of a named layer) is silenced by a forward hook that sets its output to 0 at
every time step and position — zero spikes for a spiking layer (snnTorch's ``(spikes, membrane)``
output: the spikes), zero activation for an ordinary one — so every later layer sees a network
without that unit. Accuracy and per-class accuracy are measured on a fixed set of labelled images.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from mango_pl.models.state import eval_mode, reset_states
from mango_pl.probe.layers import is_multistep, resolve_layer


@dataclass
class UnitImportance:
    """Accuracy of the network with each unit silenced in turn.

    Attributes:
        units: the silenced channels ``[U]``.
        accuracy: ``[U]`` accuracy with unit ``u`` silenced.
        class_accuracy: ``[U, C]`` per-class accuracy with unit ``u`` silenced (NaN: no image of the class).
        base_accuracy: accuracy of the intact network.
        base_class_accuracy: ``[C]`` its per-class accuracy.
        samples: how many images were used.
    """

    units: list[int]
    accuracy: Tensor
    class_accuracy: Tensor
    base_accuracy: float
    base_class_accuracy: Tensor
    samples: int

    @property
    def drop(self) -> Tensor:
        """``[U]`` accuracy lost by silencing each unit (negative: the network got better)."""
        return self.base_accuracy - self.accuracy

    @property
    def class_drop(self) -> Tensor:
        """``[U, C]`` per-class accuracy lost by silencing each unit."""
        return self.base_class_accuracy[None] - self.class_accuracy


def _silencer(channel: int):
    def hook(module: nn.Module, args: tuple, output):
        spikes = output[0] if isinstance(output, (tuple, list)) else output
        dim = 2 if is_multistep(module) else 1
        spikes = spikes.clone()
        spikes.select(dim, channel).zero_()
        if isinstance(output, tuple):
            return (spikes, *output[1:])
        if isinstance(output, list):
            return [spikes, *output[1:]]
        return spikes

    return hook


@torch.no_grad()
def _accuracy(network: nn.Module, images: Tensor, labels: Tensor, classes: int, batch_limit: int) -> tuple[Tensor, Tensor]:
    correct = torch.zeros(classes, dtype=torch.float64)
    for chunk, truth in zip(images.split(batch_limit), labels.split(batch_limit)):
        reset_states(network)
        logits = network(chunk)
        reset_states(network)
        hit = (logits.argmax(-1).cpu() == truth.cpu()).double()
        correct.index_add_(0, truth.cpu(), hit)
    counts = torch.bincount(labels.cpu(), minlength=classes).double()
    per_class = torch.where(counts > 0, correct / counts.clamp_min(1), torch.full_like(counts, torch.nan))
    return correct.sum() / counts.sum(), per_class


def unit_importance(network: nn.Module, layer: str, units: Sequence[int], images: Tensor, labels: Tensor,
                    num_classes: int | None = None, batch_limit: int = 256) -> UnitImportance:
    """Accuracy of ``network`` on ``images`` with each of ``units`` of ``layer`` silenced in turn.

    The network runs in eval mode (its modes are given back), its weights are not touched, and its
    SNN state is reset before and after every batch.

    Args:
        network: the classifier (images -> logits).
        layer: dotted name of the layer whose units are silenced.
        units: the channels to silence, one at a time.
        images: ``[N, C, H, W]`` labelled images the network takes.
        labels: ``[N]`` their classes.
        num_classes: classes of the per-class accuracy (default: from the labels and logits).
        batch_limit: most images per forward pass.

    Raises:
        ValueError: an unknown layer (the valid ones listed), no images, labels of another length,
            a unit beyond the layer's channels.

    Example:
        >>> importance = unit_importance(net, "layer4.1.sn2", range(16), val_images, val_labels)
        >>> importance.drop.argmax()          # the unit the network needs most
    """
    module = resolve_layer(network, layer)
    if not isinstance(images, Tensor) or images.dim() != 4 or images.shape[0] == 0:
        raise ValueError("unit_importance needs labelled images [N, C, H, W], N > 0")
    labels = torch.as_tensor(labels).long()
    if labels.shape != (images.shape[0],):
        raise ValueError(f"labels must be [N] = [{images.shape[0]}], got {list(labels.shape)}")
    units = [int(u) for u in units]
    with eval_mode(network):
        device = next((p.device for p in network.parameters()), torch.device("cpu"))
        images = images.to(device)
        if num_classes is None:
            reset_states(network)
            with torch.no_grad():
                num_classes = int(network(images[:1]).shape[-1])
            reset_states(network)
        base, base_class = _accuracy(network, images, labels, num_classes, batch_limit)
        accuracy, per_class = [], []
        for unit in units:
            handle = module.register_forward_hook(_silencer(unit))
            try:
                acc, cls = _accuracy(network, images, labels, num_classes, batch_limit)
            except IndexError as error:
                raise ValueError(f"unit {unit} is beyond the channels of layer {layer!r}: {error}") from error
            finally:
                handle.remove()
            accuracy.append(acc)
            per_class.append(cls)
    return UnitImportance(units, torch.stack(accuracy).float(), torch.stack(per_class).float(), float(base),
                          base_class.float(), int(images.shape[0]))
