"""A baseline run whose candidates start before it ends.

The baseline run of the original goes: the tests (every call compared with the original
again), the captured calls written out (``INPUTS_FILE``), coverage, the generated inputs
(``GENERATED_FILE``, then the ``GENERATED_DONE`` marker), and, for sources that read it,
the line profile.  A candidate's run needs the tests' outcomes and the captured calls to
start, and the generated inputs only once its own tests and replay agree with the original.

So when a function's candidates are known before its baseline (files, the rule engine) and
its sandbox has more than one slot, they start as soon as the captured calls are written,
beside the generation, and each waits in its own run for the marker before it replays the
generated inputs and times; the wait counts neither against its timing budget nor against
its time limit (which grows by the time the baseline took after it started).  If the
baseline ends without drawing them, the parent writes the marker itself: ``ended`` if it
crashed (the waiting runs draw their own, as every candidate's run does when the baseline's
generation failed), ``aborted`` if it was stopped at its limit (the waiting runs stop: the
function is skipped).  While the baseline runs it takes one of the function's slots, so the
candidates beside it use no more CPUs than the function has.  Verdicts given before the
baseline ended count (and are kept for later runs) only if it can judge candidates at all
(:meth:`.evaluation.Evaluation.finish`).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ..runner.protocol import GENERATED_DONE, INPUTS_FILE
from ..runner.sandbox import ChildRun, read_result
from .scheduler import in_daemon_thread

__all__ = ["EarlyBaseline"]

POLL_S = 0.02
"""How often the parent looks for the captured calls while the baseline's tests run."""

Start = Callable[[Callable[[Path], None]], ChildRun]


class EarlyBaseline:
    """The baseline run, in a thread of its own; :meth:`interim` is what candidates need."""

    def __init__(self, start: Start, gate: threading.Semaphore | None = None) -> None:
        """``start(started)`` runs the baseline; ``started`` is told its io directory.  The
        run holds one of ``gate``'s slots until it ends, so that the candidates started
        beside it take no more CPUs than the function has."""
        self._io_dir: Path | None = None
        self._began = time.monotonic()
        self._ended_at: float | None = None
        self._lock = threading.Lock()
        self._gate = gate
        if gate is not None:
            gate.acquire()
        self._future = in_daemon_thread(lambda: start(self._started), "codeflash-baseline")
        self._future.add_done_callback(self._ended)

    def _started(self, io_dir: Path) -> None:
        self._io_dir = io_dir

    def interim(self) -> ChildRun | None:
        """The run so far, once its captured calls are written: its tests' outcomes and the
        calls compared in them; ``None`` if it ended first (:meth:`result` has it then)."""
        while not self._future.done():
            io_dir = self._io_dir
            if io_dir is not None and (io_dir / INPUTS_FILE).exists():
                # The result with the tests' outcomes is written before the captured calls.
                result = read_result(io_dir / "result.json")
                if result is None:
                    return None
                wall = time.monotonic() - self._began
                return ChildRun(result, io_dir, None, False, wall, "", "")
            concurrent.futures.wait([self._future], timeout=POLL_S)
        return None

    def waited(self, since: float) -> float:
        """Seconds a candidate's run that started at ``since`` (``time.monotonic``) may have
        spent waiting for this run: its time limit grows by as much."""
        ended = self._ended_at if self._ended_at is not None else time.monotonic()
        return max(0.0, ended - since)

    def result(self) -> ChildRun:
        """The whole run, once it has ended."""
        run = self._future.result()
        self._ended()  # the callback may not have run yet
        return run

    def _ended(self, _: object = None) -> None:
        """As soon as the run ends (in its thread), once: free its slot, and if it ended
        without its generated inputs, tell the candidates waiting for them: ``ended`` (go on
        without them, and draw your own), or ``aborted`` if it was stopped at its limit or
        failed here (it can judge no candidate then: stop)."""
        with self._lock:  # a second call returns once the first is done
            if self._ended_at is not None:
                return
            self._ended_at = time.monotonic()
            io_dir = self._io_dir
            if io_dir is not None and not (io_dir / GENERATED_DONE).exists():
                failed = self._future.exception() is not None
                stopped = failed or self._future.result().timed_out
                marker = io_dir / f"{GENERATED_DONE}.{threading.get_ident()}"
                with contextlib.suppress(OSError):
                    marker.write_bytes(b"aborted" if stopped else b"ended")
                    os.replace(marker, io_dir / GENERATED_DONE)
            if self._gate is not None:
                self._gate.release()
