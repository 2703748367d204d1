"""Hits and time per line of one code object, measured cheaply while a block runs.

Runs inside the runner process, after the baseline's tests, on the original target's calls
with the captured inputs: the profile tells a language model where the original spends its
time.  Only the target's own code object is watched: on Python 3.12+ with local
``sys.monitoring`` events (the rest of the program runs at full speed), before that with a
``sys.settrace`` function that returns a local tracer for that code object only.

A line's time runs from its line event to the next event of the same frame (the next line,
a return or a yield), so it includes the functions the line calls, as in ``line_profiler``.
The profiler stops itself at its deadline, leaving the call that is running to finish
untraced.
"""

from __future__ import annotations

import sys
import time
import types
from collections.abc import Callable
from typing import Any, Literal

from .determinism import REAL_MONOTONIC
from .protocol import LineProfileSummary, LineTiming

__all__ = ["Backend", "LineProfiler", "default_backend", "free_tool_id"]

Backend = Literal["sys.monitoring", "sys.settrace"]
_TOOL_NAME = "pytest-codeflash line profile"


def default_backend() -> Backend:
    """``sys.monitoring`` where the interpreter has it (3.12+), else ``sys.settrace``."""
    return "sys.monitoring" if hasattr(sys, "monitoring") else "sys.settrace"


class LineProfiler:
    """Profile ``code`` while the profiler is entered; read :meth:`summary` afterwards.

    :param deadline: the real ``time.monotonic()`` (:data:`~.determinism.REAL_MONOTONIC`)
        after which the profiler stops itself.
    :param backend: how to watch the lines (see :func:`default_backend`).
    """

    def __init__(
        self,
        code: types.CodeType,
        *,
        deadline: float | None = None,
        backend: Backend | None = None,
    ) -> None:
        self.code = code
        self.deadline = deadline
        self.backend: Backend = backend or default_backend()
        self.lines: dict[int, list[int]] = {}  # line -> [hits, ns]
        self.expired = False
        self.calls = 0
        # The running activations of ``code``, innermost last: [line, when it began].
        self._open: list[list[int]] = []
        self._frames: dict[int, list[int]] = {}  # sys.settrace: by frame id
        self._tool: int | None = None
        self._previous_trace: Any = None

    # -- the block ------------------------------------------------------------------------
    def __enter__(self) -> LineProfiler:
        if self.backend == "sys.monitoring":
            self._tool = free_tool_id()
            if self._tool is None:  # every tool id is taken: fall back
                self.backend = "sys.settrace"
        if self.backend == "sys.monitoring":
            self._start_monitoring()
        else:
            self._previous_trace = sys.gettrace()
            sys.settrace(self._global)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.backend == "sys.monitoring":
            self._stop_monitoring()
        else:
            sys.settrace(self._previous_trace)
        self.call_done()

    def call_done(self) -> None:
        """One outermost call ended: forget activations an exception left open."""
        self._open.clear()
        self._frames.clear()

    def summary(self) -> LineProfileSummary:
        """What was measured, lines in order."""
        return LineProfileSummary(
            lines=[LineTiming(line, hits, ns) for line, (hits, ns) in sorted(self.lines.items())],
            calls=self.calls,
            complete=not self.expired,
            tool=self.backend,
        )

    # -- bookkeeping shared by both back-ends ---------------------------------------------
    def _close(self, activation: list[int], now: int) -> None:
        line, began = activation
        if line:
            self.lines[line][1] += now - began

    def _enter_line(self, activation: list[int], line: int) -> None:
        counts = self.lines.get(line)
        if counts is None:
            counts = self.lines[line] = [0, 0]
        counts[0] += 1
        activation[0] = line
        activation[1] = time.perf_counter_ns()  # after our own work: not charged to the line

    def _past_deadline(self) -> bool:
        if self.deadline is not None and REAL_MONOTONIC() > self.deadline:
            self.expired = True
        return self.expired

    # -- sys.monitoring (3.12+) -----------------------------------------------------------
    def _start_monitoring(self) -> None:
        monitoring = sys.monitoring  # type: ignore[attr-defined,unused-ignore]
        events = monitoring.events
        tool = self._tool
        monitoring.use_tool_id(tool, _TOOL_NAME)
        callbacks: dict[int, Callable[..., Any]] = {
            events.PY_START: self._on_start,
            events.PY_RESUME: self._on_start,
            events.LINE: self._on_line,
            events.PY_RETURN: self._on_end,
            events.PY_YIELD: self._on_end,
        }
        for event, callback in callbacks.items():
            monitoring.register_callback(tool, event, callback)
        wanted = 0
        for event in callbacks:
            wanted |= event
        monitoring.set_local_events(tool, self.code, wanted)

    def _stop_monitoring(self) -> None:
        monitoring = sys.monitoring  # type: ignore[attr-defined,unused-ignore]
        tool = self._tool
        if tool is None:
            return
        self._tool = None
        monitoring.set_local_events(tool, self.code, 0)
        for event in (
            monitoring.events.PY_START,
            monitoring.events.PY_RESUME,
            monitoring.events.LINE,
            monitoring.events.PY_RETURN,
            monitoring.events.PY_YIELD,
        ):
            monitoring.register_callback(tool, event, None)
        monitoring.free_tool_id(tool)

    def _on_start(self, code: types.CodeType, offset: int) -> None:
        if self._past_deadline():
            self._stop_events()
            return
        self._open.append([0, time.perf_counter_ns()])

    def _on_line(self, code: types.CodeType, line: int) -> None:
        now = time.perf_counter_ns()
        if self._past_deadline():
            self._stop_events()
            return
        if not self._open:
            self._open.append([0, now])
        activation = self._open[-1]
        self._close(activation, now)
        self._enter_line(activation, line)

    def _on_end(self, code: types.CodeType, offset: int, value: object) -> None:
        now = time.perf_counter_ns()
        if self._open:
            self._close(self._open.pop(), now)

    def _stop_events(self) -> None:
        if self._tool is not None:
            sys.monitoring.set_local_events(self._tool, self.code, 0)  # type: ignore[attr-defined,unused-ignore]

    # -- sys.settrace (3.10, 3.11) ----------------------------------------------------------
    def _global(self, frame: types.FrameType, event: str, arg: object) -> Any:
        if frame.f_code is not self.code or self.expired:
            return None
        return self._local

    def _local(self, frame: types.FrameType, event: str, arg: object) -> Any:
        now = time.perf_counter_ns()
        if self._past_deadline():
            sys.settrace(self._previous_trace)
            return None
        key = id(frame)
        activation = self._frames.get(key)
        if activation is None:
            activation = self._frames[key] = [0, now]
        self._close(activation, now)
        if event == "line":
            self._enter_line(activation, frame.f_lineno)
        elif event == "return":  # also when leaving by an exception, and on a yield
            del self._frames[key]
        else:
            activation[1] = time.perf_counter_ns()
        return self._local


def free_tool_id() -> int | None:
    """A ``sys.monitoring`` tool id nobody uses (the profiler's first), or None."""
    monitoring = sys.monitoring  # type: ignore[attr-defined,unused-ignore]
    for tool in (monitoring.PROFILER_ID, 3, 4, 5):
        if monitoring.get_tool(tool) is None:
            return int(tool)
    return None
