"""Profile the user's own test run: per traced function, its calls, times, tests and inputs.

For each traced function it records the number of calls; own and total wall time (own
excludes time spent in other traced functions, total counts a recursive function once); CPU
time; the node ids of the tests during which it ran, directly or through other code; and a
bounded, uniform (reservoir) sample of its inputs, each ``pickle.dumps(((args...),
{kwargs}))`` (``self``/``cls`` first for methods) as ``runner/calls.py:load_args`` reads it;
inputs that cannot be pickled are counted in ``samples_skipped``.

Times are measured two ways.  A function's first ``SAMPLED_AFTER`` activations are measured
exactly, from the events at their start and end (CPU time with the thread's CPU clock on a
share of them, so that the clock costs at most ~5 % of the function's time).  After that the
function is in *sampled mode*: only its starts are seen (calls, tests and inputs stay exact),
and a sampler thread charges its time from looking at the threads' stacks every
millisecond, as a statistical profiler does.  Rarely run functions, where one event costs
little, keep exact times; the frequent ones, where events would cost most, cost almost
nothing after their first few hundred activations.

Python 3.12+ uses ``sys.monitoring`` with local events (start, resume, return, yield) on the
traced code objects only, so other code runs at full speed; unwinding and ``throw()`` are
global events, filtered by code object.  Older versions count the tests' thread with the
frame-evaluation counter of :mod:`.tracing_counter` where it was built (no hook at all), or
with the phases of :mod:`.tracing_profile`; other threads use ``sys.settrace`` with the same
filter (called only when a Python frame starts; traced frames get a return-only local hook),
or ``sys.setprofile`` when another tracer (coverage.py, a debugger) already holds
``sys.settrace``.  Each thread keeps its own stack of active calls.  A function's code
object is looked up once its module has been imported, and must come from the discovered
file.  The counter aside, standard library only: this runs inside every traced test.
"""

from __future__ import annotations

import base64
import inspect
import os
import random
import sys
import threading
import time
import types
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .fork_guard import resume_after_fork
from .tracing_counter import CountedPhases
from .tracing_events import (
    Sampler,
    calibrate,
    cpu_clock_budget,
    handlers,
    local_events,
    profile_function,
    start_monitoring,
    stop_monitoring,
    trace_function,
)
from .tracing_profile import FastPhases
from .tracing_records import ByCode, TargetTrace
from .tracing_support import (
    arguments,
    bounded_dumps,
    code_of,
    evaluation_counter,
    merge_samples,
    real_path,
    refused_by_pickle,
    reservoir_skip,
    start_offset,
)

if TYPE_CHECKING:
    from .tracing_cache import Kept

__all__ = ["TargetTrace", "Tracer"]

MAX_SAMPLE_BYTES = 1 << 20  # one pickled input
MAX_FUNCTION_SAMPLE_BYTES = 8 << 20  # all inputs of one function
MAX_TOTAL_SAMPLE_BYTES = 256 << 20  # all inputs of the run, in one process
# Keeping inputs may cost a function at most this share of its time, after a first allowance.
SAMPLE_COST_SHARE = 0.05
SAMPLE_COST_FREE_NS = 250_000
# After this many calls in a row whose inputs could not be kept (refused at a glance, or
# pickle failed), a function's calls are tried less and less often: 2, 4, ... up to
# 2 ** REFUSED_BACKOFF_LOG2 calls apart (a success resets it).  Such a function usually gets
# the same kind of argument each time; a failure costs about as much as a success, and
# before 3.12 even a glance costs a call into Python (see .tracing_counter).
REFUSED_BEFORE_BACKOFF = 5
REFUSED_BACKOFF_LOG2 = 5
_RESUMABLE = inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR
_RESOLVE_ATTEMPTS = 3


class Tracer:
    """Trace the given functions during the test run, attributing calls to the running test.

    :param targets: ``(module, qualname)`` pairs.
    :param files: qualified name -> the file the function must come from (checked when
        its code object is looked up), for the functions whose file is known.
    :param max_samples: inputs kept per function.
    :param profiler: before Python 3.12, hand the tests' thread to the C profiler between
        exact phases (see :mod:`.tracing_profile`); otherwise every call is seen exactly.
    :param windows: the profiler runs only inside :meth:`window` contexts (the session opens
        them where the user's code runs); otherwise whenever a fast phase runs.
    :param duty: with windows, the profiler runs only part of the time inside one, and the
        sampler measures the rest; calls there are estimated (see :mod:`.tracing_profile`).
    :param counter: before 3.12, count the tests' thread with the frame-evaluation counter
        of :mod:`.tracing_counter` where it was built (no hook at all, every call exact),
        rather than with the exact phases and the profiler.
    """

    def __init__(
        self,
        targets: Iterable[tuple[str, str]],
        *,
        files: Mapping[str, os.PathLike[str] | str] | None = None,
        max_samples: int = 64,
        seed: int = 0,
        profiler: bool = True,
        windows: bool = False,
        duty: bool = False,
        counter: bool = True,
    ) -> None:
        files = files or {}
        self.traces: dict[str, TargetTrace] = {}
        self._pending: dict[str, list[TargetTrace]] = {}
        for module, qualname in targets:
            name = f"{module}.{qualname}"
            path = files.get(name)
            trace = TargetTrace(module, qualname, real_path(os.fspath(path)) if path else None)
            self.traces[name] = trace
            self._pending.setdefault(module, []).append(trace)
        self.current_test = ""
        self.max_samples = max_samples
        # Before 3.12, exact starts after which a function has all the inputs it will get.
        self.needed = max(4, max_samples // 4)
        # From the last run (see settle()): test -> the traced functions it called.
        self._called_before: dict[str, tuple[TargetTrace, ...]] | None = None
        self._arm = True  # this test's call starts an exact phase
        self.inputs_reused = 0  # functions whose inputs the last run kept
        self.tests_exact = 0  # tests whose calls were seen exactly (an exact phase, before 3.12)
        self._by_code: ByCode = {}  # id(code) -> record
        self._stacks: dict[int, list[list[Any]]] = {}
        self._rng = random.Random(seed)
        self._sample_bytes = 0
        self._tool: int | None = None
        self._hook: Any = None  # the sys.settrace or sys.setprofile function, before 3.12
        self._active = False
        self._sampler = Sampler(self)
        self._fast_threads: set[int] = set()
        self._phases: FastPhases | CountedPhases | None = None
        self._use_counter = counter
        self._use_profiler = profiler and sys.version_info < (3, 12)
        self._windows = windows
        self._duty = duty
        # The windows (see window()): how many are open, since when, in which thread, and
        # the time spent in those closed so far.
        self.windows_open = 0
        self.window_since = 0
        self.window_thread: int | None = None
        self.window_ns = 0

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        """Start recording (idempotent)."""
        if self._active:
            return
        self._active = True
        budget = cpu_clock_budget()
        bias = calibrate(self, budget)
        self._sampler.start()
        if sys.version_info >= (3, 12):
            if start_monitoring(self, *handlers(self, budget, 1, bias)):
                return
        events = handlers(self, budget, 2, bias)
        if sys.gettrace() is None:  # nobody traces (coverage.py, a debugger): the cheaper hook
            self._hook = trace_function(*events, self._by_code)
            threading.settrace(self._hook)
            phases = self._use_profiler and sys.getprofile() is None
            counter = evaluation_counter() if phases and self._use_counter else None
            if counter is not None:  # no hook in this thread at all
                self._phases = CountedPhases(self, counter, windows=self._windows)
                for trace in self._by_code.values():
                    self._phases.watch(trace)
            elif phases:
                self._phases = FastPhases(
                    self,
                    needed=self.needed,
                    windows=self._windows,
                    duty=self._duty,
                )
                sys.settrace(self._phases.install(*events))
            else:
                sys.settrace(self._hook)
        else:
            self._hook = profile_function(*events, self._by_code)
            sys.setprofile(self._hook)
            threading.setprofile(self._hook)

    def stop(self) -> None:
        """Stop recording; calls still running in other threads are no longer seen."""
        if not self._active:
            return
        self._active = False
        self._sampler.stop()
        if self._phases is not None:
            self._phases.stop(self.current_test)
            threading.settrace(None)  # type: ignore[arg-type]
            self._phases = None
        elif self._tool is not None:
            stop_monitoring(self._tool, self._by_code.values())
            self._tool = None
        elif sys.gettrace() is self._hook:
            sys.settrace(None)
            threading.settrace(None)  # type: ignore[arg-type]
        elif sys.getprofile() is self._hook:
            sys.setprofile(None)
            threading.setprofile(None)  # type: ignore[arg-type]
        self._hook = None
        for trace in self.traces.values():
            if not trace.calls and trace.total_ns:  # seen only by the sampler (a duty cycle)
                trace.calls = 1
        self._by_code.clear()  # threads that still call our hooks find nothing to record
        self._stacks.clear()

    def refresh(self) -> None:
        """Look up the code objects of functions whose module has been imported meanwhile.

        Called before each test; it also restarts a sampler that a fork stopped.
        """
        if self._active:
            resume_after_fork()
        for module_name in [m for m in self._pending if m in sys.modules]:
            module = sys.modules[module_name]
            waiting = [t for t in self._pending[module_name] if not self._resolve(t, module)]
            if waiting:
                self._pending[module_name] = waiting
            else:
                del self._pending[module_name]

    def begin_test(self, nodeid: str) -> None:
        """A test starts: look up newly imported functions, attribute what follows to it."""
        self.refresh()
        self.current_test = nodeid
        if self._phases is not None and not self._phases.exact:
            self._phases.skip_exact()
            self._arm = self._needs_exact(nodeid)
            self.tests_exact += self._arm
        else:  # every call is seen exactly
            self.tests_exact += 1

    def rearm(self) -> None:
        """See the next calls exactly, to sample their inputs (before 3.12, with the profiler).

        Called when a test's call phase starts; nothing happens if the last run showed that
        the test calls no function that still needs inputs (see :meth:`settle`).
        """
        if self._phases is not None and self._arm:
            self._phases.rearm()

    def settle(self, kept: Mapping[str, Kept], called: Mapping[str, list[str]]) -> None:
        """Start from what the last runs learned (see :mod:`.tracing_cache`).

        :param kept: function -> its inputs and exact starts so far, for the functions whose
            file is unchanged; once they are all it will get (``complete``), no more of its
            inputs are sampled.
        :param called: test -> the functions it called, for the tests whose file is
            unchanged: only a test that calls one still lacking inputs (or one not listed)
            starts an exact phase.
        """
        for name, previous in kept.items():
            trace = self.traces.get(name)
            if trace is None:
                continue
            trace.samples = list(previous.inputs[: self.max_samples])
            self._sample_bytes += sum(len(s) for s in trace.samples)
            trace.credit, trace.runs = previous.exact, previous.runs
            if previous.complete:
                trace.settled = True
                trace.credit = max(trace.credit, self.needed)
                trace.next_sample = 1 << 62
                self.inputs_reused += 1
        traces = self.traces
        self._called_before = {
            test: tuple(traces[n] for n in names if n in traces) for test, names in called.items()
        }

    def _needs_exact(self, test: str) -> bool:
        called = None if self._called_before is None else self._called_before.get(test)
        if called is None:  # a test the last run did not see, or whose file changed since
            return True
        needed = self.needed
        return any(t.calls - t.fast_calls + t.credit < needed for t in called)

    def paused(self) -> _Paused:
        """A context in which the profiler does not run (pytest's own reporting, before
        3.12): what runs there is not counted, and costs nothing."""
        return _Paused(self._phases)

    def window(self) -> _Window:
        """A context in which the user's code runs (fixtures, a test's call, its teardown):
        before 3.12, the fast phase's profiler runs only inside one; and outside every
        window the sampler leaves the thread that opens them alone (see :class:`Sampler`)."""
        return _Window(self)

    def end_test(self) -> None:
        """The test ends: what the profiler counted since it started is the test's."""
        if self._phases is not None:
            self._phases.end_test(self.current_test)
        self.current_test = ""

    def _resolve(self, trace: TargetTrace, module: types.ModuleType) -> bool:
        """Bind ``trace`` to its code object; ``True`` when done (found or given up)."""
        trace.attempts += 1
        code = code_of(module, trace.qualname, trace.file)
        if code is None or id(code) in self._by_code:
            return code is not None or trace.attempts >= _RESOLVE_ATTEMPTS
        trace.code = code
        trace.resumable = bool(code.co_flags & _RESUMABLE)
        if self._tool is None and trace.resumable:  # only a resumable frame starts again
            trace.start_offset = start_offset(code)  # (sys.monitoring tells them apart)
        self._by_code[id(code)] = trace
        if isinstance(self._phases, CountedPhases):
            self._phases.watch(trace)
        if self._tool is not None:
            monitoring = sys.monitoring  # type: ignore[attr-defined]
            monitoring.set_local_events(self._tool, code, local_events())
        return True

    def to_sampled(self, trace: TargetTrace) -> None:
        """From now on, see only ``trace``'s starts and leave its time to the sampler."""
        trace.sampled = True
        if self._tool is not None and trace.code is not None:
            monitoring = sys.monitoring  # type: ignore[attr-defined]
            monitoring.set_local_events(self._tool, trace.code, monitoring.events.PY_START)

    # -- inputs ---------------------------------------------------------------------------
    def sample(
        self, trace: TargetTrace, frame: types.FrameType | Mapping[str, Any], calls: int = -1
    ) -> None:
        """Maybe keep the inputs of the call that ``frame`` just started (or of the call
        whose arguments are the mapping ``frame``; ``calls``: its starts so far, this one
        included, if ``trace.calls`` does not count them yet).

        Until ``max_samples`` different inputs are kept, calls are tried at a rate that falls
        slowly with the number of calls (repeated inputs do not fill the sample); after that,
        a call replaces a random kept input with probability ``max_samples / calls``, with
        geometric skips in between (reservoir sampling).  Either way the pickling cost grows
        with the logarithm of the number of calls; and once it passes
        ``SAMPLE_COST_SHARE`` of the function's time (after ``SAMPLE_COST_FREE_NS``), calls
        are passed over until the function's time catches up.
        """
        calls = trace.calls if calls < 0 else calls
        if trace.sample_cost_ns > SAMPLE_COST_FREE_NS + SAMPLE_COST_SHARE * trace.total_ns:
            trace.next_sample = calls + 1 + calls // 8
            return
        began = time.perf_counter_ns()
        k = self.max_samples
        if len(trace.samples) < k:
            slot = -1
            trace.next_sample = calls + 1 + calls // (4 * k)
        else:
            slot = self._rng.randrange(k)
            trace.next_sample = calls + 1 + reservoir_skip(self._rng, k / calls)
        pickled = self._keep(trace, frame, slot)
        if pickled:
            trace.refused = 0
        else:  # refused (at a glance, or pickle failed): its next inputs likely are too
            trace.refused += 1
            if trace.refused >= REFUSED_BEFORE_BACKOFF:
                skip = 1 << min(trace.refused - REFUSED_BEFORE_BACKOFF + 1, REFUSED_BACKOFF_LOG2)
                trace.next_sample = max(trace.next_sample, calls + 1 + skip)
        cost = time.perf_counter_ns() - began
        trace.sample_cost_ns += cost
        stack = self._stacks.get(threading.get_ident())
        if stack:  # the caller's own time does not include the pickling
            stack[-1][3] += cost

    def _keep(
        self, trace: TargetTrace, frame: types.FrameType | Mapping[str, Any], slot: int
    ) -> bool | None:
        """Pickle the call's inputs into the sample (at ``slot``, or added).  ``True`` when
        they pickled; when they cannot (counted in ``samples_skipped``), ``False`` if pickle
        had to try, ``None`` if it was plain at a glance (it cost next to nothing)."""
        if isinstance(frame, types.FrameType):
            inputs = arguments(frame.f_code, frame.f_locals)
        elif trace.code is not None:
            inputs = arguments(trace.code, frame)
        else:
            return None
        if refused_by_pickle(inputs):
            trace.samples_skipped += 1
            return None
        held = sum(len(s) for s in trace.samples)
        budget = min(MAX_SAMPLE_BYTES, MAX_FUNCTION_SAMPLE_BYTES - held)
        budget = min(budget, MAX_TOTAL_SAMPLE_BYTES - self._sample_bytes)
        try:
            data = bounded_dumps(inputs, budget)
        except Exception:  # unpicklable, too large, or a failing __reduce__
            trace.samples_skipped += 1
            return False
        if data in trace.samples:
            return True
        if 0 <= slot < len(trace.samples):
            self._sample_bytes -= len(trace.samples[slot])
            trace.samples[slot] = data
        else:
            trace.samples.append(data)
        self._sample_bytes += len(data)
        return True

    # -- results --------------------------------------------------------------------------
    def export(self) -> dict[str, dict[str, Any]]:
        """Plain JSON-safe data (inputs in base64), for xdist workers to send to the controller."""
        return {
            name: {
                "module": t.module,
                "qualname": t.qualname,
                "found": t.code is not None,
                "calls": t.calls,
                "own_ns": t.own_ns,
                "total_ns": t.total_ns,
                "cpu_ns": t.cpu_ns,
                "cpu_wall_ns": t.cpu_wall_ns,
                "tests": sorted(t.tests),
                "samples": [base64.b64encode(s).decode("ascii") for s in t.samples],
                "samples_skipped": t.samples_skipped,
            }
            for name, t in self.traces.items()
            if t.calls or t.code is not None
        }

    def merge(self, data: Mapping[str, Mapping[str, Any]]) -> None:
        """Add what another process (an xdist worker) recorded."""
        for name, item in data.items():
            trace = self.traces.get(name)
            if trace is None:
                module, _, qualname = name.rpartition(".")
                trace = TargetTrace(
                    str(item.get("module", module)), str(item.get("qualname", qualname))
                )
                self.traces[name] = trace
            theirs = [base64.b64decode(s) for s in item.get("samples", ())]
            trace.samples = merge_samples(
                trace.samples, trace.calls, theirs, int(item.get("calls", 0)), self.max_samples
            )
            for key in ("calls", "own_ns", "total_ns", "cpu_ns", "cpu_wall_ns", "samples_skipped"):
                setattr(trace, key, getattr(trace, key) + int(item.get(key, 0)))
            trace.tests.update(item.get("tests", ()))


class _Paused:
    """Pauses the fast phase's profiler, if it runs, and starts it again on leaving."""

    __slots__ = ("phases", "was")

    def __init__(self, phases: FastPhases | CountedPhases | None) -> None:
        self.phases = phases
        self.was = False

    def __enter__(self) -> None:
        if self.phases is not None:
            self.was = self.phases.pause()

    def __exit__(self, *exc: object) -> None:
        if self.was and self.phases is not None:
            self.phases.resume()


class _Window:
    """Opens a window: for the fast phase's profiler, if there are fast phases, and for the
    sampler."""

    __slots__ = ("tracer",)

    def __init__(self, tracer: Tracer) -> None:
        self.tracer = tracer

    def __enter__(self) -> None:
        tracer = self.tracer
        tracer.windows_open += 1
        if tracer.windows_open == 1:
            tracer.window_thread = threading.get_ident()
            tracer.window_since = time.perf_counter_ns()
        if tracer._phases is not None:
            tracer._phases.window(True)

    def __exit__(self, *exc: object) -> None:
        tracer = self.tracer
        if tracer.windows_open:
            tracer.windows_open -= 1
            if not tracer.windows_open:
                tracer.window_ns += time.perf_counter_ns() - tracer.window_since
        if tracer._phases is not None:
            tracer._phases.window(False)
