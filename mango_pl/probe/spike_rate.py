"""A unit's activation from a layer's output: the fraction of (time step x position) slots it spiked.

A unit is one channel (dim 1 of ``[B, C, ...]``). For a spiking layer the output holds 0/1
spikes, so the mean over time steps and spatial positions is the fraction of slots in which the
unit spiked, in [0, 1]; for a non-spiking layer the same mean is the spatial (and time) mean of
its values. Layouts:

- multi-step (SpikingJelly ``step_mode="m"``): ``[T, B, C, H, W]`` or ``[T, B, F]`` -> pass
  ``time_first=True``;
- single-step (snnTorch ``Leaky``, SpikingJelly ``step_mode="s"``) called T times per forward:
  one ``[B, C, H, W]`` / ``[B, F]`` per call -> pass the list of the T outputs;
- ordinary layers: ``[B, C, H, W]`` / ``[B, F]`` (any number of trailing spatial dims).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def spike_output(output: object) -> Tensor:
    """The spike tensor of a layer's output (snnTorch returns ``(spk, mem)`` when asked to)."""
    if isinstance(output, (tuple, list)):
        if not output:
            raise ValueError("the layer returned an empty tuple; probe a layer that returns a tensor")
        output = output[0]
    if not isinstance(output, Tensor):
        raise TypeError(f"cannot read activations from a layer output of type {type(output).__name__}; "
                        "probe a layer that returns a tensor (or a (spikes, membrane) tuple)")
    return output


def activation_sums(output: Tensor, time_first: bool = False, center_only: bool = False) -> tuple[Tensor, int]:
    """Per-unit sums over time and space, and how many slots they sum over.

    Args:
        output: one call's output, ``[T, B, C, ...]`` if ``time_first`` else ``[B, C, ...]``.
        time_first: whether dim 0 is time (multi-step layers).
        center_only: read only the centre spatial position (index ``size // 2`` of every spatial
            dim) instead of all of them; no effect on ``[B, F]`` outputs.

    Returns:
        ``(sums [B, C] float64, slots)``; ``sums / slots`` is the activation.

    Raises:
        ValueError: if the output has too few dims for its layout.
    """
    x = output.detach()
    min_dims = 3 if time_first else 2
    if x.dim() < min_dims:
        layout = "[T, B, C, ...]" if time_first else "[B, C, ...]"
        raise ValueError(f"a layer output of shape {tuple(x.shape)} has no unit (channel) dim; expected {layout}")
    steps = 1
    if time_first:
        steps = x.shape[0]
        x = x.sum(0)
    if center_only and x.dim() > 2:
        for _ in range(x.dim() - 2):
            x = x.select(2, x.shape[2] // 2)
    positions = 1
    for size in x.shape[2:]:
        positions *= size
    sums = x.flatten(2).sum(-1) if x.dim() > 2 else x
    return sums.to(torch.float64), steps * positions


def spike_rate(outputs: Tensor | Sequence[Tensor], time_first: bool = False, center_only: bool = False) -> Tensor:
    """The activation of every unit: mean over time steps (or calls) and positions, ``[B, C]``.

    Args:
        outputs: one layer output, or the outputs of the T calls of a single-step layer.
        time_first: whether dim 0 of each output is time (multi-step layers).
        center_only: read only the centre spatial position.

    Returns:
        ``[B, C]`` float64; in [0, 1] for spike outputs.

    Example:
        >>> spikes = torch.zeros(4, 1, 2, 3, 3); spikes[:2, :, 0] = 1   # channel 0 spikes half the time
        >>> spike_rate(spikes, time_first=True)
        tensor([[0.5000, 0.0000]], dtype=torch.float64)
    """
    if isinstance(outputs, Tensor):
        outputs = [outputs]
    if not outputs:
        raise ValueError("spike_rate needs at least one layer output")
    total, slots = None, 0
    for output in outputs:
        sums, n = activation_sums(spike_output(output), time_first=time_first, center_only=center_only)
        if total is not None and total.shape != sums.shape:
            raise ValueError(f"the calls of one layer disagree in shape: {tuple(total.shape)} vs {tuple(sums.shape)}")
        total = sums if total is None else total + sums
        slots += n
    return total / slots
