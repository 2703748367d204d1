"""Candidates started before the baseline ends (evaluate/early.py): what they wait for, and
what happens when the baseline never gets there."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_codeflash.evaluate.early import EarlyBaseline
from pytest_codeflash.runner import protocol
from pytest_codeflash.runner.protocol import GENERATED_DONE, INPUTS_FILE, RunnerResult
from pytest_codeflash.runner.sandbox import ChildRun

TARGET = "--codeflash-target=listy.core.unique"


def _ended(io_dir: Path) -> ChildRun:
    return ChildRun(RunnerResult(phase="tests"), io_dir, 0, False, 1.0, "", "")


def _baseline(
    io_dir: Path,
    go_on: threading.Event,
    gate: threading.Semaphore,
    *,
    generated: bool,
    stopped: bool,
) -> EarlyBaseline:
    """An EarlyBaseline over a stand-in run that writes what the real one writes."""

    def start(started: Callable[[Path], None]) -> ChildRun:
        started(io_dir)
        (io_dir / "result.json").write_text(protocol.dump(RunnerResult(phase="tests")))
        (io_dir / INPUTS_FILE).write_bytes(b"")
        go_on.wait(10)
        if generated:
            (io_dir / GENERATED_DONE).write_bytes(b"done")
        return ChildRun(RunnerResult(phase="tests"), io_dir, 0, stopped, 1.0, "", "")

    return EarlyBaseline(start, gate)


@pytest.mark.parametrize(
    ("generated", "stopped", "marker"),
    [(True, False, b"done"), (False, False, b"ended"), (False, True, b"aborted")],
)
def test_candidates_start_once_the_captured_calls_are_written(
    tmp_path: Path, generated: bool, stopped: bool, marker: bytes
) -> None:
    go_on, gate = threading.Event(), threading.Semaphore(2)
    early = _baseline(tmp_path, go_on, gate, generated=generated, stopped=stopped)
    interim = early.interim()
    assert interim is not None
    assert interim.result is not None
    assert interim.io_dir == tmp_path
    assert interim.returncode is None
    assert not (tmp_path / GENERATED_DONE).exists()  # candidates wait for it
    assert gate.acquire(blocking=False)  # the baseline holds the other slot
    assert not gate.acquire(blocking=False)
    go_on.set()
    assert early.result().returncode == 0
    assert gate.acquire(blocking=False)  # and frees it when it ends
    # A baseline that ended without its generated inputs lets the waiting runs go on, and
    # one stopped at its limit stops them.
    assert (tmp_path / GENERATED_DONE).read_bytes() == marker


def test_a_run_that_ends_before_its_captured_calls_has_no_interim(tmp_path: Path) -> None:
    def start(started: Callable[[Path], None]) -> ChildRun:
        started(tmp_path)
        return _ended(tmp_path)

    early = EarlyBaseline(start)
    assert early.interim() is None
    assert early.result().returncode == 0


def _in_the_baseline(patch: str) -> str:
    """A ``conftest.py`` that replaces the runner's input generation, in the baseline's run
    only, by ``patch(real, *args, **kwargs)``."""
    return f"""\
import os
import sys
import time

import pytest_codeflash.runner.generate as generate

{patch}

if any('"mode": "baseline"' in open(a.split("=", 1)[1]).read()
       for a in sys.argv if a.startswith("--codeflash-runner-spec=")):
    real = generate.generate_per_spec
    generate.generate_per_spec = lambda *args, **kwargs: patch(real, *args, **kwargs)
"""


DIES = """\
def patch(real, *args, **kwargs):
    time.sleep(2)  # the candidates have started by then
    os._exit(3)  # the baseline dies while it generates inputs
"""

SLOW = """\
def patch(real, *args, **kwargs):
    time.sleep(4)  # the candidates are done with their tests long before
    return real(*args, **kwargs)
"""

# Right on every call the tests make, and on those calls scaled up; sorted on the short
# lists with a 0 in them that generated inputs bring.  One line, which every call runs.
WRONG_ON_ZEROS = """\
def unique(items):
    return sorted(set(items)) if 0 in items and len(items) < 100 else list(dict.fromkeys(items))
"""


def _optimize(listy: pytest.Pytester, conftest: str, *candidates: str, **run: Any) -> Any:
    """The report on ``listy.core.unique``, two runs at a time whatever the CPUs."""
    (listy.path / "tests" / "conftest.py").write_text(conftest)
    result = listy.runpytest_subprocess(
        TARGET,
        *[f"--codeflash-candidate=candidates/{name}" for name in candidates],
        "--codeflash-workers=2",
        "--codeflash-effort=low",
        "--codeflash-report=report.json",
        "-q",
        **run,
    )
    result.assert_outcomes(passed=5)
    (function,) = json.loads((listy.path / "report.json").read_text())["functions"]
    return function


def test_candidates_waiting_for_a_baseline_that_dies_go_on_without_it(
    listy: pytest.Pytester,
) -> None:
    """No run waits for its time limit: the candidates draw their own inputs, as they do
    whenever the baseline could not, and get the verdicts they would get one by one."""
    # Without the marker the parent writes, they would wait ~80 s.
    function = _optimize(listy, _in_the_baseline(DIES), "fast.py", "wrong.py", timeout=60)
    verdicts = {c["id"]: c["verdict"] for c in function["candidates"]}
    assert verdicts == {"fast.py": "accepted", "wrong.py": "rejected"}
    (fast,) = [c for c in function["candidates"] if c["id"] == "fast.py"]
    assert "waiting for the baseline's generated inputs" in fast["phases_s"]


def test_a_candidate_started_early_is_checked_on_the_generated_inputs_before_any_timing(
    listy: pytest.Pytester,
) -> None:
    """It waits for the baseline's generated inputs, and a difference there rejects it
    before it is timed (no timing beside the baseline's generation: see
    ``ChildRunner._timing_turn``)."""
    (listy.path / "candidates" / "zeros.py").write_text(WRONG_ON_ZEROS)
    (zeros,) = _optimize(listy, _in_the_baseline(SLOW), "zeros.py")["candidates"]
    assert zeros["verdict"] == "rejected"
    assert "generated" in zeros["reason"], zeros["reason"]
    assert zeros["speedup"] is None
    phases = list(zeros["phases_s"])
    assert "waiting for the baseline's generated inputs" in phases
    assert "timing" not in phases


CHILDREN = """\
import os


def test_count_pytest_children():
    mine = str(os.getpid())
    count = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        count += fields[1] == mine
    with open("children.txt", "w") as out:
        out.write(str(count))
"""


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc")
@pytest.mark.parametrize(
    ("workers", "children"),
    [
        ("1", "0"),
        pytest.param(
            "2",
            "1",
            marks=pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one CPU"),
        ),
    ],
)
def test_the_first_fork_server_starts_with_the_tests_unless_one_worker_is_asked(
    listy: pytest.Pytester, workers: str, children: str
) -> None:
    """Its imports overlap the tests on a spare CPU; ``--codeflash-workers=1`` asks for one
    process at a time, and gets no child of pytest that its tests could see."""
    (listy.path / "tests" / "test_children.py").write_text(CHILDREN)
    result = listy.runpytest_subprocess(
        TARGET,
        "--codeflash-candidate=candidates/fast.py",
        f"--codeflash-workers={workers}",
        "--codeflash-effort=low",
        "-p",
        "no:randomly",
        "-q",
    )
    result.assert_outcomes(passed=6)
    assert (listy.path / "children.txt").read_text() == children
