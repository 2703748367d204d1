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
"returncode": R}`` when it has ended (negative: killed by that signal).  One run at a time:
the sandbox starts one server per run it may have at once.  :class:`ForkServer` is the
parent's handle on a server.  Standard library only (plus what it preloads).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
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


def _console_main() -> Callable[[], int]:
    """What ``python -m pytest`` runs: ``_console_main`` since pytest 9.1, which deprecated
    the public ``console_main`` (it warned in every run's output)."""
    import _pytest.config
    import pytest

    main: Callable[[], int] | None = getattr(_pytest.config, "_console_main", None)
    return main or pytest.console_main  # before 9.1 (pytest 10 has no console_main)


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
        code = int(_console_main()())
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


# -- the parent's side ------------------------------------------------------------------
def kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


class ForkServerError(Exception):
    """The fork server did not start, answer, or behave; runs fall back to new processes."""


class ForkServer:
    """The parent's handle on :mod:`.forkserver`: one run at a time, with a timeout."""

    def __init__(
        self,
        env: dict[str, str],
        cwd: Path,
        project: Path | None = None,
        plugins: bool = True,
        *,
        wait: bool = True,
    ) -> None:
        """:param project: the project's root: plugins of its own are not preloaded.
        :param plugins: preload the installed pytest plugins.
        :param wait: wait until the server is ready (otherwise the first run waits)."""
        self._buffer = b""
        self.plugins = plugins
        self._ready = False
        self._running = 0  # the child of the run going on, if any
        command = [sys.executable, "-m", "pytest_codeflash.runner.forkserver"]
        if project is not None:
            command += ["--project", str(project)]
        if not plugins:
            command.append("--no-plugins")
        try:
            self.process = subprocess.Popen(
                command,
                cwd=cwd,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError as err:
            raise ForkServerError(f"cannot start: {err}") from err
        if wait:
            self.ready()

    def ready(self) -> None:
        """Wait for the server's greeting (once); ForkServerError if it refused or broke."""
        if self._ready:
            return
        try:
            greeting = self._reply(60.0)
            if "ready" not in greeting:
                raise ForkServerError(str(greeting.get("refused", "unexpected greeting")))
        except BaseException:
            self.close()
            raise
        self._ready = True

    def run(
        self,
        args: list[str],
        cwd: Path,
        env: dict[str, str],
        output: Path,
        memory_mb: int,
        timeout: float,
        grace: Callable[[], float] | None = None,
    ) -> tuple[int | None, bool]:
        """Fork a child that runs ``pytest args`` in ``cwd``; its return code and whether it
        was killed for running past ``timeout`` seconds (plus what ``grace()`` grants by
        then)."""
        self.ready()
        request = {
            "args": args,
            "cwd": str(cwd),
            "env": env,
            "output": str(output),
            "memory_mb": memory_mb,
        }
        try:
            assert self.process.stdin is not None
            self.process.stdin.write(json.dumps(request).encode() + b"\n")
            self.process.stdin.flush()
        except (OSError, ValueError) as err:
            raise ForkServerError(f"cannot send the request: {err}") from err
        pid = int(self._reply(30.0).get("pid", 0))
        if pid <= 0:
            raise ForkServerError("no child started")
        ended: dict[str, Any] | None = None
        timed_out = False
        self._running = pid
        try:
            try:
                ended = self._read(timeout, grace)
            except TimeoutError:
                timed_out = True
                kill_group(pid)
                ended = self._reply(30.0)
        finally:
            self._running = 0
            if ended is None:  # interrupted (Ctrl-C) or the server broke: take the child down
                kill_group(pid)
        return int(ended["returncode"]), timed_out

    def close(self) -> None:
        """End the server (and the run going on, if closed from another thread) and release
        the pipes.  The server keeps no state: it is killed rather than left to tear its
        interpreter down (a few tenths of a second with everything it preloads)."""
        running = self._running
        if running:  # closed from another thread (Ctrl-C): its child goes too, on any system
            kill_group(running)
        try:
            if self.process.stdin is not None:
                self.process.stdin.close()
        except OSError:
            pass
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()

    def _reply(self, timeout: float) -> dict[str, Any]:
        """Like ``_read``, for replies that must come: a missing one breaks the server."""
        try:
            return self._read(timeout)
        except TimeoutError as err:
            raise ForkServerError(f"no reply within {timeout:.0f} s") from err

    def _read(self, timeout: float, grace: Callable[[], float] | None = None) -> dict[str, Any]:
        """The server's next reply line; TimeoutError if none comes within ``timeout``
        seconds, plus what ``grace()`` grants by then (asked again every second)."""
        import selectors

        assert self.process.stdout is not None
        stream = self.process.stdout.fileno()
        began = time.monotonic()
        with selectors.DefaultSelector() as selector:
            selector.register(stream, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                left = began + timeout + (grace() if grace else 0.0) - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                if not selector.select(min(left, 1.0) if grace else left):
                    continue
                chunk = os.read(stream, 65536)
                if not chunk:
                    raise ForkServerError("the server ended")
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        try:
            reply = json.loads(line)
        except ValueError as err:
            raise ForkServerError(f"unreadable reply {line[:80]!r}") from err
        if not isinstance(reply, dict):
            raise ForkServerError(f"unexpected reply {line[:80]!r}")
        return reply
