"""Where a project's modules live: import roots, module names and project-relative paths."""

from __future__ import annotations

import sys
from pathlib import Path

from ..errors import CandidateError
from ..models import TargetFunction

__all__ = ["import_roots", "module_name", "project_import_roots", "relative_path"]


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
