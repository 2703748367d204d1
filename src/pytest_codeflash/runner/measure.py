"""Time original against candidate: on the captured inputs, then at scale if undecided.

Runs inside the runner process after the behaviour checks agreed.  The comparison itself is
:func:`.timing.interleave`; this module decides what to time and for how long: the budget
the effort leaves after the checks (grown for a slow function to what a verdict needs), a
sample of the inputs, inputs 10x and 100x larger when the captured sizes cannot decide,
fresh state before every batch (:mod:`.reset`).
"""

from __future__ import annotations

import functools
import io
import itertools
import time
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from typing import Any

from .calls import MAX_YIELDED, Args, dump_args, load_args
from .differential import Differential
from .protocol import RunnerSpec, SizeTiming, TimingSummary
from .replay import MAX_TIMED_INPUTS, Facts, InputFacts
from .reset import StateReset
from .scale import FACTORS, scaled
from .stats import FASTER
from .tally import Side
from .timing import MIN_ROUNDS, MakeThunks, Thunk, interleave

CAPTURED_SHARE = 0.75
# The least share of the effort's budget the timing gets, however long the checks took.
TIMING_FLOOR = 0.5
# What a candidate proven faster on the captured inputs may spend checking its behaviour on
# the 10x inputs, as a share of the timing budget (inputs too slow for it go unchecked).
SCALE_CHECK_SHARE = 0.1
MIN_CHECK_S = 0.01  # the least time left worth starting a check at scale in
DEADLINE_MARGIN_S = 1.5  # kept before the parent's deadline, to write the result


def time_candidate(
    differential: Differential, inputs: list[bytes], spec: RunnerSpec, facts: Facts | None = None
) -> TimingSummary:
    """Time original against candidate on the captured inputs, then at scale if undecided.

    A candidate that is not significantly slower on the captured inputs but not proven faster
    either is checked and timed again on inputs 10x and 100x larger (behaviour first: a
    difference at scale rejects it).  ``by_scale`` maps each size to its speedup; ``scaled``
    holds the timing that decided, if a larger size did.

    All sizes share the time the effort's budget leaves (:func:`timing_budget`): the captured
    inputs get ``CAPTURED_SHARE`` of it when the inputs can grow (all of it otherwise), and
    each larger size an equal share of what is left.  A candidate proven faster on the
    captured inputs is still checked on the 10x inputs, for ``SCALE_CHECK_SHARE`` of the
    budget at most.

    A slow function gets what a verdict needs: when the ``facts`` of checking the timed
    inputs say that the rounds a verdict needs do not fit in the captured inputs' share, it
    grows to that, up to the run's deadline (``--codeflash-timeout``).
    """
    budget = timing_budget(spec)
    sample = timing_sample(inputs)
    grown = {FACTORS[0]: _scaled_inputs(differential, sample, FACTORS[0])}
    growing = bool(grown[FACTORS[0]])
    captured = budget * CAPTURED_SHARE if growing else budget
    facts = facts or {}
    needed = _needed_s(sample, facts)
    if needed > captured:
        grown_by = min(needed, _time_left(spec, budget)) - captured
        captured, budget = captured + max(0.0, grown_by), budget + max(0.0, grown_by)
    deadline = time.monotonic() + budget
    result = _measure(differential, inputs, spec, captured, facts, _time_left(spec, captured))
    result.by_scale = {"1": result.speedup}
    result.sizes = [_size(result, 1)]
    if result.verdict == FASTER and growing:
        # Proven faster already: the 10x inputs are one more set of verification inputs,
        # the cheapest first, and only those whose check can end within the share.
        share = SCALE_CHECK_SHARE * budget
        deadline = time.monotonic() + share
        cheap = _cheap_first(sample, facts, FACTORS[0], share)
        bigger = _scaled_inputs(differential, cheap, FACTORS[0])
        if _check_at_scale(differential, bigger, spec, deadline).problem == "differs":
            result.scale_differences = differential.tally.differences[-1:]
        return result
    if result.verdict == FASTER or result.ci[1] < 1.0 or not growing:
        return result
    for index, factor in enumerate(FACTORS):
        share = (deadline - time.monotonic()) / (len(FACTORS) - index)
        share_end = time.monotonic() + share
        if share < 0.1 * budget:
            break
        bigger = grown.get(factor) or _scaled_inputs(differential, sample, factor)
        if not bigger:
            break
        checked = _check_at_scale(differential, bigger, spec, time.monotonic() + share / 2)
        if checked.problem == "slow":
            break
        if checked.problem:
            result.scale_differences = differential.tally.differences[-1:]
            return result
        affordable = _affordable(bigger, checked.costs, share_end - time.monotonic())
        if not affordable:
            break  # a verdict at this size needs more rounds than the budget has left
        timing = _measure(differential, affordable, spec, share_end - time.monotonic(), {})
        result.by_scale[str(factor)] = timing.speedup
        result.sizes.append(_size(timing, factor))
        if timing.verdict == FASTER:
            timing.factor = factor
            result.scaled = timing
            return result
    return result


def _cheap_first(inputs: list[bytes], facts: Facts, factor: int, left_s: float) -> list[bytes]:
    """``inputs`` by what checking them cost (unknown last), while ``factor`` times that
    cost (at least: the inputs grow ``factor`` times) still fits in ``left_s``."""
    known = sorted((facts[data].cost_s, data) for data in inputs if data in facts)
    kept, spent = [], 0.0
    for cost, data in known:
        spent += cost * factor
        if spent > left_s:
            break
        kept.append(data)
    return kept + [data for data in inputs if data not in facts]


def _size(timing: TimingSummary, factor: int) -> SizeTiming:
    """One size's figures, as measured: no input is timed again for them."""
    return SizeTiming(
        factor=factor,
        inputs=timing.inputs,
        original_ns=timing.baseline_ns,
        candidate_ns=timing.candidate_ns,
        speedup=timing.speedup,
        ci=list(timing.ci),
        rounds=timing.rounds,
    )


# What a verdict costs, in rounds of every timed input: calibration, the state probe and a
# warm-up round, then the interval's minimum number of counted rounds.
ROUNDS_FOR_A_VERDICT = 3 + MIN_ROUNDS


VERDICT_SLACK = 1.25


def _needed_s(inputs: list[bytes], facts: Facts) -> float:
    """Seconds the rounds of a verdict on ``inputs`` take, from what checking them cost."""
    spent = sum(facts[data].cost_s for data in inputs if data in facts)
    return spent / 1.5 * ROUNDS_FOR_A_VERDICT * VERDICT_SLACK


def _time_left(spec: RunnerSpec, budget: float) -> float:
    """Seconds before the parent's deadline for this run, less a margin to report in."""
    if spec.deadline_monotonic is None:
        return budget
    return max(budget, spec.deadline_monotonic - time.monotonic() - DEADLINE_MARGIN_S)


def _affordable(inputs: list[bytes], costs: list[float], left_s: float) -> list[bytes]:
    """The inputs whose timing can reach a verdict in ``left_s``, the costliest first.

    ``costs`` are the seconds each input's behaviour check took: the original twice and the
    candidate once, about 1.5 rounds.  The costliest inputs weigh most in the speed-up (a
    sum over inputs), so they are kept first, while the rounds a verdict needs fit; a size
    whose costliest input alone does not fit is not timed.
    """
    kept, spent = [], 0.0
    for cost, data in sorted(zip(costs, inputs, strict=False), key=lambda pair: -pair[0]):
        spent += cost / 1.5 * ROUNDS_FOR_A_VERDICT
        if spent > left_s:
            break
        kept.append(data)
    return kept


def timing_budget(spec: RunnerSpec) -> float:
    """Seconds for timing: what the effort's per-candidate budget leaves after the checks.

    The budget counts from ``began_monotonic`` (when the parent started this candidate: the
    system-wide monotonic clock); the timing always gets at least ``TIMING_FLOOR`` of it.
    """
    budget = spec.timing.budget_s
    began = spec.began_monotonic
    if began is None:
        return budget
    left = budget - (time.monotonic() - began)
    return min(budget, max(TIMING_FLOOR * budget, left))


def _measure(
    differential: Differential,
    inputs: list[bytes],
    spec: RunnerSpec,
    budget_s: float,
    facts: Facts,
    max_budget_s: float | None = None,
) -> TimingSummary:
    original, candidate = differential.original, differential.candidate
    reset = StateReset([original.module, candidate.module])
    inputs = timing_sample(inputs)
    pairs = [
        (
            _maker(differential, original, data, facts.get(data)),
            _maker(differential, candidate, data, facts.get(data)),
        )
        for data in inputs
    ]
    guard = differential.guard
    with (
        differential.unwrapped(),
        differential.determinism,
        redirect_stdout(_DISCARD),
        redirect_stderr(_DISCARD),
    ):
        caches = reset.detects_state(pairs, cold=differential.cold_state)
        if guard is not None:
            with guard.phase_of("candidate"):
                result = _interleave(pairs, spec, budget_s, max_budget_s, reset, caches)
        else:
            result = _interleave(pairs, spec, budget_s, max_budget_s, reset, caches)
    decision = result.decision
    return TimingSummary(
        speedup=decision.speedup,
        ci=list(decision.ci),
        verdict=decision.verdict,
        rounds=decision.rounds,
        confidence=decision.confidence,
        method=decision.method,
        budget_s=round(budget_s, 4),
        round_s=round(result.round_s, 6),
        loops=result.loops,
        elapsed_s=result.elapsed_s,
        stopped_by=result.stopped_by,
        caches=caches,
        baseline_ns=_baseline_ns(result.orig),
        candidate_ns=_baseline_ns(result.cand),
        inputs=len(inputs),
    )


def timing_sample(inputs: list[bytes], limit: int = MAX_TIMED_INPUTS) -> list[bytes]:
    """At most ``limit`` inputs: the largest (they dominate the total) and a spread of the rest.

    Every input costs at least one batch per side per round; with many slow inputs a round
    would outlast the budget before the interval could decide anything.
    """
    if len(inputs) <= limit:
        return inputs
    by_size = sorted(inputs, key=len, reverse=True)
    large = by_size[: limit * 2 // 3]
    rest = by_size[len(large) :]
    step = len(rest) / (limit - len(large))
    return large + [rest[int(i * step)] for i in range(limit - len(large))]


def _scaled_inputs(differential: Differential, inputs: list[bytes], factor: int) -> list[bytes]:
    """The inputs ``factor`` times larger, kept inside the captured calls' invariants (a
    sorted list grown by repeating it is sorted again); those that cannot be are left out,
    since the tests never call the function that way."""
    module, name = differential.candidate.module, differential.module_name
    shape = differential.invariants
    bigger = []
    for data in inputs:
        try:
            grown = scaled(load_args(data, name, module), factor, is_method=differential.is_method)
            if grown is not None and shape is not None:
                grown = shape.repair(grown)
                if not shape.holds(grown):
                    continue
            if grown is not None:
                bigger.append(dump_args(grown))
        except Exception:
            continue
    return bigger


@dataclass
class _ScaleCheck:
    problem: str
    """'' if behaviour agrees at this size, 'slow' if too slow to check, else 'differs'."""
    costs: list[float] = field(default_factory=list)
    """Seconds each input's check took, in order."""


def _check_at_scale(
    differential: Differential, inputs: list[bytes], spec: RunnerSpec, deadline: float
) -> _ScaleCheck:
    """Check behaviour on the scaled-up inputs, each call bounded by what is left of the time.

    Too slow means one check over the per-call limit or past ``deadline``
    (``time.monotonic()``): a size that cannot be checked is not timed either.
    """
    from .generate import SlowCall, time_limit

    limit = spec.generation.call_limit_s
    before = len(differential.tally.differences)
    module, name = differential.candidate.module, differential.module_name
    checked = _ScaleCheck("")
    for index, data in enumerate(inputs):
        differential.current_test = f"captured call #{index} scaled up"
        start = time.monotonic()
        if start + MIN_CHECK_S >= deadline:  # an alarm that short would fire in our own code
            return _ScaleCheck("slow", checked.costs)
        try:
            with time_limit(min(limit, deadline - start)):
                differential.check(load_args(data, name, module))
        except SlowCall:
            return _ScaleCheck("slow", checked.costs)
        checked.costs.append(time.monotonic() - start)
        if len(differential.tally.differences) > before:
            return _ScaleCheck("differs", checked.costs)
    return checked


class _Discard(io.TextIOBase):
    """Swallows what timed code prints (thousands of repeated calls would flood the log)."""

    def write(self, text: str) -> int:
        return len(text)


_DISCARD = _Discard()


def _interleave(
    pairs: list[tuple[MakeThunks, MakeThunks]],
    spec: RunnerSpec,
    budget_s: float,
    max_budget_s: float | None,
    reset: StateReset,
    caches: bool,
) -> Any:
    return interleave(
        pairs,
        min_speedup=spec.timing.min_speedup,
        budget_s=budget_s,
        max_budget_s=max_budget_s,
        before_batch=reset.reset,
        max_loops=1 if caches else None,
    )


def _baseline_ns(orig: list[list[float]]) -> int:
    from .stats import low_statistic

    return int(sum(low_statistic(samples) for samples in orig if samples))


def _maker(
    differential: Differential, side: Side, data: bytes, facts: InputFacts | None
) -> MakeThunks:
    """Thunks calling one side on one input: each with fresh arguments, unless the check
    showed the call leaves them alone (then one copy serves them all, and setting up a
    batch of thousands of fast calls costs nothing)."""
    name = differential.module_name
    function = side.function
    module = side.module
    lazy = differential.is_generator or (facts is not None and facts.lazy)
    kind = "async" if differential.is_async else "lazy" if lazy else ""
    shared = load_args(data, name, module) if facts is not None and facts.pure else None

    def make(count: int) -> list[Thunk]:
        differential.timing(side)  # just before the batch is timed: the target is its side's
        if shared is not None:
            return [functools.partial(_call, function, shared, kind)] * count
        thunks: list[Thunk] = []
        for _ in range(count):
            args: Args = load_args(data, name, module)
            thunks.append(functools.partial(_call, function, args, kind))
        return thunks

    return make


def _call(function: Callable[..., Any], args: Args, kind: str) -> object:
    result = function(*args[0], **args[1])
    if kind == "lazy":
        # As far as the comparison reads it (``calls.MAX_YIELDED``), no further: the time
        # is that of the work verified, and an input scaled up (``repeat=50``) may not end.
        for _ in itertools.islice(result, MAX_YIELDED + 1):
            pass
    elif kind == "async":
        # One loop per process: both sides pay the same small scheduling cost per call.
        return _loop().run_until_complete(result)
    return result


@functools.lru_cache(maxsize=1)
def _loop() -> Any:
    import asyncio

    return asyncio.new_event_loop()


__all__ = ["CAPTURED_SHARE", "TIMING_FLOOR", "time_candidate", "timing_budget"]
