"""The reach search: inputs that run the candidate's changed lines the tests never ran.

These run the differential machinery in this process, on modules built from source, the
candidate's under a file name of its own as in the runner.
"""

from __future__ import annotations

import sys

import pytest

from pytest_codeflash.runner.calls import dump_args
from pytest_codeflash.runner.coverage_probe import changed_lines
from pytest_codeflash.runner.differential import Differential
from pytest_codeflash.runner.line_hits import LineHits
from pytest_codeflash.runner.line_profile import Backend
from pytest_codeflash.runner.reach import Reach, reach_changed_lines

from .twins import load_module, twin_differential

NAME = "reachmod"
CANDIDATE_FILE = "<reachmod candidate>"
ORIGINAL = """\
def total(items):
    result = 0
    for item in items:
        result += item
    return result
"""
# A fast path for long lists: the tests' lists are short, the search's are 10x longer.
LONG_RIGHT = """\
def total(items):
    if len(items) > 30:
        return sum(items)
    result = 0
    for item in items:
        result += item
    return result
"""
LONG_WRONG = LONG_RIGHT.replace("sum(items)", "sum(items[1:])")
# A branch on a value no captured call has: Hypothesis finds one.
VALUE_RIGHT = LONG_RIGHT.replace("len(items) > 30", "any(item < 0 for item in items)")
VALUE_WRONG = LONG_WRONG.replace("len(items) > 30", "any(item < 0 for item in items)")
# A branch no input inside the invariants (a list) can reach.
UNREACHABLE = LONG_RIGHT.replace("len(items) > 30", "isinstance(items, dict)")
CAPTURED = [dump_args((([1, 2, 3, 4],), {})), dump_args((([5, 6],), {}))]

BACKENDS: list[Backend] = ["sys.settrace"]
if hasattr(sys, "monitoring"):
    BACKENDS.append("sys.monitoring")


def _search(candidate: str, budget_s: float = 30.0) -> tuple[Reach, Differential]:
    differential = twin_differential(
        NAME,
        ORIGINAL,
        candidate,
        qualname="total",
        filenames=("<reachmod original>", CANDIDATE_FILE),
    )
    unrun = sorted(changed_lines(ORIGINAL, candidate))
    found = reach_changed_lines(
        differential,
        unrun,
        CAPTURED,
        filename=CANDIDATE_FILE,
        examples=100,
        seed=1,
        budget_s=budget_s,
        call_limit_s=0.5,
    )
    return found, differential


@pytest.mark.parametrize("candidate", [LONG_RIGHT, VALUE_RIGHT], ids=["size", "value"])
def test_a_right_candidate_is_compared_where_its_changed_lines_run(candidate: str) -> None:
    found, differential = _search(candidate)
    assert found.remaining == set()
    assert found.reached == changed_lines(ORIGINAL, candidate)
    assert found.searched >= 1
    assert differential.tally.differences == []


@pytest.mark.parametrize("candidate", [LONG_WRONG, VALUE_WRONG], ids=["size", "value"])
def test_a_wrong_candidate_differs_where_its_changed_lines_run(candidate: str) -> None:
    found, differential = _search(candidate)
    assert found.reached
    (difference,) = differential.tally.differences
    assert difference.kind == "return value"
    assert difference.test.startswith("an input searched to reach changed line(s) ")


def test_lines_no_input_inside_the_invariants_runs_stay_unrun() -> None:
    found, differential = _search(UNREACHABLE, budget_s=2.0)
    assert found.remaining == {3}  # the dict branch: every captured call passed a list
    assert found.searched > 10
    assert differential.tally.differences == []


def test_no_time_no_search() -> None:
    found, _ = _search(LONG_RIGHT, budget_s=0.0)
    assert (found.searched, found.remaining) == (0, {2, 3})


@pytest.mark.parametrize("backend", BACKENDS)
def test_line_hits_sees_only_the_watched_file(backend: Backend) -> None:
    watched = load_module(NAME, LONG_RIGHT, CANDIDATE_FILE)
    other = load_module(NAME, ORIGINAL, "<elsewhere>")
    with LineHits(CANDIDATE_FILE, backend) as hits:
        other.total([1, 2])
        watched.total([1, 2])
        short = hits.take()
        watched.total(list(range(4)))
        longer = hits.take()
        watched.total(list(range(40)))
    assert short[0] == longer[0] == {2, 4, 5, 6, 7}
    assert longer[1] - short[1] == 2 * 2  # two more turns of the loop, two lines each
    assert hits.take()[0] == {2, 3}
