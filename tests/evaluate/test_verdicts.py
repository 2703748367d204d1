"""Unit tests of the verdict logic that need no runner process."""

from __future__ import annotations

from pytest_codeflash.evaluate.verdicts import diff_size, select_best
from pytest_codeflash.models import CandidateResult


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
