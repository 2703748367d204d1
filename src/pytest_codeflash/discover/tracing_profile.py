"""Tracing before Python 3.12 at C speed: cProfile's profiler after the first calls.

Before 3.12 a Python-level trace hook runs for every Python frame that starts, traced or not,
which makes a test run about 1.6 to 2 times slower before it has recorded anything.  So the
thread that runs the tests alternates between two phases:

- an *exact* phase, with the ``sys.settrace`` hook of :mod:`.tracing_events` (calls, times,
  inputs, exactly).  Each test starts in one, and so does each test's call phase
  (:meth:`FastPhases.rearm`); it lasts while functions that still need inputs start (fewer
  than ``needed`` starts seen exactly), and ends ``frames`` frame starts after the last of
  them, as soon as no traced call is running (its end would go unseen);
- a *fast* phase, with the C profiler of :mod:`cProfile` (``_lsprof``) and no Python-level
  hook: at the end of each test its figures are added to the traced functions' (calls, own
  and total time, and the test), and the profiler starts afresh.  The profiler runs only
  inside *windows* (:meth:`FastPhases.window`): the fixtures' set-up, the test's call and
  its teardown, where the user's code runs.  pytest's own work around them (hooks,
  reports, the terminal) costs nothing; on a suite of many short tests it is most of the
  calls there are.

Own time (time not spent in other traced functions) comes from the profiler's call graph:
a function's time in untraced callees counts as its own, except the share of the callees'
time that they spend in traced functions.  The profiler counts a generator's resumptions
as calls: a generator's calls in a fast phase are estimated from its starts per activation
in the exact phases.  Standard library only.
"""

from __future__ import annotations

import _lsprof
import sys
import threading
import types
from collections.abc import Callable
from typing import Any

from .tracing_records import TargetTrace, TracerState

# An exact phase ends this many frame starts after it began or after its last start of a
# function that needs inputs (and as soon after as no traced call is running).
EXACT_FRAMES = 100
_NS = 1e9  # the profiler reports seconds


class FastPhases:
    """The tests' thread: exact phases (Python-level hook), fast phases (C-level profiler).

    :param tracer: the tracer: its traced code objects, its running test, and its set of
        threads in a fast phase (this one, then).
    :param needed: starts a function must be seen exactly before it stops extending the
        exact phase (its inputs are sampled from those).
    :param frames: how long an exact phase lasts after the last such start.
    :param windows: the profiler runs only inside windows (see :meth:`window`); without,
        in every fast phase.
    """

    def __init__(
        self, tracer: TracerState, needed: int, frames: int = EXACT_FRAMES, windows: bool = False
    ) -> None:
        self.tracer = tracer
        self.by_code = tracer._by_code
        self.fast_threads = tracer._fast_threads
        self.needed = needed
        self.frames = frames
        self.hook: Any = None  # the exact phase's sys.settrace function
        self.fast = False
        self._thread = threading.get_ident()
        self._reset: Callable[[], None] = lambda: None
        self._profiler = _lsprof.Profiler()
        self._used = False
        self._enabled = False  # our profiler is installed (not paused, not displaced)
        self._orphans: list[Any] = []  # profilers another tool displaced: never freed
        self._windowed = windows
        self._windows = 0 if windows else 1  # open windows: the profiler runs inside one

    def install(self, on_start: Any, on_resume: Any, on_leave: Any) -> Any:
        """Make and return the exact phase's trace hook (the caller sets it)."""
        self.hook, self._reset = switching_trace_function(
            on_start, on_resume, on_leave, self, self.frames, self.needed
        )
        return self.hook

    def to_fast(self, caller: types.FrameType | None) -> bool:
        """Hand the thread to the profiler, unless a traced call is still running.

        :param caller: the frame below the one starting now.
        """
        frame, lookup = caller, self.by_code.get
        while frame is not None:
            if lookup(frame.f_code) is not None:
                return False
            frame = frame.f_back
        if sys.gettrace() not in (self.hook, None) or sys.getprofile() is not None:
            return False  # another tool's hook: leave it alone
        sys.settrace(None)
        if self._windows:
            self._enable()
        self.fast = True
        self.fast_threads.add(self._thread)
        return True

    def window(self, opening: bool) -> None:
        """Open (or close) a window in which the fast phase's profiler runs: user code
        (fixtures, the test, its teardown) runs inside one, pytest's own work outside."""
        if not self._windowed or threading.get_ident() != self._thread:
            return
        if opening:
            self._windows += 1
            if self._windows == 1:
                self.resume()
        elif self._windows:
            self._windows -= 1
            if not self._windows:
                self.pause()

    def skip_exact(self) -> None:
        """Hand the thread to the profiler now, if it is in an exact phase (a test starts:
        its set-up is counted, and the exact phase waits for its call phase)."""
        if not self.fast:
            self.to_fast(sys._getframe(1))

    def pause(self) -> bool:
        """Stop the profiler until :meth:`resume` (pytest reports a test's phase)."""
        current: Any = sys.getprofile()
        if not self.fast or current is not self._profiler:
            return False
        self._profiler.disable()
        self._enabled = False
        return True

    def resume(self) -> None:
        if self.fast and self._windows and sys.getprofile() is None and sys.gettrace() is None:
            self._enable()

    def _enable(self) -> None:
        self._profiler.enable(subcalls=True, builtins=False)
        self._enabled = self._used = True

    def rearm(self) -> None:
        """Start an exact phase (a test, or its call phase, begins)."""
        self._stop_profiler()
        if sys.gettrace() is None:
            sys.settrace(self.hook)
        self._reset()

    def end_test(self, test: str) -> None:
        """Add what the profiler saw since the last call to the traces, as ``test``'s."""
        self._stop_profiler()
        if self._used:
            absorb(self._profiler.getstats(), self.by_code, test)
            self._profiler = _lsprof.Profiler()
            self._used = False

    def stop(self, test: str) -> None:
        self.end_test(test)
        if sys.gettrace() is self.hook:
            sys.settrace(None)

    def _stop_profiler(self) -> None:
        if not self.fast:
            return
        self.fast = False
        self.fast_threads.discard(self._thread)
        current: Any = sys.getprofile()  # _lsprof installs itself as the profile object
        if current is self._profiler:
            self._profiler.disable()
            self._enabled = False
            return
        if not self._enabled:  # paused outside a window, or never started: nothing to undo
            return
        # A test replaced the profile hook: disabling (or freeing) our profiler would remove
        # theirs.  Take its figures so far, and keep the object.
        self._enabled = False
        absorb(self._profiler.getstats(), self.by_code, self.tracer.current_test)
        self._orphans.append(self._profiler)
        self._profiler = _lsprof.Profiler()
        self._used = False


def switching_trace_function(
    on_start: Any, on_resume: Any, on_leave: Any, phases: FastPhases, frames: int, needed: int
) -> tuple[Any, Callable[[], None]]:
    """The exact phase's ``sys.settrace`` hook, and a function that restarts its countdown.

        :func:`.tracing_events.trace_function`, plus a countdown of frame starts: a start of a
        function with fewer than ``needed`` exact starts sets it back to ``frames``; at zero,
        the next frame that starts (unless it is such a function) hands the thread to the
        profiler, which sees that frame start (the interpreter calls the profile hook after the
    trace hook).
    """
    lookup = phases.by_code.get
    left = frames

    def local(frame: types.FrameType, event: str, arg: object) -> Any:
        if event == "return":
            on_leave(frame.f_code, 0, arg)
        return local

    def trace(frame: types.FrameType, event: str, arg: object) -> Any:
        nonlocal left
        code = frame.f_code
        found = lookup(code)
        left -= 1
        if found is None:
            if left <= 0:
                left = frames if phases.to_fast(frame.f_back) else frames // 4
            return None
        resumed = found.resumable and frame.f_lasti > found.start_offset
        if found.calls - found.fast_calls < needed:
            left = frames
        elif left <= 0:
            if phases.to_fast(frame.f_back):
                left = frames  # the profiler, enabled now, sees this frame start too
                return None
            left = frames // 4
        if resumed:
            on_resume(code, 0)
        else:
            on_start(code, 0)
        if found.sampled:
            return None
        frame.f_trace_lines = False
        return local

    def reset() -> None:
        nonlocal left
        left = frames

    return trace, reset


def absorb(stats: list[Any], by_code: dict[types.CodeType, TargetTrace], test: str) -> None:
    """Add the profiler's figures (``getstats()``) for the traced functions to their traces."""
    lookup = by_code.get
    entries: dict[Any, Any] | None = None
    shares: dict[Any, float] = {}
    for entry in stats:
        trace = lookup(entry.code)
        if trace is None:
            continue
        own = entry.inlinetime
        for sub in entry.calls or ():
            if lookup(sub.code) is not None:
                continue
            if entries is None:
                entries = {e.code: e for e in stats}
            own += sub.totaltime * (1.0 - _traced_share(sub.code, entries, lookup, shares))
        calls = entry.callcount
        if trace.resumable:
            calls = _starts(trace, calls)
        trace.calls += calls
        trace.fast_calls += calls
        trace.own_ns += max(0, int(own * _NS))
        trace.total_ns += int(entry.totaltime * _NS)
        if test:
            trace.tests.add(test)


def _traced_share(
    code: Any, entries: dict[Any, Any], lookup: Any, shares: dict[Any, float], depth: int = 0
) -> float:
    """The share of an untraced function's time spent in traced functions, from its callees.

    The profiler keeps one level of the call graph: like gprof, this assumes a callee's
    time is spent the same way whoever calls it.
    """
    known = shares.get(code)
    if known is not None:
        return known
    entry = entries.get(code)
    if entry is None or entry.totaltime <= 0 or not entry.calls or depth > 50:
        return 0.0
    shares[code] = 0.0  # a cycle in the call graph counts as untraced
    inside = 0.0
    for sub in entry.calls:
        if lookup(sub.code) is not None:
            inside += sub.totaltime
        else:
            inside += sub.totaltime * _traced_share(sub.code, entries, lookup, shares, depth + 1)
    share: float = min(1.0, inside / entry.totaltime)
    shares[code] = share
    return share


def _starts(trace: TargetTrace, activations: int) -> int:
    """A generator's starts among ``activations``, from its exact starts and resumptions."""
    starts = trace.calls - trace.fast_calls
    seen = starts + trace.resumes
    if not seen or not activations:
        return activations
    return max(1, round(activations * starts / seen))
