"""What the terminal says while functions are evaluated: which one, how far, and that it lives.

Every function's lines go through a :class:`FunctionProgress`: it opens with
``function k of N: name (time so far)``, ends with the function's status, its candidate
count and its time, and repeats the last line with the time it has taken when a phase
(a baseline run, input generation, timing) stays silent for ``HEARTBEAT_S`` seconds, so a
long phase shows that it is alive (then after 40 s, 80 s, ...: twice as long each time).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import TracebackType

from ..models import FunctionResult

__all__ = ["HEARTBEAT_S", "FunctionProgress", "elapsed"]

HEARTBEAT_S = 20.0  # a phase silent this long says again what it is doing


def elapsed(seconds: float) -> str:
    """``12.3 s``, ``4 min 05 s``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest:02d} s"


class FunctionProgress:
    """The progress lines of one function's evaluation (a context manager).

    ``say`` is where lines go (the terminal, or a worker's queue); it may be called from
    the heartbeat's thread, so it must be safe to call from any thread (the scheduler's
    queue is; so is the terminal while the evaluating thread waits on a runner).
    """

    def __init__(
        self,
        say: Callable[[str], None],
        name: str,
        index: int,
        total: int,
        run_started: float,
        heartbeat_s: float = HEARTBEAT_S,
    ) -> None:
        self.say = say
        self.name = name
        self.position = f"function {index} of {total}"
        self.run_started = run_started
        self.heartbeat_s = heartbeat_s
        self.started = time.monotonic()
        self._last = ""
        self._last_at = self.started
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __call__(self, message: str) -> None:
        with self._lock:
            self._last, self._last_at = message, time.monotonic()
        self.say(message)

    def __enter__(self) -> FunctionProgress:
        so_far = elapsed(time.monotonic() - self.run_started)
        self.say(f"{self.position}: {self.name} ({so_far} into the optimization)")
        if self.heartbeat_s > 0:
            self._thread = threading.Thread(
                target=self._beat, name="codeflash-heartbeat", daemon=True
            )
            self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def done(self, result: FunctionResult) -> None:
        """The function's closing line: status, candidates and time."""
        self._stop.set()
        status = result.status.replace("_", " ")
        if result.status == "optimized" and result.speedup:
            status += f" {result.speedup:.2f}x"
        count = len(result.candidates)
        took = elapsed(time.monotonic() - self.started)
        so_far = elapsed(time.monotonic() - self.run_started)
        self.say(
            f"{self.position} done: {self.name} {status}, {count} "
            f"candidate{'s' if count != 1 else ''} in {took} ({so_far} so far)"
        )

    def _beat(self) -> None:
        """Repeat the last line after ``heartbeat_s`` of silence, then after twice as long
        each time, so an hour-long phase does not fill the terminal."""
        beats, said = 0, ""
        while not self._stop.wait(min(1.0, self.heartbeat_s)):
            with self._lock:
                last, last_at = self._last, self._last_at
            if last != said:
                beats, said = 0, last
            if not last or time.monotonic() - last_at < self.heartbeat_s * 2**beats:
                continue
            beats += 1
            took = elapsed(time.monotonic() - self.started)
            self.say(f"{_still(last)} ({took} on this function)")


def _still(message: str) -> str:
    """``name: baseline run of 4 test(s)`` -> ``name: still at: baseline run of 4 test(s)``."""
    head, sep, tail = message.partition(": ")
    return f"{head}: still at: {tail}" if sep else f"still at: {message}"
