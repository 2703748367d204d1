"""What a runner's report tells the candidate sources: pure functions, nothing runs here.

:func:`baseline_facts` reads what the baseline learnt about the original (its per-line
profile, example calls) for the sources that write prompts; :func:`differences_of` reads
where a rejected candidate differed, for a repair.  Both turn the runner's plain dataclasses
(:mod:`..runner.protocol`) into the models the candidate sources know (:mod:`..models`),
since a source never reads the runner's protocol itself.
"""

from __future__ import annotations

from ..models import BaselineFacts, CallDifference, Differences
from ..runner.protocol import DifferenceRecord, RunnerResult
from ..runner.sandbox import ChildRun

__all__ = ["baseline_facts", "differences_of", "invariants_of"]


def baseline_facts(result: RunnerResult) -> BaselineFacts:
    """The facts a baseline run reported: line profile, invariants, example calls."""
    profile = result.line_profile
    lines = None
    if profile is not None and profile.lines and not profile.error:
        lines = {timing.line: (timing.hits, timing.ns) for timing in profile.lines}
    return BaselineFacts(
        line_profile=lines, invariants=invariants_of(result), examples=list(result.examples)
    )


def invariants_of(result: RunnerResult) -> list[str] | None:
    """What holds for every captured input (``"argument 2 is ascending"``), or ``None``
    when the baseline inferred none (see ``runner/invariants.py``).

    This is the one place that reads them for the sources: they reach the profile-guided
    prompts (``optimize(..., invariants=...)``) unchanged.
    """
    generated = result.generated
    return list(generated.invariants) if generated is not None and generated.invariants else None


def differences_of(run: ChildRun) -> Differences | None:
    """Where a candidate's run differed from the original, or ``None`` if it did not.

    Differences in calls (in the tests, replayed, generated, at scale) come first; a run
    without any, but with tests that failed, gives one per failing test.
    """
    result = run.result
    if result is None:
        return None
    records: list[DifferenceRecord] = list(result.calls.differences) if result.calls else []
    for section in (result.replay, result.generated):
        if section is not None:
            records += [r for r in section.differences if r not in records]
    if result.timing is not None:
        records += result.timing.scale_differences
    found = [_difference(record) for record in records]
    if not found:
        failing = [t for t, o in result.tests.items() if o in ("failed", "error")]
        found = [
            CallDifference(
                kind="test outcome",
                input="",
                detail=f"the test {outcome} with the candidate but passed with the original",
                expected="passed",
                actual=outcome,
                test=test,
            )
            for test, outcome in result.tests.items()
            if test in failing
        ]
    if not found:
        return None
    compared = result.calls.compared if result.calls is not None else 0
    return Differences(differences=found, compared=max(compared, len(found)))


def _difference(record: DifferenceRecord) -> CallDifference:
    return CallDifference(
        kind=record.kind,
        input=record.input,
        detail=record.detail,
        expected=record.expected,
        actual=record.actual,
        test=record.test,
    )
