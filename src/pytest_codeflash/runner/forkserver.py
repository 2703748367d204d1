"""A warm process that forks the runner's children, so they skip interpreter and pytest start-up.

Every evaluation runs pytest in a fresh process.  Started from scratch, that process spends
about half a second importing pytest, Hypothesis, coverage.py and the runner before it
reaches the user's code; a candidate's whole evaluation is otherwise only a few seconds.
The sandbox therefore starts this server once (``python -m
pytest_codeflash.runner.forkserver``, with the runner's environment) and asks it for each
run: the server has those modules imported -- never the user's code, and it never runs
pytest itself -- and forks a child that becomes the run.

The child starts a new session (so a timeout can kill its whole process group), moves into
the run's project copy, takes the run's environment, output file and limits, dies with the
server (which dies with pytest), and runs ``pytest`` with the run's arguments, exactly as
``python -m pytest`` would.

Protocol, one JSON object per line: the parent writes ``{"args", "cwd", "env", "output",
"memory_mb"}``; the server answers ``{"pid": N}`` once the child exists, then ``{"pid": N,
"returncode": R}`` when it has ended (negative: killed by that signal).  One run at a time.
Standard library only (plus what it preloads).
"""

from __future__ import annotations

import json
import os
import signal
import sys
from typing import Any

# What every run imports before it reaches the user's code.  Anything that fails to import
# is simply imported (or not) by the child itself.
PRELOAD = (
    "pytest",
    "_pytest.python",
    "_pytest.assertion.rewrite",
    "_pytest.terminal",
    "pytest_codeflash.runner.child",
    "pytest_codeflash.runner.replay",
    "pytest_codeflash.runner.generate",
    "pytest_codeflash.runner.stats",
    "coverage",
    "hypothesis",
    "hypothesis.strategies",
    "_hypothesis_pytestplugin",
)


def main() -> None:
    import importlib

    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:  # optional: the child imports what it needs itself
            continue
    die_with_parent()
    requests, replies = sys.stdin.buffer, sys.stdout
    replies.write(json.dumps({"ready": os.getpid()}) + "\n")
    replies.flush()
    for line in requests:
        try:
            request = json.loads(line)
        except ValueError:
            break
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child's coverage is not measured
            _become_run(request)
        replies.write(json.dumps({"pid": pid}) + "\n")
        replies.flush()
        _, status = os.waitpid(pid, 0)
        replies.write(json.dumps({"pid": pid, "returncode": _returncode(status)}) + "\n")
        replies.flush()


def _returncode(status: int) -> int:
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1


def _become_run(request: dict[str, Any]) -> None:  # pragma: no cover - runs in the fork
    code = 1
    try:
        os.setsid()
        die_with_parent()
        os.chdir(request["cwd"])
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        output = os.open(request["output"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(output, 1)
        os.dup2(output, 2)
        os.close(null)
        os.close(output)
        os.environ.clear()
        os.environ.update(request["env"])
        import tempfile

        tempfile.tempdir = None  # found again from the run's TMPDIR
        limit_memory(int(request["memory_mb"]))
        signal.signal(signal.SIGINT, signal.default_int_handler)
        # ``python -m pytest`` in the project copy puts that directory first on sys.path.
        sys.path[0] = request["cwd"]
        sys.argv = ["pytest", *request["args"]]
        import pytest

        code = int(pytest.console_main())
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def limit_memory(megabytes: int) -> None:
    """An address-space limit of ``megabytes``, and no core files (here and in children)."""
    import resource

    limit = megabytes * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def die_with_parent() -> None:
    """Linux: be killed when the parent process ends (elsewhere the parent cleans up)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


if __name__ == "__main__":
    main()
