"""Excluding functions: ``# codeflash: skip`` markers and ``exclude`` globs (#17)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_codeflash.discover.discovery import discover, ignored_paths
from pytest_codeflash.discover.eligibility import scan_source
from pytest_codeflash.discover.exclude import excluded_by
from pytest_codeflash.errors import ConfigError

MARKED = """\
# codeflash: skip
def first(items):
    return sorted(items)


def plain(items):
    return sorted(items)


# Compares in constant time on purpose.
# codeflash: skip (timing is the point)
def above(a, b):
    return all(x == y for x, y in zip(a, b))


def trailing(items):  # codeflash: skip
    return sorted(items)


# codeflash: skip

def blank_line_between(items):
    return sorted(items)


@staticmethod  # noqa  # Codeflash: SKIP
def on_decorator(items):
    return sorted(items)


class Marked:  # codeflash: skip
    def method(self, items):
        return sorted(items)

    class Inner:
        def deeper(self, items):
            return sorted(items)


class Open:
    def kept(self, items):
        return sorted(items)

    # codeflash: skip
    def marked(self, items):
        return sorted(items)
"""


def _excluded(source: str) -> dict[str, str]:
    _, skipped = scan_source(source, "mod", Path("mod.py"), "mod.py")
    return {s.name: s.reason for s in skipped if s.excluded}


def test_skip_marker_positions() -> None:
    found, _ = scan_source(MARKED, "mod", Path("mod.py"), "mod.py")
    assert {f.qualified_name for f in found} == {
        "mod.plain",
        "mod.blank_line_between",  # a blank line separates the comment from the def
        "mod.Open.kept",
    }
    excluded = _excluded(MARKED)
    assert set(excluded) == {
        "mod.first",
        "mod.above",
        "mod.trailing",
        "mod.on_decorator",
        "mod.Marked.method",
        "mod.Marked.Inner.deeper",
        "mod.Open.marked",
    }
    assert excluded["mod.trailing"] == "excluded by a '# codeflash: skip' comment"
    assert excluded["mod.Marked.Inner.deeper"].endswith("comment on class Marked")


def test_exclude_globs_match_qualified_names() -> None:
    assert excluded_by("pkg.legacy.parse", ["pkg.legacy.*"]) == "pkg.legacy.*"
    assert excluded_by("pkg.mod.Parser.slow", ["*.Parser.*", "pkg.*"]) == "*.Parser.*"
    assert excluded_by("pkg.mod.func", ["pkg.other.*", "PKG.*"]) is None  # case-sensitive


def _project(root: Path) -> None:
    (root / "src" / "app").mkdir(parents=True)
    (root / "src" / "app" / "__init__.py").write_text("")
    (root / "src" / "app" / "core.py").write_text(
        "def work(x):\n    return [i for i in x]\n\n\ndef legacy_work(x):\n    return list(x)\n"
    )
    (root / "src" / "app" / "gen_a.py").write_text("def a(x):\n    return x * 2\n")
    (root / "src" / "app" / "gen_b.py").write_text("def b(x):\n    return x * 2\n")
    (root / "checks").mkdir()
    (root / "checks" / "builders.py").write_text("def build(n):\n    return list(range(n))\n")
    (root / "checks" / "test_core.py").write_text("from app.core import work\n")


def test_exclude_lists_matching_functions_as_excluded(tmp_path: Path) -> None:
    _project(tmp_path)
    found = discover(tmp_path, module_root="src", exclude=["app.core.legacy_*"])
    assert "app.core.legacy_work" not in {f.qualified_name for f in found.functions}
    (skip,) = [s for s in found.skipped if s.excluded]
    assert (skip.name, skip.where) == ("app.core.legacy_work", "src/app/core.py:5")
    assert skip.reason == "excluded by the exclude pattern 'app.core.legacy_*'"


def test_ignore_paths_accept_globs(tmp_path: Path) -> None:
    _project(tmp_path)
    assert ignored_paths(tmp_path, ["src/app/gen_*.py"]) == [
        tmp_path / "src/app/gen_a.py",
        tmp_path / "src/app/gen_b.py",
    ]
    found = discover(tmp_path, module_root="src", ignore_paths=["src/app/gen_*.py"])
    assert {f.qualified_name for f in found.functions} == {"app.core.work", "app.core.legacy_work"}


def test_tests_root_is_test_code_never_source(tmp_path: Path) -> None:
    _project(tmp_path)
    # checks/ is on sys.path in a real run (pytest's rootdir-relative imports): simulate it
    # with module-root, which would otherwise make builders.py source.
    found = discover(tmp_path, module_root="checks", tests_root="checks")
    assert found.functions == []
    # What the tests under tests-root import decides the scope without module-root.
    found = discover(tmp_path, tests_root="checks", test_args=[], invocation_dir=tmp_path)
    assert {f.qualified_name for f in found.functions} >= {"app.core.work"}
    with pytest.raises(ConfigError, match="tests-root = 'nowhere'"):
        discover(tmp_path, tests_root="nowhere")


PROJECT_TESTS = """\
from listy.core import unique, total, legacy_unique, Guarded


def test_all():
    items = [(i * 7919) % 400 for i in range(3000)]
    assert len(unique(items)) == 400
    assert total([1, 2]) == 3
    assert len(legacy_unique(items)) == 400
    assert len(Guarded().check(items)) == 400
"""

PROJECT_EXTRA = """

def legacy_unique(items):
    result = []
    for item in items:
        if item not in result:
            result.append(item)
    return result


class Guarded:  # codeflash: skip - kept slow on purpose
    def check(self, items):
        result = []
        for item in items:
            if item not in result:
                result.append(item)
        return result
"""


@pytest.fixture
def marked(listy: pytest.Pytester) -> pytest.Pytester:
    core = listy.path / "src" / "listy" / "core.py"
    core.write_text(core.read_text() + PROJECT_EXTRA)
    (listy.path / "tests" / "test_core.py").write_text(PROJECT_TESTS)
    listy.makepyprojecttoml(
        '[tool.pytest.ini_options]\npythonpath = ["src"]\ntestpaths = ["tests"]\n'
        '[tool.codeflash]\nexclude = ["listy.core.legacy_*"]\n'
    )
    return listy


def test_dry_run_verbose_lists_exclusions_with_reasons(marked: pytest.Pytester) -> None:
    result = marked.runpytest("--codeflash", "--codeflash-dry-run", "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "  1. listy.core.unique (*",
            "excluded:",
            "  listy.core.Guarded.check (src/listy/core.py:*): excluded by a "
            "'# codeflash: skip' comment on class Guarded",
            "  listy.core.legacy_unique (src/listy/core.py:*): excluded by the exclude "
            "pattern 'listy.core.legacy_*'",
        ]
    )
    result = marked.runpytest("--codeflash", "--codeflash-dry-run")
    result.stdout.fnmatch_lines(["*0 skipped by discovery, 2 excluded (-v lists them*"])


def test_cli_exclude_replaces_the_configured_list(marked: pytest.Pytester) -> None:
    result = marked.runpytest(
        "--codeflash", "--codeflash-dry-run", "-v", "--codeflash-exclude=listy.core.uniq*"
    )
    result.stdout.fnmatch_lines(["  listy.core.unique (*): excluded by the exclude pattern*"])
    assert "'listy.core.legacy_*'" not in result.stdout.str()
    cleared = marked.runpytest("--codeflash", "--codeflash-dry-run", "-v", "--codeflash-exclude=")
    assert "excluded by the exclude pattern" not in cleared.stdout.str()


@pytest.mark.parametrize(
    ("spec", "fragments"),
    [
        (
            "listy.core.Guarded.check",
            ["'# codeflash: skip' comment on class Guarded", "remove the '# codeflash: skip'"],
        ),
        (
            "src/listy/core.py::legacy_unique",
            ["exclude pattern 'listy.core.legacy_*'", "--codeflash-exclude="],
        ),
    ],
)
def test_explicit_target_of_an_excluded_function_is_refused(
    marked: pytest.Pytester, spec: str, fragments: list[str]
) -> None:
    result = marked.runpytest(f"--codeflash-target={spec}", "--codeflash-dry-run")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    text = result.stderr.str()
    assert "never optimized, even when named" in text
    for fragment in fragments:
        assert fragment in text, text
