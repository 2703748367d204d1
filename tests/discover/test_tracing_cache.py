"""What a traced run leaves in pytest's cache for the next, and what the next one does with it."""

from __future__ import annotations

import importlib
import json
import os
import pickle
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_codeflash.discover import tracing_cache
from pytest_codeflash.discover.tracing import Tracer
from pytest_codeflash.discover.tracing_records import TargetTrace
from pytest_codeflash.discover.tracing_support import real_path

MODULE = """\
def leaf(n):
    return n + 1


def late(n):
    return n * 2
"""
NAMES = ("leaf", "late")
needs_profiler = pytest.mark.skipif(
    sys.version_info >= (3, 12), reason="3.12+ uses sys.monitoring: no exact phases to spare"
)


class JsonCache:
    """pytest's ``config.cache`` as far as tracing uses it: values go through JSON."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.writes = 0

    def get(self, key: str, default: Any) -> Any:
        return json.loads(self.values[key]) if key in self.values else default

    def set(self, key: str, value: object) -> None:
        self.values[key] = json.dumps(value)
        self.writes += 1


@pytest.fixture
def mod(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[types.ModuleType]:
    (tmp_path / "cachemod.py").write_text(MODULE)
    (tmp_path / "test_calls.py").write_text("# the tests' file: its size tells a change\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("cachemod")
    yield module
    sys.modules.pop("cachemod", None)


def _files(module: types.ModuleType) -> dict[str, str]:
    return {f"cachemod.{n}": str(module.__file__) for n in NAMES}


def _traced_run(module: types.ModuleType, cache: JsonCache, root: Path) -> Tracer:
    """One run: two known tests and, if the cache says so, the last run's knowledge."""
    tracer = Tracer(  # exact phases (the counter has none)
        [("cachemod", n) for n in NAMES], files=_files(module), max_samples=8, counter=False
    )
    previous = tracing_cache.load(cache, _files(module), 8, root)
    if previous is not None:
        tracer.settle(previous.kept, previous.called)
    tracer.start()
    try:
        tracer.begin_test("test_calls.py::test_leaf")
        tracer.rearm()
        for i in range(50):
            module.leaf(i)
        tracer.end_test()
        tracer.begin_test("test_calls.py::test_late")
        tracer.rearm()
        sum(_one(i) for i in range(1000))  # the exact phase ends before ...
        module.late(1)  # ... these calls, which only the profiler sees
        module.late(2)
        tracer.end_test()
    finally:
        tracer.stop()
    tests = ["test_calls.py::test_leaf", "test_calls.py::test_late"]
    kept = tracing_cache.save(
        cache, tracer.traces, tests, needed=tracer.needed, max_samples=8, rootdir=root,
        previous=previous,
    )  # fmt: skip
    assert kept
    return tracer


def _one(i: int) -> int:
    return i


@needs_profiler
def test_the_next_run_keeps_the_inputs_and_traces_exactly_only_where_inputs_lack(
    mod: types.ModuleType, tmp_path: Path
) -> None:
    cache = JsonCache()
    first = _traced_run(mod, cache, tmp_path)
    leaf, late = (first.traces[f"cachemod.{n}"] for n in NAMES)
    assert first.tests_exact == 2
    assert first.inputs_reused == 0
    assert late.calls == 2
    assert late.fast_calls == 2
    inputs = list(leaf.samples)
    assert inputs
    assert all(pickle.loads(s)[0][0] in range(50) for s in inputs)

    second = _traced_run(mod, cache, tmp_path)
    leaf2, late2 = (second.traces[f"cachemod.{n}"] for n in NAMES)
    assert leaf2.settled
    assert leaf2.samples == inputs
    assert second.inputs_reused == 1
    assert second.tests_exact == 1  # test_late: `late` still lacks inputs
    assert leaf2.calls == 50
    assert late2.calls == 2
    assert leaf2.tests == {"test_calls.py::test_leaf"}
    assert late2.tests == {"test_calls.py::test_late"}

    # `late` has been called in RUNS_TO_COMPLETE runs: it has what tracing can give it.
    for _ in range(tracing_cache.RUNS_TO_COMPLETE - 1):
        third = _traced_run(mod, cache, tmp_path)
    assert third.tests_exact == 0
    assert third.inputs_reused == 2
    writes = cache.writes
    _traced_run(mod, cache, tmp_path)
    assert cache.writes == writes  # nothing new learned: the record is not written again


@needs_profiler
def test_a_changed_file_or_a_new_test_is_traced_afresh(
    mod: types.ModuleType, tmp_path: Path
) -> None:
    cache = JsonCache()
    _traced_run(mod, cache, tmp_path)
    files = _files(mod)
    previous = tracing_cache.load(cache, files, 8, tmp_path)
    assert previous is not None
    assert previous.kept["cachemod.leaf"].complete
    assert set(previous.called) == {"test_calls.py::test_leaf", "test_calls.py::test_late"}

    tracer = Tracer([("cachemod", n) for n in NAMES], files=files, max_samples=8, counter=False)
    tracer.settle(previous.kept, previous.called)
    tracer.start()
    try:
        assert not tracer._needs_exact("test_calls.py::test_leaf")
        assert tracer._needs_exact("test_other.py::test_new")  # the last run did not see it
    finally:
        tracer.stop()

    with open(tmp_path / "test_calls.py", "a") as handle:
        handle.write("def test_more(): pass\n")
    previous = tracing_cache.load(cache, files, 8, tmp_path)
    assert previous is not None
    assert not previous.called
    assert previous.kept["cachemod.leaf"].complete  # the functions' file did not change

    with open(str(mod.__file__), "a") as handle:
        handle.write("\n# changed\n")
    previous = tracing_cache.load(cache, files, 8, tmp_path)
    assert previous is not None
    assert not previous.kept


def _trace(tmp_path: Path, name: str = "f", **fields: Any) -> TargetTrace:
    path = tmp_path / f"{name}.py"
    path.write_text(f"def {name}(): pass\n")
    code = compile(path.read_text(), str(path), "exec").co_consts[0]
    return TargetTrace("m", name, real_path(str(path)), code=code, **fields)


def test_what_makes_a_function_complete(tmp_path: Path) -> None:
    traces = {
        "m.exact": _trace(tmp_path, "exact", calls=10, fast_calls=6),  # 4 seen exactly
        "m.short": _trace(tmp_path, "short", calls=10, fast_calls=7),
        "m.all": _trace(tmp_path, "all", calls=2),  # every start seen exactly
        "m.often": _trace(tmp_path, "often", calls=5, fast_calls=5, runs=2, credit=1),
        "m.gen": _trace(tmp_path, "gen", calls=9, resumable=True),  # starts need exact phases
        "m.unseen": _trace(tmp_path, "unseen"),
    }
    cache = JsonCache()
    assert tracing_cache.save(cache, traces, [], needed=4, max_samples=8, rootdir=tmp_path)
    files = {name: trace.file or "" for name, trace in traces.items()}
    previous = tracing_cache.load(cache, files, 8, tmp_path)
    assert previous is not None
    complete = {name: kept.complete for name, kept in previous.kept.items()}
    assert complete == {"m.exact": True, "m.short": False, "m.all": True, "m.often": True}
    assert previous.kept["m.short"].exact == 3
    assert previous.kept["m.short"].runs == 1
    assert previous.kept["m.often"].runs == 3


def test_inputs_too_large_to_keep_are_sampled_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tracing_cache, "MAX_FUNCTION_BYTES", 100)
    small, large = pickle.dumps(((1,), {})), pickle.dumps((("x" * 200,), {}))
    trace = _trace(tmp_path, calls=4, samples=[small, large])
    cache = JsonCache()
    tracing_cache.save(cache, {"m.f": trace}, [], needed=4, max_samples=8, rootdir=tmp_path)
    previous = tracing_cache.load(cache, {"m.f": trace.file or ""}, 8, tmp_path)
    assert previous is not None
    assert previous.kept["m.f"].inputs == [small]
    assert not previous.kept["m.f"].complete


def test_tests_that_did_not_run_keep_their_entry(tmp_path: Path) -> None:
    (tmp_path / "test_a.py").write_text("")
    (tmp_path / "test_b.py").write_text("")
    trace = _trace(tmp_path, calls=1, tests={"test_a.py::test_one"})
    cache = JsonCache()
    files = {"m.f": trace.file or ""}
    tracing_cache.save(
        cache, {"m.f": trace}, ["test_a.py::test_one", "test_b.py::test_two"],
        needed=4, max_samples=8, rootdir=tmp_path,
    )  # fmt: skip
    previous = tracing_cache.load(cache, files, 8, tmp_path)
    assert previous is not None
    assert previous.called == {"test_a.py::test_one": ["m.f"], "test_b.py::test_two": []}
    # A run of test_b.py alone keeps what the last run learned of test_a.py.
    tracing_cache.save(
        cache, {"m.f": trace}, ["test_b.py::test_two"], needed=4, max_samples=8,
        rootdir=tmp_path, previous=previous,
    )  # fmt: skip
    again = tracing_cache.load(cache, files, 8, tmp_path)
    assert again is not None
    assert again.called == previous.called


@pytest.mark.parametrize(
    "change",
    [
        {"max_samples": 64},
        {"python": [2, 7]},
        {"version": 0},
        {"functions": []},
        {"tests": {"test_a.py::t": 5}},
    ],
)
def test_a_record_that_does_not_fit_is_left_alone(tmp_path: Path, change: dict[str, Any]) -> None:
    trace = _trace(tmp_path, calls=1)
    cache = JsonCache()
    tracing_cache.save(cache, {"m.f": trace}, [], needed=4, max_samples=8, rootdir=tmp_path)
    record = cache.get(tracing_cache.CACHE_KEY, None)
    if "tests" in change:
        (tmp_path / "test_a.py").write_text("")
        record["test_files"]["test_a.py"] = tracing_cache.stat_key(tmp_path / "test_a.py")
    record.update(change)
    cache.set(tracing_cache.CACHE_KEY, record)
    files = {"m.f": trace.file or ""}
    assert tracing_cache.load(cache, files, 8, tmp_path) is None
    assert tracing_cache.load(JsonCache(), files, 8, tmp_path) is None  # no record at all


def test_a_file_that_is_gone_is_a_changed_file(tmp_path: Path) -> None:
    trace = _trace(tmp_path, calls=1)
    cache = JsonCache()
    tracing_cache.save(cache, {"m.f": trace}, [], needed=4, max_samples=8, rootdir=tmp_path)
    os.remove(trace.file or "")
    previous = tracing_cache.load(cache, {"m.f": trace.file or ""}, 8, tmp_path)
    assert previous is not None
    assert not previous.kept
