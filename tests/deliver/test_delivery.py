"""Where optimizations go, said at every verbosity; git failures named as such."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from pytest_codeflash.deliver.apply import apply_optimization
from pytest_codeflash.errors import ApplyError, GitError
from pytest_codeflash.source.gitops import changed_lines, describe_failure, has_uncommitted_changes

from ..conftest import SLOW_MODULE
from . import test_apply
from .test_apply import RUN, optimization, settings

calc = test_apply.calc  # the committed listy project with a slow listy.core.unique
repo = test_apply.repo  # a committed repository with pkg/mod.py


def _disown(root: Path) -> None:
    """Give the tree to another user, so git refuses it ("dubious ownership")."""
    for path in [root, *root.rglob("*")]:
        os.chown(path, 65534, 65534, follow_symlinks=False)


needs_root = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("git") is None,
    reason="making a repository owned by another user needs root",
)


@pytest.fixture
def own_git_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No safe.directory from the machine's git configuration."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.delenv("GIT_CONFIG_GLOBAL", raising=False)


@needs_root
@pytest.mark.usefixtures("own_git_config")
def test_dubious_ownership_is_named_never_uncommitted_changes(repo: Path) -> None:
    _disown(repo)
    with pytest.raises(GitError, match="dubious ownership"):
        has_uncommitted_changes(repo / "pkg" / "mod.py")
    with pytest.raises(ApplyError) as info:
        apply_optimization(optimization(repo), settings(repo))
    message = str(info.value)
    assert "uncommitted changes: git refuses the repository" in message
    assert f"git config --global --add safe.directory {repo}" in message
    assert "has uncommitted changes" not in message
    assert (repo / "pkg" / "mod.py").read_text() == test_apply.ORIGINAL
    with pytest.raises(Exception, match="dubious ownership"):
        changed_lines(repo, "HEAD")


def test_describe_failure_quotes_what_git_said(tmp_path: Path) -> None:
    import git as gitpython

    err = gitpython.GitCommandError(
        ["git", "status"], 128, stderr="fatal: not a git repository (or any parent)"
    )
    assert describe_failure(err, tmp_path) == (
        f"git failed in {tmp_path} (exit code 128): fatal: not a git repository (or any parent)"
    )


def test_quiet_run_still_says_where_the_patch_went(calc: pytest.Pytester) -> None:
    result = calc.runpytest_subprocess(*RUN, "-q", "--codeflash-report=r.json")
    result.stdout.fnmatch_lines(
        [
            "listy.core.unique (src/listy/core.py): OPTIMIZED*",
            "    patch saved; apply it with: git apply .codeflash/patches/*-listy.core.unique.*",
            "1 of 1 function(s) optimized",
        ]
    )
    (function,) = json.loads((calc.path / "r.json").read_text())["functions"]
    assert function["patch_file"].startswith(".codeflash/patches/")
    assert function["applied"] is None
    assert (calc.path / function["patch_file"]).is_file()


def test_quiet_refused_apply_shows_in_summary_and_report(calc: pytest.Pytester) -> None:
    dirty = SLOW_MODULE + "\n\ndef local_work():\n    return 1\n"
    (calc.path / "src" / "listy" / "core.py").write_text(dirty)
    result = calc.runpytest_subprocess(*RUN, "-q", "--codeflash-apply", "--codeflash-report=r.json")
    result.stdout.fnmatch_lines(
        [
            "listy.core.unique (src/listy/core.py): OPTIMIZED*",
            "    NOT APPLIED: src/listy/core.py has uncommitted changes; commit or stash them "
            "first, or pass --codeflash-apply-force (nothing was written); patch saved; apply "
            "it with: git apply .codeflash/patches/*.patch",
            "1 of 1 function(s) optimized; 0 applied, 1 NOT applied (patch saved, see above)",
        ]
    )
    (function,) = json.loads((calc.path / "r.json").read_text())["functions"]
    assert function["applied"] is False
    assert function["apply_error"].startswith("src/listy/core.py has uncommitted changes")
    assert function["applied_files"] == []
    assert function["patch_file"].endswith("-listy.core.unique.patch")


def test_quiet_apply_names_the_files_written(calc: pytest.Pytester) -> None:
    result = calc.runpytest_subprocess(*RUN, "-q", "--codeflash-apply", "--codeflash-report=r.json")
    result.stdout.fnmatch_lines(
        [
            "    applied to src/listy/core.py",
            "1 of 1 function(s) optimized; 1 applied",
        ]
    )
    (function,) = json.loads((calc.path / "r.json").read_text())["functions"]
    assert (function["applied"], function["applied_files"]) == (True, ["src/listy/core.py"])
    assert function["patch_file"] is None


@needs_root
def test_quiet_apply_in_a_repository_of_another_user(calc: pytest.Pytester) -> None:
    calc.path.joinpath(".gitconfig").unlink(missing_ok=True)  # pytester's HOME is its path
    _disown(calc.path)
    result = calc.runpytest_subprocess(*RUN, "-q", "--codeflash-apply")
    result.stdout.fnmatch_lines(
        ["    NOT APPLIED: cannot check src/listy/core.py for uncommitted changes: git refuses*"]
    )
    assert "dubious ownership" in result.stdout.str()
    assert "has uncommitted changes" not in result.stdout.str()
