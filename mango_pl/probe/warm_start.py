"""Natural-image warm start: show dataset images first, start each unit's search from its best ones.

Labs show natural images before they evolve. Here the first queries of a search are natural
images (counted against the budget): every unit of the layer responds to each of them, each
unit's ``starts`` best images are encoded into the stimulus grid (a VQ-VAE by its encoder, a GAN
by inverting its generator, see :meth:`GeneratorSpace.encode`; the probed network stays a black
box), and the search proposes those grid points first (``maximize(..., start=...)``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from mango_pl.checks import check_positive_int


@dataclass
class WarmStart:
    """What a natural-image warm start found.

    Attributes:
        start: ``LongTensor[P, M, d]``, each unit's start points in the grid (its best images, encoded).
        chosen: ``LongTensor[P, M]``, which of the shown images those are, best first.
        responses: ``[N, P]``, every unit's response to every image shown (the queries spent).
        queries: the number of images shown, ``N``.
    """

    start: Tensor
    chosen: Tensor
    responses: Tensor
    queries: int


def natural_warm_start(objective, images: Tensor, starts: int = 3, seed: int = 0,
                       measure: Callable[[Tensor], Tensor] | None = None) -> WarmStart:
    """Show ``images`` to every unit of ``objective`` and encode each unit's ``starts`` best into the grid.

    Args:
        objective: a :class:`~mango_pl.probe.LayerObjective` (its space must be able to ``encode``).
        images: ``[N, C, H, W]`` natural images in [0, 1], as the network takes them.
        starts: start points per unit (at most ``N``).
        seed: seed of the GAN inversion's starting latents.
        measure: turns the noise-free responses ``[P, N]`` into what a rig records (noise); by
            default the responses themselves.

    Raises:
        ValueError: no images, or ``starts < 1``.
        NotImplementedError: a stimulus space that cannot encode images.

    Example:
        >>> warm = natural_warm_start(objective, digits[:50], starts=3)
        >>> result = maximize(objective, "elite", d, n, budget - warm.queries, problems=P, start=warm.start)
    """
    if not isinstance(images, Tensor) or images.dim() != 4 or images.shape[0] == 0:
        raise ValueError("natural_warm_start needs a non-empty batch of images [N, C, H, W]")
    check_positive_int("starts", starts, hint="start points per unit")
    responses = objective.image_responses(images).to(torch.float64)  # [N, P]
    if measure is not None:
        responses = torch.as_tensor(measure(responses.T)).to(torch.float64).T
    count = min(starts, images.shape[0])
    chosen = responses.topk(count, dim=0).indices.T  # [P, M], best first
    distinct, where = chosen.unique(return_inverse=True)
    encoded = objective.space.encode(images[distinct].cpu(), seed=seed)  # [U, d]
    return WarmStart(encoded[where], chosen, responses, images.shape[0])
