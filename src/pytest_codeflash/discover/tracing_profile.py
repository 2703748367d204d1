"""Tracing before Python 3.12 at C speed, where :mod:`._evalcount` was not built (else see
:mod:`.tracing_counter`): cProfile's profiler after the first calls.

Before 3.12 a Python-level trace hook runs for every Python frame that starts, traced or not,
which makes a test run about 1.6 to 2 times slower before it has recorded anything.  So the
thread that runs the tests alternates between two phases:

- an *exact* phase, with the ``sys.settrace`` hook of :mod:`.tracing_events` (calls, times,
  inputs, exactly).  Each test's call phase starts one (:meth:`FastPhases.rearm`; its
  set-up runs in a fast phase, :meth:`FastPhases.skip_exact`), unless the last run showed
  that the test calls no function that still needs inputs (see :mod:`.tracing_cache`); it
  lasts while such functions start (fewer than ``needed`` starts seen exactly, counting
  earlier runs'), and ends ``frames`` frame starts after the last of them, as soon as no
  traced call is running (its end would go unseen), or when the test's call ends (its
  window closes: pytest's reporting follows);
- a *fast* phase, with the C profiler of :mod:`cProfile` (``_lsprof``) and no Python-level
  hook: at the end of each test its figures are added to the traced functions' (calls, own
  and total time, and the test), and the profiler starts afresh.  The profiler runs only
  inside *windows* (:meth:`FastPhases.window`): the fixtures' set-up, the test's call and
  its teardown, where the user's code runs.  pytest's own work around them (hooks, reports,
  the terminal) costs nothing; on a suite of many short tests it is most of the calls.

Even in a window the profiler costs: while any hook is set, these Pythons run every
instruction on their slow path, and a test body full of calls runs about twice as long.  So,
with a *duty cycle* (in the main thread), a window's profiler runs for ``DUTY_ON_NS``, then
stops for as long as keeps it to ``DUTY_SHARE`` of the time, and so on.  While it is stopped
no hook runs at all: the sampler thread charges the time it sees to the traced functions on
the thread's stack (total time to each, own time to the innermost, and the running test to
all), and it is also the sampler that turns the profiler off and on again, through
:func:`.tracing_support.call_in_main_thread`, or the thread itself when pytest reports a
subtest (:meth:`FastPhases.resume`): a thread that writes often keeps the sampler waiting.
The profiler's counts of calls in a test are scaled by the time its windows were open over
the time it ran in them, as ``perf`` scales a multiplexed counter.  Short tests (most
tests) run with the profiler throughout.  With a duty cycle, a long traced call no longer
holds the exact phase to its end: after ``HANDOVER_AFTER`` tries it is handed over to the
sampler (see :meth:`FastPhases.to_fast`), and so is an exact phase that has lasted
``EXACT_MAX_NS`` (a loop that starts no frame never gives it a try).

Own time (time not spent in other traced functions) comes from the profiler's call graph:
a function's time in untraced callees counts as its own, except the share of the callees'
time that they spend in traced functions.  The profiler counts a generator's resumptions as
calls: its calls in a fast phase are estimated from its starts per activation in the exact
phases.  Standard library only.
"""

from __future__ import annotations

import _lsprof
import functools
import os
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator
from typing import Any

from .tracing_exact import switching_trace_function
from .tracing_figures import absorb, profiler_call_cost_ns
from .tracing_records import TracerState
from .tracing_support import call_in_main_thread, can_call_in_main_thread

# An exact phase ends this many frame starts after it began or after its last start of a
# function that needs inputs (and as soon after as no traced call is running).
EXACT_FRAMES = 100
# With a duty cycle, an exact phase that could not end this many times (every quarter of
# EXACT_FRAMES frame starts) because a traced call was running hands that call over: the
# exact phase sees the calls of a long traced call for a while (their inputs), not to its end.
# Before 3.11 the trace hook costs about twice the profiler (every instruction looks up its
# line), so there a long call is handed over about 200 frame starts past the last input.
HANDOVER_AFTER = 400 if sys.version_info >= (3, 11) else 8
# With a duty cycle, an exact phase that has lasted this long is handed over by the sampler:
# a long loop that starts few frames (a sieve) would otherwise keep the trace hook, and the
# interpreter's slow path, for as long as it runs, since a phase only ends at a frame start.
EXACT_MAX_NS = 50_000_000
# The duty cycle: inside a window the profiler runs at least this long at a time ...
DUTY_ON_NS = 2_000_000
# ... and then stays off until it has run for about this share of the window's time.
DUTY_SHARE = 0.1


def _guarded(method: Callable[..., Any]) -> Callable[..., Any]:
    """A method during which a queued switch of the duty cycle does nothing."""

    @functools.wraps(method)
    def run(self: FastPhases, *args: Any, **kwargs: Any) -> Any:
        self._busy += 1
        try:
            return method(self, *args, **kwargs)
        finally:
            self._busy -= 1

    return run


class FastPhases:
    """The tests' thread: exact phases (Python-level hook), fast phases (C-level profiler).

    :param tracer: the tracer: its traced code objects, its running test, and its set of
        threads in a fast phase (this one, then).
    :param needed: starts a function must be seen exactly before it stops extending the
        exact phase (its inputs are sampled from those).
    :param frames: how long an exact phase lasts after the last such start.
    :param windows: the profiler runs only inside windows (see :meth:`window`); without,
        in every fast phase.
    :param duty: inside a window, the profiler runs only part of the time, and the sampler
        measures the rest (with windows, in the main thread only; see the module's text).
    """

    exact = False  # exact phases see only the starts of some tests (see rearm)

    def __init__(
        self,
        tracer: TracerState,
        needed: int,
        frames: int = EXACT_FRAMES,
        windows: bool = False,
        duty: bool = False,
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
        self._duty = (
            duty
            and windows
            and self._thread == threading.main_thread().ident
            and can_call_in_main_thread()
        )
        # When the duty cycle stopped the profiler in an open window (perf_counter_ns), or 0:
        # the sampler charges the thread's time to what is on its stack since then.
        self.quiet_since = 0
        self._on_since = 0  # when the profiler last started
        self._period_since = 0  # ... and when it last started after being off a while
        self._paused_quiet = False  # paused (pytest reports) while the duty cycle had it off
        self._rest_since = 0  # when the duty cycle last stopped it
        self._on_ns = DUTY_ON_NS  # how long it ran before it last stopped
        self._asked = False  # a switch is queued for the main thread
        self._refusals = 0  # times this exact phase could not end, for a traced call running
        self._exact_since = 0  # when this exact phase began (perf_counter_ns), or 0
        self.switches = 0  # times the duty cycle stopped or started the profiler
        self._profiled_ns = self._quiet_ns = 0  # in this test's windows, with a duty cycle
        self._call_cost_ns = -1.0  # the profiler's cost per call it sees, once measured
        # Frames of traced calls that were counted but whose end nobody will see (handed over
        # from an exact phase, or running when the duty cycle switched the profiler): id ->
        # code.  The sampler measures the rest of their time, as time, not as more calls, and
        # forgets those no longer on the stack (no frame is kept alive).
        self.handed: dict[int, types.CodeType] = {}
        self._on_leave: Any = None
        self._pid = os.getpid()
        self._busy = 0  # in one of our own methods: a switch now would catch it half done
        self._blocked = False  # another tool's hook is in the way: no switching in this window
        # The profiler's counts at the duty cycle's first stop in this test, and its time so
        # far: calls until then were all seen, only those after it are scaled.
        self._first_counts: dict[Any, int] | None = None
        self._first_ns = 0
        self._first_running: dict[Any, int] = {}  # traced calls running then: one call each

    def install(self, on_start: Any, on_resume: Any, on_leave: Any) -> Any:
        """Make and return the exact phase's trace hook (the caller sets it)."""
        self._on_leave = on_leave
        self.hook, self._reset = switching_trace_function(
            on_start, on_resume, on_leave, self, self.frames, self.needed
        )
        return self.hook

    @_guarded
    def to_fast(self, caller: types.FrameType | None) -> bool:
        """Hand the thread to the profiler.  Unless there is a duty cycle, not while a
        traced call is still running (its end would go unseen); with one, such calls are
        *handed over*: their time so far is theirs, the sampler measures the rest.

        :param caller: the frame below the one starting now.
        """
        traced = self._traced_frames(caller)
        first = next(traced, None)  # to refuse, one is enough: the rest of the walk waits
        if first is not None and (not self._duty or self._refusals < HANDOVER_AFTER):
            self._refusals += 1
            return False
        running = [] if first is None else [first, *traced]  # handed over (a duty cycle)
        if sys.gettrace() not in (self.hook, None) or sys.getprofile() is not None:
            return False  # another tool's hook: leave it alone
        if running:
            stack = self.tracer._stacks.get(self._thread)
            while stack:  # end their exact measurement here, innermost first
                size = len(stack)
                self._on_leave(stack[-1][0].code, 0, None)
                if len(stack) == size:
                    stack.pop()
            for frame in running:
                self.handed[id(frame)] = frame.f_code
        sys.settrace(None)
        self.fast = True
        self._exact_since = 0
        self.fast_threads.add(self._thread)
        if self._windows:
            self._enable()
        return True

    @_guarded
    def window(self, opening: bool) -> None:
        """Open (or close) a window in which the fast phase's profiler runs: user code
        (fixtures, the test, its teardown) runs inside one, pytest's own work outside.  An
        exact phase ends when its window closes."""
        if not self._windowed or threading.get_ident() != self._thread:
            return
        if opening:
            self._windows += 1
            if self._windows == 1:
                self._paused_quiet = self._blocked = False
                self.resume(fresh=True)
        elif self._windows:
            self._windows -= 1
            if not self._windows:
                if not self.fast:  # pytest's own work follows: nothing to see exactly there
                    self.to_fast(sys._getframe(1))
                self.pause()
                self.handed.clear()
                self._paused_quiet = False

    def skip_exact(self) -> None:
        """Hand the thread to the profiler now, if it is in an exact phase (a test starts:
        its set-up is counted, and the exact phase waits for its call phase)."""
        if not self.fast:
            self.to_fast(sys._getframe(1))

    @_guarded
    def pause(self) -> bool:
        """Stop the profiler until :meth:`resume` (pytest reports a test's phase)."""
        if self.quiet_since:  # the duty cycle had stopped it: so it stays after resume()
            self._end_quiet()
            self._paused_quiet = True
            return True
        current: Any = sys.getprofile()
        if not self.fast or current is not self._profiler:
            return False
        self._disable()
        return True

    @_guarded
    def resume(self, fresh: bool = False) -> None:
        """Start the profiler again after :meth:`pause`, or in a window that opens
        (``fresh``); with a duty cycle, where it was stopped, leave it so."""
        if not self.fast or not self._windows:
            return
        if self._paused_quiet:
            self._paused_quiet = False
            self.quiet_since = time.perf_counter_ns()
            if self._due(self.quiet_since):  # its rest is over: start it here
                self._flip()
        elif sys.getprofile() is None and sys.gettrace() is None:
            if not fresh and self._due(time.perf_counter_ns(), running=True):
                self._flip(paused=True)  # it ran its share: it stays stopped from here
            else:
                self._enable(fresh)

    def _enable(self, period: bool = True) -> None:
        """Start our profiler (``period``: a new period of the duty cycle too), last: no
        Python function may start after it in a queued call (see :meth:`_switch`)."""
        self._enabled = self._used = True
        self._end_quiet()
        if self._duty:
            self._on_since = time.perf_counter_ns()
            if period:
                self._period_since = self._on_since
        self._profiler.enable(subcalls=True, builtins=False)

    def _disable(self) -> None:
        """Stop our profiler (the thread's profile hook now)."""
        self._profiler.disable()
        self._enabled = False
        if self._duty:
            self._profiled_ns += time.perf_counter_ns() - self._on_since

    def _end_quiet(self) -> None:
        if self.quiet_since:
            self._quiet_ns += time.perf_counter_ns() - self.quiet_since
            self.quiet_since = 0

    def _scale(self, stats: list[Any]) -> tuple[float, dict[Any, int]]:
        """How to scale the profiler's counts of calls in this test: the counts at the duty
        cycle's first stop stay (the profiler saw every call until then); those after it are
        multiplied by the time since over the time the profiler ran since, less its own cost
        for the calls it saw (as ``perf`` scales a multiplexed counter)."""
        first, first_ns = self._first_counts or {}, self._first_ns
        profiled, quiet = self._profiled_ns - first_ns, self._quiet_ns
        if profiled <= 0:  # it never ran again after its first stop: scale all it saw ...
            first, profiled = self._first_running, self._profiled_ns  # ... that had ended
        self._profiled_ns = self._quiet_ns = self._first_ns = 0
        self._first_counts = None
        self._first_running = {}
        if profiled <= 0 or quiet <= 0:
            return 1.0, first
        if self._call_cost_ns < 0 and sys.getprofile() is None:
            self._call_cost_ns = profiler_call_cost_ns()
        seen: int = sum(entry.callcount - first.get(entry.code, 0) for entry in stats)
        worked = max(profiled - seen * max(0.0, self._call_cost_ns), profiled / 5)
        return float((worked + quiet) / worked), first

    # -- the duty cycle ---------------------------------------------------------------------
    def tick(self, now: int) -> None:
        """The sampler thread looks (``now``, perf_counter_ns): time to stop or start the
        profiler?  The switch itself runs in the main thread, between two bytecodes.  (The
        main thread also switches by itself when pytest reports a subtest, see
        :meth:`resume`: a thread busy with input and output keeps the sampler waiting.)"""
        if self._asked or not self._windows:
            return
        if self.fast:
            due, action = self._due(now), self._switch
        else:  # an exact phase: one that has lasted too long is handed over
            since = self._exact_since
            due = self._duty and not self._blocked and 0 < since <= now - EXACT_MAX_NS
            action = self._hand_over
        if not due:
            return
        self._asked = True
        if not call_in_main_thread(action):
            self._duty = self._asked = False

    def _hand_over(self) -> None:
        """Run by the main thread between two bytecodes: end an exact phase that has lasted
        ``EXACT_MAX_NS``, handing the traced calls still running to the sampler."""
        try:
            if self._busy or self.fast or not self._windows or os.getpid() != self._pid:
                return
            self._refusals = max(self._refusals, HANDOVER_AFTER)
            self.to_fast(sys._getframe(1))
        finally:
            self._asked = False  # last (see _switch)

    def _due(self, now: int, running: bool = False) -> bool:
        """Whether the duty cycle stops (or starts) the profiler at ``now``; ``running``:
        count it as running (it is only paused for a report)."""
        if not self._duty or self._blocked:
            return False
        if self.quiet_since:
            rest = self._on_ns * (1.0 - DUTY_SHARE) / DUTY_SHARE
            return now - self._rest_since >= rest
        return (running or self._enabled) and now - self._period_since >= DUTY_ON_NS

    def _switch(self) -> None:
        """Run by the main thread between two bytecodes: stop or start the profiler.

        The sampler may ask again only once this has returned: on 3.11, a Python function
        that starts under a hook while another such call waits loops forever (its RESUME
        checks for pending calls, which cannot run inside one), so none may be queued until
        this ends, and the profiler starts last (see :meth:`_enable`)."""
        try:
            if self._busy or not self.fast or not self._windows or os.getpid() != self._pid:
                return  # half-way through our own method, or a forked child: leave it
            if self._due(time.perf_counter_ns()):  # (unless the thread switched by itself)
                self._flip()
        finally:
            self._asked = False

    def _flip(self, paused: bool = False) -> None:
        """Stop the running profiler (``paused``: it is stopped already, for pytest's
        report, and stays so), or start it again after its rest."""
        first_stop = False
        starting = bool(self.quiet_since)
        if starting:
            if sys.getprofile() is not None or sys.gettrace() is not None:
                self._blocked = True  # another tool's hook: not ours to displace
                return
        elif paused or (self._enabled and self._profiler_installed()):
            if not paused:
                self._disable()  # it counts the calls still running as ended here
            now = time.perf_counter_ns()
            self._on_ns = max(DUTY_ON_NS, now - self._period_since)
            self.quiet_since = self._rest_since = now
            first_stop = self._first_counts is None
            if first_stop:
                self._first_counts = {e.code: e.callcount for e in self._profiler.getstats()}
                self._first_ns = self._profiled_ns
        else:
            self._blocked = True
            return
        self.switches += 1
        # Calls running now: counted (or not) by the profiler, which will not see them end.
        running: dict[Any, int] = {}
        for frame in self._traced_frames(sys._getframe(1)):
            self.handed[id(frame)] = frame.f_code
            running[frame.f_code] = running.get(frame.f_code, 0) + 1
        if first_stop:  # one call each, even if the profiler does not run again in the test
            self._first_running = running
        if starting:
            self._enable()  # last (see _enable)

    def _profiler_installed(self) -> bool:
        current: Any = sys.getprofile()  # _lsprof installs itself as the profile object
        return current is self._profiler

    def _traced_frames(self, frame: types.FrameType | None) -> Iterator[types.FrameType]:
        """The frames of traced functions from ``frame`` down, innermost first."""
        lookup = self.by_code.get
        while frame is not None:
            if lookup(id(frame.f_code)) is not None:
                yield frame
            frame = frame.f_back

    @_guarded
    def rearm(self) -> None:
        """Start an exact phase (a test, or its call phase, begins)."""
        self._stop_profiler()
        self._refusals = 0
        self._exact_since = time.perf_counter_ns()
        if sys.gettrace() is None:
            sys.settrace(self.hook)
        self._reset()

    @_guarded
    def end_test(self, test: str) -> None:
        """Add what the profiler saw since the last call to the traces, as ``test``'s."""
        self._stop_profiler()
        if self._used:
            stats = self._profiler.getstats()
            absorb(stats, self.by_code, test, *self._scale(stats))
            self._profiler = _lsprof.Profiler()
            self._used = False
        else:
            self._scale([])

    def stop(self, test: str) -> None:
        self.end_test(test)
        if sys.gettrace() is self.hook:
            sys.settrace(None)

    @_guarded
    def _stop_profiler(self) -> None:
        self._end_quiet()
        self.handed.clear()
        self._paused_quiet = False
        if not self.fast:
            return
        self.fast = False
        self.fast_threads.discard(self._thread)
        current: Any = sys.getprofile()  # _lsprof installs itself as the profile object
        if current is self._profiler:
            self._disable()
            return
        if not self._enabled:  # paused outside a window, or never started: nothing to undo
            return
        # A test replaced the profile hook: disabling (or freeing) our profiler would remove
        # theirs.  Take its figures so far, and keep the object.
        self._enabled = False
        stats = self._profiler.getstats()
        absorb(stats, self.by_code, self.tracer.current_test, *self._scale(stats))
        self._orphans.append(self._profiler)
        self._profiler = _lsprof.Profiler()
        self._used = False
