"""The exact phase's trace hook before Python 3.12 (see :mod:`.tracing_profile`).

Standard library only.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .tracing_profile import FastPhases


def switching_trace_function(
    on_start: Any, on_resume: Any, on_leave: Any, phases: FastPhases, frames: int, needed: int
) -> tuple[Any, Callable[[], None]]:
    """The exact phase's ``sys.settrace`` hook, and a function that restarts its countdown.

    :func:`.tracing_events.trace_function`, plus a countdown of frame starts: a start of a
    function that still needs inputs (fewer than ``needed`` exact starts, counting those of
    earlier runs) sets it back to ``frames``; at zero, the next frame that starts
    (unless it is such a function) hands the thread to the profiler, which sees that frame
    start (the interpreter calls the profile hook after the trace hook).
    """
    lookup = phases.by_code.get
    left = frames

    def local(frame: types.FrameType, event: str, arg: object) -> Any:
        if event == "return":
            on_leave(frame.f_code, 0, arg)
        return local

    def trace(frame: types.FrameType, event: str, arg: object) -> Any:
        nonlocal left
        code = frame.f_code
        found = lookup(id(code))
        left -= 1
        if found is None:
            if left <= 0:
                left = frames if phases.to_fast(frame.f_back) else frames // 4
            return None
        resumed = found.resumable and frame.f_lasti > found.start_offset
        if found.calls - found.fast_calls + found.credit < needed:
            left = frames
        elif left <= 0:
            if phases.to_fast(frame.f_back):
                left = frames  # the profiler, enabled now, sees this frame start too
                return None
            left = frames // 4
        if resumed:
            on_resume(code, 0)
        else:
            on_start(code, 0)
        if found.sampled:
            return None
        frame.f_trace_lines = False
        return local

    def reset() -> None:
        nonlocal left
        left = frames

    return trace, reset
