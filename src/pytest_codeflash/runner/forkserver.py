"""A warm process that forks the runner's children, so they skip interpreter and pytest start-up.

Every evaluation runs pytest in a fresh process.  Started from scratch, that process spends
about half a second importing pytest, Hypothesis, coverage.py and the runner before it
reaches the user's code; a candidate's whole evaluation is otherwise only a few seconds.
The sandbox therefore starts this server once (``python -m
pytest_codeflash.runner.forkserver``, with the runner's environment) and asks it for each
run: the server has those modules imported -- never the user's code, and it never runs
pytest itself -- and forks a child that becomes the run.

It also imports the pytest plugins that installed packages declare (the ``pytest11`` entry
points), which pytest would otherwise import in every child, and warms the package metadata
those entry points are read from.  A plugin that belongs to the project under test (its code
under the project's root, or a top-level name the project also has) is left for the child to
import from the project copy; and if any import leaves a second thread running, the server
refuses to start, since forking a process with threads is unsafe: the sandbox then starts
every run as a new process.

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


def main(argv: list[str] | None = None) -> None:
    import argparse
    import importlib

    parser = argparse.ArgumentParser(prog="pytest_codeflash.runner.forkserver")
    parser.add_argument("--project", default=None, help="the project's root")
    parser.add_argument("--no-plugins", action="store_true", help="preload no pytest plugin")
    options = parser.parse_args(sys.argv[1:] if argv is None else argv)
    # What an import prints must not mix with the replies: fd 1 goes nowhere meanwhile.
    replies_fd, null = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    sys.stdout.flush()
    os.dup2(null, 1)
    try:
        for name in PRELOAD:
            try:
                importlib.import_module(name)
            except Exception:  # optional: the child imports what it needs itself
                continue
        if not options.no_plugins and not os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
            preload_plugins(options.project)
        sys.stdout.flush()
    finally:
        os.dup2(replies_fd, 1)
        os.close(replies_fd)
        os.close(null)
    die_with_parent()
    requests, replies = sys.stdin.buffer, sys.stdout
    refused = _unsafe_to_fork(options.project)
    if refused:
        replies.write(json.dumps({"refused": refused}) + "\n")
        replies.flush()
        return
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


def preload_plugins(project: str | None) -> list[str]:
    """Import the ``pytest11`` entry points' modules, except the project's own; the names
    imported.  Reading the entry points also fills the metadata caches the children inherit."""
    import importlib
    from importlib.metadata import entry_points

    try:
        found = list(entry_points(group="pytest11"))
    except Exception:
        return []
    imported = []
    for entry in found:
        name = entry.value.partition(":")[0].strip()
        if not name or name in sys.modules or _belongs_to(name, project):
            continue
        try:
            importlib.import_module(name)
        except BaseException:  # the child meets the same failure, and reports it
            continue
        imported.append(name)
    return imported


def _belongs_to(module: str, project: str | None) -> bool:
    """Whether ``module`` is (or may be) the project's own code: never imported here."""
    if not project:
        return False
    import importlib.util

    top = module.partition(".")[0]
    root = os.path.realpath(project)
    for base in (root, os.path.join(root, "src")):
        if os.path.exists(os.path.join(base, top)) or os.path.exists(
            os.path.join(base, top + ".py")
        ):
            return True
    try:
        spec = importlib.util.find_spec(top)
    except Exception:
        return True  # cannot tell: leave it to the child
    origin = getattr(spec, "origin", None) if spec is not None else None
    locations = [origin, *(getattr(spec, "submodule_search_locations", None) or [])]
    for location in filter(None, locations):
        path = os.path.realpath(location)
        if path == root or path.startswith(root + os.sep):
            return True
    return False


def _unsafe_to_fork(project: str | None) -> str:
    """Why this server must not fork runs, or ``""``: a thread runs (forking a process with
    threads is unsafe), or a preloaded plugin imported the project's own code (every run
    would use that module instead of its project copy's)."""
    threads = thread_count()
    if threads > 1:
        return f"{threads} threads run after preloading"
    if not project:
        return ""
    import sysconfig

    root = os.path.realpath(project)
    stdlib = os.path.realpath(sysconfig.get_paths()["stdlib"])
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if not path or "." in name:
            continue
        where = os.path.realpath(path)
        if where.startswith(stdlib + os.sep):  # a project folder may share a stdlib name
            continue
        if where.startswith(root + os.sep) or _belongs_to(name, project):
            return f"preloading imported the project's module {name} ({path})"
    return ""


def thread_count() -> int:
    """Threads in this process, the ones Python did not start included (Linux)."""
    import threading

    try:
        return max(len(os.listdir("/proc/self/task")), threading.active_count())
    except OSError:
        return threading.active_count()


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
