"""Killing pytest at any moment leaves the user's tree unchanged and no runner behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import tree_digest

SLOW = "import time\n\ndef unique(items):\n    time.sleep(30)\n    return list(items)\n"


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT])
def test_kill_during_evaluation(listy: pytest.Pytester, how: signal.Signals) -> None:
    (listy.path / "candidates" / "slow.py").write_text(SLOW)
    (listy.path / "candidates" / "slow2.py").write_text(SLOW.replace("list(items)", "items[:]"))
    before = tree_digest(listy.path)
    # A private temporary root, so this test only looks at its own runner processes.
    scratch = listy.path.parent / f"scratch-{how.name}"
    scratch.mkdir()
    env = dict(os.environ, TMPDIR=str(scratch))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "--codeflash-target=listy.core.unique",
            "--codeflash-candidate=candidates/slow.py",
            "--codeflash-candidate=candidates/slow2.py",
            "--codeflash-workers=2",  # both at once, beside the baseline's generation
        ],
        cwd=listy.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if "candidate 2/2 slow2.py: verifying" in line:
            break
    time.sleep(1.0)  # the runner is now inside the candidate's tests
    assert _runners_alive(scratch)  # so that the check below can fail
    process.send_signal(how)
    process.communicate(timeout=60)
    assert tree_digest(listy.path) == before
    # The runner process died with its parent: nothing is left running the slow candidate.
    deadline = time.monotonic() + 10
    while _runners_alive(scratch) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _runners_alive(scratch)


def _runners_alive(scratch: Path) -> bool:
    """Whether any runner process (the fork server, or a run it forked) is left.

    They all work under ``scratch``, the test's private temporary root: their current
    directory tells them apart from every other process on the machine.
    """
    if not os.path.isdir("/proc/self/cwd"):  # not Linux: look at command lines instead
        found = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
        return any(
            ("codeflash-runner-spec" in line and str(scratch) in line)
            or "pytest_codeflash.runner.forkserver" in line
            for line in found.splitlines()
        )
    root = str(scratch.resolve())
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if cwd == root or cwd.startswith(root + os.sep):
            return True
    return False
