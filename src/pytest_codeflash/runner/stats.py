"""Acceptance statistics: is a candidate really faster than the original?

The runner times the original (A) and a candidate (B) in alternating rounds, so for every
input ``i`` and counted round ``r`` there is a pair ``(orig[i][r], cand[i][r])`` of
nanoseconds per call measured a moment apart.  :func:`decide` turns those pairs into a
:class:`Decision`.

* **Per-input statistic: the mean of the fastest quarter of the rounds.**  Timing noise is
  almost all additive -- interrupts, preemption, cache evictions only ever *slow* a batch --
  so a low statistic estimates the undisturbed cost.  The minimum (``timeit``, Codeflash) is
  one extreme order statistic: on a loaded machine it swung by up to 17 % between identical
  runs in our trials, and its bootstrap is degenerate (a resample can only move it up).  A
  low quantile did better but jumped by 6 % when the machine flipped between a busy and an
  idle regime and the quantile fell in the gap between them.  Averaging the fastest quarter
  keeps the robustness to slow outliers, uses several rounds, and bootstraps smoothly.
* **Speedup** -- ``sum_i stat(orig_i) / sum_i stat(cand_i)``: total time of the sample
  workload, so expensive inputs weigh more, as they do for the user.
* **Interval** -- a paired percentile bootstrap: each resample draws round indices with
  replacement and applies the same indices to both sides and every input.  Rounds are the
  independent units: A and B of one round run a moment apart, so drift or a busy spell
  moves both, and resampling them jointly keeps that correlation instead of mistaking it
  for a difference.  With few rounds a plain percentile interval is too narrow, so the
  tail probability is shrunk as in Hesterberg's *expanded percentile interval* (the normal
  quantile becomes ``sqrt(n / (n - 1)) * t[n - 1]``): at 5 rounds a 95 % interval uses the
  0.1 % tails, at 50 rounds the 2.1 % tails.
* **Verdict** -- ``"faster"`` only when the interval's lower bound exceeds ``1 + min_speedup``;
  ``"not_faster"`` when its upper bound is below it; otherwise ``"undecided"``.
* **A huge effect decides early** (:func:`separated`).  Noise only ever adds time, so when
  every candidate round is faster than every original round by a wide margin, a few
  rounds are proof: with no real difference, the chance that ``n`` rounds of each side
  separate completely is ``1 / C(2n, n)`` (1.4 % for 4 rounds), and the margin rules out
  the slow-downs a busy machine causes.  The bound it reports is the worst case the
  measurements allow, the fastest original round over the slowest candidate round.

Only the standard library is imported: this module runs inside the runner's subprocess.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "FASTER",
    "LOW_FRACTION",
    "MIN_DECIDING_ROUNDS",
    "NOT_FASTER",
    "UNDECIDED",
    "Decision",
    "decide",
    "geometric_mean",
    "low_statistic",
    "separated",
]

LOW_FRACTION = 0.25
"""Share of the rounds, the fastest ones, that a per-input statistic averages."""

MIN_DECIDING_ROUNDS = 3
"""Below this many rounds a bootstrap has nothing to resample, so the verdict is undecided."""

FASTER = "faster"
NOT_FASTER = "not_faster"
UNDECIDED = "undecided"


@dataclass(frozen=True)
class Decision:
    """The verdict on one candidate from paired timings."""

    speedup: float
    """Point estimate: ``sum(stat(orig_i)) / sum(stat(cand_i))``."""
    ci: tuple[float, float]
    """Bootstrap confidence interval of the speedup; always contains ``speedup``.  For a
    decision by :func:`separated`, the range the measurements allow instead."""
    verdict: str
    """``"faster"``, ``"not_faster"`` or ``"undecided"``."""
    rounds: int
    """Number of paired rounds the decision used (the fewest over the inputs)."""
    confidence: float = 0.95
    """The level of ``ci`` (for ``"bootstrap"``)."""
    method: str = "bootstrap"
    """``"bootstrap"`` (``ci`` is a confidence interval) or ``"separation"``."""


def low_statistic(samples: Sequence[float]) -> float:
    """Return the mean of the fastest quarter of ``samples``: one input's cost on one side.

    The quarter is fractional: of 5 samples it is the fastest plus a quarter weight of the
    second fastest.  Raises ``ValueError`` for an empty sequence.
    """
    if not samples:
        raise ValueError("low_statistic() needs at least one sample")
    ordered = sorted(float(x) for x in samples)
    return _Side(list(range(len(ordered))), ordered).low(None)


def geometric_mean(values: Sequence[float]) -> float:
    """Return the geometric mean of positive ``values`` (the right average of ratios).

    Raises ``ValueError`` if ``values`` is empty or holds a value that is not positive.
    """
    if not values:
        raise ValueError("geometric_mean() needs at least one value")
    if any(not v > 0 for v in values):
        raise ValueError(f"geometric_mean() needs positive values, got {list(values)!r}")
    return math.exp(math.fsum(math.log(v) for v in values) / len(values))


def decide(
    orig: Sequence[Sequence[float]],
    cand: Sequence[Sequence[float]],
    *,
    min_speedup: float,
    confidence: float = 0.95,
    resamples: int = 1000,
    seed: int = 0,
) -> Decision:
    """Decide whether the candidate is at least ``1 + min_speedup`` times faster.

    ``orig[i][r]`` / ``cand[i][r]``: time per call in ns of input ``i`` in round ``r`` (same
    number of rounds on both sides, paired).  The result is deterministic for a given
    ``seed``.  Raises ``ValueError`` on empty or mismatched data or bad parameters.
    """
    _validate(orig, cand, confidence=confidence, resamples=resamples)
    pairs = [_sides(xs, ys) for xs, ys in zip(orig, cand, strict=True)]
    point = _ratio(
        math.fsum(a.low(None) for a, _ in pairs), math.fsum(b.low(None) for _, b in pairs)
    )
    rounds = min(len(xs) for xs in orig)
    if rounds < MIN_DECIDING_ROUNDS:
        return Decision(point, (point, point), UNDECIDED, rounds, confidence)
    replicates = sorted(_bootstrap(pairs, resamples, random.Random(seed)))
    tail = _expanded_tail(confidence, rounds)
    lo = _quantile_sorted(replicates, tail)
    hi = _quantile_sorted(replicates, 1.0 - tail)
    # A percentile interval of a skewed statistic can miss its own point estimate by a
    # hair; widening it to include the estimate only ever makes the verdict more cautious.
    ci = (min(lo, point), max(hi, point))
    threshold = 1.0 + min_speedup
    if ci[0] > threshold:
        verdict = FASTER
    elif ci[1] < threshold:
        verdict = NOT_FASTER
    else:
        verdict = UNDECIDED
    return Decision(point, ci, verdict, rounds, confidence)


SEPARATION_ROUNDS = 4
"""Rounds of complete separation that decide a huge effect (chance 1/70 without one)."""


def separated(
    orig: Sequence[Sequence[float]], cand: Sequence[Sequence[float]], *, margin: float
) -> Decision | None:
    """``"faster"`` if every candidate round beat every original round by ``margin``.

    A round's time is the sum over the inputs of that round; the decision needs at least
    :data:`SEPARATION_ROUNDS` rounds on each side.  Its ``ci`` is the range the
    measurements allow: the fastest original round over the slowest candidate round, and
    the slowest original round over the fastest candidate round.  ``None`` otherwise.
    """
    rounds = min(len(xs) for xs in (*orig, *cand)) if orig and cand else 0
    if rounds < SEPARATION_ROUNDS:
        return None
    totals = [
        [math.fsum(side[i][r] for i in range(len(side))) for r in range(rounds)]
        for side in (orig, cand)
    ]
    fastest_orig, slowest_orig = min(totals[0]), max(totals[0])
    fastest_cand, slowest_cand = min(totals[1]), max(totals[1])
    if fastest_cand <= 0.0:
        return None
    low = fastest_orig / slowest_cand
    if low < margin:
        return None
    point = _ratio(
        math.fsum(low_statistic(xs) for xs in orig), math.fsum(low_statistic(ys) for ys in cand)
    )
    high = slowest_orig / fastest_cand
    ci = (min(low, point), max(high, point))
    return Decision(point, ci, FASTER, rounds, method="separation")


def _validate(
    orig: Sequence[Sequence[float]],
    cand: Sequence[Sequence[float]],
    *,
    confidence: float,
    resamples: int,
) -> None:
    if not orig or len(orig) != len(cand):
        raise ValueError(
            f"decide() needs the same number (>= 1) of inputs on both sides, "
            f"got {len(orig)} original and {len(cand)} candidate"
        )
    for i, (xs, ys) in enumerate(zip(orig, cand, strict=True)):
        if not xs or len(xs) != len(ys):
            raise ValueError(
                f"input {i}: decide() needs the same number (>= 1) of paired rounds on both "
                f"sides, got {len(xs)} original and {len(ys)} candidate"
            )
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence={confidence!r} must be between 0 and 1, e.g. 0.95")
    if resamples < 1:
        raise ValueError(f"resamples={resamples!r} must be at least 1, e.g. 1000")


def _ratio(num: float, den: float) -> float:
    if den > 0.0:
        return num / den
    # A zero candidate time cannot be measured honestly: no evidence of a speedup, unless
    # the original also took no time at all.
    return 1.0 if num <= 0.0 else math.inf


class _Side:
    """One side of one input with its rounds in fastest-first order.

    Kept in that order once, so each bootstrap resample costs O(rounds), not a sort.
    """

    __slots__ = ("k", "order", "values")

    def __init__(self, order: list[int], values: list[float]) -> None:
        self.order = order  # round index of each entry of ``values``
        self.values = values
        self.k = LOW_FRACTION * len(values)

    def low(self, counts: list[int] | None) -> float:
        """Mean of the first ``k`` entries, round ``j`` weighted ``counts[j]`` (1 if None)."""
        need, total = self.k, 0.0
        for r, value in zip(self.order, self.values, strict=True):
            weight = 1 if counts is None else counts[r]
            if weight >= need:
                return (total + need * value) / self.k
            total += weight * value
            need -= weight
        raise AssertionError(f"resample of {len(self.values)} rounds weighs less than {self.k}")


def _sides(orig: Sequence[float], cand: Sequence[float]) -> tuple[_Side, _Side]:
    sides = []
    for samples in (orig, cand):
        order = sorted(range(len(samples)), key=samples.__getitem__)
        sides.append(_Side(order, [float(samples[r]) for r in order]))
    return sides[0], sides[1]


def _bootstrap(pairs: list[tuple[_Side, _Side]], resamples: int, rng: random.Random) -> list[float]:
    lengths = sorted({len(a.values) for a, _ in pairs})
    replicates: list[float] = []
    for _ in range(resamples):
        # One draw of round indices per distinct round count, shared by both sides and all
        # inputs of that length: rounds are the independent units (see module docstring).
        counts_by_len = {n: _multiplicities(n, rng) for n in lengths}
        num = den = 0.0
        for a, b in pairs:
            counts = counts_by_len[len(a.values)]
            num += a.low(counts)
            den += b.low(counts)
        replicates.append(_ratio(num, den))
    return replicates


def _multiplicities(n: int, rng: random.Random) -> list[int]:
    counts = [0] * n
    rand = rng.random
    for _ in range(n):
        counts[int(rand() * n)] += 1
    return counts


def _expanded_tail(confidence: float, n: int) -> float:
    """Return the one-sided tail probability of the expanded percentile interval."""
    z = math.sqrt(n / (n - 1)) * _t_quantile(0.5 + confidence / 2, n - 1)
    return 0.5 * math.erfc(z / math.sqrt(2.0))  # upper normal tail, accurate far out


def _t_quantile(p: float, dof: int) -> float:
    """Student's t quantile by the Cornish-Fisher expansion around the normal quantile.

    Four terms are within 1 % of the exact value from 2 degrees of freedom up (within 0.01 %
    from 5 up), far finer than the bootstrap's own resolution.
    """
    z = _normal_quantile(p)
    z2 = z * z
    terms = (
        (z2 + 1) * z / 4,
        ((5 * z2 + 16) * z2 + 3) * z / 96,
        (((3 * z2 + 19) * z2 + 17) * z2 - 15) * z / 384,
        ((((79 * z2 + 776) * z2 + 1482) * z2 - 1920) * z2 - 945) * z / 92160,
    )
    return z + sum(term / float(dof) ** k for k, term in enumerate(terms, start=1))


def _normal_quantile(p: float) -> float:
    """Inverse of the standard normal CDF by bisection.

    Called once per decision, so 100 halvings (far below float resolution) beat importing
    ``statistics``, which costs the runner's many process starts several milliseconds each.
    """
    lo, hi = -40.0, 40.0
    for _ in range(100):
        mid = (lo + hi) / 2
        if 0.5 * math.erfc(-mid / math.sqrt(2.0)) < p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _quantile_sorted(ordered: Sequence[float], q: float) -> float:
    pos = q * (len(ordered) - 1)
    lo = math.floor(pos)
    frac = pos - lo
    if frac == 0.0 or lo + 1 >= len(ordered):
        return ordered[lo]
    return ordered[lo] + frac * (ordered[lo + 1] - ordered[lo])
