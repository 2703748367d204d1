"""Where a project's modules live: import roots, module names and project-relative paths."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from ..errors import CandidateError
from ..records import TargetFunction

__all__ = [
    "ENV_DIRS",
    "import_roots",
    "module_name",
    "project_import_roots",
    "relative_path",
    "walk_python_files",
]

ENV_DIRS = frozenset(
    {"__pycache__", "site-packages", "node_modules", "build", "dist", "venv", "env", "htmlcov"}
)
"""Folders that never hold the user's own modules: environments, caches, build output."""


def import_roots(target: TargetFunction, rootdir: Path) -> list[Path]:
    """The directories modules are imported from: the target's own, then ``src/`` and root.

    The target's import root is its file's directory minus one level per dot of its module
    name (one more for a package's ``__init__.py``).
    """
    file = target.file.resolve()
    base = file.parent
    for _ in range(target.module.count(".") + (file.name == "__init__.py")):
        base = base.parent
    roots: list[Path] = []
    for root in (base, rootdir.resolve() / "src", rootdir.resolve()):
        if root.is_dir() and root not in roots:
            roots.append(root)
    return roots


def module_name(path: Path, roots: list[Path]) -> str:
    """The dotted name ``path`` is imported under from the first root that holds it.

    :raises CandidateError: no root holds it as an importable module.
    """
    resolved = path.resolve()
    for root in roots:
        if root not in resolved.parents:
            continue
        parts = list(resolved.relative_to(root).with_suffix("").parts)
        if parts and parts[-1] == "__init__":
            parts.pop()
        if parts and all(part.isidentifier() for part in parts):
            return ".".join(parts)
    shown = ", ".join(str(r) for r in roots)
    raise CandidateError(
        f"changes {path}, which is not importable from the project's import roots ({shown}); "
        "only modules of the project can be changed."
    )


def relative_path(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` with forward slashes (absolute if outside it)."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def project_import_roots(rootdir: Path) -> list[Path]:
    """Where a project's modules are imported from: the ``sys.path`` entries inside
    ``rootdir`` (in ``sys.path`` order), then its ``src/`` and ``rootdir`` itself."""
    roots: list[Path] = []
    for entry in sys.path:
        try:
            path = Path(entry or ".").resolve()
        except OSError:
            continue
        if (path == rootdir or rootdir in path.parents) and path.is_dir() and path not in roots:
            roots.append(path)
    for extra in (rootdir / "src", rootdir):
        if extra.is_dir() and extra not in roots:
            roots.append(extra)
    return roots


def walk_python_files(
    top: Path, budget: list[int], keep_dir: Callable[[Path], bool] = lambda path: True
) -> Iterator[Path]:
    """The ``.py`` files under ``top``, in sorted order, bounded by ``budget``.

    Hidden folders, :data:`ENV_DIRS` and virtual environments are not entered, nor folders
    ``keep_dir`` refuses.  ``budget[0]`` is how many directory entries may still be looked
    at; it is decreased as the walk goes, and the walk stops when it is used up, so a huge
    tree stays fast (a caller sharing one budget over several walks bounds them all).
    """
    for dirpath, dirnames, filenames in os.walk(top):
        here = Path(dirpath)
        budget[0] -= len(dirnames) + len(filenames)
        if budget[0] < 0:
            return
        dirnames[:] = sorted(
            d
            for d in dirnames
            if d not in ENV_DIRS
            and not d.startswith(".")
            and not (here / d / "pyvenv.cfg").exists()
            and keep_dir(here / d)
        )
        yield from (here / f for f in sorted(filenames) if f.endswith(".py"))
