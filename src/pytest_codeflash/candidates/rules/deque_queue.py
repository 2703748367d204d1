"""Lists used as queues (``pop(0)``, ``insert(0, x)``) become ``collections.deque``.

``list.pop(0)`` and ``list.insert(0, x)`` move every other element; a deque does both in
constant time.  The rewrite applies only to a local list that never leaves the function and
is used only in ways a deque supports identically: ``append``, ``pop()``, ``extend``,
``len``, truth tests, ``x in q``, ``q[0]`` and ``q[-1]``.
"""

from __future__ import annotations

import libcst as cst

from .base import Context, Rewrite, Rule
from .membership import bindings
from .names import code, gather

__all__ = ["DequeRule"]

_SAME_METHODS = frozenset({"append", "extend", "clear", "count", "remove"})


def _initial(value: cst.BaseExpression | None) -> str | None:
    """The deque's constructor argument for a list value (``""`` for an empty list)."""
    if isinstance(value, cst.List):
        return code(value) if value.elements else ""
    is_list = isinstance(value, cst.Call) and code(value.func) == "list"
    if is_list and len(value.args) <= 1:  # type: ignore[union-attr]
        return code(value.args[0].value) if value.args else ""  # type: ignore[union-attr]
    return None


def _literal(arg: cst.Arg, value: int) -> bool:
    expr = arg.value
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Minus):
        return isinstance(expr.expression, cst.Integer) and expr.expression.value == str(-value)
    return isinstance(expr, cst.Integer) and expr.value == str(value)


class GatherQueueVisitor(cst.CSTVisitor):
    """Count the uses of ``name`` a deque supports, and note the ones to rewrite."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.supported = 0
        self.front: dict[cst.Call, str] = {}  # pop(0) / insert(0, x) / pop(-1) -> new text

    def _is_queue(self, expr: cst.BaseExpression) -> bool:
        return isinstance(expr, cst.Name) and expr.value == self.name

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute) and self._is_queue(func.value):
            method, args = func.attr.value, node.args
            if method in _SAME_METHODS or (method == "pop" and not args):
                self.supported += 1
            elif method == "pop" and len(args) == 1 and _literal(args[0], 0):
                self.front[node] = f"{self.name}.popleft()"
            elif method == "pop" and len(args) == 1 and _literal(args[0], -1):
                self.front[node] = f"{self.name}.pop()"
            elif method == "insert" and len(args) == 2 and _literal(args[0], 0):
                self.front[node] = f"{self.name}.appendleft({code(args[1].value)})"
        elif isinstance(func, cst.Name) and func.value in ("len", "bool"):
            self.supported += sum(1 for a in node.args if self._is_queue(a.value))

    def visit_If(self, node: cst.If) -> None:
        self.supported += self._is_queue(node.test)

    def visit_While(self, node: cst.While) -> None:
        self.supported += self._is_queue(node.test)

    def visit_UnaryOperation(self, node: cst.UnaryOperation) -> None:
        self.supported += isinstance(node.operator, cst.Not) and self._is_queue(node.expression)

    def visit_BooleanOperation(self, node: cst.BooleanOperation) -> None:
        self.supported += self._is_queue(node.left) + self._is_queue(node.right)

    def visit_ComparisonTarget(self, node: cst.ComparisonTarget) -> None:
        if isinstance(node.operator, cst.In | cst.NotIn):
            self.supported += self._is_queue(node.comparator)

    def visit_Subscript(self, node: cst.Subscript) -> None:
        if self._is_queue(node.value) and len(node.slice) == 1:
            index = node.slice[0].slice
            if isinstance(index, cst.Index) and isinstance(
                index.value, cst.Integer | cst.UnaryOperation
            ):
                arg = cst.Arg(index.value)
                self.supported += _literal(arg, 0) or _literal(arg, -1)


class DequeTransformer(cst.CSTTransformer):
    """Create the deque and use its front operations."""

    def __init__(self, name: str, front: dict[cst.Call, str], deque: str) -> None:
        super().__init__()
        self.name = name
        self.front = front
        self.deque = deque

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        text = self.front.get(original_node)
        return updated_node if text is None else cst.parse_expression(text)

    def leave_Assign(self, original_node: cst.Assign, updated_node: cst.Assign) -> cst.Assign:
        target = original_node.targets[0].target
        if isinstance(target, cst.Name) and target.value == self.name:
            initial = _initial(original_node.value)
            return updated_node.with_changes(
                value=cst.parse_expression(f"{self.deque}({initial or ''})")
            )
        return updated_node

    def leave_AnnAssign(
        self, original_node: cst.AnnAssign, updated_node: cst.AnnAssign
    ) -> cst.AnnAssign:
        target = original_node.target
        if isinstance(target, cst.Name) and target.value == self.name and original_node.value:
            initial = _initial(original_node.value)
            return updated_node.with_changes(
                value=cst.parse_expression(f"{self.deque}({initial or ''})")
            )
        return updated_node


class DequeRule(Rule):
    """Turn lists used as FIFO queues into ``collections.deque``."""

    name = "deque"
    explanation = (
        "A list used as a queue (pop(0) or insert(0, x)) is now a collections.deque, which "
        "adds and removes at the front in constant time instead of shifting every element."
    )

    def rewrite(self, function: cst.FunctionDef, context: Context) -> list[Rewrite]:
        loads = gather(function.body).loads
        rewrites = []
        for name, values in bindings(function).items():
            if len(values) != 1 or _initial(values[0]) is None:
                continue
            uses = GatherQueueVisitor(name)
            function.body.visit(uses)
            if not uses.front or loads[name] != uses.supported + len(uses.front):
                continue
            rewrite = Rewrite(function)
            deque = context.imported("collections", "deque", rewrite)
            transformer = DequeTransformer(name, uses.front, deque)
            rewrite.function = function.visit(transformer)  # type: ignore[assignment]
            rewrites.append(rewrite)
        return rewrites
