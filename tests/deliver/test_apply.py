"""Tests of delivering optimizations: patches, ``--codeflash-apply``, git checks, formatters.

The unit tests use real git repositories in temporary directories (the git CLI); the end-to-end
tests run pytest with the plugin on a small project inside one.
"""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pytest_codeflash.deliver.apply import (
    Optimization,
    apply_optimization,
    atomic_write,
    deliver,
    run_formatters,
)
from pytest_codeflash.deliver.patches import make_patch
from pytest_codeflash.deliver.terminal import delivery_lines
from pytest_codeflash.errors import ApplyError
from pytest_codeflash.models import FileChange, FunctionResult, Settings, TargetFunction
from pytest_codeflash.source.gitops import has_uncommitted_changes

from ..conftest import SLOW_MODULE


def git(root: Path, *args: str) -> str:
    command = ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com"]
    command += ["-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main", *args]
    done = subprocess.run(command, cwd=root, capture_output=True, text=True, check=True)
    return done.stdout


def commit_all(root: Path) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "state")


ORIGINAL = "def f(x):\n    return sorted(x)[0]\n"
OPTIMIZED = "def f(x):\n    return min(x)\n"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "mod.py").write_text(ORIGINAL)
    (root / "pkg" / "util.py").write_text("X = 1\n")
    git(root, "init", "-q")
    commit_all(root)
    return root


def optimization(root: Path, original: str = ORIGINAL, optimized: str = OPTIMIZED) -> Optimization:
    target = TargetFunction(module="pkg.mod", qualname="f", file=root / "pkg" / "mod.py", lineno=1)
    result = FunctionResult(
        qualified_name="pkg.mod.f", file="pkg/mod.py", status="optimized", reason="faster"
    )
    return Optimization(target, result, original, optimized)


def settings(root: Path, **values: object) -> Settings:
    return Settings(rootdir=root, apply=True, **values)  # type: ignore[arg-type]


# -- writing ----------------------------------------------------------------------------------


def test_atomic_write_keeps_the_mode_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text("old\n")
    path.chmod(0o640)
    atomic_write(path, b"new\r\n")
    assert path.read_bytes() == b"new\r\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["m.py"]


def test_apply_writes_the_optimized_module(repo: Path) -> None:
    assert apply_optimization(optimization(repo), settings(repo)) == []
    assert (repo / "pkg" / "mod.py").read_text() == OPTIMIZED


def test_apply_keeps_crlf_line_endings(repo: Path) -> None:
    crlf = ORIGINAL.replace("\n", "\r\n")
    (repo / "pkg" / "mod.py").write_bytes(crlf.encode())
    commit_all(repo)
    # The optimized source came through a reader that translated the newlines.
    apply_optimization(optimization(repo, crlf, OPTIMIZED), settings(repo))
    assert (repo / "pkg" / "mod.py").read_bytes() == OPTIMIZED.replace("\n", "\r\n").encode()


def test_a_file_changed_since_the_run_started_is_refused(repo: Path) -> None:
    (repo / "pkg" / "mod.py").write_text(ORIGINAL + "# edited meanwhile\n")
    with pytest.raises(ApplyError) as info:
        apply_optimization(optimization(repo), settings(repo, apply_force=True))
    assert str(info.value) == (
        "pkg/mod.py changed since the run started; re-run to optimize the new version "
        "(nothing was written)"
    )
    assert (repo / "pkg" / "mod.py").read_text().endswith("# edited meanwhile\n")


@pytest.mark.parametrize("how", ["unstaged", "staged", "untracked"])
def test_uncommitted_changes_are_refused_unless_forced(repo: Path, how: str) -> None:
    path = repo / "pkg" / "mod.py"
    if how == "untracked":
        git(repo, "rm", "-q", "--cached", "pkg/mod.py")
        git(repo, "commit", "-q", "-m", "untrack")
    else:
        path.write_text(ORIGINAL + "\n")
        if how == "staged":
            git(repo, "add", "pkg/mod.py")
    item = optimization(repo, original=path.read_text())
    with pytest.raises(ApplyError) as info:
        apply_optimization(item, settings(repo))
    assert str(info.value) == (
        "pkg/mod.py has uncommitted changes; commit or stash them first, or pass "
        "--codeflash-apply-force (nothing was written)"
    )
    assert path.read_text() == item.original
    apply_optimization(item, settings(repo, apply_force=True))
    assert path.read_text() == OPTIMIZED


def test_git_status_of_a_file(repo: Path, tmp_path: Path) -> None:
    path = repo / "pkg" / "mod.py"
    assert not has_uncommitted_changes(path)
    (repo / "other.txt").write_text("untracked elsewhere does not count\n")
    assert not has_uncommitted_changes(path)
    path.write_text("changed\n")
    assert has_uncommitted_changes(path)
    outside = tmp_path / "loose.py"
    outside.write_text("x = 1\n")
    assert not has_uncommitted_changes(outside)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    git(fresh, "init", "-q")
    (fresh / "m.py").write_text("x = 1\n")
    assert has_uncommitted_changes(fresh / "m.py")  # no commit yet


def test_several_files_are_written_or_none(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    change = FileChange(path="pkg/util.py", module="pkg.util", original="X = 1\n", merged="X = 2\n")
    item = optimization(repo)
    item = Optimization(item.target, item.result, item.original, item.optimized, (change,))
    import pytest_codeflash.deliver.apply as apply_module

    real = apply_module.atomic_write

    def failing(path: Path, data: bytes) -> None:
        if path.name == "util.py" and data == b"X = 2\n":
            raise PermissionError(13, "Permission denied", str(path))
        real(path, data)

    monkeypatch.setattr(apply_module, "atomic_write", failing)
    with pytest.raises(ApplyError, match=r"cannot write .*util.py \(Permission denied\)"):
        apply_optimization(item, settings(repo))
    assert (repo / "pkg" / "mod.py").read_text() == ORIGINAL  # rolled back
    monkeypatch.setattr(apply_module, "atomic_write", real)
    apply_optimization(item, settings(repo))
    assert (repo / "pkg" / "util.py").read_text() == "X = 2\n"
    assert (repo / "pkg" / "mod.py").read_text() == OPTIMIZED


# -- formatters -------------------------------------------------------------------------------


def formatter(tmp_path: Path, body: str) -> str:
    script = tmp_path / "fmt.py"
    script.write_text(textwrap.dedent(body))
    return f"{shlex.quote(sys.executable)} {shlex.quote(str(script))} $file"


def test_formatter_runs_on_the_applied_file_from_the_rootdir(repo: Path, tmp_path: Path) -> None:
    command = formatter(
        tmp_path,
        """
        import os, sys
        with open(sys.argv[1], "a") as f:
            f.write("# formatted in " + os.path.basename(os.getcwd()) + "\\n")
        """,
    )
    notes = apply_optimization(optimization(repo), settings(repo, formatter_cmds=(command,)))
    assert notes == []
    assert (repo / "pkg" / "mod.py").read_text() == OPTIMIZED + "# formatted in proj\n"


def test_file_path_with_spaces_is_one_argument(tmp_path: Path) -> None:
    root = tmp_path / "my project"
    root.mkdir()
    path = root / "m.py"
    path.write_text("x = 1\n")
    command = formatter(
        tmp_path, "import sys\nassert len(sys.argv) == 2\nopen(sys.argv[1], 'a').write('# ok\\n')\n"
    )
    assert run_formatters([path], Settings(rootdir=root, formatter_cmds=(command,))) == []
    assert path.read_text() == "x = 1\n# ok\n"


@pytest.mark.parametrize(
    ("body", "note"),
    [
        (
            "import sys\nopen(sys.argv[1], 'w').write('half')\nsys.exit('boom: bad config')\n",
            "failed (exit code 1: boom: bad config)",
        ),
        ("import sys\nopen(sys.argv[1], 'w').write('def (:\\n')\n", "left pkg/mod.py unparsable"),
    ],
)
def test_failing_formatter_is_reported_and_the_code_stays(
    repo: Path, tmp_path: Path, body: str, note: str
) -> None:
    command = formatter(tmp_path, body)
    notes = apply_optimization(optimization(repo), settings(repo, formatter_cmds=(command,)))
    (message,) = notes
    assert note in message
    assert message.endswith("pkg/mod.py keeps the optimized code unformatted")
    assert (repo / "pkg" / "mod.py").read_text() == OPTIMIZED


def test_missing_formatter_and_bad_command(repo: Path) -> None:
    commands = ("no-such-formatter-xyz $file", "ruff format 'unclosed $file")
    notes = apply_optimization(optimization(repo), settings(repo, formatter_cmds=commands))
    assert "'no-such-formatter-xyz' was not found" in notes[0]
    assert "was not run (No closing quotation)" in notes[1]
    assert (repo / "pkg" / "mod.py").read_text() == OPTIMIZED


def test_disabled_formatting(repo: Path) -> None:
    config = settings(repo, formatter_cmds=("disabled",))
    assert run_formatters([repo / "pkg" / "mod.py"], config) == []


# -- patches and messages ----------------------------------------------------------------------


def test_patch_applies_with_git_apply_on_a_clean_checkout(repo: Path) -> None:
    crlf = "import os\r\n\r\n\r\n" + ORIGINAL.replace("\n", "\r\n")
    (repo / "pkg" / "mod.py").write_bytes(crlf.encode())
    (repo / "pkg" / "util.py").write_text("X = 1")  # no newline at the end
    commit_all(repo)
    change = FileChange(path="pkg/util.py", module="pkg.util", original="X = 1", merged="X = 2\n")
    item = optimization(repo, crlf, "import os\n\n\n" + OPTIMIZED)
    item = Optimization(item.target, item.result, item.original, item.optimized, (change,))
    (delivery,) = deliver([item], Settings(rootdir=repo))
    (message,) = delivery_lines(delivery)
    assert message.startswith(
        "pkg.mod.f: patch written; apply it with: git apply .codeflash/patches/"
    )
    patch = message.rsplit(" ", 1)[-1]
    assert patch.endswith("-pkg.mod.f.patch")
    git(repo, "apply", "--check", patch)
    git(repo, "apply", patch)
    assert (repo / "pkg" / "mod.py").read_bytes() == item.optimized.replace("\n", "\r\n").encode()
    assert (repo / "pkg" / "util.py").read_text() == "X = 2\n"


def test_make_patch_marks_a_missing_final_newline() -> None:
    patch = make_patch("m.py", "x = 1", "x = 2")
    assert patch.endswith(
        "-x = 1\n\\ No newline at end of file\n+x = 2\n\\ No newline at end of file\n"
    )


def test_refused_apply_saves_the_patch(repo: Path) -> None:
    (repo / "pkg" / "mod.py").write_text(ORIGINAL + "\n")
    (delivery,) = deliver([optimization(repo, ORIGINAL + "\n")], settings(repo))
    assert not delivery.applied
    assert delivery.error is not None
    (message,) = delivery_lines(delivery)
    assert message.startswith("pkg.mod.f: not applied: pkg/mod.py has uncommitted changes;")
    assert "; the patch is saved, apply it with: git apply .codeflash/patches/" in message
    assert len(list((repo / ".codeflash" / "patches").glob("*.patch"))) == 1


def test_applied_message_and_formatter_notes(repo: Path) -> None:
    config = settings(repo, formatter_cmds=("no-such-formatter-xyz $file",))
    (delivery,) = deliver([optimization(repo)], config)
    messages = delivery_lines(delivery)
    assert messages[0] == "pkg.mod.f: applied to pkg/mod.py"
    assert messages[1].startswith("pkg.mod.f: formatter 'no-such-formatter-xyz $file' failed")
    assert not (repo / ".codeflash").exists()


# -- end to end: pytest --codeflash-apply in a git repository -----------------------------------

FAST_UNIQUE = '''\
def unique(items):
    """Items in first-seen order, without repeats."""
    return list(dict.fromkeys(items))
'''

RUN = (
    "--codeflash-target=listy.core.unique",
    "--codeflash-candidate=fast.py",
    "--codeflash-backend=none",
    "--codeflash-effort=low",
)
APPLIED = SLOW_MODULE.replace(
    "    result = []\n    for item in items:\n        if item not in result:\n"
    "            result.append(item)\n    return result\n",
    "    return list(dict.fromkeys(items))\n",
)


@pytest.fixture
def calc(listy: pytest.Pytester) -> pytest.Pytester:
    """The ``listy`` project as a committed git repository, a faster rewrite beside it, and a
    formatter that marks the files it formats."""
    formatter = listy.path / "fmt.py"
    formatter.write_text("import sys\nopen(sys.argv[1], 'a').write('# formatted\\n')\n")
    command = f"{shlex.quote(sys.executable)} fmt.py $file"
    pyproject = listy.path / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text()
        + f"\n[tool.codeflash]\nformatter-cmds = [{command!r}]\n".replace("'", '"')
    )
    (listy.path / "fast.py").write_text(FAST_UNIQUE)
    (listy.path / ".gitignore").write_text(".codeflash/\n__pycache__/\n.pytest_cache/\n")
    git(listy.path, "init", "-q")
    commit_all(listy.path)
    return listy


def core(pytester: pytest.Pytester) -> str:
    return (pytester.path / "src" / "listy" / "core.py").read_text()


def test_apply_in_a_clean_repository(calc: pytest.Pytester) -> None:
    # Two more candidates: the same rewrite with other local names and comments (a duplicate,
    # never run), and the original with another docstring (no change, never run).
    renamed = (
        "def unique(items):\n"
        "    found = dict.fromkeys(items)  # keeps the first of each\n"
        "    return list(found)\n"
    )
    fast_local = "def unique(items):\n    seen = dict.fromkeys(items)\n    return list(seen)\n"
    (calc.path / "fast.py").write_text(fast_local)
    (calc.path / "renamed.py").write_text(renamed)
    (calc.path / "same.py").write_text(SLOW_MODULE.replace("without repeats", "no repeats"))
    extra = ("--codeflash-candidate=renamed.py", "--codeflash-candidate=same.py", "-v")
    result = calc.runpytest_subprocess(
        *RUN, *extra, "--codeflash-apply", "--codeflash-report=r.json"
    )
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(
        [
            "codeflash: listy.core.unique: applied to src/listy/core.py",
            "listy.core.unique (src/listy/core.py): OPTIMIZED*",
            "    accepted fast.py (file): *",
            "    accepted renamed.py (file, duplicate of fast.py): *",
            "    rejected same.py (file): no change: *",
        ]
    )
    assert result.stdout.str().count("verifying and timing") == 1
    report = json.loads((calc.path / "r.json").read_text())
    by_id = {c["id"]: c for c in report["functions"][0]["candidates"]}
    assert by_id["renamed.py"]["duplicate_of"] == "fast.py"
    assert report["functions"][0]["best_candidate"] == "fast.py"
    old_def = (
        SLOW_MODULE[SLOW_MODULE.index("def unique") : SLOW_MODULE.index("\n\n\ndef total")] + "\n"
    )
    assert (
        core(calc) == SLOW_MODULE.replace(old_def, fast_local) + "# formatted\n"
    )  # then formatted
    assert not (calc.path / ".codeflash" / "patches").exists()
    assert "+    seen = dict.fromkeys(items)" in git(calc.path, "diff")


def test_dirty_file_is_refused_and_its_patch_applies_then_force(calc: pytest.Pytester) -> None:
    dirty = SLOW_MODULE + "\n\ndef local_work():\n    return 1\n"
    (calc.path / "src" / "listy" / "core.py").write_text(dirty)
    refused = calc.runpytest_subprocess(*RUN, "--codeflash-apply")
    refused.assert_outcomes(passed=5)
    refused.stdout.fnmatch_lines(
        [
            "codeflash: listy.core.unique: not applied: src/listy/core.py has uncommitted "
            "changes; commit or stash them first, or pass --codeflash-apply-force (nothing was "
            "written); the patch is saved, apply it with: git apply .codeflash/patches/*.patch"
        ]
    )
    assert core(calc) == dirty
    (patch,) = (calc.path / ".codeflash" / "patches").glob("*-listy.core.unique.patch")

    # The saved patch applies with git on a clean checkout.
    git(calc.path, "stash", "-q")
    git(calc.path, "apply", str(patch))
    assert core(calc) == APPLIED
    git(calc.path, "checkout", "-q", "--", ".")
    git(calc.path, "stash", "pop", "-q")
    assert core(calc) == dirty

    forced = calc.runpytest_subprocess(*RUN, "--codeflash-apply", "--codeflash-apply-force")
    forced.stdout.fnmatch_lines(["codeflash: listy.core.unique: applied to src/listy/core.py"])
    assert core(calc) == dirty.replace(SLOW_MODULE, APPLIED) + "# formatted\n"


@pytest.mark.skipif(os.name == "nt", reason="POSIX permission bits")
def test_apply_keeps_an_executable_bit(repo: Path) -> None:
    path = repo / "pkg" / "mod.py"
    path.chmod(0o755)
    commit_all(repo)
    apply_optimization(optimization(repo), settings(repo))
    assert stat.S_IMODE(path.stat().st_mode) == 0o755
