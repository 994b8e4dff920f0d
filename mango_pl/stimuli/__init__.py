"""Stimulus spaces: a grid ``{0..n-1}^d`` whose every index decodes to an image in [0, 1]."""

from mango_pl.stimuli.adapt import adapt_images
from mango_pl.stimuli.dct import DCTSpace, dct_basis
from mango_pl.stimuli.generator_space import GeneratorSpace
from mango_pl.stimuli.gratings import GRATING_DIMS, GratingSpace, hue_to_rgb
from mango_pl.stimuli.grid import Grid
from mango_pl.stimuli.space import StimulusSpace

__all__ = [
    "GRATING_DIMS",
    "DCTSpace",
    "GeneratorSpace",
    "Grid",
    "GratingSpace",
    "StimulusSpace",
    "adapt_images",
    "dct_basis",
    "hue_to_rgb",
]
