"""Unit tests of the verdict logic that need no runner process."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from pytest_codeflash.evaluate.verdicts import diff_size, judge, select_best
from pytest_codeflash.models import Candidate, CandidateResult, TargetFunction
from pytest_codeflash.runner.protocol import (
    CallsSummary,
    CoverageSummary,
    DifferenceRecord,
    GeneratedSummary,
    ReplaySummary,
    RunnerResult,
    TimingSummary,
    ToolError,
    Violation,
)
from pytest_codeflash.runner.sandbox import ChildRun


def _accepted(id: str, low: float, high: float) -> CandidateResult:
    return CandidateResult(
        id=id,
        source="file",
        verdict="accepted",
        reason="",
        speedup=(low + high) / 2,
        speedup_ci=(low, high),
    )


def test_fastest_lower_bound_wins_when_clearly_apart() -> None:
    best = select_best([_accepted("a", 1.5, 1.7), _accepted("b", 3.0, 3.2)], {"a": 1, "b": 9})
    assert best.id == "b"


def test_ties_within_noise_go_to_the_smaller_diff() -> None:
    best = select_best(
        [_accepted("big", 2.0, 2.4), _accepted("small", 1.9, 2.3)], {"big": 20, "small": 3}
    )
    assert best.id == "small"


def test_diff_size_counts_changed_lines() -> None:
    assert diff_size("a\nb\nc\n", "a\nB\nc\n") == 2
    assert diff_size("a\n", "a\n") == 0


# -- judge, branch by branch ----------------------------------------------------------------

CANDIDATE = Candidate(id="fast.py", source="file", module_source="def f():\n    pass\n")
TARGET = TargetFunction(module="pkg.mod", qualname="f", file=Path("/p/pkg/mod.py"), lineno=1)
PASSED = {"tests/test_mod.py::test_f": "passed"}


def _run(result: RunnerResult | None = None, **ended: Any) -> ChildRun:
    fields: dict[str, Any] = {
        "result": result,
        "io_dir": Path("/io"),
        "returncode": 0,
        "timed_out": False,
        "wall_s": 1.0,
        "progress": "",
        "output_tail": "",
    }
    return ChildRun(**{**fields, **ended})


def _agreed(**changes: Any) -> RunnerResult:
    """A run whose behaviour checks all agreed and whose timing says "faster"."""
    timing = TimingSummary(speedup=4.0, ci=[3.5, 4.5], verdict="faster", rounds=6)
    result = RunnerResult(
        phase="tests",
        tests=dict(PASSED),
        overlay_used=True,
        wrapper_installed=True,
        calls=CallsSummary(compared=3),
        tests_compared=3,
        replay=ReplaySummary(inputs=3, compared=3),
        generated=GeneratedSummary(examples=50),
        timing=timing,
        coverage=CoverageSummary(changed_lines=2),
    )
    return dataclasses.replace(result, **changes)


def _reason(run: ChildRun) -> tuple[str, str]:
    verdict = judge(CANDIDATE, run, TARGET, PASSED)
    return verdict.verdict, verdict.reason


def test_an_agreeing_faster_run_is_accepted_with_its_interval() -> None:
    verdict, reason = _reason(_run(_agreed()))
    assert verdict == "accepted"
    assert reason.startswith("4.00x faster (99% CI 3.50-4.50, 6 rounds), identical on 3 call(s)")


def test_calls_only_executed_are_counted_in_the_verdict() -> None:
    sampling = "compared the first 100 calls per test and one in 50 after"
    calls = CallsSummary(compared=300, unchecked=9_800, sampled_tests=1, sampling=sampling)
    verdict = judge(CANDIDATE, _run(_agreed(calls=calls)), TARGET, PASSED)
    assert verdict.verdict == "accepted"
    assert f"; 9,800 more call(s) in the tests only executed ({sampling})" in verdict.reason
    assert verdict.calls_only_executed == 9_800


def test_what_ended_the_run_comes_first() -> None:
    assert _reason(_run(_agreed(), timed_out=True, progress="timing"))[1] == (
        "timeout: killed after 1.0 s (while timing)"
    )
    crashed = _reason(_run(None, returncode=-11, output_tail="boom\n"))[1]
    assert (
        crashed == "crash: the runner process killed by SIGSEGV before reporting; last output: boom"
    )
    assert _reason(_run(RunnerResult(phase="started"), returncode=3))[1].startswith(
        "crash: the runner process exited with code 3"
    )


def test_unsafe_only_what_the_original_did_not_do() -> None:
    blocked = Violation(event="open", path="/etc/x", phase="candidate")
    assert _reason(_run(_agreed(violations=[blocked])))[1].startswith("unsafe: tried to open")
    both = [blocked, Violation(event="open", path="/etc/x", phase="original")]
    assert _reason(_run(_agreed(violations=both)))[0] == "accepted"
    leak = _agreed(secret_reads={"candidate": ["OPENAI_API_KEY"], "original": []})
    assert _reason(_run(leak))[1] == "unsafe: reads secret environment variable(s) OPENAI_API_KEY"


def test_behaviour_before_timing() -> None:
    record = DifferenceRecord(test="t", input="(1)", kind="return value", detail="differs")
    differs = _agreed(replay=ReplaySummary(inputs=1, compared=1, differences=[record]))
    assert _reason(_run(differs)) == ("rejected", "differs; input (1) from t")
    failed = _agreed(tests={"tests/test_mod.py::test_f": "failed"})
    assert _reason(_run(failed))[1] == "test failed with the candidate: tests/test_mod.py::test_f"
    other = _agreed(tests={**PASSED, "tests/test_mod.py::test_broken": "failed"})
    assert _reason(_run(other))[0] == "accepted"  # it failed with the original too
    # Named otherwise in this run (parameters from a set): the runner judged the function.
    renamed = _agreed(tests={"tests/test_mod.py::test_g[p7]": "failed"})
    renamed.not_passing = {"tests/test_mod.py::test_g[p7]": "failed"}
    assert _reason(_run(renamed))[1] == (
        "test failed with the candidate: tests/test_mod.py::test_g[p7]"
    )


def test_our_own_failure_is_an_error() -> None:
    error = ToolError(phase="timing", error="IndexError()", where="x.py:3 in f")
    verdict, reason = _reason(_run(_agreed(tool_errors=[error])))
    assert verdict == "error"
    assert reason == "error in pytest-codeflash (timing): IndexError() at x.py:3 in f"


def test_coverage_unknown_or_changed_lines_unrun_is_unverified() -> None:
    unknown = _agreed(coverage=CoverageSummary(error="No data to report."))
    assert _reason(_run(unknown))[1].startswith("unverified: whether the changed lines ran")
    unrun = _agreed(coverage=CoverageSummary(changed_lines=3, changed_unrun=[7, 9]))
    assert _reason(_run(unrun))[1].startswith("unverified: changed line(s) 7, 9 of the candidate")


def test_nothing_compared_or_unstable_results_prove_nothing() -> None:
    none = _agreed(tests_compared=0, replay=ReplaySummary(inputs=0, compared=0))
    assert _reason(_run(none))[1] == "unverifiable: no call of pkg.mod.f could be compared"
    unstable = _agreed(calls=CallsSummary(compared=3, fully_unstable=3))
    assert "results change from run to run" in _reason(_run(unstable))[1]
    untimed = _agreed(timing=None)
    assert _reason(_run(untimed))[1].startswith("unverifiable: no captured input could be")


def test_timing_words_say_what_happened() -> None:
    def timed(**changes: Any) -> str:
        timing = TimingSummary(**{"speedup": 1.0, "ci": [0.9, 1.1], "rounds": 5, **changes})
        return _reason(_run(_agreed(timing=timing)))[1]

    assert timed(ci=[0.6, 0.8], verdict="not_faster").startswith("slower: 1.00x")
    assert timed(ci=[0.98, 1.03], verdict="not_faster").startswith("not faster: 1.00x")
    assert timed(stopped_by="budget", round_s=0.4, budget_s=1.0, rounds=2).startswith(
        "undecided: only 2 round(s) of 0.4 s fit in 1 s (--codeflash-effort=high gives more time)"
    )
    assert timed(ci=[1.0, 1.0], rounds=1).startswith(
        "not significantly faster: 1.00x (1 round, too few for an interval)"
    )
    huge = timed(speedup=50.0, ci=[30.0, 60.0], verdict="faster", method="separation", rounds=4)
    assert huge.startswith("50.00x faster (every round at least 30.00x faster, 4 rounds)")


def test_a_function_with_no_winner_says_why_by_kind() -> None:
    from pytest_codeflash.evaluate.verdicts import none_accepted

    record = DifferenceRecord(test="t", input="(1)", kind="return value", detail="differs: 2 != 3")
    slow = TimingSummary(speedup=1.0, ci=[0.98, 1.02], verdict="not_faster", rounds=10)
    runs = [
        _run(_agreed(timing=slow)),
        _run(_agreed(replay=ReplaySummary(inputs=1, compared=1, differences=[record]))),
        _run(_agreed(timing=slow)),
        _run(_agreed(), timed_out=True),
        _run(_agreed(tests={"tests/test_mod.py::test_f": "failed"})),
    ]
    verdicts = [judge(CANDIDATE, run, TARGET, PASSED) for run in runs]
    assert none_accepted(verdicts) == (
        "none of 5 candidate(s) was accepted: "
        "2 not faster, 1 behaviour differs, 1 timeout, 1 a test failed"
    )
    deep = DifferenceRecord(
        test="t", input="(1)", kind="unverifiable", detail="cannot verify the return value: deep"
    )
    unverifiable = judge(
        CANDIDATE,
        _run(_agreed(replay=ReplaySummary(inputs=1, compared=1, differences=[deep]))),
        TARGET,
        PASSED,
    )
    assert none_accepted([unverifiable]).endswith(": 1 unverifiable")
    odd = CandidateResult(id="x", source="file", verdict="rejected", reason="something new")
    assert none_accepted([odd]) == "none of 1 candidate(s) was accepted: 1 other"
