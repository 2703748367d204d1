"""Parent side of the runner: a fresh project copy, a scrubbed environment, limits, a verdict.

Every evaluation gets its own temporary directory holding a copy of the project (so tests
with relative paths work and whatever the code writes lands there), a private ``TMPDIR``,
the spec, and the result file the child writes.  The child runs in a new session with an
address-space limit and dies with its parent; on timeout the whole process group is killed.
Nothing here writes inside the user's tree.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pytest

from . import protocol
from .determinism import child_environment
from .forkserver import ForkServer, ForkServerError, die_with_parent, kill_group, limit_memory
from .guard import scrub_environment
from .protocol import RunnerResult, RunnerSpec
from .test_ids import files_of

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
        slots: int = 1,
    ) -> None:
        self.rootdir = rootdir
        self.inifile = inifile
        self.extra_args = list(extra_args)
        self.memory_limit_mb = memory_limit_mb
        self.secret_names = list(secret_names)
        self.slots = max(1, slots)
        """How many runs may go on at once (from as many threads): one fork server each."""
        self.workdir = Path(tempfile.mkdtemp(prefix="codeflash-"))
        self._count = 0
        self._lock = threading.Lock()
        self._servers: list[ForkServer] = []  # every server started, for close()
        self._idle: list[ForkServer] = []  # those no run is using
        self._plugins = True  # whether servers preload the installed plugins
        self._server_failed = not hasattr(os, "fork")
        self._closed = False
        self._spawner: concurrent.futures.ThreadPoolExecutor | None = None
        self._processes: set[int] = set()  # runs started as processes of their own

    def close(self) -> None:
        """End every server and every run still going on (in a thread, after Ctrl-C), and
        remove the runs' directories."""
        with self._lock:
            self._closed = True
            servers, self._servers, self._idle = self._servers, [], []
            processes, spawner = list(self._processes), self._spawner
        for server in servers:
            server.close()
        for pid in processes:
            kill_group(pid)
        if spawner is not None:
            spawner.shutdown(wait=False)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def warm(self, servers: int | None = None) -> None:
        """Start fork servers (one per slot, or ``servers``) now, without waiting for them:
        they import pytest and the plugins on other CPUs while the parent goes on."""
        while True:
            with self._lock:
                if self._server_failed or len(self._servers) >= (servers or self.slots):
                    return
            server = self._start_server()
            if server is None:
                return
            with self._lock:
                self._idle.append(server)

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
        started: Callable[[Path], None] | None = None,
        grace: Callable[[], float] | None = None,
    ) -> ChildRun:
        """Start the child on ``tests`` with ``spec``; wait at most ``timeout`` seconds.

        ``files`` (a path relative to the project, with ``/``, to its text) are written into
        this run's copy of the project, never into the user's tree: generated test modules.
        ``started`` is told the run's io directory before the child starts (to watch the
        files it writes while it runs); ``grace()`` is added to ``timeout`` as it grows
        (the time a candidate started early waited for the baseline).
        """
        with self._lock:
            if self._closed:
                raise ForkServerError("the sandbox is closed")
            self._count += 1
            run_dir = self.workdir / f"run-{self._count}"
        project = run_dir / "project"
        io_dir = run_dir / "io"  # spec, results, captured inputs, coverage data
        try:
            run_dir.mkdir()  # not parents: the workdir is gone once the sandbox is closed
        except FileNotFoundError:
            raise ForkServerError("the sandbox is closed") from None
        (run_dir / "tmp").mkdir()
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
            tests=list(tests),
        )
        spec_path = io_dir / "spec.json"
        spec_path.write_text(protocol.dump(spec), encoding="utf-8")
        if started is not None:
            started(io_dir)
        command = self._command(spec_path, project, tests)
        env = self._environment(run_dir)
        output = run_dir / "output.txt"
        began = time.perf_counter()
        server = self._fork_server()
        if server is not None:
            try:
                returncode, timed_out = server.run(
                    command[3:], project, env, output, self.memory_limit_mb, timeout, grace
                )
            except ForkServerError:
                if self._closed:
                    raise
                self._server_failed = True  # the rest of the session starts processes itself
                self._drop(server)
                returncode, timed_out = self._popen(command, project, env, output, timeout, grace)
            else:
                with self._lock:
                    if server in self._servers:  # not closed meanwhile
                        self._idle.append(server)
        else:
            if self._closed:
                raise ForkServerError("the sandbox is closed")
            returncode, timed_out = self._popen(command, project, env, output, timeout, grace)
        wall = time.perf_counter() - began
        return ChildRun(
            result=read_result(io_dir / "result.json"),
            io_dir=io_dir,
            returncode=returncode,
            timed_out=timed_out,
            wall_s=wall,
            progress=_read_text(io_dir / "progress.txt"),
            output_tail=_read_text(output)[-2000:],
        )

    def _popen(
        self,
        command: list[str],
        project: Path,
        env: dict[str, str],
        output: Path,
        timeout: float,
        grace: Callable[[], float] | None = None,
    ) -> tuple[int | None, bool]:
        """Run the child as a new process of its own (when no fork server is available)."""
        timed_out = False
        began = time.monotonic()
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
            with self._lock:
                self._processes.add(process.pid)
                closed = self._closed
            try:
                if closed:
                    raise ForkServerError("the sandbox is closed")
                returncode: int | None = None
                while returncode is None:
                    left = began + timeout + (grace() if grace else 0.0) - time.monotonic()
                    if left <= 0:
                        timed_out = True
                        kill_group(process.pid)
                        returncode = process.wait()
                        break
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        returncode = process.wait(timeout=min(left, 1.0))
            finally:
                if process.poll() is None:  # interrupted (Ctrl-C): take the child down too
                    kill_group(process.pid)
                with self._lock:
                    self._processes.discard(process.pid)
        return returncode, timed_out

    def _fork_server(self) -> ForkServer | None:
        """A ready fork server no run is using (started if need be), taken until the run
        ends; None if none can run here."""
        while True:
            with self._lock:
                if self._server_failed:
                    return None
                server = self._idle.pop() if self._idle else None
            if server is None:
                server = self._start_server()
                if server is None:
                    return None
            try:
                server.ready()
                return server
            except ForkServerError as err:
                self._drop(server)
                if not server.plugins:
                    log.info("codeflash: runs start as new processes: %s", err)
                    self._server_failed = True
                    return None
                # Most likely a plugin (a thread, the project's code): try without plugins.
                log.info("codeflash: the runner's fork server without plugins: %s", err)
                self._plugins = False

    def _start_server(self) -> ForkServer | None:
        """A new fork server (listed for close()), not waited for (see ``ForkServer.ready``);
        None if the sandbox is closed or, for the rest of the session, if none can start.

        Every server is started by one thread that lives as long as the sandbox: a server
        dies with the thread that started it (``PR_SET_PDEATHSIG`` is per thread), and a
        candidate's thread ends with its run.
        """
        with self._lock:
            if self._closed:
                return None
            if self._spawner is None:
                self._spawner = concurrent.futures.ThreadPoolExecutor(1, "codeflash-servers")
            spawner = self._spawner
        try:
            return spawner.submit(self._spawn).result()
        except RuntimeError:  # shut down: the sandbox was closed meanwhile
            return None

    def _spawn(self) -> ForkServer | None:
        server_dir = self.workdir / "server"
        try:  # not parents: the workdir is gone once the sandbox is closed
            server_dir.mkdir(exist_ok=True)
            (server_dir / "tmp").mkdir(exist_ok=True)
        except FileNotFoundError:
            return None
        env = self._environment(server_dir)
        try:
            server = ForkServer(env, server_dir, self.rootdir, plugins=self._plugins, wait=False)
        except ForkServerError as err:
            log.info("codeflash: runs start as new processes: %s", err)
            self._server_failed = True
            return None
        with self._lock:
            closed = self._closed
            if not closed:
                self._servers.append(server)
        if closed:  # closed meanwhile (Ctrl-C)
            server.close()
            return None
        return server

    def _drop(self, server: ForkServer) -> None:
        with self._lock:
            if server in self._servers:
                self._servers.remove(server)
            if server in self._idle:
                self._idle.remove(server)
        server.close()

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
        # The tests' files: the child picks the tests (see test_ids).
        return command + self.extra_args + files_of(tests)

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


def read_result(path: Path) -> RunnerResult | None:
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
