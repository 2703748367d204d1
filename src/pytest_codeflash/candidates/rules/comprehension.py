"""``for`` loops that only fill a new list, set or dict become comprehensions.

``out = []`` followed by ``for x in xs: if ok(x): out.append(f(x))`` builds the same list as
``out = [f(x) for x in xs if ok(x)]``, which runs in one tighter loop without looking up and
calling ``append`` each time.  The same holds for ``add`` into a set and ``d[k] = v`` into a
dict.  The loop variable of a comprehension is its own, so the rewrite applies only when the
function does not read the loop variable after the loop, and not inside a ``try`` or a
``with`` whose context manager might swallow an exception (anything but ``open``): an
exception halfway would leave the container partly filled in the original, and unbound in
the rewrite (more-itertools' ``_sample_counted`` under ``suppress(StopIteration)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import libcst as cst

from ...source.syntax import single_assignment
from .base import (
    Context,
    GuardedBlocksVisitor,
    Replacement,
    ReplacingTransformer,
    Rewrite,
    Rule,
    variants,
)
from .names import bound_names, code, gather, read_after_loop

__all__ = ["ComprehensionRule"]

EMPTY = {"list": "[]", "set": "set()", "dict": "{}"}


def _new_container(statement: cst.BaseStatement) -> tuple[str, str] | None:
    """``(name, kind)`` if ``statement`` binds a name to an empty list, set or dict."""
    found = single_assignment(statement)
    if found is None:
        return None
    target, value = found
    if not isinstance(target, cst.Name):
        return None
    text = code(value).replace(" ", "")
    for kind in ("list", "set", "dict"):
        if text in (EMPTY[kind], f"{kind}()"):
            return target.value, kind
    return None


@dataclass
class Shape:
    """What a loop nest adds to its container: the clauses and the element."""

    clauses: list[str]
    element: str
    targets: set[str]


def _fill(statement: cst.BaseStatement, name: str, kind: str) -> str | None:
    """The comprehension element if ``statement`` only adds one item to ``name``."""
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return None
    small = statement.body[0]
    if kind == "dict":
        if not isinstance(small, cst.Assign) or len(small.targets) != 1:
            return None
        target = small.targets[0].target
        if not isinstance(target, cst.Subscript) or code(target.value) != name:
            return None
        if len(target.slice) != 1 or not isinstance(target.slice[0].slice, cst.Index):
            return None
        return f"{code(target.slice[0].slice.value)}: {code(small.value)}"
    if not isinstance(small, cst.Expr) or not isinstance(small.value, cst.Call):
        return None
    call = small.value
    method = "append" if kind == "list" else "add"
    if code(call.func) != f"{name}.{method}" or len(call.args) != 1:
        return None
    arg = call.args[0]
    return None if arg.keyword or arg.star else code(arg.value)


def _shape(loop: cst.For, name: str, kind: str) -> Shape | None:
    """The comprehension equivalent to ``loop`` (nested loops and ``if``s allowed)."""
    if loop.orelse is not None or loop.asynchronous:
        return None
    clauses = [f"for {code(loop.target)} in {code(loop.iter)}"]
    targets = bound_names(loop.target)
    node: cst.BaseStatement = loop
    body = loop.body
    while True:
        if not isinstance(body, cst.IndentedBlock) or len(body.body) != 1:
            return None
        (node,) = body.body
        if isinstance(node, cst.If) and node.orelse is None:
            clauses.append(f"if {code(node.test)}")
            body = node.body
        elif isinstance(node, cst.For) and node.orelse is None and not node.asynchronous:
            clauses.append(f"for {code(node.target)} in {code(node.iter)}")
            targets |= bound_names(node.target)
            body = node.body
        else:
            element = _fill(node, name, kind)
            return None if element is None else Shape(clauses, element, targets)


class GatherLoopsVisitor(GuardedBlocksVisitor):
    """Container creations followed by loops that only fill them (not under a guard)."""

    def __init__(self, function: cst.FunctionDef) -> None:
        super().__init__()
        self.function = function
        self.sites: list[tuple[cst.BaseStatement, cst.For, str, Shape]] = []

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return node is self.function

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        if not self.guarded:
            self._scan(node.body)

    def _scan(self, body: Sequence[cst.BaseStatement]) -> None:
        for index, statement in enumerate(body):
            found = _new_container(statement)
            if found is None:
                continue
            name, kind = found
            for later in body[index + 1 :]:
                if isinstance(later, cst.For):
                    shape = _shape(later, name, kind)
                    if shape is not None and self._safe(later, name, kind, shape):
                        self.sites.append((statement, later, kind, shape))
                if name in gather(later).names:
                    break

    def _safe(self, loop: cst.For, name: str, kind: str, shape: Shape) -> bool:
        """The loop variables are not read after the loop, the items do not read the container."""
        if read_after_loop(self.function, loop, shape.targets):
            return False
        return name not in gather(cst.parse_expression(_text(shape, kind))).loads


def _text(shape: Shape, kind: str) -> str:
    inner = f"{shape.element} {' '.join(shape.clauses)}"
    return f"[{inner}]" if kind == "list" else f"{{{inner}}}"


class ComprehensionTransformer(ReplacingTransformer):
    """Drop the empty container's creation; put the comprehension where the loop was."""

    def __init__(self, sites: Sequence[tuple[cst.BaseStatement, cst.For, str, Shape]]) -> None:
        super().__init__()
        self.starts = {start: loop for start, loop, _, _ in sites}
        self.loops = {loop: (start, kind, shape) for start, loop, kind, shape in sites}

    def replace(self, original_node: cst.CSTNode, updated_node: cst.CSTNode) -> Replacement:
        if original_node in self.starts:
            return cst.RemovalSentinel.REMOVE
        if original_node in self.loops:
            start, kind, shape = self.loops[original_node]  # type: ignore[index]
            assert isinstance(start, cst.SimpleStatementLine)
            small = start.body[0]
            assert isinstance(small, cst.Assign | cst.AnnAssign)
            filled = small.with_changes(value=cst.parse_expression(_text(shape, kind)))
            lines = [*start.leading_lines, *original_node.leading_lines]  # type: ignore[attr-defined]
            return start.with_changes(body=[filled], leading_lines=lines)
        return updated_node


class ComprehensionRule(Rule):
    """Turn append/add/store loops into list, set and dict comprehensions."""

    name = "comprehension"
    explanation = (
        "A loop that only filled a new list, set or dict one item at a time is now a "
        "comprehension, which builds the same container without a method call per item."
    )

    def rewrite(self, function: cst.FunctionDef, context: Context) -> list[Rewrite]:
        gathered = GatherLoopsVisitor(function)
        function.visit(gathered)
        return [
            Rewrite(function.visit(ComprehensionTransformer(group)))  # type: ignore[arg-type]
            for group in variants(gathered.sites)
        ]
