"""What one traced run leaves in pytest's cache for the next (before Python 3.12).

Before 3.12 the exact phases, which sample the inputs of the traced functions, cost most of
what tracing adds to a suite of short tests: a trace hook makes every instruction slower
while it is set (see :mod:`.tracing_profile`).  A developer's next run usually traces the
same code, so at its end a run keeps, in ``config.cache`` under :data:`CACHE_KEY`:

- for each traced function, the inputs kept so far, how many of its starts were seen
  exactly and in how many runs it was called, and whether that is all it needs (``needed``
  exact starts over the runs, every start of it seen exactly, or called in
  ``RUNS_TO_COMPLETE`` runs), with the size and modification time of its file;
- which traced functions each test called, with the size and modification time of the
  test's file.

The next run starts from those inputs and counts for every function whose file is
unchanged, samples no more inputs of the complete ones, and starts an exact phase in a
test's call only if the test is new, its file changed, or it called a function that still
needs inputs.  The profiler still runs in every test, so calls, times and which tests call
which function are measured as before; only the first calls' exact times are not.  A test
whose file is unchanged but which now calls a function it did not call before, that no
other test traced exactly calls, gives that function no inputs in that run; the run
records the call, so the next run samples it.  ``--codeflash-no-cache`` starts afresh
(the run still leaves its record).  Generators are not kept (only exact phases tell their
starts from their resumptions), and with xdist, or from 3.12 (where tracing costs little),
nothing is kept or reused.  With the counter of :mod:`.tracing_counter` there are no exact
phases (every test is counted exactly): the record then spares the next run the pickling of
the inputs it already has.

Standard library only, like the rest of tracing.
"""

from __future__ import annotations

import base64
import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from .tracing_records import TargetTrace
from .tracing_support import real_path

if TYPE_CHECKING:
    from .discovery import Cache  # pytest's config.cache, as discovery keeps its own record
    from .tracing import Tracer

CACHE_KEY = "codeflash/tracing"
CACHE_VERSION = 1
# Inputs kept per function, and in all, in the cache (pickled bytes); a function whose inputs
# do not fit is not kept: the next run samples it again.
MAX_FUNCTION_BYTES = 64 << 10
MAX_TOTAL_BYTES = 16 << 20
# A record with more (test, function) pairs than this is not written.
MAX_CALL_PAIRS = 500_000
# A function called in this many runs has the inputs it will get, even with fewer than
# ``needed`` exact starts (its calls come late in its tests, after the exact phases).
RUNS_TO_COMPLETE = 3


class Kept(NamedTuple):
    """What the last runs learned about one function."""

    inputs: list[bytes]  # pickled inputs kept so far
    exact: int  # its starts seen exactly, over the runs
    runs: int  # the runs that called it
    complete: bool  # its inputs are all tracing would give it: sample no more


class Previous(NamedTuple):
    """What the last runs learned that still holds (see the module's text)."""

    kept: dict[str, Kept]  # function -> what is known of it, its file unchanged
    called: dict[str, list[str]]  # test -> the functions it called, its file unchanged
    record: dict[str, Any]  # the record as read


def applies(config: Any) -> bool:
    """Whether a run with this pytest ``config`` starts from the last run's record and leaves
    one: before Python 3.12, in one process (not with xdist), with pytest's cache."""
    option = config.option
    distributed = bool(getattr(option, "numprocesses", None)) or (
        getattr(option, "dist", "no") != "no"
    )
    return (
        sys.version_info < (3, 12)
        and not hasattr(config, "workerinput")
        and not distributed
        and getattr(config, "cache", None) is not None
    )


def resume(config: Any, tracer: Tracer, files: Mapping[str, Path | str]) -> Previous | None:
    """Start ``tracer`` from the last run's record, if there is one that holds."""
    if not applies(config):
        return None
    previous = load(config.cache, files, tracer.max_samples, config.rootpath)
    if previous is not None:
        tracer.settle(previous.kept, previous.called)
    return previous


def record(config: Any, tracer: Tracer, tests: Iterable[str], previous: Previous | None) -> None:
    """Leave the record of ``tracer``'s run (the ``tests`` that ran) for the next one."""
    if applies(config):
        save(
            config.cache, tracer.traces, tests, needed=tracer.needed,
            max_samples=tracer.max_samples, rootdir=config.rootpath, previous=previous,
        )  # fmt: skip


def stat_key(path: Path | str) -> list[int] | None:
    """The size and modification time of ``path``: what tells a changed file."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return [stat.st_size, stat.st_mtime_ns]


def _header(max_samples: int) -> dict[str, Any]:
    return {
        "version": CACHE_VERSION,
        "python": list(sys.version_info[:2]),
        "max_samples": max_samples,
    }


def load(
    cache: Cache, files: Mapping[str, Path | str], max_samples: int, rootdir: Path
) -> Previous | None:
    """What the last run left that still holds, or ``None`` (no record, another version of
    Python or of this record, or other ``max_samples``).

    :param files: qualified name -> file, of the functions traced in this run.
    :param rootdir: what the tests' node ids are relative to.
    """
    data = cache.get(CACHE_KEY, None)
    try:
        return _read(data, files, max_samples, rootdir)
    except (TypeError, ValueError, KeyError, AttributeError):  # a damaged record: start afresh
        return None


def _read(
    data: Any, files: Mapping[str, Path | str], max_samples: int, rootdir: Path
) -> Previous | None:
    if not isinstance(data, dict) or any(data.get(k) != v for k, v in _header(max_samples).items()):
        return None
    stats: dict[str, list[int] | None] = {}

    def unchanged(path: str, key: Any) -> bool:
        if path not in stats:
            stats[path] = stat_key(path)
        return stats[path] is not None and stats[path] == key

    kept: dict[str, Kept] = {}
    for name, entry in data["functions"].items():
        path = files.get(name)
        if path is None or real_path(os.fspath(path)) != entry["file"]:
            continue
        if not unchanged(entry["file"], entry["stat"]):
            continue
        inputs = [base64.b64decode(s) for s in entry["inputs"]]
        kept[name] = Kept(
            inputs, int(entry["exact"]), int(entry["runs"]), entry["complete"] is True
        )
    test_files: dict[str, Any] = data["test_files"]
    called: dict[str, list[str]] = {}
    for test, names in data["tests"].items():
        where = test.split("::", 1)[0]
        if unchanged(os.fspath(rootdir / where), test_files.get(where)):
            called[test] = [str(n) for n in names]
    return Previous(kept, called, data)


def save(
    cache: Cache,
    traces: Mapping[str, TargetTrace],
    tests: Iterable[str],
    *,
    needed: int,
    max_samples: int,
    rootdir: Path,
    previous: Previous | None = None,
) -> bool:
    """Leave this run's record for the next; ``False`` when it is too large to keep.

    :param tests: the tests that ran (their node ids).
    :param needed: exact starts after which a function has all the inputs it will get.
    :param previous: what this run started with: the tests that did not run now keep
        their entry.
    """
    functions: dict[str, Any] = {}
    total = 0
    for name, trace in traces.items():
        if trace.resumable or not trace.file:
            continue
        exact = trace.credit + trace.calls - trace.fast_calls
        if not (trace.calls or trace.runs or exact or trace.samples or trace.settled):
            continue  # nothing known of it
        kept, size = [], 0
        for sample in trace.samples:
            if (
                size + len(sample) > MAX_FUNCTION_BYTES
                or total + size + len(sample) > MAX_TOTAL_BYTES
            ):
                break
            size += len(sample)
            kept.append(sample)
        runs = min(trace.runs + (trace.calls > 0), RUNS_TO_COMPLETE)
        exact = min(exact, needed)  # (so that the record stops changing)
        complete = _complete(trace, exact, runs, needed) and len(kept) == len(trace.samples)
        total += size
        functions[name] = {
            "file": trace.file,
            "stat": stat_key(trace.file),
            "inputs": [base64.b64encode(s).decode("ascii") for s in kept],
            "exact": exact,
            "runs": runs,
            "complete": complete,
        }
    called: dict[str, list[str]] = dict(previous.called) if previous else {}
    ran: dict[str, list[str]] = {test: [] for test in tests}
    for name, trace in traces.items():
        for test in trace.tests:
            ran.setdefault(test, []).append(name)
    called.update(ran)
    if sum(len(names) for names in called.values()) > MAX_CALL_PAIRS:
        return False
    test_files: dict[str, Any] = {}
    for test in called:
        where = test.split("::", 1)[0]
        if where not in test_files:
            test_files[where] = stat_key(rootdir / where)
    record = {
        **_header(max_samples),
        "functions": functions,
        "tests": {test: sorted(names) for test, names in called.items()},
        "test_files": test_files,
    }
    written = previous.record if previous is not None else cache.get(CACHE_KEY, None)
    if written != record:  # (a run after the first few usually learns nothing new)
        cache.set(CACHE_KEY, record)
    return True


def _complete(trace: TargetTrace, exact: int, runs: int, needed: int) -> bool:
    """Whether ``trace`` has all the inputs tracing would give it: ``needed`` of its starts
    seen exactly (over the runs), or every start of it in this run, or it was called in
    ``RUNS_TO_COMPLETE`` runs, or it had them before."""
    if trace.settled:
        return True
    return exact >= needed or runs >= RUNS_TO_COMPLETE or (trace.calls > 0 and not trace.fast_calls)
