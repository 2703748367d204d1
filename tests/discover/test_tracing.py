"""The tracer: calls, own and total time, tests, argument samples, workers' data, sampling."""

from __future__ import annotations

import contextlib
import functools
import importlib
import json
import os
import pickle
import subprocess
import sys
import threading
import time
import types
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_codeflash.discover import tracing, tracing_events
from pytest_codeflash.discover.tracing import Tracer

MODULE = """\
import time


def leaf(n):
    time.sleep(n)
    return n


def parent(n):
    return leaf(n) + leaf(n)


def recurse(n):
    return 0 if n == 0 else 1 + recurse(n - 1)


def numbers(n):
    for i in range(n):
        yield leaf(0)


def boom(x):
    leaf(0.001)
    raise ValueError(x)


def catcher():
    try:
        boom(1)
    except ValueError:
        return 1


def takes(first, *rest, key=1, **extra):
    return key


class Box:
    def grow(self, k):
        return k * 2

    @staticmethod
    def make(k):
        return k

    @classmethod
    def build(cls, k):
        return k
"""
NAMES = ("leaf", "parent", "recurse", "numbers", "boom", "catcher", "takes", "Box.grow", "Box.make")


@pytest.fixture
def hot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[types.ModuleType]:
    (tmp_path / "hotmod.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("hotmod")
    yield module
    sys.modules.pop("hotmod", None)


def _tracer(module: types.ModuleType, **options: Any) -> Tracer:
    """A tracer whose hooks see every call (the counter is tested in test_tracing_counter)."""
    options.setdefault("counter", False)
    files = {f"hotmod.{n}": str(module.__file__) for n in NAMES}
    tracer = Tracer([("hotmod", n) for n in NAMES], files=files, **options)
    tracer.refresh()
    return tracer


@contextlib.contextmanager
def _tracing(module: types.ModuleType, **options: int) -> Iterator[Tracer]:
    tracer = _tracer(module, **options)
    tracer.start()
    try:
        yield tracer
    finally:
        tracer.stop()


def test_times_calls_and_tests(hot: types.ModuleType) -> None:
    with _tracing(hot) as tracer:
        tracer.current_test = "t::first"
        hot.parent(0.04)  # long sleeps: a loaded machine's stall in parent stays under 1/4
        tracer.current_test = "t::second"
        hot.leaf(0.005)
        assert hot.recurse(20) == 20
        assert list(hot.numbers(3)) == [0, 0, 0]
        assert hot.catcher() == 1
    traces = tracer.traces
    leaf, parent = traces["hotmod.leaf"], traces["hotmod.parent"]
    assert leaf.calls == 2 + 1 + 3 + 1
    assert parent.calls == 1
    assert leaf.tests == {"t::first", "t::second"}
    assert parent.tests == {"t::first"}
    # parent's own time excludes the two sleeps in leaf; its total includes them
    assert parent.total_ns >= 80_000_000
    assert parent.own_ns < parent.total_ns / 4
    assert leaf.own_ns >= 25_000_000
    assert traces["hotmod.recurse"].calls == 21
    assert traces["hotmod.numbers"].calls == 1
    assert traces["hotmod.boom"].calls == 1
    assert traces["hotmod.catcher"].own_ns < traces["hotmod.catcher"].total_ns
    assert all(t.depth == 0 for t in traces.values())
    assert 0.0 < leaf.cpu_ratio <= 1.0
    assert leaf.own_cpu_ns < leaf.own_ns / 2  # it sleeps


def test_argument_samples(hot: types.ModuleType) -> None:
    with _tracing(hot) as tracer:
        hot.takes(1, 2, 3, key=4, more=5)
        hot.takes(threading.Lock())  # cannot be pickled
        hot.Box().grow(3)
        hot.Box.make(7)
    takes = tracer.traces["hotmod.takes"]
    assert [pickle.loads(s) for s in takes.samples] == [((1, 2, 3), {"key": 4, "more": 5})]
    assert takes.samples_skipped == 1
    (grow,) = tracer.traces["hotmod.Box.grow"].samples
    args, kwargs = pickle.loads(grow)
    assert type(args[0]).__name__ == "Box"
    assert args[1:] == (3,)
    assert kwargs == {}
    assert pickle.loads(tracer.traces["hotmod.Box.make"].samples[0]) == ((7,), {})


def test_pickling_an_input_raises_no_warning_in_the_test(hot: types.ModuleType) -> None:
    # 3.12+ deprecates pickling itertools objects; the user's test did not cause that.
    import itertools

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with _tracing(hot) as tracer:
            hot.takes(itertools.count(3))
    assert caught == []
    assert tracer.traces["hotmod.takes"].calls == 1


def _local() -> Any:
    def inner() -> None:
        return None

    return inner


def _replaced() -> None:
    return None


_replaced_original = _replaced
_replaced = functools.partial(_replaced)  # type: ignore[assignment]


@pytest.mark.parametrize(
    ("inputs", "refused"),
    [
        (((lambda: 1,), {}), True),
        (((1, _local()), {}), True),
        (((), {"key": lambda: 1}), True),
        (((len, os.path.join, [lambda: 1]), {}), False),  # pickle finds out (the list)
        (((1, "a"), {"key": None}), False),
        (((_replaced_original,), {}), True),  # its name leads to another object
        (((_local().__class__, type("Made", (), {})), {}), True),  # a class nowhere to be found
        (((Tracer, _local), {}), False),
    ],
)
def test_what_pickle_refuses_at_a_glance(
    inputs: tuple[tuple[Any, ...], dict[str, Any]], refused: bool
) -> None:
    """A lambda or a local function among the arguments: pickle saves functions by their
    qualified name, and theirs leads nowhere."""
    from pytest_codeflash.discover.tracing_support import refused_by_pickle

    assert refused_by_pickle(inputs) is refused
    if refused:
        with pytest.raises((pickle.PicklingError, AttributeError)):
            pickle.dumps(inputs)


def test_inputs_that_fail_to_pickle_are_tried_less_often(
    hot: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tracing, "SAMPLE_COST_FREE_NS", 1 << 40)  # the back-off alone limits
    with _tracing(hot, profiler=False) as tracer:
        for _ in range(200):
            hot.takes(threading.Lock())  # pickle tries, and fails: worth fewer tries
        for _ in range(200):
            hot.Box.make(lambda: 1)  # refused at a glance: tried less often too
        for i in range(200):
            hot.takes(i)  # picklable again: back to trying (a success resets the back-off)
    takes = tracer.traces["hotmod.takes"]
    assert 5 <= takes.samples_skipped < 30
    assert len(takes.samples) > 20
    assert 5 <= tracer.traces["hotmod.Box.make"].samples_skipped < 30


def test_samples_are_bounded(hot: types.ModuleType) -> None:
    with _tracing(hot, max_samples=5) as tracer:
        for i in range(3000):
            hot.Box.make(i)
    trace = tracer.traces["hotmod.Box.make"]
    assert trace.calls == 3000
    assert len(trace.samples) == 5
    kept = {pickle.loads(s)[0][0] for s in trace.samples}
    assert any(k >= 5 for k in kept)  # later calls replace early ones


def test_export_merge_round_trip(hot: types.ModuleType) -> None:
    with _tracing(hot) as tracer:
        tracer.current_test = "w1::t"
        hot.parent(0)
    data = json.loads(json.dumps(tracer.export()))
    controller = Tracer([])
    controller.merge(data)
    controller.merge(data)
    merged = controller.traces["hotmod.leaf"]
    assert merged.calls == 4
    assert merged.tests == {"w1::t"}
    assert merged.own_ns == 2 * tracer.traces["hotmod.leaf"].own_ns
    assert merged.samples == tracer.traces["hotmod.leaf"].samples  # duplicates dropped
    assert (merged.module, merged.qualname) == ("hotmod", "leaf")


def test_a_stand_in_is_not_traced(hot: types.ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hot, "leaf", lambda n: n)
    tracer = _tracer(hot)
    assert tracer.traces["hotmod.leaf"].code is None
    assert tracer.traces["hotmod.parent"].code is not None


def test_an_identical_function_elsewhere_is_not_traced(
    hot: types.ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A copy of a traced module in another file compiles to code objects equal to the
    traced ones (code equality ignores the file): only the traced objects themselves count."""
    (tmp_path / "copy").mkdir()
    (tmp_path / "copy" / "twinmod.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path / "copy"))
    twin = importlib.import_module("twinmod")
    try:
        assert twin.leaf.__code__ == hot.leaf.__code__
        with _tracing(hot) as tracer:
            for _ in range(300):  # in an exact phase and, before 3.12, in the profiler's
                twin.leaf(0)
            hot.leaf(0)
    finally:
        sys.modules.pop("twinmod", None)
    assert tracer.traces["hotmod.leaf"].calls == 1


def test_frequent_functions_are_counted_then_sampled(
    hot: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tracing_events, "SAMPLED_AFTER", 50)
    with _tracing(hot) as tracer:
        for i in range(2000):
            hot.Box.make(i)
    trace = tracer.traces["hotmod.Box.make"]
    assert trace.sampled
    assert trace.activations == 50
    assert trace.calls == 2000
    assert trace.depth == 0


def test_the_sampler_charges_what_it_sees(
    hot: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each look charges the time since the last one to the functions on the stack.

    The sampler thread is kept out of it: the looks are taken by hand, from inside ``leaf``'s
    sleep, so the figures are exact whatever the machine's load.
    """
    monkeypatch.setattr(tracing_events.Sampler, "start", lambda self: None)
    tracer = _tracer(hot)
    monkeypatch.setattr(tracing_events, "SAMPLED_AFTER", 3)

    def sleep(seconds: float) -> None:
        time.sleep(seconds)
        if seconds and tracer.traces["hotmod.leaf"].sampled:
            wall = int(seconds * 1e9)
            tracer._sampler._charge(threading.get_ident(), sys._getframe(1), wall, wall // 10)

    monkeypatch.setattr(hot, "time", types.SimpleNamespace(sleep=sleep))
    tracer.start()
    try:
        for _ in range(4):
            hot.leaf(0)  # leaf is sampled from now on; parent is still measured exactly
        tracer.current_test = "t::slow"
        hot.parent(0.05)
    finally:
        tracer.stop()
    leaf, parent = tracer.traces["hotmod.leaf"], tracer.traces["hotmod.parent"]
    assert leaf.sampled
    assert not parent.sampled
    assert leaf.calls == 6
    assert "t::slow" in leaf.tests
    charged = 100_000_000
    assert charged <= leaf.own_ns < charged + 50_000_000  # plus its three exact activations
    assert leaf.total_ns >= leaf.own_ns
    assert leaf.own_cpu_ns < leaf.own_ns / 5
    assert parent.total_ns >= charged  # exact
    # the sampled callee's time is not the caller's own
    assert 0 <= parent.own_ns <= parent.total_ns - charged


def test_the_sampler_thread_looks_at_the_stacks(
    hot: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tracing_events, "SAMPLED_AFTER", 3)
    with _tracing(hot) as tracer:
        for _ in range(4):
            hot.leaf(0)
        # however late a loaded machine wakes it, the sampler looks within a few seconds
        deadline = time.monotonic() + 10
        while tracer._sampler.samples < 3 and time.monotonic() < deadline:
            hot.leaf(0.01)
    leaf = tracer.traces["hotmod.leaf"]
    assert leaf.sampled
    assert tracer._sampler.samples >= 3
    assert leaf.own_ns > 0


def test_the_sampler_charges_the_tests_thread_only_for_its_windows(
    hot: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between the windows where the user's code runs (pytest's own work) the sampler does
    not look at the thread that opens them, and what it charges at a look inside one is the
    time spent in windows since its last look there, not the time in between."""
    monkeypatch.setattr(tracing_events, "SAMPLED_AFTER", 3)
    monkeypatch.setattr(tracing_events, "SAMPLE_IDLE_S", 0.001)  # looks as often outside
    with _tracing(hot, profiler=False) as tracer:
        for _ in range(4):
            hot.leaf(0)  # sampled from now on
        with tracer.window():
            pass  # the tests' thread is known now; the window lasted next to nothing
        leaf = tracer.traces["hotmod.leaf"]
        looked = tracer._sampler.samples
        deadline = time.monotonic() + 10
        while tracer._sampler.samples < looked + 5 and time.monotonic() < deadline:
            hot.leaf(0.01)  # outside every window: seen, never charged
        outside = leaf.own_ns
        with tracer.window():
            looked = tracer._sampler.samples
            while tracer._sampler.samples < looked + 3 and time.monotonic() < deadline:
                hot.leaf(0.01)
    assert tracer._sampler.samples >= looked + 3
    assert outside < 5_000_000  # the exact activations' few microseconds, and the tiny window
    assert leaf.own_ns > outside
    assert tracer.windows_open == 0
    assert tracer.window_ns > 0


def test_start_and_stop_are_idempotent(hot: types.ModuleType) -> None:
    tracer = _tracer(hot)
    tracer.stop()
    tracer.start()
    tracer.start()
    hot.leaf(0)
    tracer.stop()
    tracer.stop()
    hot.leaf(0)
    assert tracer.traces["hotmod.leaf"].calls == 1
    assert sys.getprofile() is None


def test_a_long_lived_generator_is_sampled(
    hot: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tracing_events, "SAMPLED_AFTER", 200)
    with _tracing(hot) as tracer:
        assert sum(1 for _ in hot.numbers(3000)) == 3000
    numbers, leaf = tracer.traces["hotmod.numbers"], tracer.traces["hotmod.leaf"]
    assert numbers.sampled
    assert numbers.calls == 1
    assert leaf.calls == 3000
    assert numbers.depth == 0


FORKS = """
import os, sys, warnings
sys.path.insert(0, sys.argv[1])
import hotmod
from pytest_codeflash.discover.tracing import Tracer

tracer = Tracer([("hotmod", "leaf")], files={"hotmod.leaf": hotmod.__file__})
tracer.refresh()
tracer.start()
assert tracer._sampler._running
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")  # 3.12+ warns when a process with threads forks
    pid = os.fork()
    if pid == 0:
        os._exit(0 if hotmod.leaf(0) == 0 else 1)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
assert not [w for w in caught if "multi-threaded" in str(w.message)], caught
tracer.refresh()  # before the next test
assert tracer._sampler._running  # sampling again after the fork
hotmod.leaf(0)
tracer.stop()
assert tracer.traces["hotmod.leaf"].calls == 1, tracer.traces["hotmod.leaf"].calls
print("forked cleanly")
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_the_sampler_steps_aside_when_the_tests_fork(hot: types.ModuleType, tmp_path: Path) -> None:
    # A fresh interpreter: a test worker may run threads of its own (xdist's), which would
    # make the warning fire whatever the tracer does.
    done = subprocess.run(
        [sys.executable, "-c", FORKS, str(Path(str(hot.__file__)).parent)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "forked cleanly" in done.stdout
