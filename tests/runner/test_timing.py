"""Tests for the runner's timing loop.

Most tests drive :func:`interleave` with a fake clock that only the thunks advance, so the
measurements, and therefore the decisions, are exact and independent of machine load.  A
few use the real clock with wide margins (3x work, A/A) and assert verdicts, never times.
"""

from __future__ import annotations

import gc
import random
import sys
import time
from collections.abc import Iterator

import pytest

from pytest_codeflash.runner import timing
from pytest_codeflash.runner.stats import FASTER, NOT_FASTER, UNDECIDED
from pytest_codeflash.runner.timing import (
    MakeThunks,
    Thunk,
    calibrate,
    interleave,
    time_batch,
)


@pytest.fixture(autouse=True)
def _gc_restored() -> Iterator[None]:
    was_enabled = gc.isenabled()
    yield
    if was_enabled:
        gc.enable()
    else:
        gc.disable()


class FakeClock:
    """A nanosecond clock that moves only when told to, plus optional per-read jitter."""

    def __init__(self, jitter: random.Random | None = None) -> None:
        self.now = 0
        self.jitter = jitter

    def __call__(self) -> int:
        if self.jitter is not None:
            # Mostly tiny, sometimes a large hiccup: additive noise, like a real machine.
            self.now += int(self.jitter.expovariate(1 / 50))
            if self.jitter.random() < 0.05:
                self.now += self.jitter.randrange(10_000, 100_000)
        return self.now

    def maker(self, cost: int, log: list[str] | None = None, tag: str = "") -> MakeThunks:
        def call() -> None:
            self.now += cost
            if log is not None:
                log.append(tag)

        def make(n: int) -> list[Thunk]:
            return [call] * n

        return make


def busy(n: int) -> MakeThunks:
    def make(count: int) -> list[Thunk]:
        return [lambda: sum(range(n))] * count

    return make


# -- time_batch ---------------------------------------------------------------------------


def test_time_batch_disables_gc_during_the_batch_and_restores_it() -> None:
    gc.enable()
    seen: list[bool] = []
    time_batch([lambda: seen.append(gc.isenabled())] * 3)
    assert seen == [False, False, False]
    assert gc.isenabled()


def test_time_batch_leaves_gc_disabled_if_it_was() -> None:
    gc.disable()
    time_batch([lambda: None])
    assert not gc.isenabled()


def test_time_batch_swallows_exceptions_and_keeps_going() -> None:
    gc.enable()
    calls: list[int] = []

    def boom() -> None:
        calls.append(1)
        raise ValueError("the function under test may raise")

    assert time_batch([boom, boom, lambda: calls.append(2)]) >= 0
    assert calls == [1, 1, 2]
    assert gc.isenabled()


def test_time_batch_lets_keyboard_interrupt_through_and_restores_gc() -> None:
    gc.enable()

    def interrupt() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        time_batch([interrupt])
    assert gc.isenabled()


def test_time_batch_measures_only_the_calls() -> None:
    clock = FakeClock()
    assert time_batch(clock.maker(250)(4), clock=clock) == 1000


def test_clock_is_bound_at_import() -> None:
    # The runner patches time functions for user code later; ours must stay the real one.
    import time

    assert timing._perf_counter_ns is time.perf_counter_ns


# -- calibrate ----------------------------------------------------------------------------


@pytest.mark.parametrize("cost", [1, 37, 1000, 15_000, 199_999, 200_000, 5_000_000])
def test_calibrate_reaches_the_minimum_batch_with_few_loops_to_spare(cost: int) -> None:
    clock = FakeClock()
    loops = calibrate(clock.maker(cost), min_batch_ns=200_000, max_loops=10_000, clock=clock)
    assert loops == 10_000 or loops * cost >= 200_000
    assert loops == 1 or (loops // 2) * cost < 200_000 * 1.3  # no gross overshoot


def test_calibrate_gives_a_faster_function_more_loops() -> None:
    cheap = calibrate(busy(10), min_batch_ns=100_000)
    costly = calibrate(busy(1000), min_batch_ns=100_000)
    assert cheap > costly >= 1


def test_calibrate_calls_before_batch_and_rejects_bad_bounds() -> None:
    clock = FakeClock()
    calls: list[str] = []
    calibrate(clock.maker(100), clock=clock, before_batch=lambda: calls.append("x"))
    assert calls
    with pytest.raises(ValueError, match="max_loops"):
        calibrate(clock.maker(100), max_loops=0)


# -- interleave ---------------------------------------------------------------------------


def test_interleave_decides_for_three_times_the_work() -> None:
    result = interleave(
        [(busy(600), busy(200)), (busy(300), busy(100))], min_speedup=0.05, budget_s=1.0
    )
    assert result.stopped_by == "decided"
    assert result.decision.verdict == FASTER
    assert result.decision.speedup > 1.5


def test_interleave_a_a_is_never_faster_on_the_real_clock() -> None:
    for _ in range(3):
        same = busy(200)
        result = interleave([(same, same)], min_speedup=0.05, budget_s=0.3)
        assert result.decision.verdict != FASTER


def test_interleave_a_a_is_never_faster_with_noisy_fake_clock() -> None:
    for seed in range(20):
        clock = FakeClock(random.Random(seed))
        same = clock.maker(800)
        result = interleave(
            [(same, same), (clock.maker(5000), clock.maker(5000))],
            min_speedup=0.05,
            budget_s=60.0,
            clock=clock,
        )
        assert result.decision.verdict != FASTER, seed


def test_before_batch_runs_before_every_timed_batch_and_is_not_timed() -> None:
    clock = FakeClock()
    log: list[str] = []

    def before() -> None:
        log.append("|")
        clock.now += 10**9  # would swamp the measurement if it were timed

    result = interleave(
        [(clock.maker(3000, log, "a"), clock.maker(1000, log, "b"))],
        min_speedup=0.05,
        budget_s=1e6,
        before_batch=before,
        clock=clock,
    )
    batches = "".join(log).split("|")[1:]
    assert all(batch and len(set(batch)) == 1 for batch in batches)
    # calibration (warm-up call + growing batches), then one batch per side per round
    counted = 2 * (1 + result.decision.rounds)
    assert len(batches) > counted
    assert result.orig == [[3000.0] * result.decision.rounds]
    assert result.cand == [[1000.0] * result.decision.rounds]


def test_rounds_alternate_which_side_goes_first() -> None:
    clock = FakeClock()
    log: list[str] = []
    interleave(
        [(clock.maker(1050, log, "a"), clock.maker(1000, log, "b"))],
        min_speedup=0.05,
        budget_s=1e6,
        warmup_rounds=1,
        min_rounds=2,
        max_rounds=3,
        before_batch=lambda: log.append("|"),
        clock=clock,
    )
    firsts = [batch[0] for batch in "".join(log).split("|")[1:]]
    calibration = len(firsts) - 2 * (1 + 3)
    assert firsts[calibration:] == list("abbaabba")


def test_faster_needs_twice_the_minimum_rounds() -> None:
    clock = FakeClock()
    result = interleave(
        [(clock.maker(2000), clock.maker(1000))], min_speedup=0.05, budget_s=1e6, clock=clock
    )
    assert (result.stopped_by, result.decision.verdict) == ("decided", FASTER)
    assert result.decision.rounds == 10
    assert result.decision.speedup == 2.0


def test_a_huge_effect_decides_in_few_rounds() -> None:
    clock = FakeClock()
    result = interleave(
        [(clock.maker(4000), clock.maker(1000))], min_speedup=0.05, budget_s=1e6, clock=clock
    )
    assert (result.stopped_by, result.decision.verdict) == ("decided", FASTER)
    assert (result.decision.rounds, result.decision.method) == (4, "separation")


class LoadedClock(FakeClock):
    """A fake clock on a loaded machine: the batches whose numbers are keys of ``hit`` are
    interrupted by another process, and last that many times as long."""

    def __init__(self, hit: dict[int, int]) -> None:
        super().__init__()
        self.hit = hit
        self.switches = 0
        self.batches = 0

    def preemptions(self) -> int:
        return self.switches

    def loaded(self, cost: int) -> MakeThunks:
        def make(n: int) -> list[Thunk]:
            self.batches += 1
            factor = self.hit.get(self.batches, 0)
            hit = factor > 0

            def call() -> None:
                self.now += cost * factor if hit else cost

            def switch() -> None:
                self.switches += 1

            thunks: list[Thunk] = [call] * n
            return [*thunks, switch] if hit else thunks

        return make


def test_a_batch_another_process_interrupted_is_timed_again() -> None:
    """On a loaded machine the rounds can fall into step with the scheduler's time slices,
    so that one side is interrupted round after round: an interrupted batch is run again."""
    clock = LoadedClock(hit={1: 5})
    assert timing._timed(clock.loaded(1000), 10, None, clock) == 10_000
    assert clock.batches == 2


def test_a_batch_interrupted_at_every_try_counts_its_shortest() -> None:
    clock = LoadedClock(hit={1: 5, 2: 4, 3: 6, 4: 2})
    assert timing._timed(clock.loaded(1000), 10, None, clock) == 40_000
    assert clock.batches == timing.PREEMPTED_RETRIES + 1


def test_a_long_batch_is_not_timed_again() -> None:
    """A batch of many time slices is interrupted about in proportion to its length, on
    both sides: running it again would only cost time."""
    clock = LoadedClock(hit={1: 5})
    assert timing._timed(clock.loaded(10_000_000), 1, None, clock) == 50_000_000
    assert clock.batches == 1


def test_the_real_clock_reads_the_threads_context_switches() -> None:
    switches = timing._involuntary_switches
    if sys.platform == "win32":
        assert switches is None
    else:
        assert switches is not None
        assert switches() >= 0


def test_no_speedup_is_rejected_at_the_minimum_rounds() -> None:
    clock = FakeClock()
    same = clock.maker(2000)
    result = interleave([(same, same)], min_speedup=0.05, budget_s=1e6, clock=clock)
    assert (result.stopped_by, result.decision.verdict) == ("decided", NOT_FASTER)
    assert result.decision.rounds == 5


def test_undecided_runs_to_max_rounds() -> None:
    clock = FakeClock()
    result = interleave(
        [(clock.maker(1050), clock.maker(1000))],
        min_speedup=0.05,
        budget_s=1e6,
        max_rounds=12,
        clock=clock,
    )
    assert result.stopped_by == "max_rounds"
    assert result.decision.verdict == UNDECIDED
    assert result.decision.rounds == 12


def test_budget_stops_early_and_is_kept() -> None:
    clock = FakeClock()
    # Calibration (a warm-up call and one batch of the 30 ms original) takes 60 ms, each
    # round 40 ms: the warm-up round ends at 100 ms, three counted rounds at 220 ms, and a
    # fourth would end past the 250 ms budget.
    result = interleave(
        [(clock.maker(30_000_000), clock.maker(10_000_000))],
        min_speedup=0.05,
        budget_s=0.25,
        clock=clock,
    )
    assert result.stopped_by == "budget"
    assert result.decision.rounds == 3
    assert result.decision.verdict == UNDECIDED  # too few rounds to say anything
    assert result.elapsed_s == pytest.approx(0.22)
    assert result.loops == [1]


def test_at_least_one_counted_round_whatever_the_budget() -> None:
    clock = FakeClock()
    result = interleave(
        [(clock.maker(10**9), clock.maker(10**9))], min_speedup=0.05, budget_s=0.0, clock=clock
    )
    assert result.stopped_by == "budget"
    assert result.decision.rounds == 1
    assert result.decision.verdict == UNDECIDED


def test_max_loops_caps_the_batch() -> None:
    clock = FakeClock()
    result = interleave(
        [(clock.maker(10), clock.maker(10))],
        min_speedup=0.05,
        budget_s=1e6,
        max_loops=1,
        clock=clock,
    )
    assert result.loops == [1]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"warmup_rounds": -1}, "warmup_rounds"),
        ({"min_rounds": 0}, "min_rounds"),
        ({"min_rounds": 6, "max_rounds": 5}, "max_rounds"),
    ],
)
def test_interleave_rejects_bad_settings(kwargs: dict[str, int], message: str) -> None:
    clock = FakeClock()
    pair = (clock.maker(1), clock.maker(1))
    with pytest.raises(ValueError, match=message):
        interleave([pair], min_speedup=0.05, budget_s=1.0, clock=clock, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one input"):
        interleave([], min_speedup=0.05, budget_s=1.0, clock=clock)


def test_the_timing_gets_what_the_checks_leave_of_the_budget() -> None:
    from dataclasses import replace

    from pytest_codeflash.runner.measure import TIMING_FLOOR, timing_budget
    from pytest_codeflash.runner.protocol import RunnerSpec, TimingSpec

    now = time.monotonic()
    spec = RunnerSpec("candidate", "m", "f", "", "", timing=TimingSpec(budget_s=2.0))
    assert timing_budget(spec) == 2.0  # no start given: the whole budget
    assert timing_budget(replace(spec, began_monotonic=now + 60)) == 2.0  # never more
    assert timing_budget(replace(spec, began_monotonic=now - 60)) == TIMING_FLOOR * 2.0
    left = timing_budget(replace(spec, began_monotonic=now - 0.5))
    assert TIMING_FLOOR * 2.0 < left <= 1.5


def test_a_slow_comparison_grows_to_the_rounds_faster_needs() -> None:
    # 2.5 ms a round: the 20 ms budget holds about seven, fewer than the ten that "faster"
    # needs below the large margin; the interval says faster, so the timing grows to them.
    clock = FakeClock()
    result = interleave(
        [(clock.maker(1_500_000), clock.maker(1_000_000))],
        min_speedup=0.05,
        budget_s=0.02,
        max_budget_s=1.0,
        clock=clock,
    )
    assert (result.stopped_by, result.decision.verdict) == ("decided", FASTER)
    assert result.decision.rounds == 10
    same = clock.maker(1_000_000)  # nothing to grow for: no "faster" held back
    result = interleave(
        [(same, same)], min_speedup=0.05, budget_s=0.02, max_budget_s=1.0, clock=clock
    )
    assert result.decision.verdict == NOT_FASTER
    assert result.decision.rounds == 5


def test_a_lazy_result_is_timed_as_far_as_the_comparison_reads_it() -> None:
    """A generator whose input was scaled up may never end (``gray_product(repeat=50)``):
    the timing drains it as far as the comparison does, which is the work verified."""
    from pytest_codeflash.runner.calls import MAX_YIELDED
    from pytest_codeflash.runner.measure import _call

    taken: list[int] = []

    def endless() -> Iterator[int]:
        while True:
            taken.append(len(taken))
            assert len(taken) <= MAX_YIELDED + 1, "drained past what the comparison reads"
            yield taken[-1]

    _call(endless, ((), {}), "lazy")
    assert len(taken) == MAX_YIELDED + 1
