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
        self.owner.tracer.rearm()  # the fixtures' set-up may have ended the exact phase

    # The user's code runs inside these three: only there is the profiler needed.  (Code
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
        phase (which stops the profiler); the fast phase that follows it runs inside."""
        with self.owner.tracer.window():
            return (yield)

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Generator[None, object, object]:
        with self.owner.tracer.window():
            return (yield)
