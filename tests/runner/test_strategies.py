"""The strategies grown from captured calls: numeric lists mix int and float only where the
captured values did; phrases of only whitespace have no words."""

from __future__ import annotations

from typing import Any

import hypothesis
import pytest

from pytest_codeflash.runner.calls import Args
from pytest_codeflash.runner.strategies import args_strategy, edge_cases, st_words

SETTINGS = hypothesis.settings(max_examples=100, database=None, derandomize=True)


def _numbers(value: Any) -> list[Any]:
    """The numbers inside ``value``, however deep in lists and tuples."""
    if isinstance(value, (list, tuple)):
        return [n for item in value for n in _numbers(item)]
    return [value]


def _types(args: Args) -> set[type]:
    return {type(n) for n in _numbers(args[0][0])}


@pytest.mark.parametrize(
    ("captured", "kind"),
    [([3, 1, 4, 1, 5], int), ([0.5, 2.0, -1.25], float), ([[1, 2], [3], []], int)],
    ids=["ints", "floats", "nested ints"],
)
def test_a_numeric_list_keeps_its_one_number_type(captured: list[Any], kind: type) -> None:
    strategy = args_strategy(((captured,), {}), False)

    @SETTINGS
    @hypothesis.given(strategy)
    def check(args: Args) -> None:
        assert _types(args) <= {kind}

    check()
    assert all(_types(args) <= {kind} for args in edge_cases([((captured,), {})], False))


def test_a_list_that_mixed_them_is_mixed_again() -> None:
    strategy = args_strategy((([1, 2.5, 3],), {}), False)
    mixed = hypothesis.find(
        strategy.filter(lambda args: len(args[0][0]) != 3),  # not just the captured list
        lambda args: _types(args) == {int, float},
        settings=SETTINGS,
    )
    assert _types(mixed) == {int, float}


def test_an_int_argument_alone_may_come_as_a_float() -> None:
    strategy = args_strategy(((7,), {}), False)
    found = hypothesis.find(strategy, lambda args: type(args[0][0]) is float, settings=SETTINGS)
    assert float(found[0][0]).is_integer()  # an int-valued float: range(n) breaks on it


def test_words_of_a_phrase_of_only_whitespace_are_none() -> None:
    assert st_words("   ") == []
    assert st_words("one two three") == ["one", "three"]
    assert st_words("one two") == ["two"]
