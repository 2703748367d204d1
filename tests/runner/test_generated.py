"""Generated inputs: drawn once by the baseline, with the original's outcomes kept for replays.

These run the differential machinery in this process, on modules built from source: the
runner process does the same around the user's tests.
"""

from __future__ import annotations

import pickle
import sys
from collections.abc import Callable
from typing import Any

import pytest

from pytest_codeflash.runner.calls import dump_args
from pytest_codeflash.runner.differential import Differential
from pytest_codeflash.runner.generate import Drawn, generate_and_compare, replay_generated
from pytest_codeflash.runner.protocol import GeneratedSummary

from .twins import twin_differential

NAME = "genmod"
ORIGINAL = """\
import random


def f(n, items):
    total = 0
    for item in items:
        total += item
    return [random.random() for _ in range(n % 3)], total
"""
FASTER = """\
import random


def f(n, items):
    return [random.random() for _ in range(n % 3)], sum(items)
"""
WRONG = FASTER.replace("sum(items)", "sum(items[:3])")
UNPICKLABLE = """\
import threading


def f(n, items):
    return threading.Lock() if n > 10**9 else lambda: n
"""
CAPTURED = [dump_args(((4, [1, 2, 3, 4, 5]), {}))]


def _differential(
    original: str, candidate: str, wrap: Callable[[Any], Any] = lambda f: f
) -> Differential:
    return twin_differential(NAME, original, candidate, wrap=wrap)


def _baseline(source: str = ORIGINAL, private: tuple[str, ...] = ()) -> Drawn:
    drawn = generate_and_compare(
        _differential(source, source),
        CAPTURED,
        examples=40,
        seed=1,
        budget_s=30.0,
        call_limit_s=5.0,
        keep_outcomes=True,
        private=private,
    )
    assert not drawn.summary.differences
    return drawn


@pytest.fixture(scope="module")
def drawn() -> Drawn:
    try:
        return _baseline()
    finally:
        sys.modules.pop(NAME, None)


def _counting(calls: list[int]) -> Callable[[Any], Any]:
    def wrap(function: Any) -> Any:
        def counted(*args: Any, **kwargs: Any) -> Any:
            calls.append(1)
            return function(*args, **kwargs)

        return counted

    return wrap


def _replay(differential: Differential, drawn: Drawn) -> GeneratedSummary:
    return replay_generated(differential, drawn, budget_s=30.0, call_limit_s=5.0)


def test_the_baseline_keeps_the_originals_outcomes(drawn: Drawn) -> None:
    count = len(drawn.inputs)
    assert count > 10
    assert len(drawn.expected) == len(drawn.state_of) == count
    assert all(drawn.expected)  # stable, and every outcome pickles
    assert max(drawn.state_of) < len(drawn.random_states)
    assert drawn.summary.inputs == count
    assert drawn.summary.outcomes_kept == count


def test_a_replay_compares_against_them_without_running_the_original(
    drawn: Drawn,
) -> None:
    calls: list[int] = []
    summary = _replay(_differential(ORIGINAL, FASTER, _counting(calls)), drawn)
    assert summary.examples == len(drawn.inputs)
    assert summary.differences == []  # the random draws match: each call's state is restored
    assert calls == []


def test_a_wrong_candidate_still_differs_from_them(drawn: Drawn) -> None:
    summary = _replay(_differential(ORIGINAL, WRONG), drawn)
    assert summary.differences
    assert "return value differs" in summary.differences[0].detail


def test_without_stored_outcomes_the_original_runs_once_per_stable_input(
    drawn: Drawn,
) -> None:
    calls: list[int] = []
    older = Drawn(summary=drawn.summary, inputs=drawn.inputs, stable=drawn.stable)
    summary = _replay(_differential(ORIGINAL, FASTER, _counting(calls)), older)
    assert summary.differences == []
    assert len(calls) == summary.examples == len(drawn.inputs)


def test_outcomes_that_do_not_pickle_are_not_kept() -> None:
    drawn = _baseline(UNPICKLABLE)
    assert drawn.inputs
    assert not any(drawn.expected)
    summary = _replay(_differential(UNPICKLABLE, UNPICKLABLE), drawn)
    assert summary.examples == len(drawn.inputs)


WHERE = """\
HERE = "/sandbox/run-1/project"


def f(n, items):
    return HERE, sum(items) + n
"""


def test_outcomes_are_not_used_when_the_globals_changed_since() -> None:
    # A global set at import from the run's own directory differs in every run: comparing
    # against the baseline's outcome would reject even an identical candidate.
    drawn = _baseline(WHERE)
    assert all(drawn.expected)
    moved = WHERE.replace("run-1", "run-7")
    calls: list[int] = []
    summary = _replay(_differential(moved, moved, _counting(calls)), drawn)
    assert summary.differences == []
    assert len(calls) == summary.examples == len(drawn.inputs)


def test_outcomes_that_mention_the_runs_own_directory_are_not_kept() -> None:
    drawn = _baseline(WHERE, private=("/sandbox/run-1",))
    assert drawn.inputs
    assert not any(drawn.expected)


BAD_REPR = """\
class Box:
    def __init__(self, n):
        self.n = n

    def __eq__(self, other):
        return isinstance(other, Box) and other.n == self.n

    def __repr__(self):
        raise RuntimeError("no repr")

    def __reduce__(self):
        return (Box, (self.n,))


def f(box, items):
    return box.n + len(items)
"""


def test_generation_stops_when_its_time_is_up_without_failing() -> None:
    """Past its deadline Hypothesis is told to stop; the example it then reports (whose
    repr may raise) is not a failure of ours, and drawing ends well short of the examples."""
    differential = _differential(BAD_REPR, BAD_REPR)
    box = differential.candidate.module.Box
    drawn = generate_and_compare(
        differential,
        [dump_args(((box(3), [1, 2]), {}))],
        examples=10_000,
        seed=1,
        budget_s=0.0,
        call_limit_s=5.0,
        keep_outcomes=True,
    )
    assert len(drawn.inputs) < 10_000
    assert not drawn.summary.differences


def test_the_baseline_runs_the_original_once_its_own_run_being_the_second() -> None:
    """With ``self_check`` (the baseline, whose candidate is the original) a call costs two
    runs, not three, and what differs between them is unstable, never a difference."""
    calls: list[int] = []
    differential = _differential(ORIGINAL, ORIGINAL, _counting(calls))
    differential.self_check = True
    differential.check(((4, [1, 2, 3]), {}))
    assert len(calls) == 1
    differential.self_check = False
    differential.check(((4, [1, 2, 3]), {}))
    assert len(calls) == 3
    # A count kept outside the module (module globals are the same for every run).
    varying = (
        "import types\n\n"
        "def f(n, items):\n"
        "    types.cf_runs = getattr(types, 'cf_runs', 0) + 1\n"
        "    return types.cf_runs, sum(items)\n"
    )
    baseline = _differential(varying, varying)
    baseline.self_check = True
    try:
        baseline.check(((1, [1]), {}))
    finally:
        vars(sys.modules["types"]).pop("cf_runs", None)
    assert baseline.tally.unstable
    assert not baseline.tally.differences


INCOMPARABLE = """\
class Span:
    def __init__(self, hours):
        self.hours = hours

    def __eq__(self, other):  # parse's time zones: out of range, comparing them raises
        if self.hours < 0:
            raise ValueError("an offset of negative hours")
        return self.hours == other.hours


def f(n, items):
    return Span(n)
"""


def test_an_input_the_original_cannot_be_compared_on_is_left_out() -> None:
    """A generated input on which the original's results cannot be compared with themselves
    verifies nothing: it is left out, counted, and generation goes on; it is not a
    difference, nor held against the candidates that replay the rest."""
    drawn = _baseline(INCOMPARABLE)
    summary = drawn.summary
    assert summary.unverifiable > 0
    assert drawn.inputs
    assert len(drawn.inputs) == summary.inputs
    for data in drawn.inputs:
        ((n, _), _) = pickle.loads(data)
        assert n >= 0
    replayed = replay_generated(
        _differential(INCOMPARABLE, INCOMPARABLE), drawn, budget_s=30.0, call_limit_s=5.0
    )
    assert not replayed.differences
    assert replayed.unverifiable == summary.unverifiable
