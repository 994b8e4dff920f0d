"""Module namespaces that import a module only when one of its names is first used (PEP 562).

A package whose submodules pull in heavy libraries (SpikingJelly, snnTorch, torchvision, Lightning,
matplotlib) lists which submodule defines each public name instead of importing them all;
``mango-pl loop`` and ``mango-pl report`` then pay only for what they use.

Example (a package ``__init__.py``)::

    from mango_pl.lazy_exports import lazy_exports

    #: submodule -> the public names it defines
    _EXPORTS = {"conv_snn": ("ConvSNN",), "state": ("reset_states", "eval_mode")}

    __all__ = [name for names in _EXPORTS.values() for name in names]
    __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def lazy_exports(module: str, exports: Mapping[str, Sequence[str]]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of a module whose public names live in other modules.

    Args:
        module: the module's ``__name__`` (a package's ``__init__`` or a plain module).
        exports: module name, relative to the module's package (a package's own submodules for its
            ``__init__``; sibling modules for a plain module) -> the public names it defines.

    Returns:
        ``(__getattr__, __dir__)``: ``__getattr__(name)`` imports the module that defines ``name``,
        keeps the value in the module's namespace (later uses are plain lookups) and returns it;
        other names raise ``AttributeError``. ``__dir__()`` lists the current and the exported names.
    """
    namespace = sys.modules[module].__dict__
    package = namespace["__package__"]
    source_of = {name: f"{package}.{source}" for source, names in exports.items() for name in names}

    def __getattr__(name: str) -> Any:
        if name not in source_of:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(source_of[name]), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(source_of))

    return __getattr__, __dir__
