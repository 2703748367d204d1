"""Tests of resolving ``--codeflash-target`` specs to functions on disk."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from pytest_codeflash.discover.targets import resolve_target
from pytest_codeflash.errors import TargetError

MODULE = '''\
"""A module with every kind of target."""
import os
from collections import OrderedDict as OD

LIMIT = 10
CACHE: dict[str, int] = {}


def unique_in_order(items):
    return list(dict.fromkeys(items))


async def fetch(url):
    return url


def numbers(n):
    def helper():
        yield 0  # a nested generator does not make numbers() one

    return [n, helper]


def count_up(n):
    yield from range(n)


async def ticks(n):
    for i in range(n):
        yield i


class Outer:
    """A class with a nested class."""

    def method(self):
        return 1

    @staticmethod
    def static(x):
        return x

    class Inner:
        def deep(self):
            return 2


if os.name == "nt":
    def windows_only():
        return 3
'''


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def src_layout(tmp_path: Path) -> Path:
    """A project with ``src/listutil/dedupe.py`` and ``src/listutil/__init__.py``."""
    write(tmp_path / "src/listutil/__init__.py", "")
    write(tmp_path / "src/listutil/dedupe.py", MODULE)
    write(tmp_path / "tests/test_dedupe.py", "def test_x():\n    pass\n")
    return tmp_path


def roots(rootdir: Path) -> list[Path]:
    return [rootdir, rootdir / "src"]


def resolve(spec: str, rootdir: Path) -> object:
    return resolve_target(spec, rootdir, roots(rootdir))


@pytest.mark.parametrize(
    "spec",
    [
        "listutil.dedupe.unique_in_order",
        "src/listutil/dedupe.py::unique_in_order",
    ],
)
def test_function_in_src_layout(src_layout: Path, spec: str) -> None:
    target = resolve_target(spec, src_layout, roots(src_layout))
    assert target.module == "listutil.dedupe"
    assert target.qualname == "unique_in_order"
    assert target.qualified_name == "listutil.dedupe.unique_in_order"
    assert target.file == (src_layout / "src/listutil/dedupe.py").resolve()
    assert target.lineno == 9
    assert not target.is_async
    assert not target.is_generator
    assert not target.is_method


def test_absolute_file_spec(src_layout: Path) -> None:
    path = (src_layout / "src/listutil/dedupe.py").resolve()
    target = resolve_target(f"{path}::Outer.method", src_layout, roots(src_layout))
    assert (target.module, target.qualname, target.is_method) == (
        "listutil.dedupe",
        "Outer.method",
        True,
    )


def test_flat_layout_module_and_file(tmp_path: Path) -> None:
    write(tmp_path / "mathutil.py", MODULE)
    by_name = resolve_target("mathutil.count_up", tmp_path, [tmp_path])
    by_file = resolve_target("mathutil.py::count_up", tmp_path, [tmp_path])
    assert by_name == by_file
    assert by_name.module == "mathutil"


def test_package_init_module(tmp_path: Path) -> None:
    write(tmp_path / "pkg/__init__.py", "def top():\n    return 1\n")
    assert resolve_target("pkg.top", tmp_path, [tmp_path]).module == "pkg"
    assert resolve_target("pkg/__init__.py::top", tmp_path, [tmp_path]).module == "pkg"


def test_package_shadows_module_of_same_name(tmp_path: Path) -> None:
    write(tmp_path / "pkg/__init__.py", "def f():\n    pass\n")
    write(tmp_path / "pkg.py", "def g():\n    pass\n")
    assert resolve_target("pkg.f", tmp_path, [tmp_path]).file.name == "__init__.py"


def test_deepest_search_path_names_the_module(src_layout: Path) -> None:
    # rootdir is a search path too, but src/ is deeper, so the module is not src.listutil.dedupe.
    target = resolve_target("src/listutil/dedupe.py::fetch", src_layout, roots(src_layout))
    assert target.module == "listutil.dedupe"


def test_search_path_order_decides_between_modules(tmp_path: Path) -> None:
    write(tmp_path / "a/mod.py", "def f():\n    pass\n")
    write(tmp_path / "b/mod.py", "def f():\n    pass\n")
    target = resolve_target("mod.f", tmp_path, [tmp_path / "b", tmp_path / "a"])
    assert target.file == (tmp_path / "b/mod.py").resolve()


@pytest.mark.parametrize(
    ("qualname", "is_async", "is_generator", "is_method"),
    [
        ("fetch", True, False, False),
        ("count_up", False, True, False),
        ("ticks", True, True, False),
        ("numbers", False, False, False),
        ("Outer.method", False, False, True),
        ("Outer.static", False, False, True),
        ("Outer.Inner.deep", False, False, True),
    ],
)
def test_flags(
    src_layout: Path, qualname: str, is_async: bool, is_generator: bool, is_method: bool
) -> None:
    target = resolve_target(f"listutil.dedupe.{qualname}", src_layout, roots(src_layout))
    assert target.qualname == qualname
    assert (target.is_async, target.is_generator, target.is_method) == (
        is_async,
        is_generator,
        is_method,
    )


def test_file_spec_accepts_pytest_node_id_separator(src_layout: Path) -> None:
    target = resolve_target(
        "src/listutil/dedupe.py::Outer::Inner::deep", src_layout, roots(src_layout)
    )
    assert target.qualname == "Outer.Inner.deep"


def test_does_not_import_the_module(tmp_path: Path) -> None:
    write(tmp_path / "boom.py", "raise SystemExit('imported!')\n\ndef f():\n    pass\n")
    assert resolve_target("boom.f", tmp_path, [tmp_path]).qualname == "f"
    assert "boom" not in sys.modules


# -- errors -----------------------------------------------------------------------------------


def error(spec: str, rootdir: Path) -> str:
    with pytest.raises(TargetError) as info:
        resolve_target(spec, rootdir, roots(rootdir))
    message = str(info.value)
    assert f"--codeflash-target={spec.strip()}" in message
    return message


@pytest.mark.parametrize(
    ("spec", "why"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("unique_in_order", "name the module too"),
        ("listutil..f", "not a Python identifier"),
        ("listutil.dedupe.1f", "'1f' is not a Python identifier"),
        ("listutil.class.f", "'class' is not a Python identifier"),
        ("src/listutil/dedupe.py::", "both the file and the function"),
        ("::unique_in_order", "both the file and the function"),
        ("src/listutil/dedupe.py::Outer.", "not a Python identifier"),
        ("src/listutil/dedupe::f", "not a .py file"),
    ],
)
def test_malformed_spec_shows_accepted_forms(src_layout: Path, spec: str, why: str) -> None:
    message = error(spec, src_layout)
    assert why in message
    assert "pkg.mod.Class.method" in message
    assert "path/to/file.py::func" in message


def test_function_not_found_suggests_closest(src_layout: Path) -> None:
    message = error("listutil.dedupe.unique_inorder", src_layout)
    assert message == (
        "--codeflash-target=listutil.dedupe.unique_inorder: no function 'unique_inorder' in "
        "listutil.dedupe (src/listutil/dedupe.py). Did you mean listutil.dedupe.unique_in_order?"
    )


def test_function_not_found_in_file_spec_suggests_in_same_form(src_layout: Path) -> None:
    message = error("src/listutil/dedupe.py::Outer.methd", src_layout)
    assert "no function 'Outer.methd'" in message
    assert "Did you mean src/listutil/dedupe.py::Outer.method" in message


def test_method_without_its_class_suggests_the_method(src_layout: Path) -> None:
    message = error("listutil.dedupe.deep", src_layout)
    assert "Did you mean listutil.dedupe.Outer.Inner.deep?" in message


def test_nothing_close_lists_the_functions(src_layout: Path) -> None:
    message = error("listutil.dedupe.zzzzzz", src_layout)
    assert "Functions defined there: unique_in_order, fetch" in message


def test_module_not_found_says_where_and_suggests(src_layout: Path) -> None:
    message = error("listutl.dedupe.unique_in_order", src_layout)
    assert "no module found" in message
    assert "listutl/dedupe.py" in message
    assert "listutl/dedupe/__init__.py" in message
    assert "import roots ., src" in message
    assert "Did you mean module listutil.dedupe" in message
    assert "pythonpath" in message


def test_module_suggestions_skip_environments(tmp_path: Path) -> None:
    write(tmp_path / ".venv/lib/site-packages/dedupe.py", "")
    write(tmp_path / "venv/dedupe.py", "")
    write(tmp_path / "node_modules/dedupe.py", "")
    write(tmp_path / "build/lib/dedupe.py", "")
    message = error("dedup.f", tmp_path)
    assert "Did you mean" not in message


def test_file_not_found_suggests_close_paths(src_layout: Path) -> None:
    message = error("src/lisutil/dedupe.py::unique_in_order", src_layout)
    assert "src/lisutil/dedupe.py does not exist" in message
    assert "Did you mean src/listutil/dedupe.py" in message


def test_file_spec_naming_a_directory(src_layout: Path) -> None:
    (src_layout / "weird.py").mkdir()
    assert "weird.py is a directory" in error("weird.py::f", src_layout)


def test_file_outside_search_paths_explains_pythonpath(tmp_path: Path) -> None:
    write(tmp_path / "scripts/tool.py", "def run():\n    pass\n")
    with pytest.raises(TargetError) as info:
        resolve_target("scripts/tool.py::run", tmp_path, [tmp_path / "src"])
    message = str(info.value)
    assert "scripts/tool.py is not importable" in message
    assert 'pythonpath = ["scripts"]' in message


def test_file_with_unimportable_folder_name(tmp_path: Path) -> None:
    write(tmp_path / "my-scripts/tool.py", "def run():\n    pass\n")
    message = error("my-scripts/tool.py::run", tmp_path)
    assert "not importable" in message
    assert 'pythonpath = ["my-scripts"]' in message


@pytest.mark.parametrize(
    ("qualname", "words"),
    [
        ("Outer", ["is a class (line 33)", "listutil.dedupe.Outer.method"]),
        ("LIMIT", ["is a variable (assigned at line 5)"]),
        ("CACHE", ["is a variable (assigned at line 6)"]),
        ("os", ["is imported at line 2", "module that defines it"]),
        ("OD", ["is imported at line 3"]),
        ("windows_only", ["inside an if/try/with/for block (line 49)"]),
        ("numbers.helper", ["nested inside the function listutil.dedupe.numbers"]),
        ("LIMIT.real", ["listutil.dedupe.LIMIT", "is a variable, not a class"]),
    ],
)
def test_name_that_is_not_a_target(src_layout: Path, qualname: str, words: list[str]) -> None:
    message = error(f"listutil.dedupe.{qualname}", src_layout)
    for word in words:
        assert word in message


def test_syntax_error_names_file_and_line(src_layout: Path) -> None:
    write(src_layout / "src/listutil/broken.py", "def ok():\n    pass\n\ndef bad(:\n    pass\n")
    message = error("listutil.broken.ok", src_layout)
    assert "cannot parse src/listutil/broken.py" in message
    assert "syntax error at line 4" in message


def test_null_bytes_are_reported(src_layout: Path) -> None:
    (src_layout / "src/listutil/nul.py").write_bytes(b"def f():\n    pass\x00\n")
    assert "cannot parse src/listutil/nul.py" in error("listutil.nul.f", src_layout)
