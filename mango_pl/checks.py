"""Argument checks for every layer: small pure functions that return the checked value or raise.

Each error names the argument, says what it must be and shows what it got, e.g.
``option k must be a positive int, got 0`` or ``threshold must be a number in [0, 1] (the paper
uses 0.75), got 75``. A value of the wrong type (a string, a float where an int is needed, a
bool anywhere) raises :class:`ArgumentTypeError`, which is both a ``TypeError`` and a
``ValueError``; a value of the right type outside its range raises ``ValueError``.

This module imports nothing of mango-pl and nothing heavy, so any layer may use it.

Example:
    >>> check_positive_int("option k", 4)
    4
    >>> check_number("crossover", 0.3, 0, 1)
    0.3
    >>> check_choice("readout", "spikes", ("spikes", "current"))
    'spikes'
"""

from __future__ import annotations

from collections.abc import Iterable
from numbers import Integral, Real
from typing import Any, TypeVar

T = TypeVar("T")


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong type: caught by ``except TypeError`` and by ``except ValueError``."""


def _fail(name: str, rule: str, value: Any, hint: str, error: type[Exception]) -> None:
    """Raise ``error("<name> must be <rule> (<hint>), got <value>")``."""
    note = f" ({hint})" if hint else ""
    raise error(f"{name} must be {rule}{note}, got {value!r}")


def is_int(value: Any) -> bool:
    """Whether ``value`` is an integer (Python's or numpy's), not a bool."""
    return isinstance(value, Integral) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """Whether ``value`` is a real number (int or float, Python's or numpy's), not a bool."""
    return isinstance(value, Real) and not isinstance(value, bool)


def _int_rule(low: int | None, high: int | None) -> str:
    if low is not None and high is not None:
        return f"an int in {low}..{high}"
    if low == 1:
        return "a positive int"
    if low == 0:
        return "a non-negative int"
    if low is not None:
        return f"an int >= {low}"
    return "an int" if high is None else f"an int <= {high}"


def _number_rule(low: float | None, high: float | None, open_low: bool, open_high: bool) -> str:
    if low is not None and high is not None:
        return f"a number in {'(' if open_low else '['}{low}, {high}{')' if open_high else ']'}"
    if low == 0:
        return "a positive number" if open_low else "a non-negative number"
    if low is not None:
        return f"a number {'>' if open_low else '>='} {low}"
    return "a number" if high is None else f"a number {'<' if open_high else '<='} {high}"


def check_int(name: str, value: Any, low: int | None = None, high: int | None = None, *,
              hint: str = "", optional: bool = False) -> int | None:
    """``value`` as an int in ``low..high`` (either bound may be left out).

    Args:
        name: the argument as the error should name it (e.g. ``"option k"``, ``"image_size"``).
        value: what was given.
        low, high: the least and the greatest value allowed (inclusive).
        hint: what the argument means, said in brackets after the rule.
        optional: ``None`` is allowed too (and returned).

    Raises:
        ArgumentTypeError: not an int (a bool is not).
        ValueError: outside ``low..high``.
    """
    if optional and value is None:
        return None
    rule = _int_rule(low, high) + (" or None" if optional else "")
    if not is_int(value):
        _fail(name, rule, value, hint, ArgumentTypeError)
    if (low is not None and value < low) or (high is not None and value > high):
        _fail(name, rule, value, hint, ValueError)
    return int(value)


def check_positive_int(name: str, value: Any, *, hint: str = "", optional: bool = False) -> int | None:
    """``value`` as an int ``>= 1``; see :func:`check_int`."""
    return check_int(name, value, 1, hint=hint, optional=optional)


def check_non_negative_int(name: str, value: Any, *, hint: str = "", optional: bool = False) -> int | None:
    """``value`` as an int ``>= 0``; see :func:`check_int`."""
    return check_int(name, value, 0, hint=hint, optional=optional)


def check_number(name: str, value: Any, low: float | None = None, high: float | None = None, *,
                 open_low: bool = False, open_high: bool = False, hint: str = "",
                 optional: bool = False) -> float | None:
    """``value`` as a float between ``low`` and ``high`` (either bound may be left out).

    Args:
        name: the argument as the error should name it.
        value: what was given.
        low, high: the bounds, inclusive unless ``open_low`` / ``open_high``; NaN is never inside.
        hint: what the argument means, said in brackets after the rule.
        optional: ``None`` is allowed too (and returned).

    Raises:
        ArgumentTypeError: not a real number (a bool is not).
        ValueError: outside the bounds, or NaN where there are bounds.
    """
    if optional and value is None:
        return None
    rule = _number_rule(low, high, open_low, open_high) + (" or None" if optional else "")
    if not is_number(value):
        _fail(name, rule, value, hint, ArgumentTypeError)
    above = low is None or (value > low if open_low else value >= low)
    below = high is None or (value < high if open_high else value <= high)
    if not (above and below):
        _fail(name, rule, value, hint, ValueError)
    return float(value)


def check_positive_number(name: str, value: Any, *, hint: str = "", optional: bool = False) -> float | None:
    """``value`` as a float ``> 0``; see :func:`check_number`."""
    return check_number(name, value, 0, open_low=True, hint=hint, optional=optional)


def check_fraction(name: str, value: Any, *, hint: str = "") -> float:
    """``value`` as a float in ``[0, 1]``; see :func:`check_number`."""
    return check_number(name, value, 0, 1, hint=hint)


def check_bool(name: str, value: Any, *, hint: str = "") -> bool:
    """``value`` itself if it is ``True`` or ``False`` (not 0 or 1).

    Raises:
        ArgumentTypeError: anything else.
    """
    if not isinstance(value, bool):
        _fail(name, "True or False", value, hint, ArgumentTypeError)
    return value


def check_choice(name: str, value: T, choices: Iterable[Any], *, hint: str = "") -> T:
    """``value`` itself if it is one of ``choices``, else a ``ValueError`` that lists them.

    Raises:
        ValueError: ``value`` is not one of ``choices``.
    """
    choices = tuple(choices)
    if value not in choices:
        _fail(name, f"one of {choices}", value, hint, ValueError)
    return value
