"""The progress lines of one function: position, closing status, and a heartbeat."""

from __future__ import annotations

import threading
import time

from pytest_codeflash.evaluate.progress import FunctionProgress, elapsed
from pytest_codeflash.models import CandidateResult, FunctionResult


def _result(status: str, speedup: float | None, candidates: int) -> FunctionResult:
    return FunctionResult(
        qualified_name="pkg.mod.f",
        file="pkg/mod.py",
        status=status,  # type: ignore[arg-type]
        reason="",
        speedup=speedup,
        candidates=[
            CandidateResult(id=f"c{n}", source="rules", verdict="rejected", reason="")
            for n in range(candidates)
        ],
    )


def test_the_lines_name_the_function_its_position_and_its_end() -> None:
    lines: list[str] = []
    with FunctionProgress(lines.append, "pkg.mod.f", 2, 5, time.monotonic(), 0) as progress:
        progress("pkg.mod.f: baseline run of 3 test(s)")
        progress.done(_result("optimized", 4.5, 3))
    assert lines[0].startswith("function 2 of 5: pkg.mod.f (")
    assert lines[1] == "pkg.mod.f: baseline run of 3 test(s)"
    assert lines[2].startswith("function 2 of 5 done: pkg.mod.f optimized 4.50x, 3 candidates in ")
    assert lines[2].endswith(" so far)")


def test_a_silent_phase_says_again_what_it_is_doing() -> None:
    lines: list[str] = []
    beat = threading.Event()

    def say(line: str) -> None:
        lines.append(line)
        if "still at" in line:
            beat.set()

    with FunctionProgress(say, "pkg.mod.f", 1, 1, time.monotonic(), 0.05) as progress:
        progress("pkg.mod.f: baseline run of 3 test(s)")
        assert beat.wait(10)
        progress.done(_result("not_optimized", None, 1))
    still = [line for line in lines if "still at" in line]
    assert still[0].startswith("pkg.mod.f: still at: baseline run of 3 test(s) (")
    assert still[0].endswith(" on this function)")
    assert "not optimized, 1 candidate in" in lines[-1]


def test_elapsed_reads_as_seconds_then_minutes() -> None:
    assert elapsed(12.34) == "12.3 s"
    assert elapsed(245) == "4 min 05 s"
