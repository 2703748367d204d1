"""Stops the tracer's sampler threads while the process forks, and starts them again after.

A process with a second thread warns (3.12+) and may deadlock in ``fork()``, and the user's
tests fork.  The samplers start again at the next :func:`resume_after_fork` (the tracer calls
it before each test), not right after the fork: 3.13 counts the threads after its
after-fork hooks.

A module of its own, that imports nothing of ours: the interpreter keeps its fork hooks, and
with them the globals of the module that defines them, to its very end.  Held there, the
globals of the tracing modules cost every run's exit a few milliseconds of garbage
collection (measured on Python 3.11); these cost nothing.
"""

from __future__ import annotations

import _thread
import os
import time
import weakref
from typing import Protocol


class Stoppable(Protocol):
    _running: bool

    def start(self) -> None: ...

    def stop(self) -> None: ...


# The samplers running in this process, and those stopped while it forks.
_ACTIVE: weakref.WeakSet[Stoppable] = weakref.WeakSet()
_PAUSED: list[Stoppable] = []


def watch(sampler: Stoppable) -> None:
    """Stop ``sampler`` (while it runs) whenever the process forks."""
    _ACTIVE.add(sampler)


def _before_fork() -> None:
    """Stop every running sampler's thread, and wait until the thread is gone."""
    threads = _thread._count()  # type: ignore[attr-defined]
    stopped = 0
    for sampler in list(_ACTIVE):
        if sampler._running:
            sampler.stop()
            _PAUSED.append(sampler)
            stopped += 1
    if not stopped:
        return
    deadline = time.monotonic() + 0.1
    while _thread._count() > threads - stopped and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.0002)
    time.sleep(0.0005)  # the operating system ends the thread just after the interpreter


def _after_fork_in_child() -> None:
    _PAUSED.clear()  # the child keeps no sampler: its figures are never reported


def resume_after_fork() -> None:
    """Restart the samplers a fork stopped (in the process that forked)."""
    while _PAUSED:
        _PAUSED.pop().start()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)
