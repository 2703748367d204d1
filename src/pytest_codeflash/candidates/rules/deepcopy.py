"""Copies (``copy.deepcopy``, ``copy.copy``) that nothing ever changes are dropped.

A defensive ``data = copy.deepcopy(items)`` costs a full traversal.  If neither the copy nor
the original (nor anything reached through either: loop variables, items taken out of
them) is changed, returned, stored or handed to code that might change it, reading the
original directly gives the same results.
"""

from __future__ import annotations

import libcst as cst

from .base import Context, Rewrite, Rule, variants
from .known import NON_MUTATING_METHODS
from .names import bound_names, gather

__all__ = ["DeepcopyRule"]

COPIES = frozenset({"copy.deepcopy", "copy.copy"})


def _root(expr: cst.BaseExpression) -> str | None:
    """The name whose data ``expr`` reads: ``x`` in ``x[0].a`` or ``x.items()``."""
    while True:
        if isinstance(expr, cst.Subscript | cst.Attribute):
            expr = expr.value
        elif isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute):
            if expr.func.attr.value not in NON_MUTATING_METHODS:
                return None
            expr = expr.func.value
        elif isinstance(expr, cst.Call) and isinstance(expr.func, cst.Name):
            if expr.func.value not in ("enumerate", "reversed", "zip", "iter") or not expr.args:
                return None
            expr = expr.args[0].value
        else:
            return expr.value if isinstance(expr, cst.Name) else None


class GatherDerivedVisitor(cst.CSTVisitor):
    """Names bound to parts of the data of some given names (loop variables, items)."""

    def __init__(self, names: set[str]) -> None:
        super().__init__()
        self.names = set(names)
        self.grew = False

    def _add(self, target: cst.BaseExpression, value: cst.BaseExpression) -> None:
        if _root(value) in self.names:
            new = bound_names(target) - self.names
            self.grew |= bool(new)
            self.names |= new

    def visit_For(self, node: cst.For) -> None:
        self._add(node.target, node.iter)

    def visit_CompFor(self, node: cst.CompFor) -> None:
        self._add(node.target, node.iter)

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            self._add(target.target, node.value)


def derived(body: cst.CSTNode, names: set[str]) -> set[str]:
    """``names`` and every name bound to data reachable from them in ``body``."""
    visitor = GatherDerivedVisitor(names)
    while True:
        visitor.grew = False
        body.visit(visitor)
        if not visitor.grew:
            return visitor.names


class GatherEscapesVisitor(cst.CSTVisitor):
    """Whether any of ``names`` is returned, yielded, put in a container or captured."""

    def __init__(self, names: set[str]) -> None:
        super().__init__()
        self.names = names
        self.escapes = False

    def _mentions(self, node: cst.CSTNode | None) -> bool:
        return node is not None and bool(gather(node).names & self.names)

    def visit_Return(self, node: cst.Return) -> None:
        self.escapes |= self._mentions(node.value)

    def visit_Yield(self, node: cst.Yield) -> None:
        self.escapes |= self._mentions(node.value)

    def visit_Element(self, node: cst.Element) -> None:
        self.escapes |= _root(node.value) in self.names

    def visit_DictElement(self, node: cst.DictElement) -> None:
        self.escapes |= _root(node.value) in self.names

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self.escapes |= self._mentions(node.body)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.escapes |= self._mentions(node.body)


def _copy_of(statement: cst.BaseStatement, copies: set[str]) -> tuple[str, str] | None:
    """``(copy, original)`` for ``copy = copy.deepcopy(original)``."""
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return None
    small = statement.body[0]
    if not isinstance(small, cst.Assign) or len(small.targets) != 1:
        return None
    target, value = small.targets[0].target, small.value
    if not isinstance(target, cst.Name) or not isinstance(value, cst.Call):
        return None
    func = cst.Module([]).code_for_node(value.func)
    if func not in copies or len(value.args) != 1 or not isinstance(value.args[0].value, cst.Name):
        return None
    return target.value, value.args[0].value.value


class GatherCopiesVisitor(cst.CSTVisitor):
    """Copy statements whose copy and original are only ever read."""

    def __init__(self, function: cst.FunctionDef, copies: set[str]) -> None:
        super().__init__()
        self.function = function
        self.copies = copies
        self.sites: list[cst.SimpleStatementLine] = []

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return node is self.function

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        found = _copy_of(node, self.copies)
        if found is None:
            return
        body = self.function.body
        reach = derived(body, set(found))
        facts = gather(body, pure=frozenset(c for c in self.copies if "." not in c))
        escapes = GatherEscapesVisitor(reach)
        body.visit(escapes)
        if not reach & facts.mutated and not escapes.escapes:
            self.sites.append(node)


class DropCopyTransformer(cst.CSTTransformer):
    """``y = copy.deepcopy(x)`` becomes ``y = x``."""

    def __init__(self, sites: list[cst.SimpleStatementLine]) -> None:
        super().__init__()
        self.sites = sites

    def leave_SimpleStatementLine(
        self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine
    ) -> cst.SimpleStatementLine:
        if original_node not in self.sites:
            return updated_node
        small = updated_node.body[0]
        assert isinstance(small, cst.Assign)
        assert isinstance(small.value, cst.Call)
        return updated_node.with_changes(body=[small.with_changes(value=small.value.args[0].value)])


class DeepcopyRule(Rule):
    """Drop copies of data that is never changed afterwards."""

    name = "drop-copy"
    explanation = (
        "A copy (copy.deepcopy or copy.copy) of data that is only ever read is no longer "
        "made; the code reads the original, which holds the same values."
    )

    def rewrite(self, function: cst.FunctionDef, context: Context) -> list[Rewrite]:
        local = gather(function.body).stores
        copies = set()
        for bound, what in context.module_imports.items():
            if bound in local:
                continue
            if what == "copy":
                copies |= {f"{bound}.deepcopy", f"{bound}.copy"}
            elif what in COPIES:
                copies.add(bound)
        if not copies:
            return []
        gathered = GatherCopiesVisitor(function, copies)
        function.visit(gathered)
        return [
            Rewrite(function.visit(DropCopyTransformer(group)))  # type: ignore[arg-type]
            for group in variants(gathered.sites)
        ]
