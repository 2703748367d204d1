"""Tracing before Python 3.12 with no hook at all in the tests' thread: the counter.

Before 3.12, any trace or profile hook (``sys.settrace``, cProfile's ``_lsprof``) makes the
interpreter run every instruction of every frame on its slow path; 3.11 also gives up its
specialized instructions.  A test body full of calls then runs about twice as long, whatever
the hook does.  The frame-evaluation counter of :mod:`._evalcount` (a small C extension,
built at install time where a compiler is found) sees the traced functions' frames start
and end through the interpreter's frame-evaluation function (PEP 523) instead, which costs
one C call per frame and nothing per instruction:

- every start of a traced function in the tests' thread is counted, exactly, with its own
  and total time (own: not in other traced functions), and each test's figures are taken at
  its end (:meth:`CountedPhases.end_test`), with the test;
- the inputs are sampled as the exact hook samples them (:meth:`.Tracer.sample`): the
  counter reports the starts the sampler asks for, with the arguments' values;
- the CPU share of each function comes from the sampler thread, as in a fast phase.

So there are no exact phases, no duty cycle, and no estimate: the counts are exact in every
test.  Other threads are traced by the Python-level hook as before.  Where the counter was
not built (no compiler, not CPython), :class:`.tracing_profile.FastPhases` does this work
with cProfile's profiler.  Standard library only.
"""

from __future__ import annotations

import threading
import types
from typing import Any

from .tracing_figures import absorb_counts
from .tracing_records import TargetTrace, TracerState

# A countdown the counter takes as "never report this function's starts again".
NEVER = 0
# A trace whose next sample is this far away is never sampled again (settled by the cache).
_FAR = 1 << 61


class CountedPhases:
    """The tests' thread, counted by :mod:`._evalcount` (the phases' interface of
    :class:`.tracing_profile.FastPhases`, with a single phase).

    :param tracer: the tracer: its traced code objects, its running test, its sampling.
    :param counter: the started :mod:`._evalcount` module.
    :param windows: count only inside windows (see :meth:`window`); otherwise always.
    """

    exact = True  # every start in every test is seen (no exact phases to arm)
    fast = True
    quiet_since = 0  # the sampler's view (see Sampler): never quiet, nothing handed over

    def __init__(self, tracer: TracerState, counter: Any, windows: bool = False) -> None:
        self.tracer = tracer
        self.counter = counter
        self._thread = threading.get_ident()
        self._windowed = windows
        self._windows = 0
        self._counting = False
        self.handed: dict[int, types.CodeType] = {}  # (always empty)
        counter.report_to(self._report)
        tracer._fast_threads.add(self._thread)  # the sampler learns CPU shares, as in fast
        if not windows:
            self._count(True)

    def watch(self, trace: TargetTrace) -> None:
        """Count ``trace``'s function (its code object is known now)."""
        if trace.code is not None:
            self.counter.watch(trace.code, self._countdown(trace, trace.calls))

    @staticmethod
    def _countdown(trace: TargetTrace, calls: int) -> int:
        if trace.next_sample >= _FAR:
            return NEVER
        return max(1, trace.next_sample - calls)

    def _report(self, code: types.CodeType, pending: int, values: tuple[Any, ...]) -> int:
        """Called by the counter at a start it was asked to report (with the starts it has
        counted since its figures were last taken, this one included, and the arguments):
        sample its inputs; return the starts until the next report."""
        try:
            trace = self.tracer._by_code.get(id(code))
            if trace is None:
                return NEVER
            calls = trace.calls + pending
            if calls < trace.next_sample:
                return self._countdown(trace, calls)
            self.tracer.sample(trace, dict(zip(code.co_varnames, values, strict=False)), calls)
            return self._countdown(trace, calls)
        except Exception:  # never the tests' problem: this function is no longer sampled
            return NEVER

    def _count(self, on: bool) -> None:
        if on != self._counting:
            self._counting = on
            self.counter.count(on)

    # -- the interface of FastPhases -------------------------------------------------------
    def install(self, on_start: Any, on_resume: Any, on_leave: Any) -> None:
        """No hook for this thread (the tracer sets none)."""
        return None

    def rearm(self) -> None:
        """No exact phase to start: every call is counted."""

    def skip_exact(self) -> None:
        """No exact phase to end."""

    def tick(self, now: int) -> None:
        """No duty cycle to switch."""

    def window(self, opening: bool) -> None:
        """Count inside windows only (the user's code), in the tests' thread."""
        if not self._windowed or threading.get_ident() != self._thread:
            return
        if opening:
            self._windows += 1
            self._count(True)
        elif self._windows:
            self._windows -= 1
            if not self._windows:
                self._count(False)

    def pause(self) -> bool:
        """Stop counting until :meth:`resume` (pytest reports); whether it was counting."""
        was = self._counting
        self._count(False)
        return was

    def resume(self) -> None:
        if self._windows or not self._windowed:
            self._count(True)

    def end_test(self, test: str) -> None:
        """What the counter saw since the last test ended is ``test``'s."""
        absorb_counts(self.counter.take(), self.tracer._by_code, test)

    def stop(self, test: str) -> None:
        self.end_test(test)
        self._count(False)
        self.counter.stop()
        self.tracer._fast_threads.discard(self._thread)
