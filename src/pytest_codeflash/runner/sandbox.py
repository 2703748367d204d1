"""Parent side of the runner: a fresh project copy, a scrubbed environment, limits, a verdict.

Every evaluation gets its own temporary directory holding a copy of the project (so tests
with relative paths work and whatever the code writes lands there), a private ``TMPDIR``,
the spec, and the result file the child writes.  The child runs in a new session with an
address-space limit and dies with its parent; on timeout the whole process group is killed.
Nothing here writes inside the user's tree.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from . import protocol
from .determinism import child_environment
from .forkserver import die_with_parent, limit_memory
from .guard import scrub_environment
from .protocol import RunnerResult, RunnerSpec

log = logging.getLogger(__name__)

# Directories never copied into the sandbox: VCS data, environments, caches, build output.
SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".tox",
        ".nox",
        ".venv",
        "venv",
        "env",
        ".env",
        "node_modules",
        "__pycache__",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".hypothesis",
        "build",
        "dist",
        ".codeflash",
        ".eggs",
        "site-packages",
    }
)


@dataclass(frozen=True)
class ChildRun:
    """What came back from one runner process."""

    result: RunnerResult | None
    io_dir: Path
    returncode: int | None
    timed_out: bool
    wall_s: float
    progress: str
    output_tail: str


class Sandbox:
    """Runs evaluations of one project, each in a fresh copy; remove with ``close()``."""

    def __init__(
        self,
        rootdir: Path,
        *,
        inifile: Path | None,
        extra_args: Sequence[str],
        memory_limit_mb: int,
        secret_names: Sequence[str],
    ) -> None:
        self.rootdir = rootdir
        self.inifile = inifile
        self.extra_args = list(extra_args)
        self.memory_limit_mb = memory_limit_mb
        self.secret_names = list(secret_names)
        self.workdir = Path(tempfile.mkdtemp(prefix="codeflash-"))
        self._count = 0
        self._server: ForkServer | None = None
        self._server_failed = not hasattr(os, "fork")

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        shutil.rmtree(self.workdir, ignore_errors=True)

    @classmethod
    def for_config(
        cls,
        config: pytest.Config,
        rootdir: Path,
        *,
        memory_limit_mb: int,
        secret_names: Sequence[str],
    ) -> Sandbox:
        """A sandbox for the project at ``rootdir`` of this pytest run, with the child's
        arguments (see :func:`child_args`)."""
        return cls(
            rootdir,
            inifile=Path(config.inipath) if config.inipath else None,
            extra_args=child_args(config),
            memory_limit_mb=memory_limit_mb,
            secret_names=secret_names,
        )

    def run(
        self,
        spec: RunnerSpec,
        tests: Sequence[str],
        timeout: float,
        files: Mapping[str, str] | None = None,
    ) -> ChildRun:
        """Start the child on ``tests`` with ``spec``; wait at most ``timeout`` seconds.

        ``files`` (a path relative to the project, with ``/``, to its text) are written into
        this run's copy of the project, never into the user's tree: generated test modules.
        """
        self._count += 1
        run_dir = self.workdir / f"run-{self._count}"
        project = run_dir / "project"
        io_dir = run_dir / "io"  # spec, results, captured inputs, coverage data
        (run_dir / "tmp").mkdir(parents=True)
        io_dir.mkdir()
        shutil.copytree(self.rootdir, project, ignore=_ignore, symlinks=True)
        for relative, text in (files or {}).items():
            _write_inside(project, relative, text)
        spec = dataclasses.replace(
            spec,
            result_path=str(io_dir / "result.json"),
            progress_path=str(io_dir / "progress.txt"),
            output_dir=str(io_dir),
            allowed_roots=[str(p.resolve()) for p in (project, run_dir / "tmp", io_dir)],
            secret_names=list(self.secret_names),
        )
        spec_path = io_dir / "spec.json"
        spec_path.write_text(protocol.dump(spec), encoding="utf-8")
        command = self._command(spec_path, project, tests)
        env = self._environment(run_dir)
        output = run_dir / "output.txt"
        started = time.perf_counter()
        server = self._fork_server()
        if server is not None:
            try:
                returncode, timed_out = server.run(
                    command[3:], project, env, output, self.memory_limit_mb, timeout
                )
            except ForkServerError:
                self._server_failed = True  # the rest of the session starts processes itself
                self._server = None
                server.close()
                returncode, timed_out = self._popen(command, project, env, output, timeout)
        else:
            returncode, timed_out = self._popen(command, project, env, output, timeout)
        wall = time.perf_counter() - started
        return ChildRun(
            result=_read_result(io_dir / "result.json"),
            io_dir=io_dir,
            returncode=returncode,
            timed_out=timed_out,
            wall_s=wall,
            progress=_read_text(io_dir / "progress.txt"),
            output_tail=_read_text(output)[-2000:],
        )

    def _popen(
        self, command: list[str], project: Path, env: dict[str, str], output: Path, timeout: float
    ) -> tuple[int | None, bool]:
        """Run the child as a new process of its own (when no fork server is available)."""
        timed_out = False
        with open(output, "wb") as sink:
            process = subprocess.Popen(
                command,
                cwd=project,
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=self._limits,
            )
            try:
                returncode: int | None = process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                _kill_group(process.pid)
                returncode = process.wait()
            finally:
                if process.poll() is None:  # interrupted (Ctrl-C): take the child down too
                    _kill_group(process.pid)
        return returncode, timed_out

    def _fork_server(self) -> ForkServer | None:
        """The session's fork server, started on first use; None if it cannot run here."""
        if self._server is None and not self._server_failed:
            server_dir = self.workdir / "server"
            (server_dir / "tmp").mkdir(parents=True, exist_ok=True)
            env = self._environment(server_dir)
            try:
                self._server = ForkServer(env, server_dir, project=self.rootdir)
            except ForkServerError as err:
                # Most likely a plugin (a thread, the project's code): try without plugins.
                log.info("codeflash: the runner's fork server without plugins: %s", err)
                try:
                    self._server = ForkServer(env, server_dir, self.rootdir, plugins=False)
                except ForkServerError as again:
                    log.info("codeflash: runs start as new processes: %s", again)
                    self._server_failed = True
        return self._server

    def _command(self, spec_path: Path, project: Path, tests: Sequence[str]) -> list[str]:
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "pytest_codeflash.runner.child",
            f"--codeflash-runner-spec={spec_path}",
            "-p",
            "no:codeflash",
            "-p",
            "no:cacheprovider",
            f"--rootdir={project}",
            "-q",
            "--color=no",
            "-W",
            "ignore::pytest.PytestWarning",
        ]
        if self.inifile is not None:
            try:
                command += ["-c", str(project / self.inifile.relative_to(self.rootdir))]
            except ValueError:
                command += ["-c", str(self.inifile)]
        return command + self.extra_args + list(tests)

    def _environment(self, run_dir: Path) -> dict[str, str]:
        env = scrub_environment(dict(os.environ), self.secret_names)
        env = child_environment(env)
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["TMPDIR"] = str(run_dir / "tmp")
        env["HOME"] = str(run_dir / "tmp")
        env.pop("PYTEST_ADDOPTS", None)
        env.pop("PYTEST_XDIST_WORKER", None)
        return env

    def _limits(self) -> None:
        """In the child, before exec: memory cap, no core files, die with the parent."""
        limit_memory(self.memory_limit_mb)
        die_with_parent()


def _ignore(directory: str, names: list[str]) -> set[str]:
    return {n for n in names if n in SKIP_DIRS or n.endswith(".egg-info")}


def _write_inside(project: Path, relative: str, text: str) -> None:
    """Write ``text`` at ``relative`` inside ``project``; refuse a path that leaves it."""
    path = PurePosixPath(relative)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise ValueError(f"{relative!r} is not a path inside the project copy")
    target = project.joinpath(*path.parts)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")


def _kill_group(pid: int) -> None:
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
        self, env: dict[str, str], cwd: Path, project: Path | None = None, plugins: bool = True
    ) -> None:
        """:param project: the project's root: plugins of its own are not preloaded.
        :param plugins: preload the installed pytest plugins."""
        self._buffer = b""
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
        try:
            greeting = self._reply(60.0)
            if "ready" not in greeting:
                raise ForkServerError(str(greeting.get("refused", "unexpected greeting")))
        except BaseException:
            self.close()
            raise

    def run(
        self,
        args: list[str],
        cwd: Path,
        env: dict[str, str],
        output: Path,
        memory_mb: int,
        timeout: float,
    ) -> tuple[int | None, bool]:
        """Fork a child that runs ``pytest args`` in ``cwd``; its return code and whether it
        was killed for running past ``timeout`` seconds."""
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
        try:
            try:
                ended = self._read(timeout)
            except TimeoutError:
                timed_out = True
                _kill_group(pid)
                ended = self._reply(30.0)
        finally:
            if ended is None:  # interrupted (Ctrl-C) or the server broke: take the child down
                _kill_group(pid)
        return int(ended["returncode"]), timed_out

    def close(self) -> None:
        """End the server and release the pipes.  No run is going on and the server keeps no
        state: it is killed rather than left to tear its interpreter down (a few tenths of a
        second with everything it preloads)."""
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

    def _read(self, timeout: float) -> dict[str, Any]:
        """The server's next reply line; TimeoutError if none comes within ``timeout``."""
        import selectors

        assert self.process.stdout is not None
        stream = self.process.stdout.fileno()
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            selector.register(stream, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                if not selector.select(left):
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


def _read_result(path: Path) -> RunnerResult | None:
    try:
        return protocol.load(RunnerResult, json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def child_args(config: pytest.Config) -> list[str]:
    """Options that keep the user's addopts from distributing or covering the child run."""
    args = []
    plugins = config.pluginmanager
    if plugins.hasplugin("xdist"):
        args += ["-p", "no:xdist"] if not _addopts_mention(config, "-n") else ["-n", "0"]
    if plugins.hasplugin("pytest_cov") and _addopts_mention(config, "--cov"):
        args.append("--no-cov")
    if plugins.hasplugin("randomly"):
        args += ["-p", "no:randomly"]
    return args


def _addopts_mention(config: pytest.Config, flag: str) -> bool:
    addopts = config.getini("addopts")
    return any(str(a).startswith(flag) for a in addopts)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
