"""Cached verdicts: keyed by the code, the tests, the candidate and the settings that count."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_codeflash.evaluate.cache import VerdictCache
from pytest_codeflash.models import (
    Candidate,
    CandidateResult,
    FunctionResult,
    Settings,
    TargetFunction,
)
from pytest_codeflash.source.depends import project_dependencies


class Store:
    """``config.cache`` in memory."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def get(self, key: str, default: Any) -> Any:
        return self.data.get(key, default)

    def set(self, key: str, value: object) -> None:
        self.data[key] = value


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "mod.py").write_text(
        "from .helpers import h\n\ndef f(x):\n    return h(x)\n"
    )
    (tmp_path / "pkg" / "helpers.py").write_text("import os\n\ndef h(x):\n    return x\n")
    (tmp_path / "pkg" / "unrelated.py").write_text("Z = 1\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "conftest.py").write_text("")
    (tmp_path / "tests" / "test_mod.py").write_text(
        "from pkg.mod import f\n\ndef test_f():\n    f(1)\n"
    )
    return tmp_path


TESTS = ["tests/test_mod.py::test_f"]
CANDIDATE = Candidate(id="c1", source="rules:x", module_source="def f(x):\n    return x\n")


def target(root: Path) -> TargetFunction:
    return TargetFunction(module="pkg.mod", qualname="f", file=root / "pkg" / "mod.py", lineno=3)


def verdict(**values: Any) -> CandidateResult:
    fields = {"id": "c1", "source": "rules:x", "verdict": "accepted", "reason": "2x", **values}
    return CandidateResult(**fields)


def key(root: Path, store: Store, **settings: Any) -> Any:
    cache = VerdictCache(store, Settings(rootdir=root, **settings))
    return cache.for_function(target(root), (root / "pkg" / "mod.py").read_text(), TESTS)


def test_dependencies_follow_project_imports_only(project: Path) -> None:
    found = project_dependencies([project / "tests" / "test_mod.py"], [project])
    names = [p.relative_to(project).as_posix() for p in found]
    assert names == ["pkg/__init__.py", "pkg/helpers.py", "pkg/mod.py", "tests/test_mod.py"]


def test_a_verdict_is_reused_until_something_it_depends_on_changes(project: Path) -> None:
    store = Store()
    key(project, store).keep_verdict(CANDIDATE, verdict())
    # The same everything; delivery settings do not count.
    again = key(project, store, apply=True, report=project / "r.json").verdict(CANDIDATE)
    assert again is not None
    assert (again.cached, again.reason) == (True, "2x")
    renamed = CANDIDATE.model_copy(update={"id": "c9", "explanation": "new words"})
    reused = key(project, store).verdict(renamed)
    assert reused is not None
    assert (reused.id, reused.explanation) == ("c9", "new words")
    assert key(project, store, effort="high").verdict(CANDIDATE) is None
    assert (
        key(project, store).verdict(CANDIDATE.model_copy(update={"module_source": "x=1\n"})) is None
    )
    (project / "pkg" / "unrelated.py").write_text("Z = 2\n")  # not imported: still reused
    assert key(project, store).verdict(CANDIDATE) is not None
    for changed in ("pkg/helpers.py", "tests/conftest.py", "tests/test_mod.py"):
        path = project / changed
        old = path.read_text()
        path.write_text(old + "\n# changed\n")
        assert key(project, store).verdict(CANDIDATE) is None, changed
        path.write_text(old)
    assert key(project, store).verdict(CANDIDATE) is not None


def test_no_cache_reads_nothing_but_stores(project: Path) -> None:
    store = Store()
    key(project, store, no_cache=True).keep_verdict(CANDIDATE, verdict())
    assert key(project, store, no_cache=True).verdict(CANDIDATE) is None
    assert key(project, store).verdict(CANDIDATE) is not None


def test_timeouts_and_crashes_are_not_kept(project: Path) -> None:
    store = Store()
    cache = key(project, store)
    cache.keep_verdict(CANDIDATE, verdict(reason="timeout: killed after 9.0 s"))
    cache.keep_verdict(CANDIDATE, verdict(reason="crash: the runner process exited"))
    assert store.data == {}


def test_a_whole_result_is_reused_with_its_winner(project: Path) -> None:
    store = Store()
    combined = Candidate(id="combined", source="rules", module_source="def f(x):\n    pass\n")
    result = FunctionResult(
        qualified_name="pkg.mod.f",
        file="pkg/mod.py",
        status="optimized",
        reason="r",
        speedup=2.0,
        best_candidate="combined",
        candidates=[verdict(), verdict(id="combined")],
    )
    first = key(project, store)
    assert first.result([CANDIDATE]) is None
    first.keep_result(result, [CANDIDATE, combined])
    second = key(project, store)
    reused = second.result([CANDIDATE])
    assert reused is not None
    assert reused.cached
    assert all(c.cached for c in reused.candidates)
    assert second.winner == combined
    # Other first-round candidates: not the same result.
    assert key(project, store).result([CANDIDATE, combined]) is None
