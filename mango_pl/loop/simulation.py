"""A simulated animal: units of a trained network stand in for the recorded cells.

The simulated rig does what a rig does: it reads the batch's image files (8-bit, as a screen
shows them), shows them to the network in presentation order, and writes ``responses_<batch>.csv``
with a spike count per presentation and cell. A cell's count is its unit's activation (spike
rate in [0, 1]) read through :class:`~mango_pl.loop.noise.PoissonNoise`: ``Poisson(window *
rate)`` spikes (``responses: dff`` writes ``count / window``). The noise of batch ``b`` and cell
``c`` comes from a generator seeded with ``(seed, b, c)``, so a batch simulated again (after a
crash) gives the same responses.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import torch

from mango_pl.loop.batch import Batch
from mango_pl.loop.config import SessionConfigError, SimulationSettings
from mango_pl.loop.files import write_new_file
from mango_pl.loop.images import read_image
from mango_pl.probe import LayerObjective
from mango_pl.loop.noise import PoissonNoise
from mango_pl.stimuli import StimulusSpace, adapt_images


class SimulatedRig:
    """Units ``settings.units`` of layer ``settings.layer`` of a trained classifier, one per recorded cell.

    Args:
        settings: the ``simulate`` section of the session config.
        cells: recorded cells (one unit each).
        response_kind: ``"spike_counts"`` or ``"dff"``.
        space: the session's stimulus space (for the probe's one-image check).

    Raises:
        SessionConfigError: a missing or unreadable checkpoint, an unknown layer, a unit past the
            layer's channels.
    """

    def __init__(self, settings: SimulationSettings, cells: int, response_kind: str, space: StimulusSpace):
        from mango_pl.models.checkpoint import load_classifier

        try:
            network, _ = load_classifier(settings.checkpoint, attr=settings.network_attr)
        except (FileNotFoundError, ValueError) as error:
            raise SessionConfigError(f"simulate.checkpoint: {error}") from error
        units = settings.units if settings.units is not None else tuple(range(cells))
        self.channels = int(getattr(network, "in_channels", space.channels))
        self.image_size = int(getattr(network, "image_size", space.image_size))
        try:
            self.objective = LayerObjective(network, settings.layer, units,
                                            space.with_channels(self.channels).with_size(self.image_size))
        except ValueError as error:
            raise SessionConfigError(f"simulate: {str(error).splitlines()[0]}") from error
        self.settings = settings
        self.units = units
        self.response_kind = response_kind
        self.noise = PoissonNoise(window=settings.window)

    def activations(self, files: list[Path]) -> np.ndarray:
        """Noise-free activations of every cell's unit to image files, ``[files, cells]``."""
        images = torch.stack([adapt_images(read_image(f)[None], self.channels, self.image_size)[0] for f in files])
        return self.objective.image_responses(images).to(torch.float64).numpy()

    def responses(self, batch: Batch, folder: Path) -> list[tuple[int, str, int, float]]:
        """``(presentation, stimulus_id, cell, response)`` rows for every presentation of ``batch``."""
        stimuli = batch.ids
        order = list(stimuli)
        activation = self.activations([folder / stimuli[sid].file for sid in order])
        rows_of = {sid: i for i, sid in enumerate(order)}
        true = activation[[rows_of[sid] for sid in batch.presentations]]  # [presentations, cells]
        measured = np.empty_like(true)
        for cell in range(true.shape[1]):
            generator = np.random.default_rng(np.random.SeedSequence(self.settings.seed, spawn_key=(batch.number, cell)))
            measured[:, cell] = self.noise.sample(true[:, cell], generator, cell)
        counts = np.rint(measured * self.settings.window)
        values = counts if self.response_kind == "spike_counts" else counts / self.settings.window
        return [(order_number, sid, cell, float(values[order_number, cell]))
                for order_number, sid in enumerate(batch.presentations) for cell in range(true.shape[1])]

    def write_responses(self, batch: Batch, folder: Path, path: Path) -> bool:
        """Write the responses file of ``batch`` to ``path``; an existing one is kept (``False``)."""
        if path.exists():
            return False
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["presentation", "stimulus_id", "cell", "response"])
        for presentation, sid, cell, value in self.responses(batch, folder):
            writer.writerow([presentation, sid, cell, int(value) if self.response_kind == "spike_counts" else value])
        return write_new_file(path, out.getvalue().encode())
