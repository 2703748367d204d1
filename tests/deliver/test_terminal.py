"""The terminal summary's lines for one function."""

from __future__ import annotations

from pytest_codeflash.deliver.terminal import function_lines
from pytest_codeflash.models import FunctionResult


def _text(result: FunctionResult, verbosity: int) -> list[str]:
    return [line for line, _ in function_lines(result, verbosity)]


def test_calls_only_executed_and_the_phases_are_shown() -> None:
    result = FunctionResult(
        qualified_name="pkg.B.pop",
        file="pkg/b.py",
        status="not_optimized",
        reason="none of 1 candidate(s) was accepted",
        calls_captured=180,
        calls_only_executed=9821,
        phases_s={"baseline": 12.5, "generation": 1.0, "verification": 3.0, "timing": 2.0},
    )
    assert "    compared 180 call(s) in the tests, 9,821 only executed" in _text(result, 0)
    assert not any("seconds per phase" in line for line in _text(result, 0))
    assert (
        "    seconds per phase: baseline 12.5, generation 1.0, verification 3.0, timing 2.0"
        in _text(result, 1)
    )


def test_nothing_is_said_of_sampling_when_every_call_was_compared() -> None:
    result = FunctionResult(qualified_name="m.f", file="m.py", status="skipped", reason="x")
    assert not any("only executed" in line for line in _text(result, 1))


def test_what_could_propose_candidates_is_said_once() -> None:
    from pytest_codeflash.deliver.terminal import _none_proposed
    from pytest_codeflash.models import NO_CANDIDATES

    results = [
        FunctionResult(qualified_name=f"m.f{n}", file="m.py", status="not_optimized", reason=why)
        for n, why in enumerate([NO_CANDIDATES, NO_CANDIDATES, "none of 1 candidate(s)"])
    ]
    (line,) = _none_proposed(results)
    assert line.startswith("2 function(s) got no candidate from the chosen back-ends;")
    assert "--codeflash-candidate" in line
    assert _none_proposed(results[2:]) == []


def test_a_summary_that_hides_verdicts_says_how_to_see_them() -> None:
    from pytest_codeflash.deliver.terminal import _hidden
    from pytest_codeflash.models import CandidateResult

    def result(*verdicts: str) -> FunctionResult:
        candidates = [
            CandidateResult(id=f"c{n}", source="file", verdict=v, reason="r")  # type: ignore[arg-type]
            for n, v in enumerate(verdicts)
        ]
        return FunctionResult(
            qualified_name="m.f",
            file="m.py",
            status="not_optimized",
            reason="r",
            candidates=candidates,
        )

    assert _hidden(result("accepted", "rejected"))
    assert not _hidden(result("accepted", "error"))
    assert not _hidden(result())
    assert any(
        line.startswith("    rejected c1") for line in _text(result("rejected", "rejected"), 1)
    )
