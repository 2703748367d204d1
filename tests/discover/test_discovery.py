"""Discovery: which functions of a project are eligible, where they are, and what is skipped."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from pytest_codeflash.discover.discovery import Discovery, discover, imported_names
from pytest_codeflash.discover.eligibility import scan_source
from pytest_codeflash.errors import ConfigError
from pytest_codeflash.models import TargetFunction

SOURCE = '''\
"""A module with one of everything."""
import abc
import contextlib
import functools
from typing import Protocol, overload

import pytest


def plain(items):
    return sorted(items)


async def fetch(n):
    return n * 2


def numbers(n):
    for i in range(n):
        yield i * i


def in_expression(n):
    out = []
    out.append((yield n))


@functools.lru_cache(maxsize=None)
def cached(n):
    # a comment line
    return n * 3 + 1


def outer(x):
    def inner(y):
        return y + 1
    return inner(x) * 2


def returns_nothing(items):
    items.sort()


def placeholder():
    """Docstring only."""
    raise NotImplementedError


def constant():
    return 42


def test_helper():
    return 1


@pytest.fixture
def resource():
    return {"a": 1}


def pytest_configure(config):
    return None


@contextlib.contextmanager
def managed():
    yield 1


@overload
def over(x: int) -> int: ...
def over(x):
    return x + 1


if True:
    def conditional(x):
        return x + 1


class Shape:
    """A class."""

    def area(self, w, h):
        return w * h * 1.0

    @property
    def name(self):
        return "shape"

    @name.setter
    def name(self, value):
        self._name = value

    @staticmethod
    def scale(x):
        return x * 2.5

    @classmethod
    def build(
        cls,
        size,
    ):
        return cls() if size else None

    @abc.abstractmethod
    def draw(self):
        return 1

    class Inner:
        def depth(self, n):
            return n + n


class Drawable(Protocol):
    def render(self, x):
        return x


class TestShape:
    def check(self):
        return 1
'''


Scanned = tuple[dict[str, TargetFunction], dict[str, str]]


@pytest.fixture
def scanned() -> Scanned:
    found, skipped = scan_source(SOURCE, "geo.shapes", Path("/p/geo/shapes.py"), "geo/shapes.py")
    return {f.qualname: f for f in found}, {
        s.name.split("geo.shapes.")[1]: s.reason for s in skipped
    }


def test_eligible_functions(scanned: Scanned) -> None:
    found, _ = scanned
    assert set(found) == {
        "plain",
        "fetch",
        "numbers",
        "in_expression",
        "cached",
        "outer",
        "over",
        "Shape.area",
        "Shape.scale",
        "Shape.build",
        "Shape.Inner.depth",
    }


def test_function_facts(scanned: Scanned) -> None:
    found, _ = scanned
    fetch, numbers, deep, area = (
        found[n] for n in ("fetch", "numbers", "in_expression", "Shape.area")
    )
    assert fetch.is_async
    assert not fetch.is_generator
    assert numbers.is_generator
    assert not numbers.is_method
    assert deep.is_generator
    assert area.is_method
    assert area.module == "geo.shapes"
    assert area.file == Path("/p/geo/shapes.py")


def test_skip_reasons(scanned: Scanned) -> None:
    _, skipped = scanned
    assert skipped["outer.<locals>.inner"] == "nested function"
    assert skipped["returns_nothing"] == "returns no value"
    assert skipped["placeholder"] == "trivial body"
    assert skipped["constant"] == "trivial body"
    assert skipped["test_helper"] == "test function"
    assert skipped["resource"] == "pytest fixture"
    assert skipped["pytest_configure"] == "pytest hook implementation"
    assert skipped["managed"] == "context manager"
    assert skipped["conditional"].startswith("defined inside an if/try/with/for block")
    assert skipped["Shape.name"] == "property"
    assert skipped["Shape.draw"] == "abstract method"
    assert skipped["Drawable.render"] == "protocol member"
    assert skipped["TestShape.check"] == "test function"


def test_line_numbers_match_ast(scanned: Scanned) -> None:
    found, _ = scanned
    expected: dict[str, tuple[int, int]] = {}

    def walk(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                expected[prefix + node.name] = (node.lineno, node.end_lineno or node.lineno)
            elif isinstance(node, ast.ClassDef):
                walk(node.body, f"{prefix}{node.name}.")

    walk(ast.parse(SOURCE).body, "")
    for name, function in found.items():
        assert (function.lineno, function.end_lineno) == expected[name], name


def test_syntax_error_is_a_skip() -> None:
    found, skipped = scan_source("def broken(:\n    return 1\n", "m", Path("m.py"), "m.py")
    assert found == []
    assert skipped[0].reason.startswith("cannot parse")


def test_imported_names(tmp_path: Path) -> None:
    test_file = tmp_path / "test_x.py"
    test_file.write_text(
        "import os, json as j\nfrom pkg.sub import thing\n    import lazy.mod\nx = 'import no'\n"
    )
    assert imported_names([test_file]) >= {"os", "json", "pkg", "lazy"}
    assert "no" not in imported_names([test_file])


def _project(root: Path) -> None:
    (root / "src" / "app").mkdir(parents=True)
    (root / "src" / "app" / "__init__.py").write_text("")
    (root / "src" / "app" / "core.py").write_text("def work(x):\n    return [i for i in x]\n")
    (root / "src" / "app" / "vendored").mkdir()
    (root / "src" / "app" / "vendored" / "lib.py").write_text("def v(x):\n    return x * 2\n")
    (root / "src" / "app" / "tests").mkdir()
    (root / "src" / "app" / "tests" / "test_in_pkg.py").write_text("def helper(x):\n    return x\n")
    (root / "tool.py").write_text("def unrelated(x):\n    return x * 2\n")
    (root / "setup.py").write_text("def setup_it(x):\n    return x\n")
    (root / "conftest.py").write_text("def fixture_helper(x):\n    return x * 2\n")
    (root / ".venv" / "lib").mkdir(parents=True)
    (root / ".venv" / "lib" / "dep.py").write_text("def dep(x):\n    return x * 2\n")
    (root / "tests").mkdir()
    (root / "tests" / "test_core.py").write_text("from app.core import work\n")


def test_scope_is_what_the_tests_import(tmp_path: Path) -> None:
    _project(tmp_path)
    found = discover(tmp_path, test_args=["tests"], invocation_dir=tmp_path)
    names = {f.qualified_name for f in found.functions}
    assert names == {"app.core.work", "app.vendored.lib.v"}
    assert found.files == 3  # app/__init__.py, app/core.py, app/vendored/lib.py


def test_ignore_paths_and_module_root(tmp_path: Path) -> None:
    _project(tmp_path)
    found = discover(
        tmp_path,
        ignore_paths=["src/app/vendored"],
        test_args=["tests"],
        invocation_dir=tmp_path,
    )
    assert {f.qualified_name for f in found.functions} == {"app.core.work"}
    rooted = discover(tmp_path, module_root="src/app", invocation_dir=tmp_path)
    assert {f.qualified_name for f in rooted.functions} == {"app.core.work", "app.vendored.lib.v"}
    with pytest.raises(ConfigError, match="module-root = 'nowhere'"):
        discover(tmp_path, module_root="nowhere")


class _Cache:
    def __init__(self) -> None:
        self.data: dict[str, object] = {}

    def get(self, key: str, default: object) -> object:
        return self.data.get(key, default)

    def set(self, key: str, value: object) -> None:
        self.data[key] = value


def test_cache_skips_unchanged_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _project(tmp_path)
    cache = _Cache()
    first = discover(tmp_path, test_args=["tests"], invocation_dir=tmp_path, cache=cache)
    assert cache.data

    def fail(*args: object) -> object:
        raise AssertionError("an unchanged file was parsed again")

    monkeypatch.setattr("pytest_codeflash.discover.eligibility.scan_source", fail)
    again = discover(tmp_path, test_args=["tests"], invocation_dir=tmp_path, cache=cache)
    assert again.functions == first.functions


def test_json_round_trip(tmp_path: Path) -> None:
    _project(tmp_path)
    found = discover(tmp_path, test_args=["tests"], invocation_dir=tmp_path)
    assert Discovery.from_json(found.to_json()) == found
