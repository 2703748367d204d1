"""Membership tests against lists and tuples become set lookups.

Three shapes:

- ``x in [1, 2, 3]`` (a display of constants) becomes ``x in {1, 2, 3}``, which Python keeps
  as one frozenset constant;
- ``x in list(d.keys())`` and ``x in d.keys()`` become ``x in d``;
- ``x in names`` inside a loop, where ``names`` is a list or tuple the loop does not change,
  tests a set built once before the loop (a module-level frozenset for a constant of literals).
"""

from __future__ import annotations

from collections.abc import Sequence

import libcst as cst

from .base import (
    Context,
    Replacement,
    ReplacingTransformer,
    Rewrite,
    Rule,
    parameter_names,
    variants,
)
from .names import bound_names, code, gather

__all__ = ["MembershipRule"]

_SEQUENCE_CALLS = frozenset({"list", "tuple", "sorted"})
_SEQUENCE_METHODS = frozenset({"split", "rsplit", "splitlines", "readlines"})
_SEQUENCE_ANNOTATIONS = frozenset({"list", "tuple", "List", "Tuple", "Sequence"})
_CONSTANTS = (cst.Integer, cst.Float, cst.SimpleString, cst.ConcatenatedString)
_LOOPS = (cst.For, cst.While)
MIN_LITERALS = 3


class GatherBindingsVisitor(cst.CSTVisitor):
    """The values bound to each plain name in a function (``None`` where not an assignment)."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, list[cst.BaseExpression | None]] = {}

    def _bind(self, target: cst.BaseExpression, value: cst.BaseExpression | None) -> None:
        if isinstance(target, cst.Name):
            self.values.setdefault(target.value, []).append(value)
        else:
            for name in bound_names(target):
                self.values.setdefault(name, []).append(None)

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            self._bind(target.target, node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._bind(node.target, node.value)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._bind(node.target, None)

    def visit_For(self, node: cst.For) -> None:
        self._bind(node.target, None)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._bind(node.target, None)

    def visit_AsName(self, node: cst.AsName) -> None:
        self._bind(node.name, None)  # type: ignore[arg-type]

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_CompFor(self, node: cst.CompFor) -> bool:
        return False


def bindings(function: cst.FunctionDef) -> dict[str, list[cst.BaseExpression | None]]:
    """Every value ``function``'s body binds to each name (``None`` for non-assignments)."""
    visitor = GatherBindingsVisitor()
    function.body.visit(visitor)
    return visitor.values


def is_sequence(name: str, function: cst.FunctionDef, context: Context) -> bool:
    """Whether ``name`` certainly holds a list or tuple in ``function`` (by how it is bound)."""
    values = bindings(function).get(name)
    for param in (*function.params.params, *function.params.posonly_params):
        if param.name.value == name:
            annotation = param.annotation.annotation if param.annotation else None
            while isinstance(annotation, cst.Subscript):
                annotation = annotation.value
            ok = annotation is not None and _last_name(annotation) in _SEQUENCE_ANNOTATIONS
            return ok and values is None
    if values is None:
        value = context.module_assigns.get(name)
        return isinstance(value, cst.List | cst.Tuple)
    return all(_sequence_value(v) for v in values)


def _last_name(expr: cst.BaseExpression) -> str | None:
    if isinstance(expr, cst.Attribute):
        return expr.attr.value
    return expr.value if isinstance(expr, cst.Name) else None


def _sequence_value(value: cst.BaseExpression | None) -> bool:
    if isinstance(value, cst.List | cst.Tuple | cst.ListComp):
        return True
    if isinstance(value, cst.Call):
        func = value.func
        if isinstance(func, cst.Name):
            return func.value in _SEQUENCE_CALLS
        return isinstance(func, cst.Attribute) and func.attr.value in _SEQUENCE_METHODS
    return False


def _constant_display(expr: cst.BaseExpression) -> bool:
    if not isinstance(expr, cst.List | cst.Tuple) or len(expr.elements) < MIN_LITERALS:
        return False
    return all(
        isinstance(e, cst.Element) and isinstance(e.value, _CONSTANTS) for e in expr.elements
    )


def _keys_owner(expr: cst.BaseExpression) -> cst.BaseExpression | None:
    """``d`` for ``d.keys()``, ``list(d.keys())``; ``d.values()`` for ``list(d.values())``."""
    copies = ("list", "tuple", "set", "frozenset", "sorted")
    if isinstance(expr, cst.Call) and code(expr.func) in copies and len(expr.args) == 1:
        inner = expr.args[0]
        view = inner.value if inner.keyword is None and not inner.star else None
        if view is not None and (owner := _view_owner(view, "keys")) is not None:
            return owner
        if view is not None and (_view_owner(view, "values") or _view_owner(view, "items")):
            return view
    return _view_owner(expr, "keys")


def _view_owner(expr: cst.BaseExpression, method: str) -> cst.Name | None:
    """``d`` if ``expr`` is ``d.method()``."""
    if isinstance(expr, cst.Call) and not expr.args and isinstance(expr.func, cst.Attribute):
        owner = expr.func.value
        if expr.func.attr.value == method and isinstance(owner, cst.Name):
            return owner
    return None


class GatherMembershipVisitor(cst.CSTVisitor):
    """Find the membership tests worth rewriting, and where a hoisted set would go."""

    def __init__(self, function: cst.FunctionDef, context: Context) -> None:
        super().__init__()
        self.function = function
        self.context = context
        self.replacements: dict[cst.BaseExpression, cst.BaseExpression] = {}
        # comparator -> (statement before which the set is built, name of the list)
        self.hoists: dict[cst.Name, tuple[cst.BaseStatement, str]] = {}
        self.constants: dict[cst.Name, str] = {}
        self._loops: list[cst.BaseStatement] = []
        self._statements: list[cst.BaseStatement] = []
        self._comprehension_targets: list[set[str]] = []
        self._in_blocks: set[cst.CSTNode] = set()

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        self._in_blocks.update(node.body)  # only these can have statements put before them

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return node is self.function

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def on_visit(self, node: cst.CSTNode) -> bool:
        if node in self._in_blocks:
            self._statements.append(node)  # type: ignore[arg-type]
        if isinstance(node, _LOOPS):
            self._loops.append(node)
        if isinstance(node, cst.CompFor):
            self._comprehension_targets.append(bound_names(node.target))
        return super().on_visit(node)

    def on_leave(self, original_node: cst.CSTNode) -> None:
        if original_node in self._in_blocks:
            self._statements.pop()
        if isinstance(original_node, _LOOPS):
            self._loops.pop()
        if isinstance(original_node, cst.CompFor):
            self._comprehension_targets.pop()
        super().on_leave(original_node)

    def visit_ComparisonTarget(self, node: cst.ComparisonTarget) -> None:
        if not isinstance(node.operator, cst.In | cst.NotIn):
            return
        comparator = node.comparator
        if _constant_display(comparator):
            assert isinstance(comparator, cst.List | cst.Tuple)
            items = ", ".join(code(e.value) for e in comparator.elements)
            self.replacements[comparator] = cst.parse_expression(f"{{{items}}}")
        elif (owner := _keys_owner(comparator)) is not None:
            self.replacements[comparator] = owner
        elif isinstance(comparator, cst.Name):
            self._hoist(comparator)

    def _hoist(self, comparator: cst.Name) -> None:
        name = comparator.value
        if any(name in targets for targets in self._comprehension_targets):
            return
        if not is_sequence(name, self.function, self.context):
            return
        value = self.context.module_assigns.get(name)
        in_function = name in gather(self.function.body).stores | set(
            parameter_names(self.function)
        )
        fixed = name not in gather(self.context.module).mutated
        constant = isinstance(value, cst.List | cst.Tuple) and _all_literal(value)
        if not in_function and fixed and constant:
            self.constants[comparator] = name
            return
        where = self._hoist_point(name)
        if where is not None:
            self.hoists[comparator] = (where, name)

    def _hoist_point(self, name: str) -> cst.BaseStatement | None:
        """The outermost enclosing loop that leaves ``name`` alone (or the comprehension's
        statement), before which the set can be built once."""
        for loop in self._loops:
            if loop not in self._in_blocks:
                continue
            facts = gather(loop)
            if name not in facts.stores and name not in facts.mutated:
                return loop
        if self._comprehension_targets and self._statements:
            statement = self._statements[-1]
            if not self._loops or statement is not self._loops[-1]:
                return statement
        return None


def _all_literal(value: cst.List | cst.Tuple) -> bool:
    return all(
        isinstance(e, cst.Element) and isinstance(e.value, _CONSTANTS) for e in value.elements
    )


class MembershipTransformer(ReplacingTransformer):
    """Apply chosen replacements and insert the hoisted sets before their loops."""

    def __init__(
        self,
        replacements: dict[cst.BaseExpression, cst.BaseExpression],
        hoists: dict[cst.BaseStatement, list[str]],
    ) -> None:
        super().__init__()
        self.replacements = replacements
        self.hoists = hoists

    def replace(self, original_node: cst.CSTNode, updated_node: cst.CSTNode) -> Replacement:
        if original_node in self.replacements:
            return self.replacements[original_node]  # type: ignore[index]
        if original_node in self.hoists:
            lines = [cst.parse_statement(text) for text in self.hoists[original_node]]  # type: ignore[index]
            return cst.FlattenSentinel([*lines, updated_node])  # type: ignore[list-item]
        return updated_node


class MembershipRule(Rule):
    """Membership tests against lists and tuples become set lookups."""

    name = "membership"
    explanation = (
        "Membership tests against a list or tuple now look the item up in a set built once, "
        "which takes constant time instead of a scan of the whole list."
    )

    def rewrite(self, function: cst.FunctionDef, context: Context) -> list[Rewrite]:
        gathered = GatherMembershipVisitor(function, context)
        function.visit(gathered)
        sites: list[cst.BaseExpression] = [
            *gathered.replacements,
            *gathered.hoists,
            *gathered.constants,
        ]
        rewrites = []
        for group in variants(sites):
            rewrites.append(self._apply(function, context, gathered, group))  # type: ignore[arg-type]
        return rewrites

    def _apply(
        self,
        function: cst.FunctionDef,
        context: Context,
        gathered: GatherMembershipVisitor,
        group: Sequence[cst.BaseExpression],
    ) -> Rewrite:
        rewrite = Rewrite(function)
        replacements = {k: v for k, v in gathered.replacements.items() if k in group}
        hoists: dict[cst.BaseStatement, list[str]] = {}
        set_names: dict[tuple[cst.BaseStatement, str], str] = {}
        for comparator, (where, name) in gathered.hoists.items():
            if comparator not in group:
                continue
            if (where, name) not in set_names:
                set_names[where, name] = context.fresh(f"{name}_set")
                hoists.setdefault(where, []).append(f"{set_names[where, name]} = set({name})\n")
            replacements[comparator] = cst.Name(set_names[where, name])
        constant_names: dict[str, str] = {}
        for comparator, name in gathered.constants.items():
            if comparator not in group:
                continue
            if name not in constant_names:
                constant_names[name] = context.fresh(f"{name}_set".upper())
                rewrite.helpers.append(f"{constant_names[name]} = frozenset({name})\n")
            replacements[comparator] = cst.Name(constant_names[name])
        rewrite.function = function.visit(MembershipTransformer(replacements, hoists))  # type: ignore[assignment]
        return rewrite
