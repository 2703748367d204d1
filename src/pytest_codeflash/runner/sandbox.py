"""Parent side of the runner: a fresh project copy, a scrubbed environment, limits, a verdict.

Every evaluation gets its own temporary directory holding a copy of the project (so tests
with relative paths work and whatever the code writes lands there), a private ``TMPDIR``,
the spec, and the result file the child writes.  The child runs in a new session with an
address-space limit and dies with its parent; on timeout the whole process group is killed.
Nothing here writes inside the user's tree.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .determinism import child_environment
from .guard import scrub_environment

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

    result: dict[str, Any] | None
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

    def close(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)

    def run(self, spec: dict[str, Any], tests: Sequence[str], timeout: float) -> ChildRun:
        """Start the child on ``tests`` with ``spec``; wait at most ``timeout`` seconds."""
        self._count += 1
        run_dir = self.workdir / f"run-{self._count}"
        project = run_dir / "project"
        io_dir = run_dir / "io"  # spec, results, captured inputs, coverage data
        (run_dir / "tmp").mkdir(parents=True)
        io_dir.mkdir()
        shutil.copytree(self.rootdir, project, ignore=_ignore, symlinks=True)
        spec = dict(spec)
        spec.update(
            result_path=str(io_dir / "result.json"),
            progress_path=str(io_dir / "progress.txt"),
            output_dir=str(io_dir),
            allowed_roots=[str(p.resolve()) for p in (project, run_dir / "tmp", io_dir)],
            secret_names=self.secret_names,
        )
        spec_path = io_dir / "spec.json"
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        command = self._command(spec_path, project, tests)
        env = self._environment(run_dir)
        output = run_dir / "output.txt"
        started = time.perf_counter()
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
                _kill_group(process)
                returncode = process.wait()
            finally:
                if process.poll() is None:  # interrupted (Ctrl-C): take the child down too
                    _kill_group(process)
        wall = time.perf_counter() - started
        return ChildRun(
            result=_read_json(io_dir / "result.json"),
            io_dir=io_dir,
            returncode=returncode,
            timed_out=timed_out,
            wall_s=wall,
            progress=_read_text(io_dir / "progress.txt"),
            output_tail=_read_text(output)[-2000:],
        )

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
        import resource

        limit = self.memory_limit_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if sys.platform.startswith("linux"):
            try:
                import ctypes

                libc = ctypes.CDLL(None)
                libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
            except (OSError, AttributeError):
                pass


def _ignore(directory: str, names: list[str]) -> set[str]:
    return {n for n in names if n in SKIP_DIRS or n.endswith(".egg-info")}


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
