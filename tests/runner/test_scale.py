"""Inputs scaled up from the captured ones: how they grow, what fits the budget, and a real run."""

from __future__ import annotations

import json

import pytest

from pytest_codeflash.runner.measure import ROUNDS_FOR_A_VERDICT, _affordable, _cheap_first
from pytest_codeflash.runner.replay import InputFacts
from pytest_codeflash.runner.scale import scaled, size_of


def test_top_level_collections_grow_and_keep_their_element_types() -> None:
    args = (([1, 2], "ab", (3,), 7), {"table": {"a": 1, "b": 2}, "ids": {1: "x", 3: "y"}})
    positional, keywords = scaled(args, 10, is_method=False)  # type: ignore[misc]
    assert positional == ([1, 2] * 10, "ab" * 10, (3,) * 10, 7)
    assert len(keywords["table"]) == 20
    assert set(map(type, keywords["table"])) == {str}
    assert len(keywords["ids"]) == 20
    assert set(keywords["ids"].values()) == {"x", "y"}
    assert size_of((positional, keywords)) == 20 + 20 + 10 + 20 + 20


def test_nothing_to_grow_gives_none_and_self_is_left_alone() -> None:
    assert scaled(((1, 2.5, None), {}), 10, is_method=False) is None
    assert scaled((([],), {"s": ""}), 10, is_method=False) is None
    me = ["the instance"]
    positional, _ = scaled(((me, [1]), {}), 10, is_method=True)  # type: ignore[misc]
    assert positional[0] is me
    assert positional[1] == [1] * 10


def test_only_the_inputs_whose_verdict_fits_are_timed() -> None:
    per_check = 0.15  # s: the original twice and the candidate once
    round_s = per_check / 1.5
    inputs = [b"a", b"b", b"c"]
    assert _affordable(inputs, [per_check] * 3, 10.0) == inputs
    assert len(_affordable(inputs, [per_check] * 3, 2.5 * round_s * ROUNDS_FOR_A_VERDICT)) == 2
    assert _affordable(inputs, [per_check] * 3, 0.5 * round_s * ROUNDS_FOR_A_VERDICT) == []
    # the costliest input weighs most in the speed-up: it is kept first
    costs = [per_check / 10, per_check, per_check / 10]
    assert _affordable(inputs, costs, 1.05 * round_s * ROUNDS_FOR_A_VERDICT) == [b"b"]


SIZES = '''\
def running_totals(items):
    """The sum of each prefix of ``items``."""
    totals = []
    for i in range(len(items)):
        totals.append(sum(items[: i + 1]))
    return totals
'''

SIZES_TESTS = """\
from sizes import running_totals


def test_running_totals():
    assert running_totals(list(range(26)))[-1] == 325
    assert running_totals([2, 1]) == [2, 3]
"""

# Much faster, and the same results on every input the tests and the generated inputs reach
# (at most 64 items), but wrong past 200 items: only the inputs scaled up 10x show it.
WRONG_AT_SCALE = """\
import itertools


def running_totals(items):
    \"\"\"The sum of each prefix of ``items``.\"\"\"
    return list(itertools.accumulate(items[:200]))
"""


def test_a_difference_that_only_shows_at_scale_rejects(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(sizes=SIZES, test_sizes=SIZES_TESTS)
    (pytester.path / "wrong_at_scale.py").write_text(WRONG_AT_SCALE)
    result = pytester.runpytest_subprocess(
        "--codeflash-target=sizes.running_totals",
        "--codeflash-candidate=wrong_at_scale.py",
        "--codeflash-report=report.json",
        "-p",
        "no:randomly",
    )
    result.assert_outcomes(passed=1)
    report = json.loads((pytester.path / "report.json").read_text())
    (candidate,) = report["functions"][0]["candidates"]
    assert candidate["verdict"] == "rejected"
    # Faster on the captured inputs or not, the 10x inputs are checked before a verdict.
    assert "differs" in candidate["reason"]
    assert "scaled up" in candidate["reason"]


def test_the_check_at_scale_takes_the_cheap_inputs_that_fit() -> None:
    """A candidate proven faster is checked on 10x inputs only where that can end in time:
    the cheapest first, none whose check would outlast the share (a quadratic original on
    its largest input would take the whole share and check nothing)."""
    facts = {
        b"big": InputFacts(0.3, pure=True, lazy=False),
        b"small": InputFacts(0.001, pure=True, lazy=False),
        b"medium": InputFacts(0.01, pure=True, lazy=False),
    }
    inputs = [b"big", b"unknown", b"medium", b"small"]
    assert _cheap_first(inputs, facts, 10, 0.2) == [b"small", b"medium", b"unknown"]
    assert _cheap_first(inputs, facts, 10, 5.0) == [b"small", b"medium", b"big", b"unknown"]
