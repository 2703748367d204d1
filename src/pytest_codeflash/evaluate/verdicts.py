"""Verdicts: pure functions from what a runner reported to an accepted or rejected candidate.

Nothing here runs anything: :func:`judge` reads a :class:`~..runner.sandbox.ChildRun` (the
runner's :class:`~..runner.protocol.RunnerResult` plus how the process ended) and explains
its verdict in one line.  The order of the checks is the order of trust: a run that timed
out, crashed or did something unsafe says nothing about behaviour; a behaviour difference
rejects before any timing is looked at; timing decides last.
"""

from __future__ import annotations

import difflib
import signal
from collections.abc import Mapping, Sequence
from typing import Any

from ..models import Candidate, CandidateResult, TargetFunction
from ..runner.protocol import DifferenceRecord, RunnerResult, TimingSummary
from ..runner.sandbox import ChildRun

FEW_ROUNDS = 10
"""Fewer counted rounds than this, cut short by the budget: the budget could not decide."""

__all__ = [
    "baseline_problem",
    "crash_reason",
    "diff_size",
    "judge",
    "none_accepted",
    "rejected",
    "select_best",
    "timing_verdict",
    "unsafe",
]


def judge(
    candidate: Candidate,
    run: ChildRun,
    target: TargetFunction,
    baseline_tests: Mapping[str, str] | None = None,
) -> CandidateResult:
    """Turn one child run into an accepted/rejected verdict with its reason.

    ``baseline_tests``: each test's outcome with the original; a test that failed there too
    says nothing about the candidate.
    """
    result = run.result
    if run.timed_out:
        where = f" (while {run.progress})" if run.progress else ""
        return rejected(candidate, f"timeout: killed after {run.wall_s:.1f} s{where}")
    if result is None or result.phase == "started":
        return rejected(candidate, crash_reason(run))
    blame = unsafe(result)
    if blame:
        return rejected(candidate, blame)
    if result.errors:
        return rejected(candidate, f"crash: {result.errors[0]}")
    if not result.overlay_used or not result.wrapper_installed:
        return rejected(
            candidate,
            f"unverifiable: {target.module} was not imported through "
            "the runner, so the candidate never ran",
        )
    for section in (result.calls, result.replay, result.generated):
        if section is not None and section.differences:
            return rejected(candidate, _difference(section.differences[0]), result)
    failing = failing_tests(result, baseline_tests)
    if failing:
        more = f" (and {len(failing) - 1} more)" if len(failing) > 1 else ""
        return rejected(candidate, f"test failed with the candidate: {failing[0]}{more}", result)
    if result.tool_errors:
        first = result.tool_errors[0]
        more = f" (and {len(result.tool_errors) - 1} more)" if len(result.tool_errors) > 1 else ""
        reason = f"error in pytest-codeflash ({first.phase}): {first.error} at {first.where}{more}"
        return _verdict(candidate, "error", reason, result)
    if result.coverage is None or result.coverage.error:
        why = result.coverage.error if result.coverage is not None else "no measurement came back"
        return rejected(
            candidate,
            f"unverified: whether the changed lines ran could not be measured ({why})",
            result,
        )
    unrun = result.coverage.changed_unrun
    if unrun:
        lines = ", ".join(str(n) for n in unrun[:8])
        searched = result.coverage.searched
        tried = f", nor under {searched} input(s) searched to reach them" if searched else ""
        return rejected(
            candidate,
            f"unverified: changed line(s) {lines} of the candidate never ran under the "
            f"verification inputs{tried}",
            result,
        )
    return timing_verdict(candidate, result, target.qualified_name)


def timing_verdict(candidate: Candidate, result: RunnerResult, name: str) -> CandidateResult:
    """The verdict on a candidate whose behaviour agreed: is it really faster?"""
    calls = result.calls
    replayed = result.replay.compared if result.replay is not None else 0
    generated = result.generated.examples if result.generated is not None else 0
    compared = result.tests_compared
    if compared <= 0 and not replayed:
        return rejected(candidate, f"unverifiable: no call of {name} could be compared", result)
    if calls is not None and calls.fully_unstable and calls.fully_unstable >= compared:
        return rejected(
            candidate,
            f"unverifiable: {name}'s results change from run to run, so equality proves nothing",
            result,
        )
    timing = result.timing
    if timing is None:
        return rejected(
            candidate,
            "unverifiable: no captured input could be replayed to time the candidate",
            result,
        )
    if timing.scale_differences:
        return rejected(candidate, _difference(timing.scale_differences[0]), result)
    checked = (
        f"identical on {compared} call(s) in the tests, {replayed} replayed and "
        f"{generated} generated input(s)"
    )
    if calls is not None and calls.unchecked:
        checked += (
            f"; {calls.unchecked:,} more call(s) in the tests only executed ({calls.sampling})"
        )
    if calls is not None and calls.uncopyable_count:
        checked += (
            f" ({calls.uncopyable_count} call(s) in the tests not compared: inputs that "
            "cannot be copied as they are)"
        )
    deciding = timing.scaled or timing
    figures = _figures(timing, deciding, "faster" if deciding.verdict == "faster" else "")
    caches = "; it keeps a cache between calls, timed from a cold cache" if timing.caches else ""
    baseline_ns = timing.baseline_ns or None
    low, high = deciding.ci
    common: dict[str, Any] = {
        "speedup": deciding.speedup,
        "speedup_ci": (float(low), float(high)),
        "speedup_by_scale": timing.by_scale or None,
        "baseline_ns": baseline_ns,
        "candidate_ns": int(baseline_ns / timing.speedup) if baseline_ns else None,
        "caches": timing.caches,
    }
    if deciding.verdict == "faster":
        return _verdict(candidate, "accepted", f"{figures}, {checked}{caches}", result, **common)
    return _verdict(
        candidate,
        "rejected",
        f"{_not_faster(timing)}: {figures}; behaviour {checked}",
        result,
        **common,
    )


def _not_faster(timing: TimingSummary) -> str:
    """Why a candidate whose behaviour agreed is not accepted on its timing."""
    if timing.ci[1] < 1.0:
        return "slower"
    if timing.verdict == "not_faster":
        return "not faster"
    if timing.stopped_by == "budget" and timing.round_s > 0 and timing.rounds < FEW_ROUNDS:
        return (
            f"undecided: only {timing.rounds} round(s) of {timing.round_s:.2g} s fit in "
            f"{timing.budget_s:.2g} s (--codeflash-effort=high gives more time)"
        )
    return "not significantly faster"


def _figures(timing: TimingSummary, deciding: TimingSummary, word: str = "") -> str:
    """``5.12x faster (99% CI 3.59-10.51, 6 rounds)``, with the sizes when they grew."""
    scale = f" at {deciding.factor}x the captured input sizes" if deciding is not timing else ""
    word = f" {word}" if word else ""
    figures = f"{deciding.speedup:.2f}x{word} ({_interval(deciding)}){scale}"
    if len(timing.by_scale) > 1:
        sizes = ", ".join(f"{size}x: {value:.2f}x" for size, value in timing.by_scale.items())
        figures += f" ({sizes})"
    return figures


def _interval(timing: TimingSummary) -> str:
    """The interval as what it is: a confidence interval at its level, the range of a
    decision by separation, or none at all when there were too few rounds for one."""
    low, high = timing.ci
    rounds = f"{timing.rounds} round{'s' if timing.rounds != 1 else ''}"
    if timing.method == "separation":
        return f"every round at least {low:.2f}x faster, {rounds}"
    if low == high:
        return f"{rounds}, too few for an interval"
    return f"{timing.confidence:.0%} CI {low:.2f}-{high:.2f}, {rounds}"


def unsafe(result: RunnerResult) -> str:
    """What the candidate tried that the original did not, or ``""``."""
    by_original = {(v.event, v.path) for v in result.violations if v.phase == "original"}
    for violation in result.violations:
        if violation.phase == "candidate" and (violation.event, violation.path) not in by_original:
            return (
                f"unsafe: tried to {violation.event} {violation.path} outside its sandbox (blocked)"
            )
    reads = result.secret_reads
    extra = set(reads.get("candidate", ())) - set(reads.get("original", ()))
    if extra:
        return f"unsafe: reads secret environment variable(s) {', '.join(sorted(extra))}"
    return ""


def failing_tests(result: RunnerResult, baseline: Mapping[str, str] | None = None) -> list[str]:
    """The tests that failed or errored in this run; with ``baseline`` (which the run was
    given), those that passed there and not here, as the runner judged them (a test
    function whose instances it named otherwise is judged whole), with how, unless failed."""
    failed = {t: o for t, o in result.tests.items() if o in ("failed", "error")}
    if baseline is None:
        return list(failed)
    found = {t: o for t, o in failed.items() if baseline.get(t) == "passed"}
    found.update(result.not_passing)
    return [
        test if outcome == "failed" else f"{test} ({outcome})" for test, outcome in found.items()
    ]


def crash_reason(run: ChildRun) -> str:
    """How the runner process ended without reporting, with its last line of output."""
    code = run.returncode
    if code is not None and code < 0:
        try:
            how = f"killed by {signal.Signals(-code).name}"
        except ValueError:
            how = f"killed by signal {-code}"
    else:
        how = f"exited with code {code}"
    where = f" while {run.progress}" if run.progress else ""
    last = next((line for line in reversed(run.output_tail.splitlines()) if line.strip()), "")
    detail = f"; last output: {last[:160]}" if last else ""
    return f"crash: the runner process {how}{where} before reporting{detail}"


def baseline_problem(run: ChildRun, name: str) -> str:
    """Why the original's own run cannot serve as the baseline, or ``""``."""
    if run.timed_out:
        return f"the original's tests did not finish in {run.wall_s:.0f} s in the runner"
    if run.result is None or run.result.phase == "started":
        return f"the runner failed on the original code: {crash_reason(run)}"
    if run.result.errors:
        return f"the runner could not load {name}: {run.result.errors[0]}"
    if not run.result.overlay_used:
        return (
            f"the runner could not take over the import of {name}'s module; is it "
            "imported under another name?"
        )
    return ""


def select_best(accepted: Sequence[CandidateResult], diff_sizes: dict[str, int]) -> CandidateResult:
    """The fastest by the lower bound of its interval; within noise, the smallest change.

    Candidates whose intervals overlap the leader's cannot be told apart by speed, so the one
    that changes the fewest lines wins among them.
    """

    def low(result: CandidateResult) -> float:
        return (result.speedup_ci or (0.0, 0.0))[0]

    leader = max(accepted, key=low)
    tied = [r for r in accepted if (r.speedup_ci or (0.0, 0.0))[1] >= low(leader)]
    return min(tied, key=lambda r: (diff_sizes.get(r.id, 0), -low(r)))


def diff_size(original: str, candidate: str) -> int:
    """How many lines differ between two module sources."""
    return sum(
        1
        for line in difflib.unified_diff(original.splitlines(), candidate.splitlines(), n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    )


def rejected(
    candidate: Candidate, reason: str, result: RunnerResult | None = None
) -> CandidateResult:
    """A rejection of ``candidate`` for ``reason``, with what its run compared."""
    return _verdict(candidate, "rejected", reason, result)


# The first words of a rejection's reason (before its colon) that name its kind.
_KINDS = frozenset(
    {
        "timeout",
        "crash",
        "unsafe",
        "unverifiable",
        "unverified",
        "resource limit",
        "no change",
        "signature change",
        "bad reply",
        "undecided",
        "slower",
        "not faster",
        "not significantly faster",
    }
)


def none_accepted(results: Sequence[CandidateResult]) -> str:
    """A function's reason when no candidate was accepted: how many, and why, by kind
    (``none of 3 candidate(s) was accepted: 2 not faster, 1 behaviour differs``)."""
    kinds: dict[str, int] = {}
    for result in results:
        kind = _kind(result)
        kinds[kind] = kinds.get(kind, 0) + 1
    ranked = sorted(kinds.items(), key=lambda item: -item[1])  # (stable: first seen first)
    why = ", ".join(f"{count} {kind}" for kind, count in ranked)
    return f"none of {len(results)} candidate(s) was accepted: {why}"


def _kind(result: CandidateResult) -> str:
    head = result.reason.partition(":")[0]
    if head in _KINDS:
        return head
    if head.startswith("test failed"):
        return "a test failed"
    if head.startswith("no candidates from"):
        return "no reply"
    if head.startswith("cannot verify"):  # a comparison that could not decide (outcomes)
        return "unverifiable"
    if "; input " in result.reason:  # a difference (_difference): the call that showed it
        return "behaviour differs"
    return "other"


def _difference(record: DifferenceRecord) -> str:
    return f"{record.detail}; input {record.input} from {record.test}"


def _verdict(
    candidate: Candidate,
    verdict: str,
    reason: str,
    result: RunnerResult | None,
    **extra: Any,
) -> CandidateResult:
    coverage = None
    if result is not None and result.coverage is not None:
        coverage = _coverage_json(result)
    notes = []
    if result is not None and result.generated is not None:
        notes = [
            f"differs on inputs outside what the tests use: {n.detail}; input {n.input}"
            for n in result.generated.notes
        ]
    return CandidateResult(
        id=candidate.id,
        source=candidate.source,
        verdict=verdict,  # type: ignore[arg-type]
        reason=reason,
        explanation=candidate.explanation,
        calls_compared=result.calls.compared if result is not None and result.calls else 0,
        calls_not_compared=(
            result.calls.uncopyable_count + result.calls.unchecked
            if result is not None and result.calls
            else 0
        ),
        calls_only_executed=result.calls.unchecked if result is not None and result.calls else 0,
        tests_run=len(result.tests) if result is not None else 0,
        coverage=coverage,
        notes=notes,
        **extra,
    )


def _coverage_json(result: RunnerResult) -> dict[str, Any] | None:
    """The report's view of a candidate's coverage (the original's is the function's)."""
    import dataclasses

    assert result.coverage is not None
    data = dataclasses.asdict(result.coverage)
    data.pop("original", None)
    if data.get("candidate") is None:
        data["candidate"] = {}
    if not data.get("error"):
        data.pop("error", None)
    return data or None
