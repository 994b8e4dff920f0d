"""Read the activation of every unit of named layers with forward hooks, stopping the forward early."""

from __future__ import annotations

import math

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from mango_pl.checks import check_choice
from mango_pl.models.state import is_spiking_neuron, reset_states
from mango_pl.probe.class_probabilities import class_probabilities
from mango_pl.probe.layers import is_multistep, resolve_layer
from mango_pl.probe.precision import (check_precision, converted_copy, module_device, module_dtype,
                                      resolve_dtype)
from mango_pl.probe.spike_rate import activation_sums, spike_output

#: Attribute that marks the hook functions of a LayerProbe (so a model copy can drop them).
_HOOK_MARK = "_mango_layer_probe_hook"


class _StopForward(Exception):
    """Raised by a hook once the deepest probed layer has run; caught by the probe that raised it."""

    def __init__(self, run: "_Run"):
        super().__init__("forward stopped after the deepest probed layer")
        self.run = run


class _Run:
    """What the hooks collect during one probing forward."""

    def __init__(self, batch: int, stop: tuple[str, int] | None):
        self.batch = batch
        self.stop = stop
        self.sums: dict[str, Tensor] = {}
        self.currents: dict[str, Tensor] = {}
        self.slots: dict[str, int] = {}
        self.calls: dict[str, int] = {}
        self.last: str | None = None

    def add(self, name: str, sums: Tensor, slots: int, currents: Tensor | None = None) -> None:
        if name in self.sums:
            self.sums[name] = self.sums[name] + sums
        else:
            self.sums[name] = sums
        if currents is not None:
            self.currents[name] = self.currents[name] + currents if name in self.currents else currents
        self.slots[name] = self.slots.get(name, 0) + slots
        self.calls[name] = self.calls.get(name, 0) + 1
        self.last = name


def _strip_probe_hooks(model: nn.Module) -> None:
    """Remove every LayerProbe hook from ``model`` (used on a fresh copy, which inherits them)."""
    for module in model.modules():
        for key, hook in list(module._forward_hooks.items()):
            if getattr(hook, _HOOK_MARK, False):
                del module._forward_hooks[key]
                module._forward_hooks_with_kwargs.pop(key, None)
                module._forward_hooks_always_called.pop(key, None)


#: the valid ``readout`` arguments: the spike rate, or the rate with ties broken by the input current
READOUTS = ("rate", "current")


def check_readout(readout: str, model: nn.Module, layers: Sequence[str]) -> str:
    """``readout`` itself if valid for ``layers`` of ``model``.

    Raises:
        ValueError: an unknown readout, or ``"current"`` for a layer that is not a spiking neuron
            (it has no membrane to charge: use ``"rate"``).
    """
    check_choice("readout", readout, READOUTS)
    if readout == "current":
        for name in layers:
            module = resolve_layer(model, name)
            if not is_spiking_neuron(module):
                raise ValueError(f"readout='current' breaks ties by the input current of spiking neurons, and layer "
                                 f"{name!r} is a {type(module).__name__}, not a SpikingJelly or snnTorch neuron with a "
                                 f"membrane state; use readout='rate' (its activation is already graded)")
    return readout


def graded_score(rate: Tensor, current: Tensor, slots: int) -> Tensor:
    """``rate + (0.5 / slots) * (0.5 + atan(current) / pi)``, float64.

    Rates are multiples of ``1 / slots`` (spikes per time-step x position slot), and the second
    term lies in ``(0, 0.5 / slots)``: any higher rate scores higher, and among equal rates (a
    saturated unit fires in every slot for many stimuli) the stimulus that drives the neuron's
    input current higher scores higher.

    Example:
        >>> graded_score(torch.tensor([1.0, 1.0]), torch.tensor([2.0, 5.0]), slots=8)  # equal rates, ordered
        tensor([1.0588, 1.0606], dtype=torch.float64)
    """
    return rate.double() + (0.5 / slots) * (0.5 + torch.atan(current.double()) / math.pi)


class LayerProbe:
    """Activation of every unit (channel) of named layers for a batch of images.

    A unit's activation is the fraction of (time step x spatial position) slots in which it
    spiked, in [0, 1] (a non-spiking layer: the mean of its values over positions and time), see
    :func:`mango_pl.probe.spike_rate`. Hooks read each probed layer's output as it is produced
    (reduced at once to per-unit sums, so later in-place ops cannot change it), and the forward
    stops right after the last call of the deepest probed layer (the last one to fire, found by
    a full forward of the first batch), so probing an early layer does not pay for the rest of the
    network. A single-step layer called T times per forward (snnTorch) is read over all T calls.
    SNN state is reset before every batch and left reset after it, also when the forward stops.

    Precision: spikes are thresholds, and float32 CPU kernels differ by ~1e-6 with the batch size,
    enough to flip a spike. With ``precision="float64"`` (``"auto"``: float64 on CPU, float32 on
    CUDA) the probe evaluates a float64 copy of the model, made on first use; call :meth:`sync`
    after the model's weights change (e.g. each epoch of training) to refresh it. Then a stimulus
    scores exactly the same alone and inside any batch.

    The probe never calls ``model.train()``/``model.eval()``: the caller decides (the copy mirrors
    the model's modes). Probe in eval mode: in train mode BatchNorm uses batch statistics (the
    result depends on the batch) and updates its running averages.

    Args:
        model: the network; it takes images ``[B, C, H, W]`` in [0, 1].
        layers: dotted layer names (``model.named_modules()``), e.g. ``["layer1.0.sn1"]``.
        center_only: read only the centre spatial position of each channel.
        precision: ``"auto"``, ``"float32"`` or ``"float64"``.
        readout: ``"rate"``, or ``"current"``: :meth:`graded` also reads each neuron's input current
            (spiking layers only) to break ties between equal rates.

    Raises:
        ValueError: unknown layer name (lists the valid ones), empty ``layers``, bad ``precision``.

    Example:
        >>> with LayerProbe(model.eval(), ["layer1.0.sn1", "layer2.0.sn1"]) as probe:
        ...     rates = probe(torch.rand(8, 3, 32, 32))
        >>> rates["layer1.0.sn1"].shape
        torch.Size([8, 64])
    """

    def __init__(self, model: nn.Module, layers: Sequence[str], center_only: bool = False,
                 precision: str = "auto", readout: str = "rate"):
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if isinstance(layers, str):
            layers = [layers]
        layers = list(dict.fromkeys(layers))
        if not layers:
            raise ValueError("LayerProbe needs at least one layer name, e.g. layers=['layer1.0.sn1']")
        for name in layers:
            resolve_layer(model, name)
        self.model = model
        self.layers = layers
        self.center_only = bool(center_only)
        self.precision = check_precision(precision)
        self.readout = check_readout(readout, model, layers)
        self._copy: nn.Module | None = None
        self._hooked: nn.Module | None = None
        self._handles: list[torch.utils.hooks.RemovableHandle] = []
        self._stop: tuple[str, int] | None = None
        self._run: _Run | None = None
        self._last_run: _Run | None = None

    # -- the model that is evaluated ---------------------------------------------------------

    def evaluated_model(self) -> nn.Module:
        """The module the probe runs (hooks attached): the model itself, or its copy in the probe's dtype.

        The copy is made on first need, follows the model to its device, and mirrors its
        train/eval modes; :meth:`sync` refreshes its weights.
        """
        device = module_device(self.model)
        dtype = resolve_dtype(self.precision, device)
        if dtype == module_dtype(self.model):
            target = self.model
        else:
            if self._copy is None or module_device(self._copy) != device:
                self._drop_copy()
                self._copy = self._make_copy(dtype)
            for mirror, original in zip(self._copy.modules(), self.model.modules()):
                mirror.training = original.training
            target = self._copy
        self._attach(target)
        return target

    def _make_copy(self, dtype: torch.dtype) -> nn.Module:
        mirror = converted_copy(self.model, dtype)
        _strip_probe_hooks(mirror)
        return mirror

    def _drop_copy(self) -> None:
        if self._copy is not None and self._hooked is self._copy:
            self._detach()
        self._copy = None

    def sync(self) -> None:
        """Refresh the evaluated copy from the model's current weights (call after training steps).

        Also forgets where the forward may stop, so it is found again on the next batch.
        """
        self._drop_copy()
        self._stop = None

    # -- hooks -------------------------------------------------------------------------------

    def _make_hook(self, name: str) -> Callable:
        def hook(module: nn.Module, args: tuple, output: object) -> None:
            run = self._run
            if run is None:
                return
            out = spike_output(output)
            time_first = is_multistep(module) or (
                out.dim() >= 3 and out.shape[0] != run.batch and out.shape[1] == run.batch)
            sums, slots = activation_sums(out, time_first=time_first, center_only=self.center_only)
            currents = None
            if self.readout == "current":  # the input current of the neurons, summed like the spikes
                currents, _ = activation_sums(args[0], time_first=time_first, center_only=self.center_only)
            run.add(name, sums, slots, currents)
            if run.stop is not None and name == run.stop[0] and run.calls[name] >= run.stop[1]:
                raise _StopForward(run)

        setattr(hook, _HOOK_MARK, True)
        return hook

    def _attach(self, target: nn.Module) -> None:
        if self._hooked is target:
            return
        self._detach()
        modules = dict(target.named_modules())
        self._handles = [modules[name].register_forward_hook(self._make_hook(name)) for name in self.layers]
        self._hooked = target

    def _detach(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._hooked = None

    def close(self) -> None:
        """Remove the hooks and drop the evaluated copy."""
        self._detach()
        self._copy = None

    def __enter__(self) -> "LayerProbe":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- probing -----------------------------------------------------------------------------

    @torch.no_grad()
    def probe(self, images: Tensor) -> dict[str, Tensor]:
        """Activations of every unit of every probed layer, ``{layer: [B, channels]}`` float32.

        Args:
            images: ``[B, C, H, W]`` in [0, 1] (moved to the model's device and the probe's dtype).

        Raises:
            RuntimeError: if a probed layer does not run in the model's forward pass.
        """
        if not isinstance(images, Tensor) or images.dim() < 1 or images.shape[0] == 0:
            raise ValueError("images must be a non-empty tensor [B, C, H, W]")
        target = self.evaluated_model()
        x = images.to(device=module_device(target), dtype=module_dtype(target))
        run = _Run(batch=x.shape[0], stop=self._stop)
        self._run = run
        reset_states(target)
        try:
            target(x)
        except _StopForward as stop:
            if stop.run is not run:
                raise
        finally:
            self._run = None
            reset_states(target)
        missing = [name for name in self.layers if name not in run.sums]
        if missing:
            raise RuntimeError(f"layer(s) {missing} did not run in the forward pass of {type(self.model).__name__}; "
                               "probe layers that the forward uses")
        if self._stop is None:
            self._stop = (run.last, run.calls[run.last])
        self._last_run = run
        return {name: (run.sums[name] / run.slots[name]).float() for name in self.layers}

    __call__ = probe

    @torch.no_grad()
    def graded(self, images: Tensor) -> dict[str, Tensor]:
        """The search's score of every unit: the spike rate, ties among equal rates broken by the
        graded readout (see :func:`graded_score`), ``{layer: [B, channels]}`` float64. With
        ``readout="rate"`` this is the rate itself."""
        rates = self.probe(images)
        if self.readout == "rate":
            return {name: rate.double() for name, rate in rates.items()}
        run = self._last_run
        return {name: graded_score(run.sums[name] / run.slots[name], run.currents[name] / run.slots[name],
                                   run.slots[name]) for name in self.layers}

    def class_probabilities(self, images: Tensor) -> Tensor:
        """``softmax`` of the full forward of the evaluated model, ``[B, classes]`` (same precision)."""
        return class_probabilities(self.evaluated_model(), images)
