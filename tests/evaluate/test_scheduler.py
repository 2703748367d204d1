"""Functions evaluated side by side: one sandbox per worker, results in order, lines whole."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from pytest_codeflash.evaluate import scheduler
from pytest_codeflash.evaluate.scheduler import run_parallel, slots_per_function, worker_count


class FakeSandbox:
    made: list[FakeSandbox] = []

    def __init__(self) -> None:
        self.closed = False
        self.used_by: set[int] = set()
        self.busy = threading.Lock()
        FakeSandbox.made.append(self)

    def close(self) -> None:
        self.closed = True


def work(item: int, sandbox: Any, say: Any) -> int:
    assert sandbox.busy.acquire(blocking=False), "two evaluations in one sandbox at once"
    try:
        sandbox.used_by.add(threading.get_ident())
        say(f"f{item}: started")
        time.sleep(0.01 * (5 - item))  # later items finish first
        say(f"f{item}: done")
        return item * 10
    finally:
        sandbox.busy.release()


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_results_in_order_each_worker_its_own_sandbox(workers: int) -> None:
    FakeSandbox.made = []
    printed: list[tuple[str, int]] = []

    def progress(line: str) -> None:
        printed.append((line, threading.get_ident()))

    results = list(
        run_parallel(
            work,
            list(range(5)),
            workers=workers,
            make_sandbox=FakeSandbox,  # type: ignore[arg-type]
            progress=progress,
        )
    )
    assert results == [0, 10, 20, 30, 40]
    assert len(FakeSandbox.made) == workers
    assert all(s.closed and len(s.used_by) == 1 for s in FakeSandbox.made)
    # Every line was written by the calling thread, whole.
    assert {thread for _, thread in printed} == {threading.get_ident()}
    assert sorted(line for line, _ in printed) == sorted(
        [f"f{i}: started" for i in range(5)] + [f"f{i}: done" for i in range(5)]
    )


def test_an_error_is_raised_in_the_caller_and_sandboxes_close() -> None:
    FakeSandbox.made = []

    def failing(item: int, sandbox: Any, say: Any) -> int:
        if item == 1:
            raise ValueError("boom")
        return item

    evaluated = run_parallel(
        failing,
        [0, 1, 2],
        workers=2,
        make_sandbox=FakeSandbox,  # type: ignore[arg-type]
        progress=print,
    )
    assert next(evaluated) == 0
    with pytest.raises(ValueError, match="boom"):
        next(evaluated)
    assert all(s.closed for s in FakeSandbox.made)


def test_workers_never_exceed_what_the_memory_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scheduler, "memory_mb", lambda: 10_000)
    assert worker_count(8, 4096, 20) == (
        2,
        "--codeflash-workers=8: 2 runner(s) of 4096 MiB fit in this machine's memory, so 2 "
        "work at once (lower memory-limit-mb for more)",
    )
    assert worker_count(2, 1024, 20) == (2, "")
    assert worker_count(4, 1024, 3) == (3, "")  # never more workers than functions
    assert worker_count(None, 4096, 20)[0] <= 2
    assert worker_count(None, 64, 1) == (1, "")


def test_cpus_the_functions_leave_go_to_their_candidates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scheduler, "memory_mb", lambda: 100_000)
    monkeypatch.setattr(scheduler, "default_workers", lambda memory_limit_mb: 4)
    assert slots_per_function(None, 4096, 1) == 4  # one function: four candidates at once
    assert slots_per_function(None, 4096, 2) == 2
    assert slots_per_function(None, 4096, 4) == 1
    assert slots_per_function(1, 4096, 1) == 1  # --codeflash-workers=1: one run at a time
    assert slots_per_function(2, 4096, 1) == 2
    assert slots_per_function(8, 40_000, 1) == 2  # what the memory holds
