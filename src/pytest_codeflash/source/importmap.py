"""What a module's imports bind: each imported name's absolute dotted name."""

from __future__ import annotations

import libcst as cst

from .syntax import Statement, dotted

__all__ = ["GatherImportTargetsVisitor", "GatherImportsVisitor", "absolute", "holds_imports"]


def holds_imports(node: Statement) -> bool:
    """A compound statement with imports in it: ``try: import x``, ``if TYPE_CHECKING: ...``."""
    if isinstance(node, cst.SimpleStatementLine):
        return False
    visitor = GatherImportsVisitor()
    node.visit(visitor)
    return visitor.found


class GatherImportsVisitor(cst.CSTVisitor):
    """Find whether a statement imports anything (outside function and class bodies)."""

    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def visit_Import(self, node: cst.Import) -> None:
        self.found = True

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        self.found = True


def absolute(name: str, package: str) -> str | None:
    """``name`` with leading dots resolved against ``package`` (None if it climbs too far)."""
    level = len(name) - len(name.lstrip("."))
    if not level:
        return name
    base = package.split(".") if package else []
    if level - 1 > len(base):
        return None
    base = base[: len(base) - (level - 1)]
    rest = name[level:]
    return ".".join([*base, rest] if rest else base) or None


class GatherImportTargetsVisitor(cst.CSTVisitor):
    """Map each name a module's imports bind to the absolute name it imports."""

    def __init__(self, package: str) -> None:
        super().__init__()
        self.package = package
        self.unit = -1
        self.targets: dict[str, str] = {}
        self.stars: list[tuple[int, str]] = []  # (unit index, module) of `from m import *`

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            name = dotted(alias.name)
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                self.targets[alias.asname.name.value] = name
            else:
                first = name.split(".")[0]
                self.targets[first] = first

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        module = "." * len(node.relative) + (dotted(node.module) if node.module else "")
        if isinstance(node.names, cst.ImportStar):
            found = absolute(module, self.package)
            if found:
                self.stars.append((self.unit, found))
            return
        for alias in node.names:
            bound = alias.asname.name if alias.asname else alias.name
            name = dotted(alias.name)
            joined = f"{module}.{name}" if module and not module.endswith(".") else module + name
            full = absolute(joined, self.package)
            if isinstance(bound, cst.Name) and full:
                self.targets[bound.value] = full
