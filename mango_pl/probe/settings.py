"""``ProbeSettings``: how a unit is read while its MEI is searched (batch size, centre position,
float precision, device) — one typed object that the callback, ``mango-pl search`` and Python share."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from mango_pl.checks import check_bool, check_positive_int
from mango_pl.probe.precision import check_precision


@dataclass(frozen=True)
class ProbeSettings:
    """How the probed layer's units are read.

    Attributes:
        batch_limit: most images decoded or probed in one forward pass (bounds memory).
        center_only: read only the centre spatial position of each unit.
        precision: ``"auto"`` (float64 on CPU, where float32 convolutions vary with the batch size
            enough to flip spikes; float32 on accelerators), ``"float32"`` or ``"float64"``.
        device: where the space decodes and the objective computes (``None``: the network's device).

    Raises:
        ValueError: a batch limit below 1, an unknown precision (the valid ones are listed), a device
            torch does not know.

    Example:
        >>> ProbeSettings(batch_limit=64, precision="float32")
        ProbeSettings(batch_limit=64, center_only=False, precision='float32', device=None)
    """

    batch_limit: int = 256
    center_only: bool = False
    precision: str = "auto"
    device: str | None = None

    def __post_init__(self) -> None:
        check_positive_int("`batch_limit`", self.batch_limit, hint="images per forward pass")
        check_bool("`center_only`", self.center_only)
        check_precision(self.precision)
        if self.device is not None:
            try:
                object.__setattr__(self, "device", str(torch.device(self.device)))
            except (RuntimeError, TypeError) as error:
                raise ValueError(f"`device` must be a torch device such as 'cpu', 'cuda' or 'cuda:1', "
                                 f"got {self.device!r} ({error})") from None

    def objective(self, network: nn.Module, layer: str, units: Sequence[int], space, readout: str = "rate",
                  precision: str | None = None):
        """The :class:`~mango_pl.probe.LayerObjective` of ``units`` of ``layer`` read this way
        (``precision`` overrides the settings' one, e.g. ``"float32"`` for a cheap dry run)."""
        from mango_pl.probe.objective import LayerObjective

        return LayerObjective(network, layer, units, space, batch_limit=self.batch_limit,
                              center_only=self.center_only, precision=precision or self.precision,
                              device=self.device, readout=readout)
