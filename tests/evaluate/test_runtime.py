"""The runtime table is read from what the runner reported: nothing is timed again."""

from __future__ import annotations

from pytest_codeflash.evaluate.runtime import runtime_rows
from pytest_codeflash.runner.protocol import (
    GeneratedSummary,
    ReplaySummary,
    RunnerResult,
    SizeTiming,
    TimingSummary,
)


def size(factor: int, original: int, candidate: int) -> SizeTiming:
    return SizeTiming(
        factor=factor,
        inputs=3,
        original_ns=original,
        candidate_ns=candidate,
        speedup=original / candidate,
        ci=[1.5, 2.5],
        rounds=10,
    )


def test_groups_and_scales() -> None:
    result = RunnerResult(
        phase="tests",
        tests_compared=5,
        replay=ReplaySummary(inputs=4, compared=4),
        generated=GeneratedSummary(examples=60),
        timing=TimingSummary(sizes=[size(1, 2000, 1000), size(10, 30000, 10000)]),
    )
    rows = {row.group: row for row in runtime_rows(result)}
    assert list(rows) == ["existing tests", "replayed calls", "generated inputs", "10x"]
    assert (rows["existing tests"].inputs, rows["existing tests"].speedup) == (5, None)
    replayed = rows["replayed calls"]
    assert (replayed.inputs, replayed.timed, replayed.original_ns) == (4, 3, 2000)
    assert (replayed.candidate_ns, replayed.speedup, replayed.speedup_ci) == (1000, 2.0, (1.5, 2.5))
    assert rows["generated inputs"].speedup is None
    assert (rows["10x"].original_ns, rows["10x"].speedup, rows["10x"].rounds) == (30000, 3.0, 10)


def test_generated_inputs_are_timed_when_nothing_was_captured() -> None:
    result = RunnerResult(
        phase="tests",
        tests_compared=0,
        replay=ReplaySummary(inputs=0, compared=0),
        generated=GeneratedSummary(examples=40),
        timing=TimingSummary(sizes=[size(1, 900, 300)]),
    )
    rows = {row.group: row for row in runtime_rows(result)}
    assert rows["replayed calls"].speedup is None
    assert rows["generated inputs"].speedup == 3.0


def test_a_run_that_reported_nothing_has_no_table() -> None:
    assert runtime_rows(None) == []
    assert runtime_rows(RunnerResult(phase="started")) == []
