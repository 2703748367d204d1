"""Watch the user's own test run: which tests call each target, and how often.

Python 3.12+ uses ``sys.monitoring`` with local events on the targets' code objects only, so
the rest of the program runs at full speed; older versions use ``sys.setprofile`` with a
filter on the code object.  A target's code object is looked up lazily, once its module has
been imported by collection or by a test.  Stdlib only: this runs in every traced test.
"""

from __future__ import annotations

import contextlib
import inspect
import sys
import threading
import types
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

_TOOL_NAME = "pytest-codeflash"


@dataclass
class TargetTrace:
    """What the test run showed about one target."""

    module: str
    qualname: str
    code: types.CodeType | None = None
    calls: int = 0
    tests: set[str] = field(default_factory=set)


class Tracer:
    """Record calls of the given targets and attribute them to the running test."""

    def __init__(self, targets: Iterable[tuple[str, str]]) -> None:
        self.traces = {f"{m}.{q}": TargetTrace(m, q) for m, q in targets}
        self.current_test = ""
        self._by_code: dict[types.CodeType, TargetTrace] = {}
        self._tool: int | None = None
        self._active = False

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        self._active = True
        if hasattr(sys, "monitoring"):
            self._start_monitoring()
        else:
            sys.setprofile(self._profile)
            threading.setprofile(self._profile)

    def stop(self) -> None:
        if not self._active:
            return
        self._active = False
        if self._tool is not None:
            monitoring = sys.monitoring  # type: ignore[attr-defined]
            for code in self._by_code:
                monitoring.set_local_events(self._tool, code, 0)
            monitoring.register_callback(self._tool, monitoring.events.PY_START, None)
            monitoring.free_tool_id(self._tool)
            self._tool = None
        else:
            sys.setprofile(None)
            threading.setprofile(None)  # type: ignore[arg-type]

    def refresh(self) -> None:
        """Find code objects of targets whose module has been imported since the last look."""
        for trace in self.traces.values():
            if trace.code is not None or trace.module not in sys.modules:
                continue
            code = _code_of(sys.modules[trace.module], trace.qualname)
            if code is None:
                continue
            trace.code = code
            self._by_code[code] = trace
            if self._tool is not None:
                monitoring = sys.monitoring  # type: ignore[attr-defined]
                monitoring.set_local_events(self._tool, code, monitoring.events.PY_START)

    # -- event sources --------------------------------------------------------------------
    def _start_monitoring(self) -> None:
        monitoring = sys.monitoring  # type: ignore[attr-defined]
        for tool in range(5, 0, -1):  # ids 0-5 are free for tools; leave 0 to debuggers
            if monitoring.get_tool(tool) is None:
                monitoring.use_tool_id(tool, _TOOL_NAME)
                self._tool = tool
                break
        else:
            sys.setprofile(self._profile)
            threading.setprofile(self._profile)
            return
        monitoring.register_callback(tool, monitoring.events.PY_START, self._on_start)

    def _on_start(self, code: types.CodeType, offset: int) -> Any:
        trace = self._by_code.get(code)
        if trace is not None:
            self._hit(trace)

    def _profile(self, frame: types.FrameType, event: str, arg: object) -> None:
        if event == "call":
            trace = self._by_code.get(frame.f_code)
            if trace is not None:
                self._hit(trace)

    def _hit(self, trace: TargetTrace) -> None:
        trace.calls += 1
        if self.current_test:
            trace.tests.add(self.current_test)

    # -- results --------------------------------------------------------------------------
    def export(self) -> dict[str, dict[str, Any]]:
        """Plain data, for the report and for xdist workers to send to the controller."""
        return {
            name: {"calls": t.calls, "tests": sorted(t.tests), "found": t.code is not None}
            for name, t in self.traces.items()
        }

    def merge(self, data: dict[str, dict[str, Any]]) -> None:
        """Add what another process (an xdist worker) recorded."""
        for name, item in data.items():
            trace = self.traces.get(name)
            if trace is None:
                continue
            trace.calls += int(item.get("calls", 0))
            trace.tests.update(item.get("tests", ()))


def _code_of(module: types.ModuleType, qualname: str) -> types.CodeType | None:
    """The code object of ``qualname`` in ``module``, looking through decorators."""
    owner: Any = module
    parts = qualname.split(".")
    try:
        for part in parts[:-1]:
            owner = getattr(owner, part)
        raw = inspect.getattr_static(owner, parts[-1])
    except AttributeError:
        return None
    if isinstance(raw, (staticmethod, classmethod)):
        raw = raw.__func__
    with contextlib.suppress(ValueError):
        raw = inspect.unwrap(raw)
    code = getattr(raw, "__code__", None)
    return code if isinstance(code, types.CodeType) else None
