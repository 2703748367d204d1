"""Before Python 3.12: exact phases for inputs, the C profiler for counts and times after."""

from __future__ import annotations

import contextlib
import importlib
import pickle
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pytest_codeflash.discover import tracing_profile
from pytest_codeflash.discover.tracing import Tracer
from pytest_codeflash.discover.tracing_profile import FastPhases

MODULE = """\
import time


def leaf(n):
    return n + 1


def parent(n):
    total = 0
    for i in range(n):
        total += leaf(i)
    return total


def late(n):
    return n * 2


def spin(until):
    while time.perf_counter() < until:  # starts no frame: a C function
        pass
"""
NAMES = ("leaf", "parent", "late", "spin")
needs_profiler = pytest.mark.skipif(
    sys.version_info >= (3, 12), reason="3.12+ uses sys.monitoring, not the profiler"
)


@pytest.fixture
def mod(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[types.ModuleType]:
    (tmp_path / "phasemod.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("phasemod")
    yield module
    sys.modules.pop("phasemod", None)


def _tracer(module: types.ModuleType, profiler: bool = True, counter: bool = True) -> Tracer:
    files = {f"phasemod.{n}": str(module.__file__) for n in NAMES}
    return Tracer(
        [("phasemod", n) for n in NAMES],
        files=files,
        max_samples=8,
        profiler=profiler,
        counter=counter,
    )


def _filler(count: int) -> int:
    return sum(_one(i) for i in range(count))  # frame starts that are not traced


def _one(i: int) -> int:
    return i


def _run(tracer: Tracer, module: types.ModuleType) -> None:
    tracer.start()
    try:
        tracer.begin_test("t::first")
        tracer.rearm()
        for i in range(3000):
            module.leaf(i)
        module.parent(10)  # leaf runs inside: no profiler while a traced call runs
        tracer.end_test()
        tracer.begin_test("t::second")
        tracer.rearm()
        _filler(1000)  # the exact phase ends before ...
        module.late(1)  # ... this call, which only the profiler sees
        module.late(2)
        tracer.end_test()
    finally:
        tracer.stop()


@pytest.mark.parametrize(("profiler", "counter"), [(True, True), (True, False), (False, False)])
def test_counts_tests_and_inputs_are_exact(
    mod: types.ModuleType, profiler: bool, counter: bool
) -> None:
    tracer = _tracer(mod, profiler, counter)
    _run(tracer, mod)
    leaf, parent, late = (tracer.traces[f"phasemod.{n}"] for n in ("leaf", "parent", "late"))
    assert leaf.calls == 3010
    assert parent.calls == 1
    assert late.calls == 2
    assert leaf.tests == parent.tests == {"t::first"}
    assert late.tests == {"t::second"}
    assert 1 <= len(leaf.samples) <= 8
    assert all(pickle.loads(s)[0][0] in range(3000) for s in leaf.samples)
    assert parent.total_ns > 0
    assert leaf.total_ns > 0
    assert parent.own_ns > 0
    assert all(t.depth == 0 for t in tracer.traces.values())


@needs_profiler
def test_the_profiler_counts_after_the_first_calls(mod: types.ModuleType) -> None:
    tracer = _tracer(mod, counter=False)
    _run(tracer, mod)
    leaf, late = tracer.traces["phasemod.leaf"], tracer.traces["phasemod.late"]
    assert leaf.fast_calls > 2000  # most calls: the profiler's
    assert leaf.calls - leaf.fast_calls >= 2  # the first ones: exact, with inputs
    assert late.fast_calls == 2
    assert late.samples == []  # seen only by the profiler: no inputs


@needs_profiler
def test_another_tracer_keeps_its_hook(mod: types.ModuleType) -> None:
    def other(frame: types.FrameType, event: str, arg: object) -> None:
        return None

    sys.settrace(other)
    try:
        tracer = _tracer(mod)
        _run(tracer, mod)
        assert sys.gettrace() is other
    finally:
        sys.settrace(None)
    assert tracer.traces["phasemod.leaf"].calls == 3010
    assert tracer.traces["phasemod.leaf"].fast_calls == 0


@needs_profiler
def test_a_pause_leaves_the_profiler_off(mod: types.ModuleType) -> None:
    tracer = _tracer(mod)
    tracer.start()
    try:
        tracer.begin_test("t::paused")  # the set-up: the profiler counts
        mod.late(1)
        with tracer.paused():
            mod.late(2)  # pytest reporting: not counted
        mod.late(3)
        tracer.end_test()
    finally:
        tracer.stop()
    assert tracer.traces["phasemod.late"].calls == 2
    assert tracer.traces["phasemod.late"].tests == {"t::paused"}


@needs_profiler
def test_the_profiler_runs_only_inside_windows(mod: types.ModuleType) -> None:
    """In a session, pytest's own work between windows is not profiled: calls there go
    uncounted, those in a window (fixtures, the test's call, its teardown) are counted."""
    files = {f"phasemod.{n}": str(mod.__file__) for n in NAMES}
    tracer = Tracer(
        [("phasemod", n) for n in NAMES], files=files, max_samples=8, windows=True, counter=False
    )
    tracer.start()
    try:
        tracer.begin_test("t::only")
        tracer.rearm()
        _filler(1000)  # the exact phase ends here
        mod.late(1)  # outside any window: pytest's own work
        with tracer.window():
            mod.late(2)
            with tracer.window():  # nested: the fixture set-up inside the call
                mod.late(3)
            mod.late(4)
        mod.late(5)
        tracer.end_test()
    finally:
        tracer.stop()
    late = tracer.traces["phasemod.late"]
    assert late.calls == 3
    assert late.tests == {"t::only"}


@needs_profiler
def test_an_exact_phase_ends_with_its_window(mod: types.ModuleType) -> None:
    """pytest's reporting after a test's call runs without any hook: the exact phase that
    the call started ends when the call's window closes, not some frames later."""
    files = {f"phasemod.{n}": str(mod.__file__) for n in NAMES}
    tracer = Tracer(
        [("phasemod", n) for n in NAMES], files=files, max_samples=8, windows=True, counter=False
    )
    tracer.start()
    try:
        tracer.begin_test("t::only")
        with tracer.window():  # the call
            tracer.rearm()
            mod.late(1)  # seen exactly
            phases = tracer._phases
            assert phases is not None
            assert not phases.fast
        assert sys.gettrace() is None
        assert sys.getprofile() is None
        mod.late(2)  # pytest's reporting: not counted
        with tracer.window():  # the teardown
            mod.late(3)  # the profiler's
        tracer.end_test()
    finally:
        tracer.stop()
    late = tracer.traces["phasemod.late"]
    assert late.calls == 2
    assert late.fast_calls == 1
    assert len(late.samples) == 1


@needs_profiler
def test_windows_leave_no_profiler_behind(mod: types.ModuleType) -> None:
    """A profiler paused when its window closed is still ours at the end of the test: it is
    reused, never kept as one another tool displaced (a leak of one profiler per test)."""
    files = {f"phasemod.{n}": str(mod.__file__) for n in NAMES}
    tracer = Tracer(
        [("phasemod", n) for n in NAMES], files=files, max_samples=8, windows=True, counter=False
    )
    tracer.start()
    try:
        for index in range(20):
            tracer.begin_test(f"t::{index}")
            with tracer.window():  # the fixtures
                mod.late(index)
            tracer.rearm()
            _filler(1000)
            with tracer.window():  # the call
                mod.late(index)
            with tracer.window():  # the teardown
                mod.late(index)
            tracer.end_test()
        phases = tracer._phases
        assert isinstance(phases, FastPhases)
        assert phases._orphans == []
    finally:
        tracer.stop()
    assert tracer.traces["phasemod.late"].calls == 60


def test_another_thread_has_the_main_thread_run_a_function() -> None:
    from pytest_codeflash.discover.tracing_support import call_in_main_thread

    ran: list[str] = []
    queued: list[bool] = []

    def ask() -> None:
        queued.append(call_in_main_thread(lambda: ran.append(threading.current_thread().name)))

    asker = threading.Thread(target=ask)
    asker.start()
    asker.join()
    deadline = time.monotonic() + 10
    while not ran and time.monotonic() < deadline:
        sum(range(100))  # bytecodes, between which the main thread runs what was queued
    assert queued == [True]
    assert ran == [threading.main_thread().name]


def _duty_tracer(module: types.ModuleType) -> Tracer:
    files = {f"phasemod.{n}": str(module.__file__) for n in NAMES}
    return Tracer(  # the duty cycle is cProfile's: the counter needs none
        [("phasemod", n) for n in NAMES],
        files=files,
        max_samples=8,
        windows=True,
        duty=True,
        counter=False,
    )


def _until_switched(tracer: Tracer, work: Callable[[], int], switches: int = 3) -> int:
    """Run ``work`` until the duty cycle has switched the profiler ``switches`` times (or
    ten seconds have passed); the sum of what it returned (the calls it made)."""
    phases = tracer._phases
    assert isinstance(phases, FastPhases)
    calls, deadline = 0, time.monotonic() + 10
    while phases.switches < switches and time.monotonic() < deadline:
        calls += work()
    assert phases.switches >= switches
    return calls


def _long_test(
    mod: types.ModuleType, name: str, work: Callable[[], int], switches: int = 3
) -> tuple[Tracer, FastPhases, int]:
    """One test, in a window with a duty cycle, that runs ``work`` until the profiler has
    been switched ``switches`` times; the tracer (stopped), its phases and the calls made."""
    tracer = _duty_tracer(mod)
    tracer.start()
    try:
        phases = tracer._phases
        assert isinstance(phases, FastPhases)
        tracer.begin_test(name)
        with tracer.window():
            tracer.rearm()
            calls = _until_switched(tracer, work, switches)
        tracer.end_test()
    finally:
        tracer.stop()
    return tracer, phases, calls


@needs_profiler
def test_a_duty_cycle_estimates_calls_and_keeps_tests(mod: types.ModuleType) -> None:
    """In a long test the profiler runs part of the time: the sampler measures the rest,
    the counts of calls are scaled up, and the test is still known."""
    # Seven switches, not three: the estimate averages the periods, and on a loaded machine
    # (a CI worker beside another) one period's times can be far off.
    work = lambda: (mod.parent(1000), 1000)[1]  # noqa: E731
    tracer, phases, calls = _long_test(mod, "t::long", work, 7)
    assert phases.quiet_since == 0
    assert not phases.handed
    leaf, parent = tracer.traces["phasemod.leaf"], tracer.traces["phasemod.parent"]
    assert calls / 4 <= leaf.calls <= calls * 4  # an estimate, the right order
    assert leaf.tests == parent.tests == {"t::long"}
    assert parent.total_ns >= leaf.total_ns > 0
    assert all(t.depth == 0 for t in tracer.traces.values())


@needs_profiler
def test_a_long_traced_call_is_handed_over(mod: types.ModuleType) -> None:
    """With a duty cycle the exact phase does not wait for a long traced call to end: it
    counts it once, and the sampler measures the rest of its time."""
    # One call of parent at a time: the exact phase ends inside it.
    tracer, _, outer = _long_test(mod, "t::handed", lambda: (mod.parent(200_000), 1)[1], 2)
    parent = tracer.traces["phasemod.parent"]
    assert 1 <= parent.calls <= outer * 4
    assert parent.tests == {"t::handed"}
    assert parent.total_ns > 0
    assert not tracer._stacks.get(threading.get_ident())
    assert all(t.depth == 0 for t in tracer.traces.values())


@contextlib.contextmanager
def _switched_by_hand(mod: types.ModuleType, test: str) -> Iterator[tuple[Tracer, FastPhases]]:
    """A tracer with a duty cycle that the sampler never switches, inside ``test``; stopped
    after."""
    tracer = _duty_tracer(mod)
    tracer.start()
    try:
        phases = tracer._phases
        assert isinstance(phases, FastPhases)
        phases.tick = lambda now: None  # type: ignore[method-assign]
        tracer.begin_test(test)
        yield tracer, phases
        tracer.end_test()
    finally:
        tracer.stop()


@needs_profiler
def test_a_pause_keeps_the_duty_cycles_state(
    mod: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pytest's reports inside a test (subtests) pause the profiler: where the duty cycle had
    stopped it, it stays stopped after the pause instead of starting a new period."""
    monkeypatch.setattr(tracing_profile, "DUTY_ON_NS", 10**10)  # no switch is due by itself
    with _switched_by_hand(mod, "t::subtests") as (tracer, phases):
        with tracer.window():
            assert sys.getprofile() is not None  # a window starts with the profiler on
            phases._flip()  # what the sampler has the main thread do: off
            assert phases.quiet_since
            assert sys.getprofile() is None
            with tracer.paused():
                assert not phases.quiet_since  # pytest's own work: not charged
            assert phases.quiet_since
            assert sys.getprofile() is None
            phases._flip()  # on again
            assert sys.getprofile() is not None
            with tracer.paused():
                assert sys.getprofile() is None
            assert sys.getprofile() is not None
        assert sys.getprofile() is None


@needs_profiler
def test_a_call_running_through_the_duty_cycles_only_stop_counts_once(
    mod: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The profiler counts a call still running when the duty cycle stops it as ended there.
    If the profiler never runs again in the test, the calls it saw are scaled up to the
    test's time, as calls made while it rested; not that one, a single call however long
    it runs on (a test's one long call, when no exact phase saw it start)."""
    monkeypatch.setattr(tracing_profile, "DUTY_ON_NS", 10**10)  # no switch is due by itself
    with _switched_by_hand(mod, "t::long") as (tracer, phases):

        def stop_the_profiler(n: int) -> int:  # parent's callee, as the sampler would
            if not phases.quiet_since:
                phases._flip()
            return n

        monkeypatch.setattr(mod, "leaf", stop_the_profiler)
        with tracer.window():
            mod.parent(3)  # stopped inside it ...
            time.sleep(0.05)  # ... and off for the rest of the test
    assert phases.switches == 1
    assert tracer.traces["phasemod.parent"].calls == 1


@needs_profiler
def test_the_tests_thread_switches_the_duty_cycle_at_a_report(
    mod: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A thread busy with input and output (pytest reporting subtests) can keep the sampler
    from looking for a long while: the profiler would then run throughout.  So at each report
    the tests' thread switches the duty cycle by itself where a switch is due."""
    monkeypatch.setattr(tracing_profile, "DUTY_ON_NS", 0)  # a switch is due at once
    with _switched_by_hand(mod, "t::subtests") as (tracer, phases), tracer.window():
        assert sys.getprofile() is not None  # a window starts with the profiler on
        mod.parent(10)
        with tracer.paused():
            pass
        assert phases.quiet_since  # it ran its share: off after the report
        assert sys.getprofile() is None
        deadline = time.monotonic() + 10
        while sys.getprofile() is None and time.monotonic() < deadline:
            time.sleep(0.001)  # its rest: nine times as long as it ran
            with tracer.paused():
                pass
        assert sys.getprofile() is not None  # rested: on again after a report
        mod.parent(10)
    assert phases.switches == 2
    assert tracer.traces["phasemod.parent"].tests == {"t::subtests"}
    assert sys.getprofile() is None


@needs_profiler
def test_an_exact_phase_in_a_loop_that_starts_no_frame_is_handed_over(
    mod: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exact phase ends at a frame start: a long loop that starts none (a sieve) would
    keep it, and the trace hook's slow path, to its end.  After ``EXACT_MAX_NS`` the
    sampler has the main thread hand it over, in the middle of the traced call."""
    monkeypatch.setattr(tracing_profile, "EXACT_MAX_NS", 5_000_000)
    tracer = _duty_tracer(mod)
    tracer.start()
    try:
        phases = tracer._phases
        assert phases is not None
        tracer.begin_test("t::sieve")
        with tracer.window():
            tracer.rearm()
            assert not phases.fast
            calls = 0
            while not phases.fast and calls < 40:  # the old way: 100 more starts, 5 s
                mod.spin(time.perf_counter() + 0.05)
                calls += 1
            assert phases.fast
        tracer.end_test()
    finally:
        tracer.stop()
    spin = tracer.traces["phasemod.spin"]
    assert 1 <= spin.calls <= calls
    assert spin.tests == {"t::sieve"}
    assert spin.total_ns > 0
    assert not tracer._stacks.get(threading.get_ident())


class _Interrupt(BaseException):
    """What a signal handler raises (KeyboardInterrupt, a timeout plugin's failure)."""


def test_a_signal_handlers_exception_inside_a_queued_call_is_raised_again() -> None:
    """A C callback cannot pass an exception on: one a signal handler raised while the main
    thread ran a queued call is raised again as soon as the main thread runs on."""
    from pytest_codeflash.discover import tracing_support

    def interrupted() -> None:
        raise _Interrupt

    def run_on() -> None:
        tracing_support._run_queued(None)
        for _ in range(100_000):
            pass  # raised at the interpreter's next check, in this loop

    tracing_support._QUEUE.append(interrupted)
    with pytest.raises(_Interrupt):
        run_on()
