"""Ranking: addressable time, the threshold, the hook, the cap, and changed lines."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from pytest_codeflash.discover import ranking
from pytest_codeflash.discover.tracing import TargetTrace
from pytest_codeflash.errors import ConfigError
from pytest_codeflash.models import RankedFunction, Settings, TargetFunction
from pytest_codeflash.source.gitops import _parse_diff, changed_lines


def _target(name: str, lineno: int = 1, end: int = 5, file: str = "/p/m.py") -> TargetFunction:
    return TargetFunction(module="m", qualname=name, file=Path(file), lineno=lineno, end_lineno=end)


def _trace(
    name: str, calls: int, own: int, total: int, tests: tuple[str, ...] = ("t",)
) -> TargetTrace:
    return TargetTrace("m", name, calls=calls, own_ns=own, total_ns=total, tests=set(tests))


def test_addressable_time_and_share() -> None:
    functions = [_target("hot"), _target("caller"), _target("idle")]
    traces = {
        "m.hot": _trace("hot", calls=10, own=900, total=900),
        "m.caller": _trace("caller", calls=2, own=100, total=1000),
        "m.idle": _trace("idle", calls=0, own=0, total=0, tests=()),
    }
    profiled, traced = ranking.profile(functions, traces)
    assert traced == 1000
    by_name = {f.target.qualname: f for f in profiled}
    assert by_name["caller"].addressable_ns == 100 + 900 // 2
    assert by_name["hot"].share == pytest.approx(0.9)
    assert [f.target.qualname for f in profiled] == ["hot", "caller", "idle"]


def test_default_ranking_skips_with_reasons() -> None:
    def ranked(name: str, calls: int, share: float, tests: tuple[str, ...]) -> RankedFunction:
        return RankedFunction(
            target=_target(name),
            calls=calls,
            share=share,
            addressable_ns=int(share * 1e6),
            tests=tests,
        )

    functions = [
        ranked("small", 5, 0.0005, ("t",)),
        ranked("big", 5, 0.5, ("t",)),
        ranked("import_time", 3, 0.3, ()),
        ranked("never", 0, 0.0, ()),
        ranked("medium", 5, 0.2, ("t",)),
    ]
    assert [f.target.qualname for f in ranking.default_ranking(functions)] == ["big", "medium"]
    reasons = {f.target.qualname: ranking.skip_reason(f) for f in functions}
    assert "below the 0.1% threshold" in reasons["small"]
    assert reasons["import_time"].startswith("called, but not by any test")
    assert reasons["never"] == "not called during the test run"


class _Hook:
    def __init__(self, answer: list[RankedFunction] | None) -> None:
        self.answer = answer
        self.seen: list[RankedFunction] = []

    def pytest_codeflash_rank_functions(
        self, functions: list[RankedFunction], settings: Any
    ) -> Any:
        self.seen = functions
        return self.answer if self.answer is not None else ranking.default_ranking(functions)


class _Config:
    def __init__(self, hook: _Hook) -> None:
        self.hook = hook


def _rank(hook: _Hook, **settings: Any) -> ranking.Ranking:
    functions = [_target("a", 1, 5), _target("b", 10, 20), _target("c", 30, 40)]
    traces = {
        "m.a": _trace("a", 1, 600, 600),
        "m.b": _trace("b", 1, 300, 300),
        "m.c": _trace("c", 1, 100, 100),
    }
    config: Any = _Config(hook)
    changed = settings.pop("changed", None)
    return ranking.rank(
        config, functions, traces, Settings(rootdir=Path("/p"), **settings), changed
    )


def test_rank_caps_and_explains() -> None:
    result = _rank(_Hook(None), max_functions=2)
    assert [f.target.qualname for f in result.selected] == ["a", "b"]
    assert result.skipped == {"m.c": "beyond --codeflash-max-functions=2"}


def test_rank_hook_can_reorder_and_filter() -> None:
    hook = _Hook(None)
    result = _rank(hook)
    hook.answer = [result.profiled[2], result.profiled[0]]
    reordered = _rank(hook)
    assert [f.target.qualname for f in reordered.selected] == ["c", "a"]
    assert reordered.skipped == {"m.b": "left out by a rank_functions hook"}


def test_rank_keeps_only_changed_functions() -> None:
    hook = _Hook(None)
    result = _rank(hook, changed={Path("/p/m.py"): {12}}, changed_since="origin/main")
    assert [f.target.qualname for f in hook.seen] == ["b"]
    assert [f.target.qualname for f in result.selected] == ["b"]
    assert result.skipped["m.a"] == "unchanged since origin/main"


def test_touches_whole_new_files() -> None:
    assert ranking.touches(_target("a", 1, 5), {Path("/p/m.py"): {0}})
    assert not ranking.touches(_target("a", 1, 5), {Path("/p/other.py"): {3}})


def test_parse_diff() -> None:
    diff = (
        "diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n"
        "@@ -3,0 +4,2 @@\n+x\n+y\n@@ -10,2 +12,0 @@\n-a\n-b\n"
        "--- a/gone.py\n+++ /dev/null\n@@ -1,1 +0,0 @@\n-z\n"
    )
    assert _parse_diff(diff, Path("/p")) == {Path("/p/m.py").resolve(): {4, 5, 12, 13}}


def _git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=root,
        check=True,
        capture_output=True,
    )


def test_changed_lines_since_a_ref(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q")
    (tmp_path / "m.py").write_text("def a():\n    return 1\n\n\ndef b():\n    return 2\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "one")
    (tmp_path / "m.py").write_text("def a():\n    return 1\n\n\ndef b():\n    return 3\n")
    (tmp_path / "new.py").write_text("def c():\n    return 4\n")
    changed = changed_lines(tmp_path, "HEAD")
    assert changed[(tmp_path / "m.py").resolve()] == {6}
    assert changed[(tmp_path / "new.py").resolve()] == {0}
    with pytest.raises(ConfigError, match="'no-such-ref' is not a commit"):
        changed_lines(tmp_path, "no-such-ref")


def test_changed_lines_outside_git(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not inside a git repository"):
        changed_lines(tmp_path, "HEAD")
