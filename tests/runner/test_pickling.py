"""Inputs kept for replay in other runs (``dump_stored``): a test's own functions go by
value; the target module's functions never do (each side must run its own)."""

from __future__ import annotations

import pickle
import types

import pytest

from pytest_codeflash.runner.pickling import dump_stored, load_args

TARGET = types.ModuleType("stored_target")
exec(
    "def adder(n):\n    def add(x):\n        return x + n\n    return add\n",
    TARGET.__dict__,
)


def test_a_tests_lambda_and_nested_function_are_kept_by_value() -> None:
    offset = 10

    def scaled(x: int) -> int:
        return 2 * x + offset

    data = dump_stored(
        ((lambda v: v + offset, scaled, [1, 2]), {"key": str.lower}), "stored_target"
    )
    (add, double, items), keywords = load_args(data, "stored_target", TARGET)
    assert (add(1), double(1), items, keywords["key"]) == (11, 12, [1, 2], str.lower)
    with pytest.raises(Exception):  # noqa: B017, PT011  (plain pickle refuses them)
        pickle.dumps(lambda v: v + offset)


def test_a_function_of_the_target_module_is_not_kept_by_value() -> None:
    with pytest.raises(pickle.PicklingError, match="of the target's module"):
        dump_stored(((TARGET.adder(1),), {}), "stored_target")
