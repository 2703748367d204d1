"""Tests for the acceptance statistics on synthetic, seeded timings (no clock involved)."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_codeflash.runner import stats
from pytest_codeflash.runner.stats import (
    FASTER,
    NOT_FASTER,
    UNDECIDED,
    Decision,
    decide,
    geometric_mean,
    low_statistic,
)

Timings = list[list[float]]


def noisy_rounds(
    rng: random.Random,
    costs: list[float],
    rounds: int,
    *,
    speedup: float = 1.0,
    sigma: float = 0.03,
    spike_rate: float = 0.1,
    drift: float = 0.0,
) -> tuple[Timings, Timings]:
    """Paired rounds with additive-looking noise: jitter, occasional big spikes, slow drift."""

    def batch(cost: float, r: int) -> float:
        value = cost * (1 + drift * r / rounds) * math.exp(abs(rng.gauss(0, sigma)))
        if rng.random() < spike_rate:
            value *= 1 + rng.uniform(0.1, 1.0)
        return value

    orig = [[batch(c, r) for r in range(rounds)] for c in costs]
    cand = [[batch(c / speedup, r) for r in range(rounds)] for c in costs]
    return orig, cand


def verdicts(speedup: float, trials: int, *, seed: int, **kwargs: float) -> Counter[str]:
    counts: Counter[str] = Counter()
    for trial in range(trials):
        rng = random.Random(seed * 100_003 + trial)
        costs = [rng.uniform(500, 50_000) for _ in range(rng.randint(1, 4))]
        orig, cand = noisy_rounds(rng, costs, rng.randint(5, 30), speedup=speedup, **kwargs)
        counts[decide(orig, cand, min_speedup=0.05, resamples=100).verdict] += 1
    return counts


def test_identical_distributions_are_never_faster() -> None:
    counts = verdicts(1.0, 200, seed=1)
    assert counts[FASTER] == 0, counts


def test_no_speedup_is_mostly_rejected_outright() -> None:
    counts = verdicts(1.0, 60, seed=2, sigma=0.02, spike_rate=0.05)
    assert counts[FASTER] == 0
    assert counts[NOT_FASTER] >= 0.8 * 60, counts


def test_speedup_just_under_the_bar_is_not_faster() -> None:
    counts = verdicts(1.03, 100, seed=3)
    assert counts[FASTER] == 0, counts


@pytest.mark.parametrize(("speedup", "share"), [(1.10, 0.8), (1.25, 0.9), (2.0, 1.0)])
def test_real_speedups_are_detected(speedup: float, share: float) -> None:
    counts = verdicts(speedup, 40, seed=4)
    assert counts[NOT_FASTER] == 0
    assert counts[FASTER] >= share * 40, counts


def test_twice_as_fast_is_faster_with_a_tight_interval() -> None:
    orig, cand = noisy_rounds(random.Random(5), [1000.0, 20_000.0], 20, speedup=2.0)
    decision = decide(orig, cand, min_speedup=0.05)
    assert decision.verdict == FASTER
    assert decision.rounds == 20
    assert 1.8 < decision.ci[0] <= decision.speedup <= decision.ci[1] < 2.2


def test_slower_candidate_is_not_faster() -> None:
    orig, cand = noisy_rounds(random.Random(6), [5000.0], 20, speedup=0.8)
    decision = decide(orig, cand, min_speedup=0.05)
    assert decision.verdict == NOT_FASTER
    assert decision.ci[1] < 1.0


def test_shared_drift_does_not_fake_a_speedup() -> None:
    # Both sides slow down by 30 % over the run: the pairs move together.
    for seed in range(30):
        orig, cand = noisy_rounds(random.Random(seed), [3000.0, 9000.0], 30, drift=0.3)
        assert decide(orig, cand, min_speedup=0.05, resamples=200).verdict != FASTER


def test_drift_with_alternating_order_does_not_fake_a_speedup() -> None:
    # Rounds run A-B, B-A, ...: whoever goes second sees 2 % more drift, alternately.
    orig: Timings = [[]]
    cand: Timings = [[]]
    for r in range(40):
        level = 1000.0 * (1 + 0.3 * r / 40)
        first, second = level, level * 1.02
        orig[0].append(first if r % 2 == 0 else second)
        cand[0].append(second if r % 2 == 0 else first)
    decision = decide(orig, cand, min_speedup=0.05)
    assert decision.verdict == NOT_FASTER
    assert decision.speedup == pytest.approx(1.0, abs=0.02)


def test_real_speedup_survives_drift() -> None:
    orig, cand = noisy_rounds(random.Random(7), [4000.0], 30, speedup=1.3, drift=0.3)
    assert decide(orig, cand, min_speedup=0.05).verdict == FASTER


def test_same_seed_same_decision() -> None:
    orig, cand = noisy_rounds(random.Random(8), [1000.0, 2000.0], 15, speedup=1.07)
    first = decide(orig, cand, min_speedup=0.05, seed=3)
    assert decide(orig, cand, min_speedup=0.05, seed=3) == first
    other = decide(orig, cand, min_speedup=0.05, seed=4)
    assert other.speedup == first.speedup  # the seed only moves the interval


def test_too_few_rounds_are_undecided() -> None:
    decision = decide([[3000.0, 3000.0]], [[1000.0, 1000.0]], min_speedup=0.05)
    assert decision == Decision(3.0, (3.0, 3.0), UNDECIDED, 2)


def test_exactly_at_the_bar_is_undecided() -> None:
    decision = decide([[1050.0] * 10], [[1000.0] * 10], min_speedup=0.05)
    assert decision.verdict == UNDECIDED


def test_speedup_weighs_inputs_by_their_time() -> None:
    # A 10x gain on a 1 us input hardly matters next to no gain on a 1 ms input.
    orig = [[1000.0] * 5, [1_000_000.0] * 5]
    cand = [[100.0] * 5, [1_000_000.0] * 5]
    decision = decide(orig, cand, min_speedup=0.05)
    assert decision.speedup == pytest.approx(1_001_000 / 1_000_100)
    assert decision.verdict == NOT_FASTER


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.lists(st.floats(1.0, 1e6), min_size=3, max_size=12).flatmap(
            lambda xs: st.tuples(
                st.just(xs), st.lists(st.floats(1.0, 1e6), min_size=len(xs), max_size=len(xs))
            )
        ),
        min_size=1,
        max_size=3,
    )
)
def test_interval_contains_the_point_estimate(pairs: list[tuple[list[float], list[float]]]) -> None:
    decision = decide(
        [list(a) for a, _ in pairs], [list(b) for _, b in pairs], min_speedup=0.05, resamples=50
    )
    assert decision.ci[0] <= decision.speedup <= decision.ci[1]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.0, 1e6), min_size=1, max_size=30), st.integers(0, 2**32))
def test_resampled_statistic_matches_the_expanded_sample(samples: list[float], seed: int) -> None:
    # The bootstrap walks pre-sorted rounds with multiplicities instead of re-sorting each
    # resample; it must agree with computing the statistic on the resample itself.
    counts = stats._multiplicities(len(samples), random.Random(seed))
    expanded = [x for x, n in zip(samples, counts, strict=True) for _ in range(n)]
    side, _ = stats._sides(samples, samples)
    assert side.low(counts) == pytest.approx(low_statistic(expanded), rel=1e-12, abs=1e-9)


def test_low_statistic_averages_the_fastest_quarter() -> None:
    assert low_statistic([9.0, 1.0, 5.0, 3.0, 7.0, 2.0, 8.0, 4.0]) == 1.5
    # Of 5 samples a quarter is 1.25 of them: the fastest plus a quarter of the next.
    assert low_statistic([5.0, 1.0, 2.0, 3.0, 4.0]) == pytest.approx((1 + 0.25 * 2) / 1.25)
    assert low_statistic([7.0]) == 7.0
    with pytest.raises(ValueError, match="at least one sample"):
        low_statistic([])


def test_low_statistic_ignores_slow_outliers() -> None:
    clean = [100.0 + i % 3 for i in range(20)]
    spiked = clean[:15] + [10_000.0] * 5
    assert low_statistic(spiked) == low_statistic(clean)


def test_geometric_mean() -> None:
    assert geometric_mean([1.0, 4.0]) == pytest.approx(2.0)
    assert geometric_mean([2.0, 0.5, 1.0]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="at least one"):
        geometric_mean([])
    with pytest.raises(ValueError, match="positive"):
        geometric_mean([1.0, 0.0])


@pytest.mark.parametrize(
    ("orig", "cand", "kwargs", "message"),
    [
        ([], [], {}, "number"),
        ([[1.0]], [[1.0], [1.0]], {}, "number"),
        ([[1.0, 2.0]], [[1.0]], {}, "paired rounds"),
        ([[1.0]], [[1.0]], {"confidence": 1.0}, "confidence"),
        ([[1.0]], [[1.0]], {"resamples": 0}, "resamples"),
    ],
)
def test_decide_rejects_bad_input(
    orig: Timings, cand: Timings, kwargs: dict[str, float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        decide(orig, cand, min_speedup=0.05, **kwargs)  # type: ignore[arg-type]


def test_complete_separation_by_a_wide_margin_decides() -> None:
    from pytest_codeflash.runner.stats import separated

    orig = [[1000.0, 1300.0, 1100.0, 5000.0]]  # one disturbed original round changes nothing
    cand = [[100.0, 120.0, 110.0, 105.0]]
    decision = separated(orig, cand, margin=3.0)
    assert decision is not None
    assert (decision.verdict, decision.method, decision.rounds) == ("faster", "separation", 4)
    assert decision.ci[0] == pytest.approx(1000 / 120)  # the worst case the rounds allow
    assert decision.ci[0] <= decision.speedup <= decision.ci[1]


def test_separation_needs_rounds_margin_and_no_overlap() -> None:
    from pytest_codeflash.runner.stats import separated

    assert separated([[1000.0] * 3], [[100.0] * 3], margin=3.0) is None  # too few rounds
    assert separated([[290.0] * 6], [[100.0] * 6], margin=3.0) is None  # 2.9x: not huge
    overlap = separated([[1000.0, 1000.0, 90.0, 1000.0]], [[100.0] * 4], margin=3.0)
    assert overlap is None  # one original round as fast as the candidate: no proof
