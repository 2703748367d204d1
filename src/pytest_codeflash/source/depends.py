"""The project files a module depends on: its imports inside the project, transitively.

Read with :mod:`ast` (no libcst: this runs for every function of a run, to key cached
verdicts) and never imported.  Imports anywhere in a file count, those inside functions
and ``if TYPE_CHECKING:`` included; a name that is not a module of the project (the
standard library, installed packages) is left out.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

__all__ = ["project_dependencies"]

MAX_FILES = 2000  # a bound on the walk, for very large projects


def project_dependencies(files: Iterable[Path], roots: list[Path]) -> list[Path]:
    """Every project file that ``files`` import, directly or not, ``files`` included; sorted.

    ``roots`` are the directories the project's modules are imported from (see
    :func:`.paths.project_import_roots`).  Unreadable or unparsable files are kept (their
    content still counts) but not followed.
    """
    seen: set[Path] = set()
    todo = [p.resolve() for p in files]
    while todo and len(seen) < MAX_FILES:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        package = _package_of(path, roots)
        for name in _imported(path, package):
            todo.extend(found for found in _locate(name, roots) if found not in seen)
    return sorted(seen)


def _imported(path: Path, package: str) -> set[str]:
    """The absolute module names ``path`` imports (``from a import b`` gives a and a.b)."""
    try:
        tree = ast.parse(path.read_bytes())
    except (OSError, SyntaxError, ValueError):
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node.module or "", node.level, package)
            if base is None:
                continue
            if base:
                names.add(base)
            names.update(f"{base}.{a.name}" if base else a.name for a in node.names)
    return names


def _absolute(module: str, level: int, package: str) -> str | None:
    if not level:
        return module
    parts = package.split(".") if package else []
    if level - 1 > len(parts):
        return None
    base = parts[: len(parts) - level + 1]
    return ".".join([*base, module] if module else base)


def _package_of(path: Path, roots: list[Path]) -> str:
    for root in roots:
        try:
            parts = list(path.relative_to(root).with_suffix("").parts)
        except ValueError:
            continue
        if parts and parts[-1] == "__init__":
            return ".".join(parts[:-1])
        return ".".join(parts[:-1])
    return ""


def _locate(name: str, roots: list[Path]) -> list[Path]:
    """The files of module ``name`` in the first root that has it, with its packages'
    ``__init__.py`` files (importing ``a.b`` runs ``a/__init__.py`` too)."""
    parts = name.split(".")
    for root in roots:
        base = root.joinpath(*parts)
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                inits = [
                    root.joinpath(*parts[:n], "__init__.py")
                    for n in range(1, len(parts))
                    if root.joinpath(*parts[:n], "__init__.py").is_file()
                ]
                return [candidate.resolve(), *(i.resolve() for i in inits)]
    return []
