"""The wall-clock bounds of a function's evaluation and its time per phase (#15)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_codeflash.evaluate.bounds import (
    BASELINE_MIN_S,
    baseline_exceeded,
    baseline_limit_s,
    compare_budget_s,
    function_phases,
)
from pytest_codeflash.evaluate.evaluation import Evaluation
from pytest_codeflash.models import CandidateResult, Settings, TargetFunction
from pytest_codeflash.runner.protocol import RunnerSpec
from pytest_codeflash.runner.sandbox import ChildRun

from ..conftest import src_project


def _settings(**values: object) -> Settings:
    return Settings(rootdir=Path.cwd(), **values)  # type: ignore[arg-type]


def test_the_baseline_limit_grows_with_the_plain_run_and_the_effort() -> None:
    quick, slow = baseline_limit_s(_settings(), 0.5), baseline_limit_s(_settings(), 100.0)
    assert BASELINE_MIN_S < quick < slow
    assert slow >= 10 * 100.0
    assert baseline_limit_s(_settings(effort="high"), 0.5) > quick
    assert compare_budget_s(_settings(), 100.0) > compare_budget_s(_settings(), 0.5)


def test_the_timeout_option_bounds_the_baseline_tests() -> None:
    bounded = baseline_limit_s(_settings(timeout=5.0), 100.0)
    assert bounded < baseline_limit_s(_settings(), 100.0)
    assert baseline_limit_s(_settings(timeout=5.0), 0.0) < baseline_limit_s(_settings(), 0.0)


def test_an_exceeded_baseline_says_what_took_so_long() -> None:
    spec = RunnerSpec(
        mode="baseline", module="m", qualname="f", original_source="", candidate_source=""
    )
    text = baseline_exceeded(60.4, "pkg.B.pop", 10_001, spec, "tests/test_b.py::test_pop")
    assert text.startswith("baseline exceeded 60 s: the tests call pkg.B.pop 10,001 time(s)")
    assert "compared the first 100 calls per test and one in 50 after" in text
    assert "tests/test_b.py::test_pop" in text
    assert "--codeflash-timeout" in text


def _verdict(evaluation_s: float | None, timing: float, *, cached: bool = False) -> CandidateResult:
    return CandidateResult(
        id="c",
        source="rules",
        verdict="rejected",
        reason="",
        evaluation_s=evaluation_s,
        phases_s={"timing": timing},
        cached=cached,
    )


def test_phases_split_the_baseline_and_the_candidates_time() -> None:
    phases = function_phases(
        {"collection and tests": 3.0, "generated inputs": 2.0},
        6.0,
        [_verdict(4.0, 1.5), _verdict(3.0, 0.5), _verdict(9.0, 9.0, cached=True)],
    )
    assert phases == {"baseline": 4.0, "generation": 2.0, "verification": 5.0, "timing": 2.0}


class _Sandbox:
    """Stands in for the runner: the baseline runs past its limit."""

    slots = 1

    def __init__(self, tmp: Path) -> None:
        self.workdir = tmp
        self.timeouts: list[float] = []

    def run(
        self, spec: RunnerSpec, tests: list[str], timeout: float, started: object = None
    ) -> ChildRun:
        self.timeouts.append(timeout)
        return ChildRun(
            result=None,
            io_dir=self.workdir,
            returncode=None,
            timed_out=True,
            wall_s=timeout,
            progress="running tests/test_b.py::test_pop",
            output_tail="",
        )


def test_a_baseline_past_its_limit_is_skipped_with_a_clear_status(tmp_path: Path) -> None:
    target = TargetFunction(module="pkg.b", qualname="B.pop", file=tmp_path / "pkg/b.py", lineno=1)
    sandbox = _Sandbox(tmp_path)
    settings = Settings(rootdir=tmp_path)
    evaluation = Evaluation(
        target,
        "class B:\n    def pop(self):\n        return 1\n",
        ["tests/test_b.py::test_pop"],
        settings,
        sandbox,  # type: ignore[arg-type]
        progress=lambda line: None,
        plain=(30.0, 10_001),
    )
    result = evaluation.start()
    assert result is not None
    assert sandbox.timeouts == [baseline_limit_s(settings, 30.0)]
    assert result.status == "skipped"
    limit = f"{sandbox.timeouts[0]:.0f}"
    assert result.reason.startswith(
        f"baseline exceeded {limit} s: the tests call pkg.b.B.pop 10,001 time(s)"
    )
    assert "last tests/test_b.py::test_pop" in result.reason
    assert result.phases_s is not None
    assert result.phases_s["baseline"] == sandbox.timeouts[0]


class _Uncopyable(_Sandbox):
    """Stands in for the runner: the tests call the target, but no call can be copied."""

    def run(
        self, spec: RunnerSpec, tests: list[str], timeout: float, started: object = None
    ) -> ChildRun:
        from pytest_codeflash.runner.protocol import CallsSummary, RunnerResult

        calls = CallsSummary(
            uncopyable=["tests/test_b.py::test_pop: cannot pickle '_thread.RLock' object"],
            uncopyable_count=3,
        )
        result = RunnerResult(
            phase="done", tests={"tests/test_b.py::test_pop": "passed"}, overlay_used=True
        )
        result.calls = calls
        return ChildRun(
            result=result,
            io_dir=self.workdir,
            returncode=0,
            timed_out=False,
            wall_s=1.0,
            progress="",
            output_tail="",
        )


def test_calls_that_cannot_be_copied_are_named_not_said_missing(tmp_path: Path) -> None:
    target = TargetFunction(module="pkg.b", qualname="B.pop", file=tmp_path / "pkg/b.py", lineno=1)
    evaluation = Evaluation(
        target,
        "class B:\n    def pop(self):\n        return 1\n",
        ["tests/test_b.py::test_pop"],
        Settings(rootdir=tmp_path),
        _Uncopyable(tmp_path),  # type: ignore[arg-type]
        progress=lambda line: None,
    )
    result = evaluation.start()
    assert result is not None
    assert result.status == "skipped"
    assert result.reason == (
        "none of the 3 call(s) of pkg.b.B.pop the tests made in the runner could be compared: "
        "tests/test_b.py::test_pop: cannot pickle '_thread.RLock' object"
    )


APPLY = """\
def apply_all(func, values):
    out = []
    for value in values:
        out.append(func(value))
    return out
"""


def test_a_function_whose_calls_cannot_be_kept_is_skipped_before_any_candidate(
    pytester: pytest.Pytester,
) -> None:
    """Its inputs (a callable that copies but refuses pickling) cannot be kept and nothing
    can be generated: every candidate would end "unverifiable" after its whole run, so none
    runs."""
    src_project(pytester, "appl", APPLY)
    pytester.makepyfile(
        test_apply="from appl.core import apply_all\n\n"
        "class AddOne:\n"
        "    def __call__(self, v):\n        return v + 1\n"
        "    def __reduce__(self):\n        raise TypeError('no pickling')\n"
        "    def __deepcopy__(self, memo):\n        return AddOne()\n\n"
        "def test_apply():\n    assert apply_all(AddOne(), [1, 2]) == [2, 3]\n"
    )
    (pytester.path / "fast.py").write_text(
        "def apply_all(func, values):\n    return [func(value) for value in values]\n"
    )
    result = pytester.runpytest_subprocess(
        "--codeflash-target=appl.core.apply_all",
        "--codeflash-candidate=fast.py",
        "--codeflash-report=report.json",
        "--codeflash-effort=low",
    )
    result.assert_outcomes(passed=1)
    (function,) = json.loads((pytester.path / "report.json").read_text())["functions"]
    assert function["status"] == "skipped"
    assert function["reason"] == (
        "no call of appl.core.apply_all could be kept to replay (its inputs cannot be "
        "pickled) and no input could be generated, so no candidate could be timed"
    )
    assert function["candidates"] == []


def test_a_function_given_a_tests_lambda_is_replayed_and_timed(pytester: pytest.Pytester) -> None:
    """A lambda (or nested function) of the test's is kept by value for replay, so such a
    function is timed; before, no call could be kept, and it was skipped."""
    src_project(pytester, "appl", APPLY)
    pytester.makepyfile(
        test_apply="from appl.core import apply_all\n\n"
        "def test_apply():\n"
        "    offset = 10\n"
        "    assert apply_all(lambda v: v + offset, list(range(50))) == list(range(10, 60))\n"
    )
    (pytester.path / "fast.py").write_text(
        "def apply_all(func, values):\n    return [func(value) for value in values]\n"
    )
    (pytester.path / "wrong.py").write_text(
        "def apply_all(func, values):\n    return [func(value) for value in values[1:]]\n"
    )
    result = pytester.runpytest_subprocess(
        "--codeflash-target=appl.core.apply_all",
        "--codeflash-candidate=fast.py",
        "--codeflash-candidate=wrong.py",
        "--codeflash-report=report.json",
        "--codeflash-effort=low",
    )
    result.assert_outcomes(passed=1)
    (function,) = json.loads((pytester.path / "report.json").read_text())["functions"]
    assert function["calls_captured"] >= 1
    verdicts = {c["id"]: c for c in function["candidates"]}
    assert verdicts["wrong.py"]["verdict"] == "rejected"
    fast = verdicts["fast.py"]
    assert "unverifiable" not in fast["reason"]
    replayed = [row for row in fast["runtime"] if row["group"] == "replayed calls"]
    assert replayed
    assert replayed[0]["inputs"] >= 1
