"""Which lines of one source file run while a block runs: cheap, for the reach search.

Runs inside the runner process.  The candidate module is compiled under a file name of its
own (see :mod:`.coverage_probe`), so watching that file name watches the candidate's code
and nothing of the original's twin.  On Python 3.12+ with ``sys.monitoring`` line events:
a location in any other file is disabled at its first event, so the rest of the program
soon runs at full speed.  Before 3.12 with a ``sys.settrace`` function that traces only the
frames of that file.  Coverage.py is stopped while this runs (both would want the tracer).
"""

from __future__ import annotations

import sys
import types
from typing import Any

from .line_profile import Backend, default_backend, free_tool_id

__all__ = ["LineHits"]

_TOOL_NAME = "pytest-codeflash reach"


class LineHits:
    """Record the lines of ``filename`` that run while entered; :meth:`take` reads them.

    ``steps`` counts line events (how much of the file's code ran, loops included).
    """

    def __init__(self, filename: str, backend: Backend | None = None) -> None:
        self.filename = filename
        self.backend: Backend = backend or default_backend()
        self.lines: set[int] = set()
        self.steps = 0
        self._tool: int | None = None
        self._previous_trace: Any = None

    def take(self) -> tuple[set[int], int]:
        """The lines and steps seen since the last call, and start afresh."""
        lines, steps = self.lines, self.steps
        self.lines, self.steps = set(), 0
        return lines, steps

    def __enter__(self) -> LineHits:
        if self.backend == "sys.monitoring":
            self._tool = free_tool_id()
            if self._tool is None:  # every tool id is taken: fall back
                self.backend = "sys.settrace"
        if self.backend == "sys.monitoring":
            monitoring = sys.monitoring  # type: ignore[attr-defined,unused-ignore]
            monitoring.use_tool_id(self._tool, _TOOL_NAME)
            # Locations an earlier watcher disabled would stay silent otherwise.
            monitoring.restart_events()
            monitoring.register_callback(self._tool, monitoring.events.LINE, self._on_line)
            monitoring.set_events(self._tool, monitoring.events.LINE)
        else:
            self._previous_trace = sys.gettrace()
            sys.settrace(self._global)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._tool is not None:
            monitoring = sys.monitoring  # type: ignore[attr-defined,unused-ignore]
            monitoring.set_events(self._tool, 0)
            monitoring.register_callback(self._tool, monitoring.events.LINE, None)
            monitoring.free_tool_id(self._tool)
            self._tool = None
        elif self.backend == "sys.settrace":
            sys.settrace(self._previous_trace)

    # -- sys.monitoring (3.12+) -----------------------------------------------------------
    def _on_line(self, code: types.CodeType, line: int) -> Any:
        if code.co_filename != self.filename:
            return sys.monitoring.DISABLE  # type: ignore[attr-defined,unused-ignore]
        self.lines.add(line)
        self.steps += 1
        return None

    # -- sys.settrace (3.10, 3.11) --------------------------------------------------------
    def _global(self, frame: types.FrameType, event: str, arg: object) -> Any:
        if frame.f_code.co_filename != self.filename:
            return None
        return self._local

    def _local(self, frame: types.FrameType, event: str, arg: object) -> Any:
        if event == "line":
            self.lines.add(frame.f_lineno)
            self.steps += 1
        return self._local
