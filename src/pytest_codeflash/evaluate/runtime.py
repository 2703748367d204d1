"""The runtime table of a candidate: one row per group of verification inputs.

Read from what the runner already reported (nothing runs again): how many inputs of each
group were compared, and the timing figures of the groups the timing used: the captured
calls replayed (or, when none could be captured, the generated inputs) and each larger
size.  The tests' own calls are compared inside the tests, under the comparison wrapper,
so they are counted but not timed there; their inputs are what the replayed calls time.
"""

from __future__ import annotations

from ..models import CandidateResult, RuntimeRow
from ..runner.protocol import RunnerResult, SizeTiming

__all__ = ["runtime_rows", "with_runtime"]


def runtime_rows(result: RunnerResult | None) -> list[RuntimeRow]:
    """The rows for one candidate's run; empty if the run reported nothing usable."""
    if result is None or result.phase == "started":
        return []
    replayed = result.replay.compared if result.replay is not None else 0
    generated = result.generated.examples if result.generated is not None else 0
    sizes = result.timing.sizes if result.timing is not None else []
    captured = next((s for s in sizes if s.factor == 1), None)
    rows = [RuntimeRow(group="existing tests", inputs=result.tests_compared)]
    if result.replay is not None:
        rows.append(_row("replayed calls", replayed, captured if replayed else None))
    if result.generated is not None:
        rows.append(_row("generated inputs", generated, None if replayed else captured))
    rows += [_row(f"{s.factor}x", s.inputs, s) for s in sizes if s.factor != 1]
    return rows


def with_runtime(verdict: CandidateResult, result: RunnerResult | None) -> CandidateResult:
    """``verdict`` with its runtime table."""
    rows = runtime_rows(result)
    return verdict.model_copy(update={"runtime": rows}) if rows else verdict


def _row(group: str, inputs: int, size: SizeTiming | None) -> RuntimeRow:
    if size is None or not size.inputs or not size.candidate_ns:
        return RuntimeRow(group=group, inputs=inputs)
    low, high = size.ci
    return RuntimeRow(
        group=group,
        inputs=inputs,
        timed=size.inputs,
        original_ns=size.original_ns,
        candidate_ns=size.candidate_ns,
        speedup=round(size.speedup, 4),
        speedup_ci=(round(float(low), 4), round(float(high), 4)),
        rounds=size.rounds,
    )
