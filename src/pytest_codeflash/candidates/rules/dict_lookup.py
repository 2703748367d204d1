"""Repeated lookups of the same key are done once: ``d.get(k)`` / ``d[k]`` read into a local.

Within a run of statements that neither rebind ``d`` or ``k`` nor change ``d`` itself (a store
``d[x] = ...``, a mutating method, passing ``d`` to a function), every ``d.get(k)`` returns
the same object, so the first one's result can be reused.  Changing the object that was looked
up (``d.get(k)["count"] += 1``) does not count: the lookup still finds that same object.  A
``d[k]`` is only read ahead when the statement that first reads it always does, so no
``KeyError`` is raised that the original would not raise.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import libcst as cst

from .base import Context, Replacement, ReplacingTransformer, Rewrite, Rule, leading_lines
from .known import NON_MUTATING_METHODS, PURE_BUILTINS
from .names import code, unconditional_expressions

__all__ = ["DictLookupRule"]

MAX_REUSES = 20


def _simple(expr: cst.BaseExpression) -> bool:
    return isinstance(expr, cst.Name | cst.Integer | cst.SimpleString)


def _lookup(expr: cst.CSTNode) -> tuple[str, list[str]] | None:
    """``(dict name, names the key reads)`` if ``expr`` is ``d.get(k[, default])`` or ``d[k]``."""
    if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute):
        owner = expr.func.value
        if expr.func.attr.value != "get" or not isinstance(owner, cst.Name):
            return None
        if not 1 <= len(expr.args) <= 2:
            return None
        if any(a.keyword or a.star or not _simple(a.value) for a in expr.args):
            return None
        return owner.value, [a.value.value for a in expr.args if isinstance(a.value, cst.Name)]
    if isinstance(expr, cst.Subscript) and isinstance(expr.value, cst.Name):
        if len(expr.slice) != 1 or not isinstance(expr.slice[0].slice, cst.Index):
            return None
        key = expr.slice[0].slice.value
        if not _simple(key):
            return None
        return expr.value.value, [key.value] if isinstance(key, cst.Name) else []
    return None


class GatherLookupsVisitor(cst.CSTVisitor):
    """Lookups read in one statement (not in nested scopes or comprehensions)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[cst.BaseExpression] = []
        self._store_targets: set[cst.CSTNode] = set()

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self._store_targets.add(node.target)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._store_targets.add(node.target)

    def visit_Del(self, node: cst.Del) -> None:
        self._store_targets.add(node.target)

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, cst.FunctionDef | cst.Lambda | cst.ClassDef):
            return False
        if isinstance(node, cst.ListComp | cst.SetComp | cst.DictComp | cst.GeneratorExp):
            return False
        if node not in self._store_targets and _lookup(node) is not None:
            self.found.append(node)  # type: ignore[arg-type]
        return super().on_visit(node)


class GatherChangesVisitor(cst.CSTVisitor):
    """Whether a statement may change what a lookup on ``owner`` with ``names`` returns."""

    def __init__(self, owner: str, names: Sequence[str]) -> None:
        super().__init__()
        self.owner = owner
        self.names = {owner, *names}
        self.changes = False

    def _is_owner(self, expr: cst.BaseExpression) -> bool:
        return isinstance(expr, cst.Name) and expr.value == self.owner

    def _target(self, target: cst.BaseExpression) -> None:
        if (isinstance(target, cst.Name) and target.value in self.names) or (
            isinstance(target, cst.Subscript | cst.Attribute) and self._is_owner(target.value)
        ):
            self.changes = True
        elif isinstance(target, cst.Tuple | cst.List):
            for element in target.elements:
                self._target(element.value)
        elif isinstance(target, cst.StarredElement):
            self._target(target.value)

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self._target(node.target)

    def visit_Assign(self, node: cst.Assign) -> None:
        if self._is_owner(node.value):
            self.changes = True  # an alias could change it later

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._target(node.target)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._target(node.target)

    def visit_For(self, node: cst.For) -> None:
        self._target(node.target)

    def visit_CompFor(self, node: cst.CompFor) -> None:
        self._target(node.target)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._target(node.target)

    def visit_AsName(self, node: cst.AsName) -> None:
        self._target(node.name)  # type: ignore[arg-type]

    def visit_Del(self, node: cst.Del) -> None:
        self._target(node.target)

    def visit_Global(self, node: cst.Global) -> None:
        self.changes = True

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute) and self._is_owner(func.value):
            self.changes |= func.attr.value not in NON_MUTATING_METHODS
        pure = isinstance(func, cst.Name) and func.value in PURE_BUILTINS
        if not pure and any(self._is_owner(a.value) for a in node.args):
            self.changes = True


def _changes(statement: cst.CSTNode, owner: str, names: Sequence[str]) -> bool:
    visitor = GatherChangesVisitor(owner, names)
    statement.visit(visitor)
    return visitor.changes


def _hint(expr: cst.BaseExpression) -> str:
    text = "_".join(re.findall(r"[A-Za-z0-9]+", code(expr)))
    return text.replace("_get_", "_")[:40] or "value"


class DictLookupTransformer(ReplacingTransformer):
    """Bind one lookup before ``first`` and replace its occurrences in ``run``."""

    def __init__(
        self,
        first: cst.BaseStatement,
        occurrences: Sequence[cst.BaseExpression],
        name: str,
    ) -> None:
        super().__init__()
        self.first = first
        self.occurrences = set(occurrences)
        self.name = name
        self.expr = occurrences[0]

    def replace(self, original_node: cst.CSTNode, updated_node: cst.CSTNode) -> Replacement:
        if original_node in self.occurrences:
            return cst.Name(self.name)
        if original_node is self.first:
            bind = cst.parse_statement(f"{self.name} = {code(self.expr)}")
            assert isinstance(updated_node, cst.BaseStatement)
            bind = bind.with_changes(leading_lines=leading_lines(updated_node))
            return cst.FlattenSentinel([bind, updated_node.with_changes(leading_lines=())])
        return updated_node


def _find_reuse(
    body: Sequence[cst.BaseStatement],
) -> tuple[cst.BaseStatement, list[cst.BaseExpression]] | None:
    """The first lookup read twice or more in a run of statements that leave it unchanged."""
    found: list[tuple[int, cst.BaseExpression]] = []
    for index, statement in enumerate(body):
        visitor = GatherLookupsVisitor()
        statement.visit(visitor)
        found += [(index, expr) for expr in visitor.found]
    for start, expr in found:
        lookup = _lookup(expr)
        assert lookup is not None
        if _changes(body[start], *lookup):
            continue
        if isinstance(expr, cst.Subscript):
            block = cst.IndentedBlock(body=[body[start]])
            if not any(e is expr for e in unconditional_expressions(block)):
                continue  # a KeyError the original might not raise
        text = code(expr)
        same = [expr]
        for index, other in found:
            if index <= start or other is expr or code(other) != text:
                continue
            if any(_changes(body[i], *lookup) for i in range(start + 1, index + 1)):
                break
            same.append(other)
        same += [o for i, o in found if i == start and o is not expr and code(o) == text]
        if len(same) > 1:
            return body[start], same
    return None


class GatherBlocksVisitor(cst.CSTVisitor):
    """Every statement block of the function (not of nested functions)."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks: list[cst.IndentedBlock] = []

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        self.blocks.append(node)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return not self.blocks


class DictLookupRule(Rule):
    """Read a repeated ``d.get(k)`` or ``d[k]`` once into a local."""

    name = "dict-lookup"
    explanation = (
        "A dictionary lookup repeated with the same key while nothing changes the dictionary "
        "is now done once and its result reused, saving the hashing and the method calls."
    )

    def rewrite(self, function: cst.FunctionDef, context: Context) -> list[Rewrite]:
        current = function
        # One reuse at a time: a lookup on a reused value (``_entry.get("count")``) only
        # becomes visible after the first rewrite.
        for _ in range(MAX_REUSES):
            blocks = GatherBlocksVisitor()
            current.visit(blocks)
            reuse = next((r for b in blocks.blocks if (r := _find_reuse(b.body)) is not None), None)
            if reuse is None:
                break
            first, occurrences = reuse
            name = context.fresh(_hint(occurrences[0]))
            current = current.visit(DictLookupTransformer(first, occurrences, name))  # type: ignore[assignment]
        return [Rewrite(current)] if current is not function else []
