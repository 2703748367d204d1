"""The hooks that follow the user's test run for the tracer.

Registered beside the session (as ``codeflash-tracing``): each test starts and ends a test for
the tracer, its call phase starts an exact phase, pytest's reporting runs with the profiler
paused, and the user's code (fixtures, the test's call, its teardown) runs inside a window,
the only place where the profiler runs before Python 3.12 (see :mod:`.tracing_profile`).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, Protocol

import pytest

from .tracing import Tracer


class Traced(Protocol):
    tracer: Tracer
    test_s: dict[str, float]  # each test's plain cost: it bounds the baseline


class TracingHooks:
    """pytest hooks that drive ``owner.tracer`` (looked up each time: it may be replaced)."""

    def __init__(self, owner: Traced) -> None:
        self.owner = owner

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, object, object]:
        self.owner.tracer.begin_test(item.nodeid)
        try:
            return (yield)
        finally:
            self.owner.tracer.end_test()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: Any
    ) -> Generator[None, object, object]:
        with self.owner.tracer.paused():
            return (yield)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_logreport(
        self, report: pytest.TestReport
    ) -> Generator[None, object, object]:
        """Each test's plain cost (it bounds the baseline), with the tracer paused."""
        test_s = self.owner.test_s
        test_s[report.nodeid] = test_s.get(report.nodeid, 0.0) + report.duration
        with self.owner.tracer.paused():
            return (yield)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> None:
        if not _calls_pyfunc(item):  # else in pytest_pyfunc_call, just before the test
            self.owner.tracer.rearm()  # the fixtures' set-up may have ended the exact phase

    # The user's code runs inside these: only there is the profiler needed.  (Code
    # that conftest hooks run around them is not profiled, nor counted, after an exact phase.)
    # Each is the innermost wrapper (trylast): pytest's own wrappers (output capture,
    # logging) stay outside the window, where their calls are neither profiled nor, at each
    # test's end, listed in the profiler's statistics.
    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_fixture_setup(
        self, fixturedef: Any, request: Any
    ) -> Generator[None, object, object]:
        with self.owner.tracer.window():
            return (yield)

    @pytest.hookimpl(wrapper=True, trylast=True, specname="pytest_runtest_call")
    def pytest_runtest_call_window(self, item: pytest.Item) -> Generator[None, object, object]:
        """The call's window opens before ``pytest_runtest_call`` above starts the exact
        phase (which stops the profiler); the fast phase that follows it runs inside.
        For a plain test function, both wait for ``pytest_pyfunc_call``."""
        if _calls_pyfunc(item):
            return (yield)
        with self.owner.tracer.window():
            return (yield)

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> Generator[None, object, object]:
        """A test function's call: pytest's own work on the way to it (its hooks, the
        current-test variable, the look-up of its arguments) stays outside the window."""
        self.owner.tracer.rearm()  # first: the window then has no profiler to start
        with self.owner.tracer.window():
            return (yield)

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Generator[None, object, object]:
        if not _tears_down_user_code(item):  # pytest's own work only: no window needed
            return (yield)
        with self.owner.tracer.window():
            return (yield)


_NO_TEARDOWN = pytest.Item.teardown  # a node's own teardown(), unless its class has one


def _tears_down_user_code(item: pytest.Item) -> bool:
    """Whether a teardown may run the user's code: unless every finalizer pytest holds for
    the nodes set up so far is a node's own ``teardown()`` that does nothing (a fixture, an
    ``addfinalizer`` or a ``unittest`` case adds others).  Where pytest keeps them otherwise
    than this knows, it may."""
    stack = getattr(getattr(item.session, "_setupstate", None), "stack", None)
    if not isinstance(stack, dict):
        return True
    for node, entry in stack.items():
        finalizers = entry[0] if isinstance(entry, tuple) and entry else None
        if not isinstance(finalizers, list):
            return True
        for finalizer in finalizers:
            if (
                getattr(finalizer, "__self__", None) is not node
                or getattr(finalizer, "__func__", None) is not _NO_TEARDOWN
            ):
                return True
    return False


def _calls_pyfunc(item: pytest.Item) -> bool:
    """Whether the item's call phase runs ``pytest_pyfunc_call`` (a test function; not a
    doctest, nor a ``unittest`` case, whose class runs the test its own way)."""
    return type(item).runtest is pytest.Function.runtest
