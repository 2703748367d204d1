"""A decorator that rebuilds its function from the module's source as the module runs
(typeguard's ``@typechecked``) rebuilds each side's own function: found on inflect, whose
candidates were rebuilt from the file on disk, so tests that expect a type error failed."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_codeflash.runner.overlay import OverlayFinder, load_shadow

# Like typeguard: find the function's own definition, by line, in its module's source.
REBUILD = """\
import ast, inspect, sys


def rebuilt(function):
    source = inspect.getsource(sys.modules[function.__module__])
    line = function.__code__.co_firstlineno  # its first decorator's
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and line in [d.lineno for d in node.decorator_list]:
            node.decorator_list = []
            namespace = dict(function.__globals__)
            exec(compile(ast.Module([node], []), function.__code__.co_filename, "exec"), namespace)
            return namespace[function.__name__]
    raise LookupError(f"no definition of {function.__name__} at its line")
"""
ORIGINAL = """\
from rebuilt_pkg.rebuild import rebuilt


@rebuilt
def answer():
    return "original"
"""
# At the same line: rebuilt from the file on disk, the candidate was the original again.
SAME_LINES = ORIGINAL.replace('"original"', '"candidate"')
# One line more above it: at the candidate's line, the file on disk has no definition.
SHIFTED = SAME_LINES.replace("from rebuilt_pkg", "LIMIT = 3\nfrom rebuilt_pkg")


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = tmp_path / "rebuilt_pkg"
    root.mkdir()
    (root / "__init__.py").write_text("")
    (root / "rebuild.py").write_text(REBUILD)
    (root / "core.py").write_text(ORIGINAL)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield root
    for name in [n for n in sys.modules if n.startswith("rebuilt_pkg")]:
        del sys.modules[name]


@pytest.mark.parametrize("candidate_source", [SAME_LINES, SHIFTED], ids=["same", "shifted"])
def test_each_side_rebuilds_its_own_function(package: Path, candidate_source: str) -> None:
    finder = OverlayFinder({"rebuilt_pkg.core": candidate_source})
    finder.install()
    try:
        candidate = importlib.import_module("rebuilt_pkg.core")
    finally:
        sys.meta_path.remove(finder)
    assert candidate.answer() == "candidate"
    original = load_shadow("rebuilt_pkg.core", ORIGINAL, candidate, str(package / "orig.py"))
    assert original.answer() == "original"
    assert (package / "core.py").read_text() == ORIGINAL  # the disk was never written
