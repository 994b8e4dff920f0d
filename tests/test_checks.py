"""``mango_pl.checks``: the argument checks every layer shares."""

from __future__ import annotations

import numpy as np
import pytest

from mango_pl.checks import (
    ArgumentTypeError,
    check_bool,
    check_choice,
    check_fraction,
    check_int,
    check_non_negative_int,
    check_number,
    check_positive_int,
    check_positive_number,
)


def test_ints_are_returned_as_python_ints_and_ranges_are_inclusive():
    assert check_positive_int("k", 3) == 3
    assert type(check_positive_int("k", np.int64(3))) is int
    assert check_non_negative_int("padding", 0) == 0
    assert check_int("conserve", 0, 0, 9) == 0 and check_int("conserve", 9, 0, 9) == 9
    assert check_positive_int("batch_limit", None, optional=True) is None


@pytest.mark.parametrize("call,message", [
    (lambda: check_positive_int("option k", 0), "option k must be a positive int, got 0"),
    (lambda: check_non_negative_int("epoch", -1, hint="-1 is reserved for 'never'"),
     r"epoch must be a non-negative int \(-1 is reserved for 'never'\), got -1"),
    (lambda: check_int("n", 1, 2), "n must be an int >= 2, got 1"),
    (lambda: check_int("jpeg_quality", 101, 1, 100), "jpeg_quality must be an int in 1..100, got 101"),
    (lambda: check_positive_int("scale", 0, optional=True), "scale must be a positive int or None, got 0"),
    (lambda: check_positive_number("option lr", -1.0), "option lr must be a positive number, got -1.0"),
    (lambda: check_fraction("threshold", 75), r"threshold must be a number in \[0, 1\], got 75"),
    (lambda: check_number("margin", 0.5, 0, 0.5, open_low=True, open_high=True),
     r"margin must be a number in \(0, 0.5\), got 0.5"),
    (lambda: check_number("mutation", 0.5, 1), "mutation must be a number >= 1, got 0.5"),
    (lambda: check_number("x", float("nan"), 0, 1), "x must be a number in"),
    (lambda: check_choice("readout", "spike", ("rate", "current")),
     r"readout must be one of \('rate', 'current'\), got 'spike'"),
])
def test_out_of_range_is_a_value_error_that_names_the_argument_the_rule_and_the_value(call, message):
    with pytest.raises(ValueError, match=message) as error:
        call()
    assert not isinstance(error.value, TypeError)


@pytest.mark.parametrize("call", [
    lambda: check_positive_int("option k", 2.5),
    lambda: check_positive_int("option k", True),
    lambda: check_int("n", "4", 2),
    lambda: check_positive_number("option sigma", "big"),
    lambda: check_fraction("pad_value", False),
    lambda: check_bool("option qtt", 1),
])
def test_a_wrong_type_is_both_a_type_error_and_a_value_error(call):
    with pytest.raises(ArgumentTypeError) as error:
        call()
    assert isinstance(error.value, TypeError) and isinstance(error.value, ValueError)
    assert " must be " in str(error.value)


def test_numbers_and_bools_pass_through():
    assert check_number("explore", 10, 0.0, 10.0) == 10.0
    assert check_positive_number("sigma", np.float32(0.5)) == 0.5
    assert check_bool("smooth", False) is False
    assert check_choice("channels", 3, (1, 3)) == 3
