"""Search methods by name (as written in YAML configs) and ``make_searcher``.

The built-in methods are registered by the import path of their searcher class; a searcher module is
imported the first time its method is made or asked about, so naming methods costs no imports.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import torch

from mango_pl.search.base import Searcher
from mango_pl.search.seeding import Seeds

NEVERGRAD_PREFIX = "ng:"

#: the method ``maximize`` callers and ``MEISearchCallback`` use unless told otherwise: it reaches
#: a unit's MEI with the fewest stimuli on the neuron bank (``benchmarks/neuron_bank.py``)
DEFAULT_METHOD = "surrogate"
#: the method ``mango-pl loop`` uses unless its config names one: with a living neuron a stimulus costs
#: about a second, so the surrogate that also models every candidate's decoded image (ahead of
#: ``surrogate`` on the neuron bank at every budget on the SN-GAN grid, at ~0.2 s of decoding per unit
#: and step on a CPU) pays for itself; searches during training keep the fast ``DEFAULT_METHOD``
LOOP_METHOD = "surrogate-image"

#: the searcher of every ``ng:<Name>`` method (``module:Class``)
NEVERGRAD_SEARCHER = "mango_pl.search.nevergrad_searcher:NevergradSearcher"

#: method name -> (searcher class, or ``module:Class`` of one imported on first use; preset options, which
#: options given by the caller override)
METHODS: dict[str, tuple[type[Searcher] | str, dict[str, Any]]] = {
    "elite": ("mango_pl.search.elite_searcher:EliteSearcher", {}),
    "surrogate": ("mango_pl.search.surrogate_searcher:SurrogateSearcher", {}),
    "surrogate-image": ("mango_pl.search.surrogate_searcher:SurrogateSearcher", dict(image=True)),
    "protes": ("mango_pl.search.protes_torch:ProtesSearcher", {}),
    "tt": ("mango_pl.search.protes_torch:ProtesSearcher", dict(k=10, k_top=1)),
    "tt-s": ("mango_pl.search.protes_torch:ProtesSearcher", dict(k=5, k_top=1, qtt=True)),
    "tt-b": ("mango_pl.search.protes_torch:ProtesSearcher", dict(k=25, k_top=5, qtt=True)),
    "protes-ref": ("mango_pl.search.protes_ref:ProtesRefSearcher", {}),
    "ttopt": ("mango_pl.search.ttopt_searcher:TTOptSearcher", {}),
    "random": ("mango_pl.search.random_searcher:RandomSearcher", {}),
    "ga": ("mango_pl.search.genetic_searcher:GeneticSearcher", {}),
    "cma": ("mango_pl.search.cma_searcher:CMASearcher", {}),
    "cholesky-cma": ("mango_pl.search.cholesky_cma_searcher:CholeskyCMASearcher", {}),
    "sphere-cma": ("mango_pl.search.sphere_cma_searcher:SphereCMASearcher", {}),
    "elitist-ga": ("mango_pl.search.elitist_ga_searcher:ElitistGASearcher", {}),
    "catcma": ("mango_pl.search.catcma_searcher:CatCMASearcher", {}),
    "cma-margin": ("mango_pl.search.cma_margin_searcher:CMAMarginSearcher", {}),
}


def _searcher_class(searcher: type[Searcher] | str) -> type[Searcher]:
    """The class itself, or the class that ``module:Class`` names (importing its module)."""
    if not isinstance(searcher, str):
        return searcher
    module, _, name = searcher.partition(":")
    return getattr(importlib.import_module(module), name)


def _common_nevergrad_optimizers() -> tuple[str, ...]:
    """The Nevergrad optimizer names listed next to the methods (any other name works too)."""
    from mango_pl.search.nevergrad_searcher import COMMON_OPTIMIZERS

    return COMMON_OPTIMIZERS


def register_method(name: str, searcher: type[Searcher], preset: dict[str, Any] | None = None,
                    overwrite: bool = False) -> None:
    """Make your own searcher usable by name everywhere (``maximize``, ``MEISearchCallback``,
    ``mango-pl search``, YAML configs), like nevergrad's ``@registry.register``.

    Args:
        name: the method name (not ``ng:...``).
        searcher: a :class:`Searcher` subclass; its keyword-only ``__init__`` arguments are its options.
        preset: options this name presets (callers' options override them).
        overwrite: replace a method of the same name.

    Raises:
        TypeError: ``searcher`` is not a ``Searcher`` subclass.
        ValueError: a name that is taken (without ``overwrite``) or starts with ``ng:``.

    Example:
        >>> class Greedy(RandomSearcher): ...
        >>> register_method("greedy", Greedy)
        >>> maximize(f, "greedy", d=4, n=8, budget=100)
    """
    if not (isinstance(searcher, type) and issubclass(searcher, Searcher)):
        raise TypeError(f"register_method needs a subclass of mango_pl.search.Searcher, got {searcher!r}")
    if not isinstance(name, str) or not name or name.startswith(NEVERGRAD_PREFIX):
        raise ValueError(f"method name must be a non-empty string not starting with {NEVERGRAD_PREFIX!r}, got {name!r}")
    if name in METHODS and not overwrite:
        raise ValueError(f"search method {name!r} exists; pass overwrite=True to replace it")
    METHODS[name] = (searcher, dict(preset or {}))


def available_methods() -> list[str]:
    """Method names for ``make_searcher``; ``ng:<Name>`` accepts any Nevergrad optimizer name
    (the common ones are listed)."""
    return list(METHODS) + [NEVERGRAD_PREFIX + name for name in _common_nevergrad_optimizers()]


def shared_methods() -> list[str]:
    """Method names with a population mode (``maximize(..., shared=True)``)."""
    return [name for name, (searcher, _) in METHODS.items() if _searcher_class(searcher).supports_shared]


def start_methods() -> list[str]:
    """Method names that take start points (``maximize(..., start=...)``, a warm start)."""
    return [name for name, (searcher, _) in METHODS.items() if _searcher_class(searcher).supports_start]


def method_options(method: str) -> list[str]:
    """The option names ``method`` accepts."""
    cls, _ = _resolve(method)
    names = [p.name for p in inspect.signature(cls.__init__).parameters.values()
             if p.kind is inspect.Parameter.KEYWORD_ONLY]
    return [n for n in names if not (cls is _searcher_class(NEVERGRAD_SEARCHER) and n == "optimizer")]


def _resolve(method: str) -> tuple[type[Searcher], dict[str, Any]]:
    if not isinstance(method, str):
        raise TypeError(f"method must be a string such as 'protes' or 'ng:CMA', got {method!r}")
    if method.startswith(NEVERGRAD_PREFIX):
        return _searcher_class(NEVERGRAD_SEARCHER), {"optimizer": method[len(NEVERGRAD_PREFIX):]}
    if method not in METHODS:
        raise ValueError(f"unknown search method {method!r}; valid methods: {', '.join(METHODS)}, or "
                         f"'ng:<Name>' with any Nevergrad optimizer name (e.g. "
                         f"{', '.join(NEVERGRAD_PREFIX + n for n in _common_nevergrad_optimizers())})")
    searcher, preset = METHODS[method]
    return _searcher_class(searcher), preset


def make_searcher(method: str, d: int, n: int, problems: int = 1, seed: Seeds = 0,
                  device: torch.device | str | None = None, budget: int | None = None,
                  **options: Any) -> Searcher:
    """Build the searcher called ``method`` for ``problems`` problems on the grid ``{0..n-1}^d``.

    Args:
        method: one of ``available_methods()``, or ``ng:<Name>`` for any Nevergrad optimizer.
        d: grid dimensions.
        n: grid points per dimension.
        problems: number of independent problems ``P`` searched together.
        seed: int, or one seed per problem (see ``mango_pl.search.seeding``).
        device: where indices live and torch-native methods compute (default CPU).
        budget: planned evaluations per problem, for methods that use it (Nevergrad).
        **options: method options (e.g. ``k``, ``k_top``, ``lr``, ``r``, ``qtt`` for PROTES);
            they override the preset of the method.

    Raises:
        ValueError: unknown method, unknown option (the valid ones are listed), bad values.

    Example:
        >>> s = make_searcher("tt", d=8, n=16, problems=4, seed=0)
        >>> s.ask().shape
        torch.Size([4, 10, 8])
    """
    cls, preset = _resolve(method)
    valid = method_options(method)
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ValueError(f"unknown option(s) {', '.join(unknown)} for search method {method!r}; "
                         f"valid options: {', '.join(valid)}")
    searcher = cls(d, n, problems, seed, device, budget, **{**preset, **options})
    searcher.method = method
    return searcher
