"""The event handlers of :mod:`.tracing`: the code that runs on every traced call.

``sys.monitoring`` callbacks (Python 3.12+), or a ``sys.settrace`` or ``sys.setprofile`` hook
before, the calibration of their own cost, and the switch of cheap, frequent functions to
counting only.  Standard library only.
"""

from __future__ import annotations

import sys
import threading
import time
import types
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .tracing import TargetTrace, Tracer

_TOOL_NAME = "pytest-codeflash"
CPU_CLOCK_SHARE = 0.05  # at most this share of a function's time goes to reading the CPU clock
# A function is measured call by call until it has run this often; then, if its activations
# are cheap and uniform, it is only counted and its times are extrapolated (see ``saturate``).
SATURATE_ACTIVATIONS = 1000
SATURATE_CALLS = 50
CHEAP_ACTIVATION_NS = 50_000
UNIFORM_FACTOR = 10  # the longest activation may take this many times the mean ...
UNIFORM_FLOOR_NS = 20_000_000  # ... or this long (a descheduled activation can take ~10 ms)


# -- the hot path ------------------------------------------------------------------------------


def handlers(
    tracer: Tracer, cpu_budget: int, frame_depth: int, bias: tuple[int, int] = (0, 0)
) -> tuple[Any, Any, Any]:
    """The event handlers, ``sys.monitoring`` style: a call starts, resumes, or leaves.

    Closures over local names with their bodies inlined, since they run for every call of
    every traced function.  A stack entry is ``[trace, wall start, CPU start or -1, wall time
    of traced callees]``.  ``frame_depth`` is how far up the started frame is from
    ``on_start`` (1 when called by ``sys.monitoring``, 2 from the trace or profile hook).
    ``bias`` is the handlers' own cost inside and outside a measured activation's window
    (see ``calibrate``), taken out of the activation's own time and put into the caller's.
    """
    inside, outside = bias
    stacks, lookup, get_ident = tracer._stacks, tracer._by_code.get, threading.get_ident
    wall, cpu, getframe = time.perf_counter_ns, time.thread_time_ns, sys._getframe
    free = 4 * cpu_budget  # the first calls of every function are measured
    disable = getattr(getattr(sys, "monitoring", None), "DISABLE", None)

    def on_start(code: types.CodeType, offset: int) -> Any:
        trace = lookup(code)
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
        stack = stacks.get(get_ident())
        if stack is None:
            stack = stacks[get_ident()] = []
        if not trace.depth and trace.activations >= SATURATE_ACTIVATIONS:
            saturate(tracer, trace)
        if trace.saturated:
            if not trace.resumable:  # a generator counts its activations when they end
                trace.own_ns += trace.mean_own_ns
                trace.total_ns += trace.mean_total_ns
                if stack:  # its traced callees add their own time to the caller themselves
                    stack[-1][3] += trace.mean_own_ns + outside
            return None
        trace.depth += 1
        trace.activations += 1
        if trace.cpu_probes * cpu_budget <= trace.total_ns + free:
            stack.append([trace, wall(), cpu(), 0])
        else:
            stack.append([trace, wall(), -1, 0])
        return None

    def on_resume(code: types.CodeType, offset: int, *exception: object) -> None:
        trace = lookup(code)
        if trace is None or trace.saturated:
            return
        if not trace.depth and trace.activations >= SATURATE_ACTIVATIONS:
            saturate(tracer, trace)  # a long-lived generator: counted by its yields from now
            if trace.saturated:
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
        trace = lookup(code)
        if trace is None:
            return
        stack = stacks.get(get_ident())
        if trace.saturated:
            if trace.resumable:  # one activation of a generator ended (yield or return)
                trace.own_ns += trace.mean_own_ns
                trace.total_ns += trace.mean_total_ns
                if stack:
                    stack[-1][3] += trace.mean_own_ns + outside
            return
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
        if own > trace.longest_ns:
            trace.longest_ns = own
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


def calibrate(tracer: Tracer, cpu_budget: int) -> tuple[int, int]:
    """The handlers' cost that lands inside a measured activation, and outside it.

    Times start/leave pairs of a dummy function through the real handlers (without the
    interpreter's dispatch, which is a little more), best of five rounds of 200: the
    dummy's own time per pair is the cost inside, the rest of the pair's time the cost
    outside.  Activations are never counted below zero.
    """
    from .tracing import TargetTrace

    code = calibrate.__code__
    dummy = TargetTrace("", "", code=code, next_sample=1 << 62)
    dummy.activations = -(1 << 62)
    saved_test, tracer.current_test = tracer.current_test, ""
    tracer._by_code[code] = dummy
    try:
        on_start, _, on_leave = handlers(tracer, cpu_budget, 1)
        for _ in range(20):  # warm-up
            on_start(code, 0)
            on_leave(code, 0, None)
        dummy.cpu_probes = 1 << 40  # no CPU clock reads, as for most cheap calls
        best_inside = best_pair = 1 << 62
        for _ in range(5):  # the least disturbed of five rounds
            dummy.own_ns = 0
            began = time.perf_counter_ns()
            for _ in range(200):
                on_start(code, 0)
                on_leave(code, 0, None)
            best_pair = min(best_pair, (time.perf_counter_ns() - began) // 200)
            best_inside = min(best_inside, dummy.own_ns // 200)
    finally:
        del tracer._by_code[code]
        tracer._stacks.clear()
        tracer.current_test = saved_test
    return best_inside, max(0, best_pair - best_inside)


def saturate(tracer: Tracer, trace: TargetTrace) -> None:
    """From now on only count ``trace``'s activations, if they were cheap and uniform.

    Frequent functions with little own time per activation (and generators that yield
    often) are where tracing costs most relative to what it measures.  Once one has been
    measured over ``SATURATE_ACTIVATIONS`` activations in ``SATURATE_CALLS`` calls, with at
    most ``CHEAP_ACTIVATION_NS`` of own time per activation on average and none much longer
    than that average, each later activation adds the measured means to its own and total
    time (and its own time to the caller's time in traced callees; its traced callees add
    theirs themselves).  ``sys.monitoring`` then delivers only the start events of a
    function, and the start, yield and return events of a generator: no resumes, and no
    returns of plain functions.  A function that does not qualify stays measured call by
    call.
    """
    measured = trace.activations
    if not trace.resumable and trace.calls - 1 < SATURATE_CALLS:
        return  # a generator's extrapolation counts its yields, whatever its calls
    mean_own = trace.own_ns // measured
    longest = max(UNIFORM_FACTOR * mean_own, UNIFORM_FLOOR_NS)
    if mean_own > CHEAP_ACTIVATION_NS or trace.longest_ns > longest:
        trace.activations = -(1 << 62)  # never asked again
        return
    trace.saturated = True
    trace.activations = -(1 << 62)  # never asked again
    trace.mean_own_ns = mean_own
    trace.mean_total_ns = trace.total_ns // measured
    if tracer._tool is not None and trace.code is not None:
        monitoring = sys.monitoring  # type: ignore[attr-defined]
        wanted = monitoring.events.PY_START
        if trace.resumable:
            wanted |= monitoring.events.PY_YIELD | monitoring.events.PY_RETURN
        monitoring.set_local_events(tracer._tool, trace.code, wanted)


def profile_function(
    on_start: Any, on_resume: Any, on_leave: Any, by_code: dict[types.CodeType, TargetTrace]
) -> Any:
    """The ``sys.setprofile`` hook: one dict lookup for code that is not traced."""
    lookup = by_code.get

    def profile(frame: types.FrameType, event: str, arg: object) -> None:
        code = frame.f_code
        trace = lookup(code)
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


def trace_function(
    on_start: Any, on_resume: Any, on_leave: Any, by_code: dict[types.CodeType, TargetTrace]
) -> Any:
    """The ``sys.settrace`` hook, used before 3.12 when no other tracer is installed.

    Cheaper than the profile hook: the interpreter calls it only when a Python frame starts
    or resumes (not for calls of builtins, nor when frames return), and a traced frame gets
    a local hook that sees its return only (line events are switched off).  A function that
    is only counted (see ``saturate``) gets no local hook at all, unless it is a generator,
    whose yields are counted.
    """
    lookup = by_code.get

    def local(frame: types.FrameType, event: str, arg: object) -> Any:
        if event == "return":
            on_leave(frame.f_code, 0, arg)
        return local

    def trace(frame: types.FrameType, event: str, arg: object) -> Any:
        code = frame.f_code
        found = lookup(code)
        if found is None:
            return None
        if found.resumable and frame.f_lasti > found.start_offset:
            on_resume(code, 0)
        else:
            on_start(code, 0)
        if found.saturated and not found.resumable:
            return None
        frame.f_trace_lines = False
        return local

    return trace


def local_events() -> int:
    events = sys.monitoring.events  # type: ignore[attr-defined]
    return int(events.PY_START | events.PY_RESUME | events.PY_RETURN | events.PY_YIELD)


def start_monitoring(tracer: Tracer, on_start: Any, on_resume: Any, on_leave: Any) -> bool:
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
    for code in tracer._by_code:
        monitoring.set_local_events(tool, code, local_events())
    return True


def stop_monitoring(tool: int, codes: Iterable[types.CodeType]) -> None:
    monitoring = sys.monitoring  # type: ignore[attr-defined]
    monitoring.set_events(tool, 0)
    for code in codes:
        monitoring.set_local_events(tool, code, 0)
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
