"""The grid of a stimulus space: :class:`~mango_pl.models.grid.Grid`, kept importable from here.

The class lives in :mod:`mango_pl.models.grid` (generators carry their grid, and models do not
import stimuli); this module names it under its old path, so code and pickles that say
``mango_pl.stimuli.grid.Grid`` still find it.
"""

from mango_pl.models.grid import Grid

__all__ = ["Grid"]
