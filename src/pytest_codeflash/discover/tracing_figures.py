"""The C profiler's figures, added to the traced functions' (before Python 3.12).

:func:`absorb_counts` takes the figures of the frame-evaluation counter
(:mod:`._evalcount`), where it runs.  :func:`absorb` takes ``_lsprof``'s statistics at the end
of a test: calls (scaled where a duty cycle stopped the profiler part of the time, see
:mod:`.tracing_profile`), own and total time, and the test.  :func:`profiler_call_cost_ns`
measures what the profiler adds to a call, which that scaling takes out.  Standard library
only.
"""

from __future__ import annotations

import _lsprof
import time
from typing import Any

from .tracing_records import ByCode, TargetTrace

_NS = 1e9  # the profiler reports seconds


def absorb(
    stats: list[Any],
    by_code: ByCode,
    test: str,
    scale: float = 1.0,
    seen_all: dict[Any, int] | None = None,
) -> None:
    """Add the profiler's figures (``getstats()``) for the traced functions to their traces,
    with its counts of calls multiplied by ``scale`` (it ran only part of the time), except
    the first ``seen_all[code]`` of a function's (made while it ran all the time)."""
    lookup = by_code.get
    entries: dict[int, Any] | None = None  # by id(code), as by_code
    shares: dict[int, float] = {}
    for entry in stats:
        trace = lookup(id(entry.code))
        if trace is None:
            continue
        own = entry.inlinetime
        for sub in entry.calls or ():
            if lookup(id(sub.code)) is not None:
                continue
            if entries is None:
                entries = {id(e.code): e for e in stats}
            own += sub.totaltime * (1.0 - _traced_share(id(sub.code), entries, lookup, shares))
        calls = entry.callcount
        if scale != 1.0:
            exact = min(calls, seen_all.get(entry.code, 0)) if seen_all else 0
            calls = exact + round((calls - exact) * scale)
        if trace.resumable:
            calls = _starts(trace, calls)
        trace.calls += calls
        trace.fast_calls += calls
        trace.own_ns += max(0, int(own * _NS))
        trace.total_ns += int(entry.totaltime * _NS)
        if test:
            trace.tests.add(test)


def absorb_counts(rows: list[tuple[Any, int, int, int]], by_code: ByCode, test: str) -> None:
    """Add the figures of :mod:`._evalcount` (``take()``: code, starts, own and total time in
    nanoseconds) to the traced functions' traces, as ``test``'s.  Its starts are exact (a
    generator's resumptions are not among them, nothing is scaled), and each could have its
    inputs sampled: none counts as a fast phase's call."""
    lookup = by_code.get
    for code, calls, own_ns, total_ns in rows:
        trace = lookup(id(code))
        if trace is None:
            continue
        trace.calls += calls
        trace.own_ns += max(0, own_ns)
        trace.total_ns += total_ns
        if test:
            trace.tests.add(test)


def _traced_share(
    key: int, entries: dict[int, Any], lookup: Any, shares: dict[int, float], depth: int = 0
) -> float:
    """The share of an untraced function's time spent in traced functions, from its callees
    (``key``: the ``id()`` of its code object).

    The profiler keeps one level of the call graph: like gprof, this assumes a callee's
    time is spent the same way whoever calls it.
    """
    known = shares.get(key)
    if known is not None:
        return known
    entry = entries.get(key)
    if entry is None or entry.totaltime <= 0 or not entry.calls or depth > 50:
        return 0.0
    shares[key] = 0.0  # a cycle in the call graph counts as untraced
    inside = 0.0
    for sub in entry.calls:
        sub_key = id(sub.code)
        if lookup(sub_key) is not None:
            inside += sub.totaltime
        else:
            inside += sub.totaltime * _traced_share(sub_key, entries, lookup, shares, depth + 1)
    share: float = min(1.0, inside / entry.totaltime)
    shares[key] = share
    return share


def _starts(trace: TargetTrace, activations: int) -> int:
    """A generator's starts among ``activations``, from its exact starts and resumptions."""
    starts = trace.calls - trace.fast_calls
    seen = starts + trace.resumes
    if not seen or not activations:
        return activations
    return max(1, round(activations * starts / seen))


def profiler_call_cost_ns(calls: int = 2000) -> float:
    """What the profiler adds to one call of a trivial Python function (best of three)."""

    def nothing() -> None:
        return None

    clock, best = time.perf_counter_ns, float("inf")
    for _ in range(3):
        began = clock()
        for _ in range(calls):
            nothing()
        plain = clock() - began
        profiler = _lsprof.Profiler()
        profiler.enable(subcalls=True, builtins=False)
        began = clock()
        for _ in range(calls):
            nothing()
        profiled = clock() - began
        profiler.disable()
        best = min(best, (profiled - plain) / calls)
    return max(0.0, best)
