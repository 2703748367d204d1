"""Shared fixtures: small real projects written with pytester."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

SLOW_MODULE = '''\
"""Helpers for lists."""


def unique(items):
    """Items in first-seen order, without repeats."""
    result = []
    for item in items:
        if item not in result:
            result.append(item)
    return result


def total(values):
    return sum(values)
'''

TESTS = """\
from listy.core import unique


def test_small():
    assert unique([3, 1, 3, 2, 1]) == [3, 1, 2]


def test_empty():
    assert unique([]) == []


def test_large():
    items = [(i * 7919) % 400 for i in range(1500)]
    assert len(unique(items)) == 400


def test_returns_new_list():
    items = [1, 2, 3]
    assert unique(items) is not items


def test_unrelated():
    assert 1 + 1 == 2
"""

FAST = '''\
def unique(items):
    """Items in first-seen order, without repeats."""
    seen = set()
    result = []
    for item in items:
        if item not in seen:
            seen.add(item)
            result.append(item)
    return result
'''

# Right on every input the tests assert on, but sorts: only call-by-call comparison sees it
# for inputs the tests never check closely (test_large checks the length only).
WRONG = """\
def unique(items):
    if len(items) > 100:
        return sorted(set(items))
    seen = set()
    return [x for x in items if not (x in seen or seen.add(x))]
"""


# Faster, but with a branch that no verification input reaches.
UNTESTED = FAST.replace(
    "    seen = set()\n",
    "    if isinstance(items, dict):\n        return list(reversed(items))\n    seen = set()\n",
)


def src_project(
    pytester: pytest.Pytester, package: str, core: str, *, testpaths: bool = False
) -> None:
    """A src-layout project: ``src/<package>/core.py`` holding ``core``, ``src`` on the path
    (and ``tests`` as the test path, with ``testpaths``)."""
    ini = '[tool.pytest.ini_options]\npythonpath = ["src"]\n'
    pytester.makepyprojecttoml(ini + ('testpaths = ["tests"]\n' if testpaths else ""))
    folder = pytester.path / "src" / package
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("")
    (folder / "core.py").write_text(core)


@pytest.fixture
def listy(pytester: pytest.Pytester) -> pytest.Pytester:
    """A src-layout project ``listy`` with a slow ``unique`` and two candidate files."""
    src_project(pytester, "listy", SLOW_MODULE, testpaths=True)
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests" / "test_core.py").write_text(TESTS)
    candidates = pytester.path / "candidates"
    candidates.mkdir()
    (candidates / "fast.py").write_text(FAST)
    (candidates / "wrong.py").write_text(WRONG)
    (candidates / "untested.py").write_text(UNTESTED)
    return pytester


def tree_digest(root: Path) -> dict[str, str]:
    """Hash of every file under ``root`` (ignoring caches), to prove nothing changed."""
    digests = {}
    for path in sorted(root.rglob("*")):
        skipped = {"__pycache__", ".pytest_cache"}
        if (
            path.is_file()
            and not skipped & set(path.parts)
            and not any(part.startswith("runpytest-") for part in path.parts)
        ):
            digests[path.relative_to(root).as_posix()] = hashlib.sha256(
                path.read_bytes()
            ).hexdigest()
    return digests
