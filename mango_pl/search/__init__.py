"""Black-box maximizers over a discrete grid (no torch.nn, no Lightning in here).

One ask/tell interface (``Searcher``) for every method, batched over ``P`` independent problems;
``maximize`` drives one against an objective ``f(index[P, K, d]) -> values[P, K]``; ``SearchRun`` is the
same run driven by its caller (values from elsewhere, e.g. a rig), asked and told in pieces.
"""

from mango_pl.search.base import Searcher
from mango_pl.search.random_searcher import RandomSearcher
from mango_pl.search.driver import Checkpoint, RunPlan, SearchResult, SearchRun, maximize
from mango_pl.grid_features import GridFeatures
from mango_pl.search.qtt import qtt_bits, qtt_decode, qtt_encode
from mango_pl.search.registry import (DEFAULT_METHOD, LOOP_METHOD, available_methods, make_searcher, method_options,
                                      register_method, shared_methods, start_methods)
from mango_pl.search.seeding import problem_seeds

__all__ = [
    "DEFAULT_METHOD",
    "LOOP_METHOD",
    "Checkpoint",
    "GridFeatures",
    "RandomSearcher",
    "RunPlan",
    "SearchResult",
    "SearchRun",
    "Searcher",
    "available_methods",
    "make_searcher",
    "maximize",
    "method_options",
    "problem_seeds",
    "register_method",
    "qtt_bits",
    "qtt_decode",
    "qtt_encode",
    "shared_methods",
    "start_methods",
]
