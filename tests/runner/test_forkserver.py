"""The fork server: warm children that behave like ``python -m pytest`` in the project copy."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_codeflash.runner import sandbox
from pytest_codeflash.runner.forkserver import ForkServer, ForkServerError
from pytest_codeflash.runner.protocol import RunnerSpec
from pytest_codeflash.runner.sandbox import Sandbox

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")

PROBE = """
import os, sys, tempfile

def test_where_am_i():
    assert os.getcwd() == {cwd!r}
    assert sys.path[0] == {cwd!r}
    assert os.environ["RUN_MARK"] == {mark!r}
    assert tempfile.gettempdir() == {tmp!r}
    assert os.getsid(0) == os.getpid()  # its own session: a timeout kills its whole group

def test_sleeps_when_asked():
    if os.environ.get("SLEEP"):
        import time
        time.sleep(float(os.environ["SLEEP"]))
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForkServer]:
    home = tmp_path_factory.mktemp("server")
    running = ForkServer(_env(home), home)
    yield running
    running.close()


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(TMPDIR=str(tmp), PYTHONDONTWRITEBYTECODE="1", **extra)
    return env


def _project(tmp_path: Path, mark: str) -> tuple[Path, Path]:
    project, tmp = tmp_path / "project", tmp_path / "tmp"
    project.mkdir()
    tmp.mkdir()
    source = PROBE.format(cwd=str(project), mark=mark, tmp=str(tmp))
    (project / "test_probe.py").write_text(source)
    return project, tmp


ARGS = ["-p", "no:cacheprovider", "-p", "no:codeflash", "-q", "test_probe.py"]


def test_a_child_runs_pytest_in_the_project_copy(server: ForkServer, tmp_path: Path) -> None:
    project, tmp = _project(tmp_path, "first")
    output = tmp_path / "output.txt"
    code, timed_out = server.run(ARGS, project, _env(tmp, RUN_MARK="first"), output, 4096, 60)
    assert (code, timed_out) == (0, False), output.read_text()
    assert "2 passed" in output.read_text()
    assert "console_main" not in output.read_text()  # as `python -m pytest` runs it


def test_a_child_past_its_timeout_is_killed_and_the_server_goes_on(
    server: ForkServer, tmp_path: Path
) -> None:
    project, tmp = _project(tmp_path, "slow")
    env = _env(tmp, RUN_MARK="slow", SLEEP="60")
    code, timed_out = server.run(ARGS, project, env, tmp_path / "out1.txt", 4096, 2)
    assert timed_out
    assert code == -9
    code, timed_out = server.run(
        ARGS, project, _env(tmp, RUN_MARK="slow"), tmp_path / "out2.txt", 4096, 60
    )
    assert (code, timed_out) == (0, False), (tmp_path / "out2.txt").read_text()


def test_a_child_granted_more_time_is_not_killed(server: ForkServer, tmp_path: Path) -> None:
    """What ``grace()`` grants (a candidate's wait for the baseline) adds to the limit."""
    project, tmp = _project(tmp_path, "granted")
    env = _env(tmp, RUN_MARK="granted", SLEEP="1.5")
    output = tmp_path / "output.txt"
    code, timed_out = server.run(ARGS, project, env, output, 4096, 0.5, grace=lambda: 60.0)
    assert (code, timed_out) == (0, False), output.read_text()


def test_a_sandbox_runs_one_server_per_slot(tmp_path: Path) -> None:
    box = Sandbox(
        tmp_path, inifile=None, extra_args=[], memory_limit_mb=4096, secret_names=[], slots=2
    )
    try:
        box.warm()  # started, not waited for
        assert len(box._servers) == 2
        first, second = box._fork_server(), box._fork_server()  # two runs at once
        assert first is not None
        assert second is not None
        assert first is not second
        assert len(box._servers) == 2
    finally:
        box.close()
    assert box._servers == []


def test_a_server_outlives_the_thread_that_asked_for_it(tmp_path: Path) -> None:
    """A server dies with the thread that started it (PR_SET_PDEATHSIG), and a candidate's
    thread ends with its run: the sandbox starts every server from one thread of its own."""
    box = Sandbox(tmp_path, inifile=None, extra_args=[], memory_limit_mb=4096, secret_names=[])
    taken: list[ForkServer | None] = []
    try:
        asker = threading.Thread(target=lambda: taken.append(box._fork_server()))
        asker.start()
        asker.join()
        (server,) = taken
        assert server is not None
        project, tmp = _project(tmp_path, "later")
        output = tmp_path / "output.txt"
        env = _env(tmp, RUN_MARK="later")
        assert server.run(ARGS, project, env, output, 4096, 60) == (0, False), output.read_text()
    finally:
        box.close()


def test_no_run_starts_in_a_closed_sandbox(tmp_path: Path) -> None:
    """After Ctrl-C, a candidate's thread may still ask: nothing runs, nothing is left."""
    box = Sandbox(tmp_path, inifile=None, extra_args=[], memory_limit_mb=4096, secret_names=[])
    box.close()
    spec = RunnerSpec(
        mode="candidate", module="m", qualname="f", original_source="", candidate_source=""
    )
    with pytest.raises(ForkServerError, match="closed"):
        box.run(spec, [], 60)
    assert box._fork_server() is None
    assert not box.workdir.exists()


def test_failures_and_exit_codes_come_back(server: ForkServer, tmp_path: Path) -> None:
    project, tmp = _project(tmp_path, "expected")
    output = tmp_path / "output.txt"
    code, _ = server.run(ARGS, project, _env(tmp, RUN_MARK="other"), output, 4096, 60)
    assert code == 1
    assert "1 failed, 1 passed" in output.read_text()


def test_a_dead_server_is_an_error_not_a_hang(tmp_path: Path) -> None:
    doomed = ForkServer(_env(tmp_path), tmp_path)
    doomed.process.kill()
    doomed.process.wait()
    project, tmp = _project(tmp_path, "x")
    with pytest.raises(ForkServerError):
        doomed.run(ARGS, project, _env(tmp), tmp_path / "out.txt", 4096, 60)
    doomed.close()


def test_the_sandbox_starts_processes_itself_when_the_server_cannot_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(
        env: dict[str, str],
        cwd: Path,
        project: Path | None = None,
        plugins: bool = True,
        wait: bool = True,
    ) -> ForkServer:
        raise ForkServerError("cannot start: for this test")

    monkeypatch.setattr(sandbox, "ForkServer", broken)
    box = Sandbox(tmp_path, inifile=None, extra_args=[], memory_limit_mb=4096, secret_names=[])
    try:
        assert box._fork_server() is None
        assert box._fork_server() is None  # not tried again
        project, tmp = _project(tmp_path, "plain")
        command = [sys.executable, "-m", "pytest", *ARGS]
        output = tmp_path / "output.txt"
        env = _env(tmp, RUN_MARK="plain")
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        # A process of its own puts its cwd first on sys.path and runs in a new session too.
        assert box._popen(command, project, env, output, 60) == (0, False), output.read_text()
    finally:
        box.close()


def test_installed_plugins_are_preloaded_but_not_the_projects_own(tmp_path: Path) -> None:
    from importlib.metadata import entry_points

    from pytest_codeflash.runner import forkserver

    names = {e.value.partition(":")[0] for e in entry_points(group="pytest11")}
    assert "pytest_codeflash.plugin" in names
    # Run in a fresh interpreter: this one has imported everything already.
    code = (
        "import sys; from pytest_codeflash.runner import forkserver as f; "
        "print(sorted(f.preload_plugins(sys.argv[1])))"
    )
    import subprocess

    here = Path(forkserver.__file__).resolve().parents[2]  # the checkout (or site-packages)
    elsewhere = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True
    )
    assert "pytest_codeflash.plugin" in elsewhere.stdout
    own = subprocess.run(
        [sys.executable, "-c", code, str(here)], capture_output=True, text=True, check=True
    )
    assert "pytest_codeflash.plugin" not in own.stdout  # its code lives under that root


def test_a_server_with_threads_refuses_to_fork(tmp_path: Path) -> None:
    """A preloaded module that started a thread makes forking unsafe: the server says so
    (the sandbox then starts processes of its own)."""
    import subprocess

    code = (
        "import threading, time; "
        "threading.Thread(target=time.sleep, args=(60,), daemon=True).start(); "
        "from pytest_codeflash.runner import forkserver; forkserver.main(['--project', '.'])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], input="", capture_output=True, text=True, timeout=60
    )
    assert '"refused"' in done.stdout, done.stdout + done.stderr
    assert "threads" in done.stdout


def _installed_plugin(site: Path, body: str) -> None:
    """A pytest plugin ``fakeplug`` installed in ``site`` (a ``pytest11`` entry point)."""
    info = site / "fakeplug-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fakeplug\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[pytest11]\nfakeplug = fakeplug\n")
    (site / "fakeplug.py").write_text(body)


def _server_env(tmp_path: Path, *paths: Path) -> dict[str, str]:
    env = _env(tmp_path)
    env["PYTHONPATH"] = os.pathsep.join([*map(str, paths), *(p for p in sys.path if p)])
    return env


def test_what_a_plugin_prints_when_imported_does_not_break_the_server(tmp_path: Path) -> None:
    site = tmp_path / "site"
    _installed_plugin(site, "print('hello from a plugin')\n")
    server = ForkServer(_server_env(tmp_path, site), tmp_path, project=tmp_path / "project")
    server.close()


def test_a_plugin_that_imports_the_project_makes_the_server_start_without_plugins(
    tmp_path: Path,
) -> None:
    """Every run would otherwise use the project's module the server imported, not its own
    copy's: the server refuses, and the sandbox starts one without plugins."""
    site, project = tmp_path / "site", tmp_path / "project"
    _installed_plugin(site, "import mylib\n")
    (project / "mylib").mkdir(parents=True)
    (project / "mylib" / "__init__.py").write_text("")
    env = _server_env(tmp_path, site, project)
    with pytest.raises(ForkServerError, match="project's module mylib"):
        ForkServer(env, tmp_path, project=project)
    ForkServer(env, tmp_path, project=project, plugins=False).close()
