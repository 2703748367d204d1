"""The event handlers of :mod:`.tracing`: the code that runs on every traced call.

``sys.monitoring`` callbacks (Python 3.12+), or a ``sys.settrace`` or ``sys.setprofile`` hook
before, the calibration of their own cost, and the hand-over of frequently run functions to
the statistical :class:`Sampler`.  Standard library only.
"""

from __future__ import annotations

import _thread
import os
import sys
import threading
import time
import types
from collections.abc import Iterable
from typing import Any

from . import fork_guard
from .tracing_records import ByCode, TargetTrace, TracerState
from .tracing_support import thread_cpu_ns, window_time

_TOOL_NAME = "pytest-codeflash"
CPU_CLOCK_SHARE = 0.05  # at most this share of a function's time goes to reading the CPU clock
# A function is measured activation by activation (exactly, events in and out) this many
# times; after that only its starts are seen (calls, tests, inputs) and the sampler measures
# its time.  Tracing costs most in functions that run often; sampling costs them nothing.
SAMPLED_AFTER = 500
SAMPLE_INTERVAL_S = 0.001  # the sampler looks this often, at most ...
SAMPLER_SHARE = 0.01  # ... and spends at most about this share of the time looking,
SAMPLE_PAUSE_MAX_S = 0.25  # ... but waits no longer than this (a slow look may be a one-off)
# Between the windows where the user's code runs (pytest's own work, most of the time in a
# suite of short tests) the sampler looks this seldom: each look takes the interpreter from
# the tests' thread, which on a virtual machine can cost it a millisecond.
SAMPLE_IDLE_S = 0.05
_OWN_FILES = frozenset(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), name)
    for name in ("tracing.py", "tracing_counter.py", "tracing_events.py", "tracing_support.py")
)


# -- the hot path ------------------------------------------------------------------------------


def handlers(
    tracer: TracerState, cpu_budget: int, frame_depth: int, bias: tuple[int, int] = (0, 0)
) -> tuple[Any, Any, Any]:
    """The event handlers, ``sys.monitoring`` style: a call starts, resumes, or leaves.

    Closures over local names with their bodies inlined, since they run for every call of
    every traced function.  A stack entry is ``[trace, wall start, CPU start or -1, wall time
    of traced callees]``.  ``frame_depth`` is how far up the started frame is from
    ``on_start`` (1 when called by ``sys.monitoring``, 2 from the trace or profile hook).
    ``bias`` is the handlers' own cost inside and outside a measured activation's window
    (see ``calibrate``), taken out of the activation's own time and put into the caller's.
    A function in sampled mode (see ``SAMPLED_AFTER``) only has its starts counted here.
    """
    inside, outside = bias
    stacks, lookup, get_ident = tracer._stacks, tracer._by_code.get, threading.get_ident
    wall, cpu, getframe = time.perf_counter_ns, time.thread_time_ns, sys._getframe
    free = 4 * cpu_budget  # the first calls of every function are measured
    disable = getattr(getattr(sys, "monitoring", None), "DISABLE", None)

    def on_start(code: types.CodeType, offset: int) -> Any:
        trace = lookup(id(code))
        if trace is None:
            return disable
        trace.calls += 1
        test = tracer.current_test
        if test is not trace.last_test:
            trace.last_test = test
            if test:
                trace.tests.add(test)
        if trace.calls >= trace.next_sample:
            tracer.sample(trace, getframe(frame_depth))
        if trace.sampled:
            return None
        if not trace.depth and trace.activations >= SAMPLED_AFTER:
            tracer.to_sampled(trace)
            return None
        stack = stacks.get(get_ident())
        if stack is None:
            stack = stacks[get_ident()] = []
        trace.depth += 1
        trace.activations += 1
        if trace.cpu_probes * cpu_budget <= trace.total_ns + free:
            stack.append([trace, wall(), cpu(), 0])
        else:
            stack.append([trace, wall(), -1, 0])
        return None

    def on_resume(code: types.CodeType, offset: int, *exception: object) -> None:
        trace = lookup(id(code))
        if trace is None:
            return
        trace.resumes += 1
        if trace.sampled:
            return
        if not trace.depth and trace.activations >= SAMPLED_AFTER:
            tracer.to_sampled(trace)  # a long-lived generator: sampled from now on
            return
        stack = stacks.get(get_ident())
        if stack is None:
            stack = stacks[get_ident()] = []
        trace.depth += 1
        trace.activations += 1
        if trace.cpu_probes * cpu_budget <= trace.total_ns + free:
            stack.append([trace, wall(), cpu(), 0])
        else:
            stack.append([trace, wall(), -1, 0])

    def on_leave(code: types.CodeType, offset: int, value: object) -> None:
        trace = lookup(id(code))
        if trace is None or trace.sampled:
            return
        stack = stacks.get(get_ident())
        if not stack:
            return
        if stack[-1][0] is not trace:  # left by an exception we did not see, or never entered
            if not any(entry[0] is trace for entry in stack):
                return
            while stack[-1][0] is not trace:
                inner = stack[-1][0]
                on_leave(inner.code, offset, value) if inner.code else stack.pop()
        entry = stack.pop()
        elapsed = wall() - entry[1] - inside
        if elapsed < 0:  # the calibrated cost is an estimate
            elapsed = 0
        own = elapsed - entry[3]
        if own < 0:
            own = 0
        trace.own_ns += own
        trace.depth -= 1
        if not trace.depth:
            trace.total_ns += elapsed
        if entry[2] >= 0:
            trace.cpu_ns += cpu() - entry[2]
            trace.cpu_wall_ns += elapsed
            trace.cpu_probes += 1
        if stack:
            stack[-1][3] += elapsed + outside

    return on_start, on_resume, on_leave


def calibrate(tracer: TracerState, cpu_budget: int) -> tuple[int, int]:
    """The handlers' cost that lands inside a measured activation, and outside it.

    Times start/leave pairs of a dummy function through the real handlers (without the
    interpreter's dispatch, which is a little more), best of three rounds of 100: the
    dummy's own time per pair is the cost inside, the rest of the pair's time the cost
    outside.  Activations are never counted below zero.
    """
    code = calibrate.__code__
    dummy = TargetTrace("", "", code=code, next_sample=1 << 62)
    dummy.activations = -(1 << 62)
    saved_test, tracer.current_test = tracer.current_test, ""
    tracer._by_code[id(code)] = dummy
    try:
        on_start, _, on_leave = handlers(tracer, cpu_budget, 1)
        for _ in range(20):  # warm-up
            on_start(code, 0)
            on_leave(code, 0, None)
        dummy.cpu_probes = 1 << 40  # no CPU clock reads, as for most cheap calls
        best_inside = best_pair = 1 << 62
        for _ in range(3):  # the least disturbed of three rounds
            dummy.own_ns = 0
            began = time.perf_counter_ns()
            for _ in range(100):
                on_start(code, 0)
                on_leave(code, 0, None)
            best_pair = min(best_pair, (time.perf_counter_ns() - began) // 100)
            best_inside = min(best_inside, dummy.own_ns // 100)
    finally:
        del tracer._by_code[id(code)]
        tracer._stacks.clear()
        tracer.current_test = saved_test
    return best_inside, max(0, best_pair - best_inside)


class Sampler:
    """Measure the time of sampled-mode functions by looking at every thread's stack.

    A background thread (a bare ``_thread``, so that ``threading.enumerate()`` in the user's
    tests does not see it) wakes every ``interval`` seconds, or as soon after as the
    interpreter lets it run, and charges the wall time since its last look (and each
    thread's CPU time, where the platform has per-thread CPU clocks) to the functions on
    each thread's stack: to the total time of every sampled-mode function on it, once even
    if it recurses, and to the own time of the innermost traced function if that one is
    sampled.  If the innermost traced function is sampled and an exactly measured one
    runs below it, that one's activation learns the time as time spent in a traced callee.
    Samples taken while the tracer's own code runs (pickling inputs) are dropped.
    """

    def __init__(self, tracer: TracerState, interval: float = SAMPLE_INTERVAL_S) -> None:
        self.tracer = tracer
        self.interval = interval
        self.samples = 0
        self._stop = _thread.allocate_lock()
        self._done = _thread.allocate_lock()
        self._running = False

    def start(self) -> None:
        if self._running:
            return
        self._running = True
        self._stop.acquire()
        self._done.acquire()
        _thread.start_new_thread(self._run, ())
        fork_guard.watch(self)

    def stop(self) -> None:
        if not self._running:
            return
        self._running = False
        self._stop.release()
        if self._done.acquire(timeout=5.0):
            self._done.release()

    def _run(self) -> None:
        me = _thread.get_ident()
        clocks: dict[int, int | None] = {}
        last_cpu: dict[int, int] = {}
        last = time.perf_counter_ns()
        last_window = 0  # the window time (see window_time) at the last look inside one
        pause = self.interval
        try:
            while not self._stop.acquire(timeout=pause):
                now, began = time.perf_counter_ns(), time.thread_time_ns()
                before, last = last, now
                tracer = self.tracer
                fast, phases = tracer._fast_threads, tracer._phases
                # The thread that opens windows, outside them: nothing of the user's runs.
                idle = tracer.window_thread if not tracer.windows_open else None
                frames = sys._current_frames()
                for ident, frame in frames.items():
                    if ident in (me, idle):
                        continue
                    elapsed = now - before
                    if ident == tracer.window_thread:  # the time in windows since its last look
                        in_windows = window_time(tracer, now)
                        elapsed, last_window = in_windows - last_window, in_windows
                    cpu = thread_cpu_ns(ident, clocks)
                    spent = -1 if cpu is None else cpu - last_cpu.get(ident, cpu)
                    if cpu is not None:
                        last_cpu[ident] = cpu
                    if ident in fast:
                        self._charge_cpu(frame, elapsed, spent)
                        if phases is not None and (phases.quiet_since or phases.handed):
                            since = max(phases.quiet_since, before)
                            self._charge_quiet(frame, now - since, phases)
                    else:
                        self._charge(ident, frame, elapsed, spent)
                if phases is not None:
                    phases.tick(now)
                self.samples += 1
                # Deep stacks cost more to look at: look less often rather than slow the tests.
                # (This thread's CPU time: its wall time includes waits for the interpreter.)
                cost = (time.thread_time_ns() - began) / 1e9
                pause = min(max(self.interval, cost / SAMPLER_SHARE), SAMPLE_PAUSE_MAX_S)
                if idle is not None and len(frames) <= 2:  # the tests' thread and this one
                    pause = max(pause, SAMPLE_IDLE_S)
            self._stop.release()
        finally:
            self._done.release()

    def _charge(self, ident: int, frame: types.FrameType | None, wall_ns: int, cpu_ns: int) -> None:
        lookup = self.tracer._by_code.get
        innermost: TargetTrace | None = None
        seen: list[TargetTrace] = []
        while frame is not None:
            code = frame.f_code
            if code.co_filename in _OWN_FILES:
                return
            trace = lookup(id(code))
            if trace is not None:
                if innermost is None:
                    innermost = trace
                if trace.sampled and not any(t is trace for t in seen):
                    seen.append(trace)
            frame = frame.f_back
        for trace in seen:
            trace.total_ns += wall_ns
        if innermost is None or not innermost.sampled:
            return
        innermost.own_ns += wall_ns
        if cpu_ns >= 0:
            innermost.cpu_ns += min(cpu_ns, wall_ns)
            innermost.cpu_wall_ns += wall_ns
        stack = self.tracer._stacks.get(ident)
        if stack:
            stack[-1][3] += wall_ns

    def _charge_quiet(self, frame: types.FrameType | None, wall_ns: int, phases: Any) -> None:
        """A thread with a duty cycle (see :mod:`.tracing_profile`).  While it has stopped
        the profiler, the time goes to the traced functions on the stack (total time, the
        running test) and the innermost one's own time; while the profiler runs, only to the
        calls handed over to the sampler, which the profiler does not see."""
        if wall_ns <= 0:
            return
        lookup, test, handed = self.tracer._by_code.get, self.tracer.current_test, phases.handed
        quiet = phases.quiet_since != 0
        seen: list[TargetTrace] = []
        on_stack: set[int] = set()
        innermost = True
        while frame is not None:
            code = frame.f_code
            if code.co_filename in _OWN_FILES:
                return
            trace = lookup(id(code))
            if trace is not None:
                on_stack.add(id(frame))
                if quiet or handed.get(id(frame)) is code:
                    if innermost:
                        trace.own_ns += wall_ns
                    if not any(t is trace for t in seen):
                        seen.append(trace)
                innermost = False
            frame = frame.f_back
        for key in [k for k in list(handed) if k not in on_stack]:
            handed.pop(key, None)  # returned (an id alone could soon be a later frame's)
        for trace in seen:
            trace.total_ns += wall_ns
            if test:
                trace.tests.add(test)

    def _charge_cpu(self, frame: types.FrameType | None, wall_ns: int, cpu_ns: int) -> None:
        """A thread whose times the profiler measures: only the CPU share of its innermost
        traced function is learnt here."""
        lookup = self.tracer._by_code.get
        while frame is not None and cpu_ns >= 0:
            code = frame.f_code
            if code.co_filename in _OWN_FILES:
                return
            trace = lookup(id(code))
            if trace is not None:
                trace.cpu_ns += min(cpu_ns, wall_ns)
                trace.cpu_wall_ns += wall_ns
                return
            frame = frame.f_back


def profile_function(on_start: Any, on_resume: Any, on_leave: Any, by_code: ByCode) -> Any:
    """The ``sys.setprofile`` hook: one dict lookup for code that is not traced."""
    lookup = by_code.get

    def profile(frame: types.FrameType, event: str, arg: object) -> None:
        code = frame.f_code
        trace = lookup(id(code))
        if trace is None:
            return
        if event == "call":
            if trace.resumable and frame.f_lasti > trace.start_offset:
                on_resume(code, 0)
            else:
                on_start(code, 0)
        elif event == "return":
            on_leave(code, 0, arg)

    return profile


def trace_function(on_start: Any, on_resume: Any, on_leave: Any, by_code: ByCode) -> Any:
    """The ``sys.settrace`` hook, used before 3.12 when no other tracer is installed.

    Cheaper than the profile hook: the interpreter calls it only when a Python frame starts
    or resumes (not for calls of builtins, nor when frames return), and a traced frame gets
    a local hook that sees its return only (line events are switched off).  A function in
    sampled mode gets no local hook at all.
    """
    lookup = by_code.get

    def local(frame: types.FrameType, event: str, arg: object) -> Any:
        if event == "return":
            on_leave(frame.f_code, 0, arg)
        return local

    def trace(frame: types.FrameType, event: str, arg: object) -> Any:
        code = frame.f_code
        found = lookup(id(code))
        if found is None:
            return None
        if found.resumable and frame.f_lasti > found.start_offset:
            on_resume(code, 0)
        else:
            on_start(code, 0)
        if found.sampled:
            return None
        frame.f_trace_lines = False
        return local

    return trace


def local_events() -> int:
    events = sys.monitoring.events  # type: ignore[attr-defined]
    return int(events.PY_START | events.PY_RESUME | events.PY_RETURN | events.PY_YIELD)


def start_monitoring(tracer: TracerState, on_start: Any, on_resume: Any, on_leave: Any) -> bool:
    monitoring = sys.monitoring  # type: ignore[attr-defined]
    for tool in range(5, 0, -1):  # ids 0-5 are free for tools; leave 0 to debuggers
        if monitoring.get_tool(tool) is None:
            monitoring.use_tool_id(tool, _TOOL_NAME)
            break
    else:
        return False
    events = monitoring.events
    callbacks = {
        events.PY_START: on_start,
        events.PY_RESUME: on_resume,
        events.PY_THROW: on_resume,
        events.PY_RETURN: on_leave,
        events.PY_YIELD: on_leave,
        events.PY_UNWIND: on_leave,
    }
    for event, callback in callbacks.items():
        monitoring.register_callback(tool, event, callback)
    # Unwinding and throw() cannot be local events: they are filtered by code object.
    monitoring.set_events(tool, events.PY_UNWIND | events.PY_THROW)
    tracer._tool = tool
    for trace in tracer._by_code.values():
        monitoring.set_local_events(tool, trace.code, local_events())
    return True


def stop_monitoring(tool: int, traces: Iterable[TargetTrace]) -> None:
    monitoring = sys.monitoring  # type: ignore[attr-defined]
    monitoring.set_events(tool, 0)
    for trace in traces:
        monitoring.set_local_events(tool, trace.code, 0)
    for name in ("PY_START", "PY_RESUME", "PY_THROW", "PY_RETURN", "PY_YIELD", "PY_UNWIND"):
        monitoring.register_callback(tool, getattr(monitoring.events, name), None)
    monitoring.free_tool_id(tool)


def cpu_clock_budget() -> int:
    """Nanoseconds of a function's time that pay for one measurement with the CPU clock."""
    began = time.perf_counter_ns()
    for _ in range(100):
        time.thread_time_ns()
    cost = max(1, (time.perf_counter_ns() - began) // 100)
    return int(2 * cost / CPU_CLOCK_SHARE)
