"""The whole-layer objective: P units of one layer, K candidates each, in one batched pass."""

from __future__ import annotations

import time
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from mango_pl.checks import check_positive_int
from mango_pl.probe.layer_probe import LayerProbe
from mango_pl.probe.precision import module_device, resolve_dtype


class LayerObjective:
    """``f(index [P, K, d]) -> activation [P, K]``: unit ``units[p]`` scored on its own K stimuli.

    The P*K candidates are decoded by the stimulus space and probed by the network in chunks of at
    most ``batch_limit`` images, so P units of one layer cost about as much as P*K images, not P
    separate searches. Row ``p`` of the result reads channel ``units[p]`` of images
    ``p*K .. p*K+K-1`` only. The forward stops after ``layer`` (see :class:`LayerProbe`).

    The constructor moves the space to ``device`` and to the probe's precision (float64 on CPU
    with ``precision="auto"``), so that a stimulus scores exactly the same in any batch, and checks
    the units with a one-image dry run (:meth:`check`). After the model's weights change (during
    training), call :meth:`sync`. The model's train/eval mode is the caller's choice (use eval).

    Args:
        model: the classifier (images in [0, 1] -> logits).
        layer: dotted name of the probed layer.
        units: channel indices of ``layer``, one search problem each (``P = len(units)``).
        space: a stimulus space (``grid``, ``decode``, ``latents``, ``to``), e.g. ``GeneratorSpace``.
        batch_limit: most images per generator / network call.
        center_only: read only the centre position of each channel.
        precision: ``"auto"``, ``"float32"`` or ``"float64"``, see :class:`LayerProbe`.
        device: where the space decodes; default the model's device.
        readout: ``"rate"`` (the score is the spike rate), or ``"current"``: the score breaks ties
            among equal rates by the neurons' input current (:func:`~mango_pl.probe.layer_probe.graded_score`;
            spiking layers only). :meth:`evaluate` always reports the rate.

    Attributes:
        queries: number of stimuli scored by ``__call__`` so far (``evaluate`` does not count).
        seconds: wall time spent in ``__call__`` so far.

    Raises:
        ValueError: unknown layer (lists valid ones), empty or negative units, a unit index at or
            past the layer's channel count (says the count), bad ``batch_limit`` or ``precision``.

    Example:
        >>> objective = LayerObjective(model.eval(), "layer1.0.sn1", range(64), GeneratorSpace(checkpoint=...))
        >>> values = objective(objective.space.grid.random_index(64, 10))   # [64, 10]
    """

    def __init__(self, model: nn.Module, layer: str, units: Sequence[int], space, batch_limit: int = 256,
                 center_only: bool = False, precision: str = "auto", device: torch.device | str | None = None,
                 readout: str = "rate"):
        check_positive_int("batch_limit", batch_limit)
        self.probe = LayerProbe(model, [layer], center_only=center_only, precision=precision, readout=readout)
        self.readout = readout
        units = torch.as_tensor(list(units), dtype=torch.long)
        if units.dim() != 1 or units.numel() == 0:
            raise ValueError("units must be a non-empty sequence of channel indices, e.g. range(64)")
        if (units < 0).any():
            raise ValueError(f"unit indices must be >= 0, got {units[units < 0].tolist()}")
        self.model = model
        self.layer = layer
        self.units = units
        self.batch_limit = batch_limit
        self.device = torch.device(device) if device is not None else module_device(model)
        self.space = space.to(self.device, resolve_dtype(precision, module_device(model)))
        self.queries = 0
        self.seconds = 0.0
        self.channels = self.check()

    @property
    def num_units(self) -> int:
        """``P``, the number of units (search problems)."""
        return self.units.numel()

    def check(self) -> int:
        """Run one image through the model; return the layer's channel count.

        Raises:
            ValueError: a unit index at or past the channel count, or images the model cannot take.
        """
        index = torch.zeros(1, self.space.grid.d, dtype=torch.long)
        images = self.space.decode(index)
        try:
            activation = self.probe(images)[self.layer]
        except (RuntimeError, ValueError, TypeError) as error:
            reason = str(error).rstrip(".")
            raise ValueError(f"a one-image dry run of layer {self.layer!r} on the space's images "
                             f"{tuple(images.shape[1:])} (channels, height, width) failed: {reason}. If the model "
                             "expects other images, adapt the space: space.with_channels(C).with_size(S)") from error
        channels = activation.shape[1]
        bad = self.units[self.units >= channels]
        if bad.numel():
            raise ValueError(f"unit index {bad.tolist()} out of range: layer {self.layer!r} has {channels} "
                             f"channels (valid units 0..{channels - 1})")
        return channels

    def close(self) -> None:
        """Remove the probe's hooks from the network (and drop its evaluation copy)."""
        self.probe.close()

    def sync(self) -> None:
        """Refresh the probe's model copy after the model's weights changed."""
        self.probe.sync()

    def _activations(self, flat_index: Tensor) -> Tensor:
        """All channels of ``layer`` for ``flat_index [N, d]``, chunked, ``[N, channels]`` on CPU."""
        rows = []
        read = self.probe if self.readout == "rate" else self.probe.graded
        for chunk in flat_index.split(self.batch_limit):
            images = self.space.decode(chunk)
            rows.append(read(images)[self.layer].cpu())
        return torch.cat(rows)

    def __call__(self, index: Tensor) -> Tensor:
        """Score ``index [P, K, d]``: ``[P, K]`` float32 on ``index``'s device.

        Raises:
            ValueError: ``P`` differs from the number of units, or indices outside the grid.
        """
        start = time.perf_counter()
        if index.dim() != 3 or index.shape[0] != self.num_units:
            raise ValueError(f"the objective takes index [P, K, d] with P={self.num_units} units, "
                             f"got shape {tuple(index.shape)}")
        self.space.grid.check_index(index)
        P, K, d = index.shape
        acts = self._activations(index.reshape(P * K, d).cpu()).view(P, K, -1)
        values = acts.gather(2, self.units.view(P, 1, 1).expand(P, K, 1)).squeeze(2)
        self.queries += P * K
        self.seconds += time.perf_counter() - start
        return values.to(index.device)

    def responses(self, index: Tensor) -> Tensor:
        """Population mode: every unit's response to each stimulus, ``index [N, d] -> [N, P]``.

        Each stimulus is decoded and probed once, whatever the number of units (the objective of
        ``maximize(..., shared=True)``); counts ``N`` queries.

        Raises:
            ValueError: indices that are not ``[N, d]`` inside the grid.
        """
        start = time.perf_counter()
        if index.dim() != 2:
            raise ValueError(f"responses() takes stimuli index [N, d], got shape {tuple(index.shape)}")
        self.space.grid.check_index(index)
        values = self._activations(index.cpu())[:, self.units]
        self.queries += index.shape[0]
        self.seconds += time.perf_counter() - start
        return values.to(index.device)

    @torch.no_grad()
    def image_responses(self, images: Tensor) -> Tensor:
        """Every unit's response to given images ``[N, C, H, W]`` in [0, 1] (e.g. natural images),
        ``[N, P]``; counts ``N`` queries.

        Raises:
            ValueError: images the network cannot take (the message says how to adapt them).
        """
        start = time.perf_counter()
        if not isinstance(images, Tensor) or images.dim() != 4:
            raise ValueError(f"image_responses() takes images [N, C, H, W], got "
                             f"{tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__}")
        rows = []
        for chunk in images.split(self.batch_limit):
            rows.append(self.probe(chunk)[self.layer].cpu())
        self.queries += images.shape[0]
        self.seconds += time.perf_counter() - start
        return torch.cat(rows)[:, self.units]

    @torch.no_grad()
    def evaluate(self, index: Tensor) -> dict[str, Tensor]:
        """The final stimuli of the P units, ``index [P, d]``, in detail (all on CPU).

        Returns:
            ``activation [P]`` (unit p on image p), ``probs [P, classes]`` (softmax of a full
            forward), ``images [P, C, H, W]`` float32 in [0, 1], ``latents [P, D]``.
        """
        if index.dim() != 2 or index.shape[0] != self.num_units:
            raise ValueError(f"evaluate takes index [P, d] with P={self.num_units} units, "
                             f"got shape {tuple(index.shape)}")
        self.space.grid.check_index(index)
        flat = index.cpu()
        activations, probs, images = [], [], []
        for chunk in flat.split(self.batch_limit):
            chunk_images = self.space.decode(chunk)
            activations.append(self.probe(chunk_images)[self.layer].cpu())
            probs.append(self.probe.class_probabilities(chunk_images).cpu())
            images.append(chunk_images.to("cpu", torch.float32))
        activation = torch.cat(activations).gather(1, self.units.view(-1, 1)).squeeze(1)
        return {
            "activation": activation,
            "probs": torch.cat(probs),
            "images": torch.cat(images),
            "latents": self.space.latents(flat).cpu(),
        }
