"""Time the original against a candidate, call by call, until the numbers decide.

Runs inside the runner's subprocess, so it imports only the standard library.

How a comparison runs (:func:`interleave`):

1. **Calibrate** each input on the original: grow the inner loop count (at least doubling)
   until one batch of calls lasts at least :data:`MIN_BATCH_NS`, capped at :data:`MAX_LOOPS`.
   The candidate uses the same count, so both sides pay the same per-batch overhead.
2. **Alternate** rounds ``A B | B A | A B ...`` for every input: slow drift and "whoever goes
   second runs warmer" effects hit both sides equally over two rounds.  The first
   ``warmup_rounds`` rounds (caches, the specialising interpreter) are thrown away.
3. **Decide** with :func:`pytest_codeflash.runner.stats.decide` at :data:`CONFIDENCE` and stop as
   soon as the interval is clear of ``1 + min_speedup`` on either side -- but never before
   ``min_rounds`` rounds, and never "faster" before twice that -- or when the next round
   would overrun the time budget, or at ``max_rounds``.

Each timed batch calls ``before_batch`` first, outside the timed region, so a cache the
candidate adds cannot carry results from one batch into the next.

A batch during which the scheduler gave the CPU to another process (an involuntary context
switch, where the platform counts them) is run again, up to :data:`PREEMPTED_RETRIES`
times: on a loaded machine the rounds can fall into step with the scheduler's time slices,
so that the same side is interrupted round after round.  Beside four busy processes on two
CPUs, 3 of 30 A/A comparisons came out "faster" (up to 3.2x) without the retry, none with
it (``benchmarks/timing_under_load.py``).
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .stats import FASTER, SEPARATION_ROUNDS, UNDECIDED, Decision, decide, separated

__all__ = [
    "MAX_LOOPS",
    "MIN_BATCH_NS",
    "MakeThunks",
    "Thunk",
    "TimingResult",
    "calibrate",
    "interleave",
    "time_batch",
]

Thunk = Callable[[], object]
MakeThunks = Callable[[int], list[Thunk]]
Clock = Callable[[], int]

# Bound at import: the runner later patches ``time`` functions for the user's code, and a
# user's own patch must never be able to change our clock.
_perf_counter_ns: Clock = time.perf_counter_ns


def _switches_counter() -> Callable[[], int] | None:
    """The involuntary context switches so far (``None`` where unknown) of this thread on
    Linux, of the process elsewhere: each one is a time the scheduler gave the CPU to
    another process."""
    if sys.platform == "win32":
        return None
    import resource

    who = getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF)  # Linux has per-thread
    getrusage = resource.getrusage
    return lambda: getrusage(who).ru_nivcsw


_involuntary_switches = _switches_counter()

PREEMPTED_RETRIES = 2
"""A batch the scheduler interrupted is run again up to this many times; if every try was
interrupted, the shortest counts."""

PREEMPTION_MATTERS_NS = 20_000_000
"""... if it is shorter than this (20 ms): a time slice of another process (a few ms) may
then double it or miss it entirely, by the phase of the rounds.  A longer batch is
interrupted about in proportion to its length on both sides, which leaves the ratio."""

MIN_BATCH_NS = 200_000
"""Shortest timed batch (200 us).

Long enough that timer resolution and the two clock reads (well under 1 us together) are
below 0.5 % of a batch, short enough that most batches fall between two scheduler ticks
(1-4 ms), so the low statistic can pick undisturbed batches instead of averaging the
interrupts in -- and short enough for 100+ rounds of several inputs within a 2 s budget.
"""

LARGE_MARGIN = 3.0
"""A speedup whose interval starts above this is decided after ``min_rounds`` rounds."""

MIN_ROUNDS = 5
"""Counted rounds before any verdict (twice as many for a "faster" one by a small margin)."""

MAX_LOOPS = 10_000
"""Most calls per batch.  Even a bare Python call costs ~30 ns, so 10,000 calls already
reach :data:`MIN_BATCH_NS`; the cap bounds the fresh input copies held alive per batch."""

_MAX_GROWTH = 10
"""Calibration multiplies the loop count by 2 to this factor per step (see ``calibrate``)."""

CONFIDENCE = 0.99
"""Confidence of the interval behind every verdict of :func:`interleave`.

Stricter than the usual 95 % because the interval is looked at up to ~25 times as rounds
come in, and each look is another chance for noise to cross the bar; at 95 % a candidate
only 4 % faster was accepted against a 5 % bar about twice as often in our trials.
"""

_QUICK_RESAMPLES = 250
"""Bootstrap resamples for the interim checks; a "decided" result is confirmed with 1000."""


def time_batch(thunks: list[Thunk], *, clock: Clock = _perf_counter_ns) -> int:
    """Return the total ns for calling every thunk once, with the garbage collector off.

    An ``Exception`` raised by a thunk is expected (the function under test may raise) and
    is swallowed so the batch goes on; ``KeyboardInterrupt`` and ``SystemExit`` propagate.
    The collector is re-enabled afterwards only if it was enabled before.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = clock()
        for thunk in thunks:
            # Not contextlib.suppress: entering a context manager costs ~400 ns per call,
            # inside the timed region; a try block that does not raise costs nothing.
            try:  # noqa: SIM105
                thunk()
            except Exception:
                pass
        end = clock()
    finally:
        if was_enabled:
            gc.enable()
    return end - start


def calibrate(
    make: MakeThunks,
    *,
    min_batch_ns: int = MIN_BATCH_NS,
    max_loops: int = MAX_LOOPS,
    before_batch: Callable[[], None] | None = None,
    clock: Clock = _perf_counter_ns,
) -> int:
    """Return how many calls one batch needs to last at least ``min_batch_ns``.

    Grows the count like pyperf and pytest-benchmark: at least doubling per step, jumping
    further (up to ``_MAX_GROWTH``-fold) when the last batch was far too short, so a 100 ns
    function needs ~4 batches rather than 11.  A first, discarded call warms the function up
    so that a cold first call (imports, first-time caches) does not end calibration early.
    """
    if min_batch_ns < 1 or max_loops < 1:
        raise ValueError(
            f"calibrate() needs min_batch_ns >= 1 and max_loops >= 1, "
            f"got {min_batch_ns!r} and {max_loops!r}"
        )
    _timed(make, 1, before_batch, clock)
    loops = 1
    while True:
        elapsed = _timed(make, loops, before_batch, clock)
        if elapsed >= min_batch_ns or loops >= max_loops:
            return loops
        # Aim a little past the target (x1.2) so that noise does not leave us one step short.
        wanted = -(-min_batch_ns * loops * 6 // (max(elapsed, 1) * 5))
        loops = min(max_loops, max(2 * loops, min(wanted, _MAX_GROWTH * loops)))


def _timed(
    make: MakeThunks, loops: int, before_batch: Callable[[], None] | None, clock: Clock
) -> int:
    """One batch's ns, taken again where another process interrupted it (see the module's
    text).  The real clock reads this thread's involuntary context switches; a clock of the
    tests may offer its own count as ``clock.preemptions()``."""
    real = clock is _perf_counter_ns
    switches = getattr(clock, "preemptions", _involuntary_switches if real else None)
    best = -1
    for _ in range(PREEMPTED_RETRIES + 1):
        thunks = make(loops)
        if before_batch is not None:
            before_batch()
        seen = switches() if switches is not None else 0
        elapsed = time_batch(thunks, clock=clock)
        if switches is None or elapsed >= PREEMPTION_MATTERS_NS or switches() == seen:
            return elapsed
        best = elapsed if best < 0 else min(best, elapsed)
    return best


@dataclass
class TimingResult:
    """What :func:`interleave` measured and decided."""

    orig: list[list[float]]
    """Per input, per counted round: ns per call of the original."""
    cand: list[list[float]]
    """Per input, per counted round: ns per call of the candidate."""
    decision: Decision
    """The verdict; its interval is at :data:`CONFIDENCE`, not ``decide``'s default 95 %."""
    loops: list[int]
    """Inner loops per batch, per input (the same for both sides)."""
    elapsed_s: float
    """Wall time of the whole comparison, calibration and copying included."""
    stopped_by: str
    """``"decided"``, ``"budget"`` or ``"max_rounds"``."""
    round_s: float = 0.0
    """Wall time of the slowest counted round (both sides, every input)."""


def interleave(
    inputs: Sequence[tuple[MakeThunks, MakeThunks]],
    *,
    min_speedup: float,
    budget_s: float,
    warmup_rounds: int = 1,
    min_rounds: int = MIN_ROUNDS,
    max_rounds: int = 200,
    before_batch: Callable[[], None] | None = None,
    clock: Clock = _perf_counter_ns,
    max_loops: int | None = None,
    max_budget_s: float | None = None,
) -> TimingResult:
    """Time ``inputs[i] = (make_original_thunks, make_candidate_thunks)`` in alternating rounds.

    ``clock`` times both the batches and the budget; tests pass a fake one.  ``max_loops``
    overrides :data:`MAX_LOOPS`; 1 makes ``before_batch`` run before every single call (for
    functions that keep caches).  At least one counted round always runs, whatever the
    budget; otherwise the next round starts only if it and the final decision are predicted
    to fit, so a sudden slowdown can still overrun by a fraction of a round.  The verdict
    stays ``"undecided"`` before ``min_rounds`` counted rounds, and cannot be ``"faster"``
    before ``2 * min_rounds``.

    ``max_budget_s`` (at least ``budget_s``) lets a slow comparison grow: when the rounds
    a first verdict needs (:data:`~.stats.SEPARATION_ROUNDS`, or ``min_rounds``) do not fit
    in ``budget_s`` at the measured cost of a round, the budget grows to fit them, up to it.
    """
    if not inputs:
        raise ValueError("interleave() needs at least one input to time")
    if warmup_rounds < 0 or min_rounds < 1 or max_rounds < min_rounds:
        raise ValueError(
            f"interleave() needs warmup_rounds >= 0 and 1 <= min_rounds <= max_rounds, got "
            f"warmup_rounds={warmup_rounds!r}, min_rounds={min_rounds!r}, "
            f"max_rounds={max_rounds!r}"
        )
    start = clock()
    deadline = start + int(budget_s * 1e9)
    hard_deadline = start + int(max(budget_s, max_budget_s or 0.0) * 1e9)
    cap = MAX_LOOPS if max_loops is None else max_loops
    loops = [
        calibrate(orig, max_loops=cap, before_batch=before_batch, clock=clock) for orig, _ in inputs
    ]
    orig: list[list[float]] = [[] for _ in inputs]
    cand: list[list[float]] = [[] for _ in inputs]
    for index in range(warmup_rounds):
        _round(inputs, loops, index, None, None, before_batch, clock)
    stopped_by = "max_rounds"
    decision: Decision | None = None
    check_ns = 0  # cost of the last interim check; the final decision costs ~4x that
    held = False  # the interval says faster, but too few rounds for _gate to let it
    slowest_ns = 0
    for rounds in range(1, max_rounds + 1):
        round_start = clock()
        _round(inputs, loops, warmup_rounds + rounds - 1, orig, cand, before_batch, clock)
        round_ns = clock() - round_start
        slowest_ns = max(slowest_ns, round_ns)
        if (rounds >= min_rounds and _due(rounds, min_rounds)) or rounds == SEPARATION_ROUNDS:
            check_start = clock()
            decision, held = _check(orig, cand, min_speedup, min_rounds=min_rounds)
            if decision is not None:
                stopped_by = "decided"
                break
            check_ns = clock() - check_start
        # A slow comparison may grow to the rounds its first verdict needs: "faster" that
        # the interval shows already needs twice the minimum (see _gate).
        first = SEPARATION_ROUNDS if rounds < SEPARATION_ROUNDS else min_rounds
        if held:
            first = 2 * min_rounds
        wanted = clock() + (first - rounds) * slowest_ns + 4 * check_ns
        if deadline < wanted <= hard_deadline:
            deadline = wanted
        # Stop if the next round and the final decision would overrun, not after they
        # have: the budget covers the whole comparison.
        if clock() + round_ns + 4 * check_ns > deadline and rounds < max_rounds:
            stopped_by = "budget"
            break
    if decision is None:
        decision = separated(orig, cand, margin=max(LARGE_MARGIN, 1.0 + min_speedup))
    if decision is None:
        decision = _gate(
            decide(orig, cand, min_speedup=min_speedup, confidence=CONFIDENCE), min_rounds
        )
    elapsed_s = (clock() - start) / 1e9
    return TimingResult(orig, cand, decision, loops, elapsed_s, stopped_by, slowest_ns / 1e9)


def _round(
    inputs: Sequence[tuple[MakeThunks, MakeThunks]],
    loops: list[int],
    index: int,
    orig: list[list[float]] | None,
    cand: list[list[float]] | None,
    before_batch: Callable[[], None] | None,
    clock: Clock,
) -> None:
    """Run one round: every input, both sides, A-then-B on even rounds, B-then-A on odd."""
    for i, (make_orig, make_cand) in enumerate(inputs):
        n = loops[i]
        sides = [(make_orig, orig), (make_cand, cand)]
        if index % 2:
            sides.reverse()
        for make, sink in sides:
            elapsed = _timed(make, n, before_batch, clock)
            if sink is not None:
                sink[i].append(elapsed / n)


def _due(rounds: int, min_rounds: int) -> bool:
    """Check every round at first, then every ~10 % more rounds: deciding is not free."""
    return (rounds - min_rounds) % max(1, rounds // 10) == 0


def _check(
    orig: list[list[float]], cand: list[list[float]], min_speedup: float, *, min_rounds: int
) -> tuple[Decision | None, bool]:
    """A confirmed decision, or None to keep measuring; and whether the interval already
    says "faster" but the rounds cannot support it yet (see :func:`_gate`)."""
    huge = separated(orig, cand, margin=max(LARGE_MARGIN, 1.0 + min_speedup))
    if huge is not None:
        return huge, False
    quick = decide(
        orig, cand, min_speedup=min_speedup, confidence=CONFIDENCE, resamples=_QUICK_RESAMPLES
    )
    if _gate(quick, min_rounds).verdict == UNDECIDED:
        return None, quick.verdict == FASTER
    # The tail of 250 resamples is coarse; confirm with the full count before stopping.
    full = _gate(decide(orig, cand, min_speedup=min_speedup, confidence=CONFIDENCE), min_rounds)
    return (None, False) if full.verdict == UNDECIDED else (full, False)


def _gate(decision: Decision, min_rounds: int) -> Decision:
    """Hold back a verdict the number of rounds cannot support yet.

    No verdict before ``min_rounds``; no "faster" (unless by a large margin) before twice
    that: with 5 rounds, one input
    whose original happened to be disturbed in 4 of them looks like a real speedup to any
    low statistic, and accepting a no-op costs the user far more than a few more rounds,
    while rejecting early costs at most a missed optimization.
    """
    # A disturbed round slows a side by a few per cent to, rarely, 2x; an interval whose lower
    # bound is past LARGE_MARGIN cannot come from that, so it needs no extra rounds.
    cautious = decision.verdict == FASTER and decision.ci[0] < LARGE_MARGIN
    needed = 2 * min_rounds if cautious else min_rounds
    if decision.verdict == UNDECIDED or decision.rounds >= needed:
        return decision
    return Decision(decision.speedup, decision.ci, UNDECIDED, decision.rounds, decision.confidence)
