"""What a runner's report tells the candidate sources (pure functions)."""

from __future__ import annotations

from pathlib import Path

from pytest_codeflash.evaluate.findings import baseline_facts, differences_of
from pytest_codeflash.runner.protocol import (
    CallsSummary,
    DifferenceRecord,
    LineProfileSummary,
    LineTiming,
    ReplaySummary,
    RunnerResult,
)
from pytest_codeflash.runner.sandbox import ChildRun


def _run(result: RunnerResult | None) -> ChildRun:
    return ChildRun(result, Path("io"), 0, False, 1.0, "", "")


def test_the_baseline_facts() -> None:
    result = RunnerResult(
        phase="tests",
        line_profile=LineProfileSummary(lines=[LineTiming(4, 10, 900), LineTiming(5, 3, 50)]),
        examples=["f(1) -> 1"],
    )
    facts = baseline_facts(result)
    assert facts.line_profile == {4: (10, 900), 5: (3, 50)}
    assert facts.examples == ["f(1) -> 1"]
    assert facts.invariants is None  # not inferred by the runner yet
    broken = RunnerResult(line_profile=LineProfileSummary(error="RuntimeError()"))
    assert baseline_facts(broken).line_profile is None
    assert baseline_facts(RunnerResult()).line_profile is None  # not asked for


def test_differences_once_each_with_their_values_and_share() -> None:
    wrong = DifferenceRecord("t::a", "([1],)", "return value", "differs", "[1]", "[]")
    replayed = DifferenceRecord("replay of captured call #0", "([1],)", "return value", "x")
    result = RunnerResult(
        phase="tests",
        calls=CallsSummary(compared=8, differences=[wrong, replayed]),
        replay=ReplaySummary(inputs=1, compared=1, differences=[replayed]),
    )
    found = differences_of(_run(result))
    assert found is not None
    assert [(d.test, d.expected, d.actual) for d in found.differences] == [
        ("t::a", "[1]", "[]"),
        ("replay of captured call #0", "", ""),
    ]
    assert found.share == 2 / 8


def test_a_failing_test_without_a_recorded_difference_is_one() -> None:
    result = RunnerResult(
        phase="tests", tests={"t::a": "passed", "t::b": "failed"}, calls=CallsSummary(compared=3)
    )
    found = differences_of(_run(result))
    assert found is not None
    (only,) = found.differences
    assert (only.kind, only.test, only.expected, only.actual) == (
        "test outcome",
        "t::b",
        "passed",
        "failed",
    )
    assert differences_of(_run(RunnerResult(phase="tests", tests={"t::a": "passed"}))) is None
    assert differences_of(_run(None)) is None
