"""The house plan, checked: the package reads as the pipeline, imports point down, no circles.

These read the source with ``ast`` (nothing is imported), so they are fast and see every
import, the lazy ones inside functions included (not those for type checkers only, under
``if TYPE_CHECKING:``, which never run).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import pytest_codeflash

PACKAGE = Path(pytest_codeflash.__file__).parent
# __main__: the ``python -m pytest_codeflash merge`` command, which only delegates.
TOP_LEVEL = {"__init__", "__main__", "plugin", "session", "hookspec", "models", "records", "errors"}
# options/ is a package: the cheap option table, and the resolution into Settings.
STAGES = {"options", "discover", "source", "candidates", "evaluate", "runner", "deliver", "data"}
# Modules every layer may import: they import nothing of ours at run time.
LEAVES = {
    "pytest_codeflash",
    "pytest_codeflash.models",
    "pytest_codeflash.records",
    "pytest_codeflash.errors",
    "pytest_codeflash.hookspec",
}
# A stage may import the stages listed for it (and the leaves), nothing above it.
ALLOWED = {
    "discover": {"source"},
    "candidates": {"source"},
    "evaluate": {"runner", "source"},
    "deliver": {"source"},
    "source": set(),
    "runner": set(),
    "options": set(),
}
MAX_LINES = 500


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> Iterator[str]:
    """Our modules that ``name`` imports, anywhere in its body."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
        for statement in node.body
        for inner in ast.walk(statement)
    }
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                if candidate in MODULES:
                    yield candidate
                elif target in MODULES:
                    yield target
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name in MODULES)


GRAPH = {name: set(_imports(name, path)) - {name} for name, path in MODULES.items()}


def _stage(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_the_top_level_holds_only_the_wiring() -> None:
    top = {p.stem for p in PACKAGE.glob("*.py")}
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert top == TOP_LEVEL
    assert folders == STAGES


def test_no_import_circles() -> None:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in GRAPH[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in GRAPH:
        if node not in index:
            visit(node)
    assert circles == []


@pytest.mark.parametrize("stage", sorted(ALLOWED))
def test_stages_import_only_down(stage: str) -> None:
    wrong = []
    for name, imported in GRAPH.items():
        if _stage(name) != stage:
            continue
        for other in imported - LEAVES:
            other_stage = _stage(other)
            if other_stage != stage and other_stage not in ALLOWED[stage]:
                wrong.append(f"{name} -> {other}")
    assert wrong == []


def test_the_parent_side_uses_only_the_runners_protocol_and_sandbox() -> None:
    parent = [n for n in GRAPH if _stage(n) not in ("runner", "")]
    reached = {o for n in parent for o in GRAPH[n] if _stage(o) == "runner"}
    assert reached <= {"pytest_codeflash.runner.protocol", "pytest_codeflash.runner.sandbox"}


def test_renderers_never_read_the_session() -> None:
    readers = [n for n in GRAPH if "pytest_codeflash.session" in GRAPH[n]]
    assert readers == ["pytest_codeflash.plugin"]


def test_no_module_is_too_long() -> None:
    long = {
        name: lines
        for name, path in MODULES.items()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def test_the_fork_hooks_module_imports_nothing_of_ours() -> None:
    """The interpreter holds the fork hooks, and their module's globals, until it exits:
    what that module imports would be held too, and collected at every run's exit."""
    assert GRAPH["pytest_codeflash.discover.fork_guard"] == set()
    hooked = [
        name
        for name, path in MODULES.items()
        if "register_at_fork" in path.read_text(encoding="utf-8")
    ]
    assert hooked == ["pytest_codeflash.discover.fork_guard"]
