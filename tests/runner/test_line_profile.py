"""The per-line profiler of the runner: hits and time per line of one code object."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

import pytest

from pytest_codeflash.runner.determinism import REAL_MONOTONIC
from pytest_codeflash.runner.line_profile import Backend, LineProfiler, default_backend

BACKENDS: list[Backend] = ["sys.settrace"]
if hasattr(sys, "monitoring"):
    BACKENDS.append("sys.monitoring")


def helper(value: int) -> int:
    doubled = value * 2
    return doubled


def summed(n: int) -> int:
    total = 0
    for i in range(n):
        total += helper(i)
    return total


def factorial(n: int) -> int:
    if n <= 1:
        return 1
    return n * factorial(n - 1)


def counting(n: int) -> Iterator[int]:
    for i in range(n):  # noqa: UP028 (the line profiled is the yield)
        yield i


def failing(n: int) -> int:
    if n > 2:
        raise ValueError(n)
    return n


def _line(function: object, text: str) -> int:
    """The line number in this file of the line of ``function`` that holds ``text``."""
    import inspect

    lines, first = inspect.getsourcelines(function)  # type: ignore[arg-type]
    return first + next(i for i, line in enumerate(lines) if text in line)


def _hits(profiler: LineProfiler) -> dict[int, int]:
    return {timing.line: timing.hits for timing in profiler.summary().lines}


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Backend:
    return request.param  # type: ignore[no-any-return]


def test_hits_and_time_per_line_of_the_target_only(backend: Backend) -> None:
    previous = sys.gettrace()
    with LineProfiler(summed.__code__, backend=backend) as profiler:
        assert summed(10) == 90
        profiler.calls += 1
    hits = _hits(profiler)
    assert hits[_line(summed, "total = 0")] == 1
    assert hits[_line(summed, "total += helper(i)")] == 10
    assert hits[_line(summed, "return total")] == 1
    assert hits[_line(summed, "for i in")] >= 10
    assert _line(helper, "doubled = value") not in hits  # only the target's own lines
    summary = profiler.summary()
    assert summary.tool == backend
    assert summary.complete
    assert summary.calls == 1
    assert all(timing.ns >= 0 for timing in summary.lines)
    assert sum(timing.ns for timing in summary.lines) > 0
    assert sys.gettrace() is previous  # whatever was tracing before is back


def test_recursion_counts_every_activation(backend: Backend) -> None:
    with LineProfiler(factorial.__code__, backend=backend) as profiler:
        assert factorial(6) == 720
    hits = _hits(profiler)
    assert hits[_line(factorial, "if n <= 1")] == 6
    assert hits[_line(factorial, "return n * factorial")] == 5


def test_generators_and_exceptions(backend: Backend) -> None:
    with LineProfiler(counting.__code__, backend=backend) as profiler:
        assert list(counting(4)) == [0, 1, 2, 3]
    assert _hits(profiler)[_line(counting, "yield i")] == 4

    with LineProfiler(failing.__code__, backend=backend) as profiler:
        for n in (1, 5, 2):
            with contextlib.suppress(ValueError):
                failing(n)
            profiler.call_done()
    hits = _hits(profiler)
    assert hits[_line(failing, "if n > 2")] == 3
    assert hits[_line(failing, "raise ValueError")] == 1
    assert hits[_line(failing, "return n")] == 2


def test_the_profiler_stops_itself_at_its_deadline(backend: Backend) -> None:
    with LineProfiler(summed.__code__, deadline=REAL_MONOTONIC() - 1, backend=backend) as p:
        assert summed(5) == 20  # the call still runs, untraced
    assert p.expired
    summary = p.summary()
    assert not summary.complete
    assert summary.lines == []


def test_the_default_backend_follows_the_interpreter() -> None:
    expected = "sys.monitoring" if sys.version_info >= (3, 12) else "sys.settrace"
    assert default_backend() == expected
