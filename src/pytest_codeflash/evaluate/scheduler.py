"""Evaluate several functions side by side: ``--codeflash-workers``.

Each worker is a thread with a :class:`~..runner.sandbox.Sandbox` of its own; the work
itself happens in the runner processes, so threads are enough.  The CPUs left over when
there are fewer functions than CPUs go to each function's candidates
(:func:`slots_per_function`: a sandbox runs that many children at once, one fork server
each).  Results come back in the order the functions were
given, and progress lines travel through a queue to the calling thread, which alone writes
to the terminal: each line stays whole and names its function.

With one worker (or one function) everything runs in the calling thread, as before.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from ..runner.sandbox import Sandbox

__all__ = [
    "Progress",
    "default_workers",
    "in_daemon_thread",
    "memory_mb",
    "run_parallel",
    "slots_per_function",
    "worker_count",
]

T = TypeVar("T")
R = TypeVar("R")
Progress = Callable[[str], None]
Work = Callable[[T, "Sandbox", Progress], R]


def memory_mb() -> int | None:
    """The machine's physical memory in MiB, or ``None`` where it cannot be told."""
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return None
    return pages * size // (1 << 20) if pages > 0 and size > 0 else None


def default_workers(memory_limit_mb: int) -> int:
    """The CPUs this process may use, no more than the memory holds runners at their limit."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, memory_cap(memory_limit_mb)))


def memory_cap(memory_limit_mb: int) -> int:
    """How many runners at ``memory_limit_mb`` each fit in the machine's memory."""
    total = memory_mb()
    return max(1, total // memory_limit_mb) if total else 1 << 16


def worker_count(asked: int | None, memory_limit_mb: int, functions: int) -> tuple[int, str]:
    """The workers to use, and a note when the memory limit cut down what was asked."""
    if asked is None:
        return max(1, min(default_workers(memory_limit_mb), functions)), ""
    cap = memory_cap(memory_limit_mb)
    note = ""
    if asked > cap:
        note = (
            f"--codeflash-workers={asked}: {cap} runner(s) of {memory_limit_mb} MiB fit in "
            f"this machine's memory, so {cap} work at once (lower memory-limit-mb for more)"
        )
    return max(1, min(asked, cap, functions)), note


def slots_per_function(asked: int | None, memory_limit_mb: int, workers: int) -> int:
    """How many runs one function's evaluation may have at once: the CPUs (or the workers
    asked for) that the functions evaluated side by side leave over, one each at least.

    With one function on a machine of two CPUs, its candidates are evaluated two at a time,
    and they start while the baseline still generates inputs (see ``.rounds``).
    """
    total = asked if asked is not None else default_workers(memory_limit_mb)
    return max(1, min(total, memory_cap(memory_limit_mb)) // max(1, workers))


def in_daemon_thread(
    call: Callable[[], R], name: str, gate: threading.Semaphore | None = None
) -> Future[R]:
    """``call()`` in a daemon thread of its own (holding ``gate`` while it runs), as a future.

    Daemon threads, unlike an executor's: an interrupted run (Ctrl-C) never waits for them at
    exit; the sandbox's close ends their runs.
    """
    future: Future[R] = Future()

    def run() -> None:
        with gate or contextlib.nullcontext():
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(call())
            except BaseException as err:
                future.set_exception(err)

    threading.Thread(target=run, name=name, daemon=True).start()
    return future


def run_parallel(
    work: Work[T, R],
    items: Sequence[T],
    *,
    workers: int,
    make_sandbox: Callable[[], Sandbox],
    progress: Progress,
) -> Iterator[R]:
    """``work(item, sandbox, progress)`` for every item, in ``workers`` threads; in order.

    Each thread makes one sandbox and keeps it for all its items; every sandbox is closed
    at the end.  An exception in ``work`` is raised here, in the calling thread, when its
    item's turn comes.
    """
    if workers <= 1 or len(items) <= 1:
        sandbox = make_sandbox()
        try:
            for item in items:
                yield work(item, sandbox, progress)
        finally:
            sandbox.close()
        return
    pool = _Pool(work, items, workers, make_sandbox)
    try:
        for index in range(len(items)):
            yield pool.result(index, progress)
    except BaseException:
        pool.stop(wait=False)  # Ctrl-C: the runs in progress end with their fork servers
        raise
    pool.stop(wait=True)


class _Pool(Generic[T, R]):
    """Daemon threads taking the items in turn; messages and results go through queues."""

    def __init__(
        self,
        work: Work[T, R],
        items: Sequence[T],
        workers: int,
        make_sandbox: Callable[[], Sandbox],
    ) -> None:
        self.work = work
        self.items = list(items)
        self.next = iter(range(len(self.items)))
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.messages: queue.Queue[tuple[str, int, object]] = queue.Queue()
        self.done: dict[int, tuple[bool, object]] = {}
        self.sandboxes: list[Sandbox] = []
        self.make_sandbox = make_sandbox
        # Daemon threads: an interrupted run (Ctrl-C) never waits for them at exit.
        self.threads = [
            threading.Thread(target=self._worker, name=f"codeflash-worker-{n}", daemon=True)
            for n in range(workers)
        ]
        for thread in self.threads:
            thread.start()

    def _worker(self) -> None:
        sandbox = None
        while not self.stopping.is_set():
            with self.lock:
                index = next(self.next, None)
            if index is None:
                return
            if sandbox is None:
                try:
                    sandbox = self.make_sandbox()
                except BaseException as err:  # reported for this item, in the caller's thread
                    self.messages.put(("done", index, (False, err)))
                    return
                with self.lock:
                    self.sandboxes.append(sandbox)

            def say(message: str) -> None:
                self.messages.put(("progress", -1, message))

            try:
                outcome: tuple[bool, object] = (True, self.work(self.items[index], sandbox, say))
            except BaseException as err:
                outcome = (False, err)
            self.messages.put(("done", index, outcome))

    def result(self, index: int, progress: Progress) -> R:
        """Wait for item ``index``, writing every progress line that arrives meanwhile."""
        while index not in self.done:
            kind, number, payload = self.messages.get()
            if kind == "progress":
                progress(str(payload))
            else:
                self.done[number] = payload  # type: ignore[assignment]
        ok, value = self.done.pop(index)
        if not ok:
            assert isinstance(value, BaseException)
            raise value
        return value  # type: ignore[return-value]

    def stop(self, *, wait: bool) -> None:
        """Take no more items; wait for the threads (if ``wait``); close the sandboxes."""
        self.stopping.set()
        if wait:
            for thread in self.threads:
                thread.join()
        with self.lock:
            sandboxes = list(self.sandboxes)
        for sandbox in sandboxes:
            sandbox.close()
