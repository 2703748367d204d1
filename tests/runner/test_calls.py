"""One call observed: lazy results keep their kind, items and exception; iterator arguments
how far they were consumed."""

from __future__ import annotations

import contextlib
import itertools
import sys
import types
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pytest_codeflash.runner.calls import (
    ConsumedIterator,
    clone_args,
    lazy_kind,
    live_args,
    materialise_iterators,
    observe,
    replay_outcome,
    rewind_source,
)
from pytest_codeflash.runner.outcomes import Outcome, compare_outcomes

MODULE = types.ModuleType("observed")


def _observe(function: Callable[..., Any], *args: Any) -> Outcome:
    return observe(
        function,
        (args, {}),
        module=MODULE,
        global_names=[],
        is_method=False,
        is_generator=False,
        around=contextlib.nullcontext,
    )


def _evens(limit: int) -> Iterator[int]:
    for n in range(limit):
        if n == 5:
            raise ValueError("five")
        if n % 2 == 0:
            yield n


def _evens_list(limit: int) -> list[int]:
    return [n for n in range(limit) if n % 2 == 0]


def test_lazy_kinds() -> None:
    assert lazy_kind(_evens(3)) == "generator"
    assert lazy_kind(map(str, [1])) == "map"
    assert lazy_kind(itertools.chain([1])) == "chain"
    assert lazy_kind(iter([1])) == "list_iterator"
    assert lazy_kind([1]) == lazy_kind("text") == lazy_kind({}.keys()) == ""


def test_a_generator_made_a_list_is_an_interface_change() -> None:
    lazy, eager = _observe(_evens, 4), _observe(_evens_list, 4)
    assert lazy.result_kind == "generator"
    assert lazy.yielded == [0, 2]
    difference = compare_outcomes(lazy, eager)
    assert difference is not None
    assert difference.kind == "interface"


def test_items_before_the_exception_are_kept_and_replayed_lazily() -> None:
    outcome = _observe(_evens, 10)
    assert outcome.yielded == [0, 2, 4]
    assert isinstance(outcome.raised, ValueError)
    assert outcome.raised_while_iterating
    replayed = replay_outcome(outcome)  # the caller still gets a generator, then the error
    assert isinstance(replayed, types.GeneratorType)
    assert [next(replayed), next(replayed), next(replayed)] == [0, 2, 4]
    with pytest.raises(ValueError, match="five"):
        next(replayed)


def _take_two(items: Iterator[int]) -> list[int]:
    return [next(items), next(items)]


def _take_all(items: Iterator[int]) -> list[int]:
    taken = list(items)
    return taken[:2]


def test_how_far_an_iterator_argument_was_consumed_is_compared() -> None:
    args = materialise_iterators((((i for i in range(5)),), {}))
    two = _observe(_take_two, *clone_args(args, "observed", MODULE)[0])
    everything = _observe(_take_all, *clone_args(args, "observed", MODULE)[0])
    assert two.returned == everything.returned == [0, 1]
    assert two.args_after == (ConsumedIterator(2),)
    difference = compare_outcomes(two, everything)
    assert difference is not None
    assert difference.kind == "argument mutation"


def test_the_callers_list_iterator_is_left_where_the_call_left_it() -> None:
    caller = iter([10, 20, 30, 40])
    args = materialise_iterators(((caller,), {}))
    live = live_args(args)
    assert _take_two(*live[0]) == [10, 20]
    rewind_source(args, live)
    assert list(caller) == [30, 40]


def _guarded_count() -> Iterator[int]:
    """An endless count with a safety valve, as tests pass to check nothing reads too far."""
    n = 1
    while True:
        yield n
        n += 1
        if n >= 10:
            raise IndexError("consuming too many values")


def test_an_iterator_argument_that_ends_by_raising_is_replayed_raising() -> None:
    args = materialise_iterators(((_guarded_count(),), {}))  # no error while reading it
    first = _observe(_take_two, *clone_args(args, "observed", MODULE)[0])
    second = _observe(_take_two, *clone_args(args, "observed", MODULE)[0])
    assert first.returned == second.returned == [1, 2]
    assert compare_outcomes(first, second) is None
    live = live_args(args)[0][0]
    assert list(itertools.islice(live, 9)) == list(range(1, 10))
    with pytest.raises(IndexError, match="consuming too many values"):
        next(live)


class _Barrel(list):  # type: ignore[type-arg]
    """Keeps its items elsewhere, like boltons' BarrelList: its base list stays empty."""

    def __init__(self, items: Any = ()) -> None:
        self.lists = [list(items)]

    def extend(self, items: Any) -> None:
        self.lists[-1].extend(items)

    def append(self, item: Any) -> None:
        self.lists[-1].append(item)

    def __iter__(self) -> Any:
        return (item for part in self.lists for item in part)

    def __len__(self) -> int:
        return sum(len(part) for part in self.lists)


def test_a_list_subclass_keeping_its_items_elsewhere_clones_once() -> None:
    barrel = _Barrel(range(5))
    ((copied,), _) = clone_args(((barrel,), {}), __name__, sys.modules[__name__])
    assert type(copied) is _Barrel
    assert list(copied) == [0, 1, 2, 3, 4]  # not twice over, and it loads at all
    assert copied.lists is not barrel.lists
    assert list.__len__(copied) == 0  # its own storage as it was
