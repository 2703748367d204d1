"""Small libcst helpers shared by the merge (``replace``) and context extraction (``context``).

Everything here reads syntax trees and never edits them: which names a statement reads or
binds, what an import line imports, and how to parse source with an error that says where.
"""

from __future__ import annotations

from collections.abc import Sequence

import libcst as cst

from ..errors import CandidateError

__all__ = [
    "GatherBindingsVisitor",
    "GatherExitsVisitor",
    "GatherNamesVisitor",
    "Statement",
    "bindings",
    "dotted",
    "imports_of",
    "is_def",
    "is_docstring",
    "is_future",
    "may_exit",
    "names",
    "parse_cst",
    "single_assignment",
    "statements",
]

Statement = cst.SimpleStatementLine | cst.BaseCompoundStatement


def parse_cst(source: str, what: str) -> cst.Module:
    """Parse ``source`` with libcst; ``what`` names it in the error.

    :raises CandidateError: naming the line and the parser's message.
    """
    try:
        return cst.parse_module(source)
    except cst.ParserSyntaxError as err:
        raise CandidateError(
            f"{what} cannot be parsed for merging: syntax error at line {err.raw_line}: "
            f"{err.message}"
        ) from err


class GatherNamesVisitor(cst.CSTVisitor):
    """Collect the names a statement reads; ``eager_only`` skips code that runs later.

    Function and lambda bodies run when called, not when the module is imported, so for
    ordering definitions only the eager references (decorators, defaults, values) matter.
    """

    def __init__(self, eager_only: bool) -> None:
        super().__init__()
        self.eager_only = eager_only
        self.names: set[str] = set()

    def visit_Name(self, node: cst.Name) -> None:
        self.names.add(node.value)

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        node.value.visit(self)  # `.attr` is not a variable reference
        return False

    def visit_Arg(self, node: cst.Arg) -> bool:
        node.value.visit(self)  # `keyword=` is not a variable reference
        return False

    def visit_Param(self, node: cst.Param) -> bool:
        for part in (node.default, node.annotation):
            if part is not None:
                part.visit(self)
        return False

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        if not self.eager_only:
            return True
        for part in (*node.decorators, node.params, node.returns):
            if part is not None:
                part.visit(self)
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        if not self.eager_only:
            return True
        node.params.visit(self)
        return False


class GatherBindingsVisitor(cst.CSTVisitor):
    """Collect the names a statement binds in its own scope."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def _bind(self, target: cst.BaseExpression) -> None:
        if isinstance(target, cst.Name):
            self.names.add(target.value)
        elif isinstance(target, cst.Tuple | cst.List):
            for element in target.elements:
                self._bind(element.value)
        elif isinstance(target, cst.StarredElement):
            self._bind(target.value)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        self.names.add(node.name.value)
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        self.names.add(node.name.value)
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self._bind(node.target)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._bind(node.target)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._bind(node.target)

    def visit_For(self, node: cst.For) -> None:
        self._bind(node.target)

    def visit_AsName(self, node: cst.AsName) -> None:
        self._bind(node.name)

    def visit_ImportAlias(self, node: cst.ImportAlias) -> None:
        if node.asname is None:
            self.names.add(dotted(node.name).split(".")[0])


def names(node: cst.CSTNode, eager_only: bool = False) -> set[str]:
    """The names ``node`` reads (only those read at import time with ``eager_only``)."""
    visitor = GatherNamesVisitor(eager_only)
    node.visit(visitor)
    return visitor.names


def bindings(node: cst.CSTNode) -> set[str]:
    """The names ``node`` binds in the scope it is in."""
    visitor = GatherBindingsVisitor()
    node.visit(visitor)
    return visitor.names


def dotted(node: cst.BaseExpression) -> str:
    """``a.b.c`` for a chain of attributes on a name, ``""`` for anything else."""
    if isinstance(node, cst.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr.value}" if base else ""
    return node.value if isinstance(node, cst.Name) else ""


def statements(nodes: Sequence[cst.BaseStatement]) -> list[Statement]:
    """The statements of a body, typed as the union the merge works with."""
    return [n for n in nodes if isinstance(n, cst.SimpleStatementLine | cst.BaseCompoundStatement)]


def imports_of(node: cst.CSTNode) -> list[cst.Import | cst.ImportFrom]:
    """The imports on ``node`` if it is a line of imports only, else ``[]``."""
    if not isinstance(node, cst.SimpleStatementLine):
        return []
    imports = [s for s in node.body if isinstance(s, cst.Import | cst.ImportFrom)]
    return imports if len(imports) == len(node.body) else []


def is_future(small: cst.BaseSmallStatement) -> bool:
    """Whether ``small`` is a ``from __future__ import ...``."""
    return (
        isinstance(small, cst.ImportFrom)
        and small.module is not None
        and dotted(small.module) == "__future__"
    )


def is_def(node: cst.CSTNode) -> bool:
    """Whether ``node`` is a function or class definition."""
    return isinstance(node, cst.FunctionDef | cst.ClassDef)


def is_docstring(node: cst.CSTNode) -> bool:
    """Whether ``node`` is a statement line holding only a string (a docstring if first)."""
    return (
        isinstance(node, cst.SimpleStatementLine)
        and len(node.body) == 1
        and isinstance(node.body[0], cst.Expr)
        and isinstance(node.body[0].value, cst.SimpleString | cst.ConcatenatedString)
    )


def single_assignment(
    node: cst.CSTNode, *, annotated: bool = True
) -> tuple[cst.BaseExpression, cst.BaseExpression] | None:
    """``(target, value)`` of one assignment to one target, else ``None``.

    ``node`` is a small statement, or a statement line holding exactly one.  ``x = v``
    counts, and with ``annotated`` also ``x: T = v`` (not ``x: T`` alone, nor ``a = b = v``).
    """
    if isinstance(node, cst.SimpleStatementLine):
        if len(node.body) != 1:
            return None
        node = node.body[0]
    if isinstance(node, cst.Assign) and len(node.targets) == 1:
        return node.targets[0].target, node.value
    if annotated and isinstance(node, cst.AnnAssign) and node.value is not None:
        return node.target, node.value
    return None


class GatherExitsVisitor(cst.CSTVisitor):
    """Whether code can leave early: ``break`` or ``continue``, and with ``any_exit`` also
    ``return``, ``raise``, ``try`` (a handler changes what runs after a failure), ``yield``
    (the caller may never resume) and ``await``.

    Nested functions and lambdas are not looked into; nor, without ``any_exit``, nested
    loops (their ``break`` is their own).
    """

    def __init__(self, *, any_exit: bool) -> None:
        super().__init__()
        self.any_exit = any_exit
        self.found = False

    def visit_Break(self, node: cst.Break) -> None:
        self.found = True

    def visit_Continue(self, node: cst.Continue) -> None:
        self.found = True

    def visit_Return(self, node: cst.Return) -> None:
        self.found = self.found or self.any_exit

    def visit_Raise(self, node: cst.Raise) -> None:
        self.found = self.found or self.any_exit

    def visit_Try(self, node: cst.Try) -> None:
        self.found = self.found or self.any_exit

    def visit_Yield(self, node: cst.Yield) -> None:
        self.found = self.found or self.any_exit

    def visit_Await(self, node: cst.Await) -> None:
        self.found = self.found or self.any_exit

    def visit_For(self, node: cst.For) -> bool:
        return self.any_exit

    def visit_While(self, node: cst.While) -> bool:
        return self.any_exit

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False


def may_exit(node: cst.CSTNode, *, any_exit: bool = True) -> bool:
    """Whether ``node`` can leave early (see :class:`GatherExitsVisitor`)."""
    visitor = GatherExitsVisitor(any_exit=any_exit)
    node.visit(visitor)
    return visitor.found
