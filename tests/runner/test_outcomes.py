"""Comparing whole call outcomes: results, exceptions, effects and output."""

from __future__ import annotations

import copy
import threading

from pytest_codeflash.runner.outcomes import Difference, Outcome, compare_outcomes

from .test_compare import Plain

# --- outcomes ----------------------------------------------------------------------------------


def describe(expected: Outcome, actual: Outcome) -> tuple[str, str]:
    difference = compare_outcomes(expected, actual)
    assert difference is not None
    return difference.kind, difference.describe()


def test_equal_outcomes() -> None:
    outcome = Outcome(returned=[1], stdout="hi\n", args_after=([1],), globals_after={"G": 1})
    assert compare_outcomes(outcome, copy.deepcopy(outcome)) is None
    assert (
        compare_outcomes(Outcome(raised=ValueError("x")), Outcome(raised=ValueError("x"))) is None
    )


def test_raised_versus_returned() -> None:
    assert describe(Outcome(returned=3), Outcome(raised=ValueError("x"))) == (
        "exception",
        "raised ValueError('x') but the original returned 3",
    )
    assert describe(Outcome(raised=KeyError("k")), Outcome(returned=None)) == (
        "exception",
        "returned None but the original raised KeyError('k')",
    )


def test_exception_differences() -> None:
    kind, text = describe(
        Outcome(raised=ValueError("bad duration: x")), Outcome(raised=ValueError("invalid: x"))
    )
    assert kind == "exception"
    assert text.startswith(
        "exception differs: expected ValueError('bad duration: x'), got ValueError('invalid: x')"
    )
    assert describe(Outcome(raised=ValueError("x")), Outcome(raised=TypeError("x")))[1] == (
        "exception differs: expected ValueError('x'), got TypeError('x')"
        " (type ValueError != TypeError)"
    )


def test_return_value_difference() -> None:
    assert describe(Outcome(returned=[0, 1, 1]), Outcome(returned=[0, 1, 1.0])) == (
        "return value",
        "return value differs at [2]: expected 1, got 1.0 (type int != float)",
    )


def test_yielded_values() -> None:
    kind, text = describe(Outcome(yielded=[1, 2, 3]), Outcome(yielded=[1, 2, 4]))
    assert (kind, text) == (
        "yielded values",
        "yielded values differ at [2]: expected 3, got 4 (values differ)",
    )
    generator = Outcome(yielded=[1], result_kind="generator")
    assert describe(generator, Outcome(returned=[1])) == (
        "interface",
        "interface change: the original returns a generator, the candidate a list "
        "(callers may rely on laziness, next() or iterating only once)",
    )
    assert describe(generator, Outcome(yielded=[1], result_kind="map"))[1].startswith(
        "interface change: the original returns a generator, the candidate a lazy map object"
    )
    assert describe(Outcome(returned=[1]), generator)[1].startswith(
        "interface change: the original returns a list, the candidate a generator"
    )
    truncated = Outcome(yielded=[0, 1], yield_truncated=True)
    assert describe(truncated, Outcome(yielded=[0, 1]))[1] == (
        "the original yielded more than 2 values, the candidate stopped after 2"
    )
    assert compare_outcomes(generator, Outcome(yielded=[1], result_kind="generator")) is None


def test_items_before_an_exception_and_when_it_was_raised_count() -> None:
    error = ValueError("bad item")
    lazy = Outcome(yielded=[1, 2], result_kind="generator", raised=error)
    lazy.raised_while_iterating = True
    other = Outcome(yielded=[1, 3], result_kind="generator", raised=ValueError("bad item"))
    other.raised_while_iterating = True
    assert describe(lazy, other)[1] == (
        "yielded values differ at [1]: expected 2, got 3 (values differ)"
    )
    eager = Outcome(raised=ValueError("bad item"))
    assert describe(lazy, eager) == (
        "exception",
        "the original raised ValueError while its result was iterated (after 2 item(s)), "
        "the candidate when called",
    )


def test_argument_mutation() -> None:
    assert describe(Outcome(args_after=([1, 2, 3, 4],)), Outcome(args_after=([1, 2, 3, 5],))) == (
        "argument mutation",
        "argument mutation differs at args[0][3]: expected 4, got 5 (values differ)",
    )
    kind, text = describe(Outcome(kwargs_after={"x": {}}), Outcome(kwargs_after={"x": {"k": 1}}))
    assert kind == "argument mutation"
    assert text.startswith("argument mutation differs at kwargs['x']:")


def test_self_and_global_state() -> None:
    assert describe(Outcome(self_after=Plain(count=1)), Outcome(self_after=Plain(count=2)))[1] == (
        "self state differs at self.count: expected 1, got 2 (values differ)"
    )
    assert describe(Outcome(globals_after={"N": 1}), Outcome(globals_after={"N": 2})) == (
        "global state",
        "global state differs at global N: expected 1, got 2 (values differ)",
    )
    assert describe(Outcome(), Outcome(globals_after={"CACHE": {}}))[1] == (
        "global state differs at global CACHE: expected <unset>, got {} (set on one side only)"
    )


def test_output_differences() -> None:
    assert describe(Outcome(stdout="hello\n"), Outcome(stdout="hellO\n")) == (
        "stdout",
        "stdout differs: expected 'hello\\n', got 'hellO\\n' (first difference at index 4)",
    )
    assert describe(Outcome(stderr=""), Outcome(stderr="warning"))[0] == "stderr"


def test_unverifiable_is_a_difference() -> None:
    difference = compare_outcomes(
        Outcome(returned=[threading.Lock()]), Outcome(returned=[threading.Lock()])
    )
    assert difference == Difference("unverifiable", None, difference.note if difference else "")
    assert difference is not None
    assert difference.describe().startswith(
        "cannot verify the return value: _thread.lock value at [0]"
    )


def test_checks_run_in_order() -> None:
    expected = Outcome(returned=1, stdout="a", args_after=([1],))
    actual = Outcome(returned=2, stdout="b", args_after=([2],))
    assert describe(expected, actual)[0] == "return value"
    actual.returned = 1
    assert describe(expected, actual)[0] == "argument mutation"
