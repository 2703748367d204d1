"""Before Python 3.12, where it was built: the frame-evaluation counter (no hook at all)."""

from __future__ import annotations

import importlib
import pickle
import subprocess
import sys
import threading
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_codeflash.discover.tracing import Tracer
from pytest_codeflash.discover.tracing_counter import CountedPhases
from pytest_codeflash.discover.tracing_support import counter_built

pytestmark = pytest.mark.skipif(
    not counter_built(), reason="the counter is built for CPython 3.10 and 3.11 only"
)

MODULE = """\
import time


def leaf(n, pause=0.0):
    if pause:
        time.sleep(pause)
    return n + 1


def parent(n, pause=0.0):
    return leaf(n, pause) + leaf(n, pause)


def recurse(n):
    return 0 if n == 0 else recurse(n - 1) + 1


def numbers(n):
    for i in range(n):
        yield leaf(i)


def boom():
    raise ValueError("boom")


def shapes(a, b=2, *rest, k=3, **extra):
    return lambda: a  # a closure over an argument: a cell
"""
NAMES = ("leaf", "parent", "recurse", "numbers", "boom", "shapes")


@pytest.fixture
def mod(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[types.ModuleType]:
    (tmp_path / "countmod.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("countmod")
    yield module
    sys.modules.pop("countmod", None)


@pytest.fixture
def counter(mod: types.ModuleType) -> Iterator[Any]:
    from pytest_codeflash.discover import _evalcount  # type: ignore[attr-defined]

    for name in NAMES:
        _evalcount.watch(getattr(mod, name).__code__)
    assert _evalcount.start()
    try:
        yield _evalcount
    finally:
        _evalcount.stop()


def _figures(counter: Any) -> dict[str, tuple[int, int, int]]:
    return {code.co_name: (calls, own, total) for code, calls, own, total in counter.take()}


def test_starts_own_and_total_time(mod: types.ModuleType, counter: Any) -> None:
    counter.count(True)
    mod.parent(1, 0.01)
    assert mod.recurse(30) == 30
    assert list(mod.numbers(3)) == [1, 2, 3]
    with pytest.raises(ValueError, match="boom"):
        mod.boom()
    counter.count(False)
    figures = _figures(counter)
    assert figures["leaf"][0] == 2 + 3
    assert figures["parent"][0] == 1
    assert figures["recurse"][0] == 31
    assert figures["numbers"][0] == 1  # one start; its resumptions are not calls
    assert figures["boom"][0] == 1
    _calls, own, total = figures["parent"]
    assert total >= 20_000_000  # both sleeps in leaf ...
    assert own < total / 2  # ... are leaf's own time, not parent's
    assert figures["leaf"][1] >= 20_000_000
    assert figures["recurse"][2] <= figures["recurse"][1] + 1  # the outermost activation
    assert counter.take() == []  # taken: back to zero


def test_counts_only_while_on_and_in_its_thread(mod: types.ModuleType, counter: Any) -> None:
    mod.leaf(1)  # not counting yet
    counter.count(True)
    mod.leaf(2)
    thread = threading.Thread(target=mod.leaf, args=(3,))
    thread.start()
    thread.join()
    counter.count(False)
    mod.leaf(4)
    assert _figures(counter)["leaf"][0] == 1


def test_reports_the_arguments_at_the_starts_asked(
    mod: types.ModuleType, counter: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str, int, tuple[Any, ...]]] = []

    def report(code: types.CodeType, starts: int, values: tuple[Any, ...]) -> int:
        mod.leaf(0)  # the reporter's own calls are not counted
        seen.append((code.co_name, starts, values))
        return 2

    counter.stop()
    counter.watch(mod.leaf.__code__, 1)  # the first start, then every other one
    counter.watch(mod.shapes.__code__, 1)
    counter.report_to(report)
    assert counter.start()
    counter.count(True)
    for i in range(5):
        mod.leaf(i)
    mod.shapes(1, 5, 6, k=4, z=9)
    counter.count(False)
    assert seen == [
        ("leaf", 1, (0, 0.0)),
        ("leaf", 3, (2, 0.0)),
        ("leaf", 5, (4, 0.0)),
        ("shapes", 1, (1, 5, 4, (6,), {"z": 9})),
    ]
    assert _figures(counter)["leaf"][0] == 5

    unraisable: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)

    def broken(code: types.CodeType, starts: int, values: tuple[Any, ...]) -> int:
        raise RuntimeError("our bug")

    counter.report_to(broken)
    counter.count(True)
    assert [mod.leaf(i) for i in range(6)] == [1, 2, 3, 4, 5, 6]  # the caller never sees it
    counter.count(False)
    assert len(unraisable) == 1  # and its reports end there
    assert _figures(counter)["leaf"][0] == 6


def _tracer(module: types.ModuleType, **options: Any) -> Tracer:
    files = {f"countmod.{n}": str(module.__file__) for n in NAMES}
    return Tracer([("countmod", n) for n in NAMES], files=files, max_samples=8, **options)


def test_the_tracer_counts_every_call_of_every_test_with_no_hook(mod: types.ModuleType) -> None:
    tracer = _tracer(mod)
    tracer.start()
    try:
        assert isinstance(tracer._phases, CountedPhases)
        tracer.begin_test("t::first")
        tracer.rearm()
        assert sys.gettrace() is None
        assert sys.getprofile() is None
        for i in range(3000):
            mod.leaf(i)
        mod.parent(10)
        tracer.end_test()
        tracer.begin_test("t::second")
        tracer.rearm()
        for _ in range(1000):  # no exact phase to end: later calls count the same
            pass
        assert list(mod.numbers(2)) == [1, 2]
        tracer.end_test()
    finally:
        tracer.stop()
    assert sys.gettrace() is None
    leaf, parent, numbers = (tracer.traces[f"countmod.{n}"] for n in ("leaf", "parent", "numbers"))
    assert leaf.calls == 3000 + 2 + 2
    assert leaf.fast_calls == 0  # every start could be sampled
    assert parent.calls == numbers.calls == 1
    assert leaf.tests == {"t::first", "t::second"}
    assert parent.tests == {"t::first"}
    assert numbers.tests == {"t::second"}
    assert 1 <= len(leaf.samples) <= 8
    assert all(pickle.loads(s)[0][0] in range(3000) for s in leaf.samples)
    assert [pickle.loads(s) for s in numbers.samples] == [((2,), {})]
    assert parent.total_ns >= parent.own_ns > 0
    assert tracer.tests_exact == 2


def test_with_windows_only_the_users_code_is_counted(mod: types.ModuleType) -> None:
    tracer = _tracer(mod, windows=True)
    tracer.start()
    try:
        tracer.begin_test("t::one")
        mod.leaf(1)  # pytest's own work, outside every window
        with tracer.window():
            mod.leaf(2)
            with tracer.paused():  # a report
                mod.leaf(3)
            mod.leaf(4)
        mod.leaf(5)
        tracer.end_test()
    finally:
        tracer.stop()
    assert tracer.traces["countmod.leaf"].calls == 2


def test_a_settled_function_is_not_sampled_again(mod: types.ModuleType) -> None:
    tracer = _tracer(mod)
    tracer.traces["countmod.leaf"].next_sample = 1 << 62  # (what settle() does)
    tracer.start()
    try:
        tracer.begin_test("t::one")
        for i in range(100):
            mod.leaf(i)
        tracer.end_test()
    finally:
        tracer.stop()
    leaf = tracer.traces["countmod.leaf"]
    assert leaf.calls == 100
    assert leaf.samples == []
    assert leaf.sample_cost_ns == 0


@pytest.mark.skipif(sys.version_info < (3, 11), reason="3.10 runs every call on the C stack")
def test_a_deep_recursion_does_not_overflow_the_c_stack(tmp_path: Path) -> None:
    """On 3.11 a Python call normally takes no C stack; under a frame-evaluation function
    every one does.  Past NESTING_MAX frames the counter steps aside (the plain run would
    not crash there, so neither may the traced one), and comes back when asked to count."""
    script = tmp_path / "deep.py"
    script.write_text(
        "import sys\n"
        "from pytest_codeflash.discover import _evalcount\n"
        "def rec(n):\n"
        "    return 0 if n == 0 else rec(n - 1) + 1\n"
        "_evalcount.watch(rec.__code__)\n"
        "assert _evalcount.start()\n"
        "_evalcount.count(True)\n"
        "sys.setrecursionlimit(200_000)\n"
        "print(rec(50_000))\n"
        "_evalcount.count(True)\n"
        "print(rec(10))\n"
        "print([calls for code, calls, own, total in _evalcount.take()])\n"
        "_evalcount.stop()\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    deep, shallow, calls = done.stdout.split()
    assert (deep, shallow) == ("50000", "10")
    assert 2000 <= int(calls.strip("[]")) < 50_000  # the top of the recursion, then rec(10)


def test_a_run_inside_a_traced_run_leaves_the_counter_to_the_outer_one(
    mod: types.ModuleType,
) -> None:
    """pytester running ``--codeflash`` in process, inside a ``--codeflash`` run: the inner
    tracer does without the counter, which keeps counting for the outer one."""
    outer = _tracer(mod)
    outer.start()
    try:
        outer.begin_test("t::outer")
        inner = _tracer(mod)
        inner.start()
        try:
            assert not isinstance(inner._phases, CountedPhases)
            inner.begin_test("t::inner")
            mod.leaf(1)
            inner.end_test()
        finally:
            inner.stop()
        mod.leaf(2)
        outer.end_test()
    finally:
        outer.stop()
    assert outer.traces["countmod.leaf"].calls == 2
    assert outer.traces["countmod.leaf"].tests == {"t::outer"}
    assert inner.traces["countmod.leaf"].calls == 1
