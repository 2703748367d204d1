"""Invariants read off the captured calls: what they assume, how inputs are kept inside."""

from __future__ import annotations

import math

from pytest_codeflash.runner.calls import Args
from pytest_codeflash.runner.invariants import infer, infer_args


def calls(*positional: tuple[object, ...]) -> list[Args]:
    return [(args, {}) for args in positional]


BANDS = calls(
    ([95, 40, 70], [50, 60, 70, 80]),
    ([1, 2, 3], [2, 2, 3]),
    ([1, -1], []),
    ([0.1, 37.1], [0.0, 0.25, 0.5, 0.75]),
)


def test_sorted_cutoffs_are_assumed_and_kept() -> None:
    shape = infer_args(BANDS)
    assert shape is not None
    assert "argument 2 is ascending" in shape.describe()
    unsorted: Args = (([1.5], [3.0, 1.0, 2.0]), {})
    assert not shape.holds(unsorted)
    repaired = shape.repair(unsorted)
    assert repaired == (([1.5], [1.0, 2.0, 3.0]), {})
    assert shape.holds(repaired)


def test_types_hold_from_one_call_values_need_three() -> None:
    one = infer([5])
    assert (one.kind, one.sign) == (int, "")
    three = infer([5, 7, 1])
    assert (three.kind, three.sign) == (int, "positive")
    assert infer([True, False, True]).kind is bool  # a bool is no int
    assert infer([1, 2.5, 3]).kind is None


def test_floats_never_nan_and_dict_keys() -> None:
    shape = infer([{"a": 1.0, "b": 2}, {"a": 2.5, "b": 0, "c": 1}, {"b": 1, "a": -1.0}])
    assert shape.keys == ("a", "b")
    assert shape.values["a"].finite
    assert "argument" not in " ".join(shape.describe("x"))
    from pytest_codeflash.runner.invariants import holds, repair

    assert not holds({"a": math.nan, "b": 1}, shape)
    assert not holds({"b": 1}, shape)
    fixed = repair({"b": 1}, shape, {"a": 1.0, "b": 2})
    assert holds(fixed, shape)


def test_items_of_one_written_list_are_one_example() -> None:
    # Four dicts from one test's literal list: the keys they share are not a contract.
    events = [{"service": "api", "status": 200}] * 4
    shape = infer_args(calls((events,), ([],)))
    assert shape is not None
    items = shape.positional[0].items
    assert items is not None
    assert items.keys == ()


def test_strings_digits_and_formats_and_equal_lengths() -> None:
    dates = infer(["2024-01-05", "1999-12-31", "2000-02-29"])
    assert (dates.chars, dates.pattern) == ("ascii", "dddd-dd-dd")
    digits = infer(["123", "0042", "7"])
    assert digits.chars == "digits"
    pairs = infer_args(calls(([1, 2], ["a", "b"]), ([3, 4, 5], "xyz"), ([6, 7], [8, 9])))
    assert pairs is not None
    assert pairs.equal_lengths == [(0, 1)]
    assert pairs.repair((([1, 2, 3], [4]), {}))[0] == ([1], [4])


def test_few_calls_assume_little() -> None:
    shape = infer_args(calls(([3, 1, 2],), ([1, 2, 3],)))
    assert shape is not None
    assert shape.describe() == ["argument 1 is a list", "each item of argument 1 is a int"]
