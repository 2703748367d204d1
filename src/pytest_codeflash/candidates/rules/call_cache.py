"""Calls in a loop to a pure helper of the same module are cached for one call of the target.

``rate = _rate_for(region, category)`` inside a loop recomputes the same result whenever a
pair repeats.  The rewrite keeps a dict, created when the target starts, from the arguments
(each with its type, so ``1`` and ``1.0`` stay apart) to the result.  The cache dies with the
call, so anything the helper reads (a global table) is read afresh on every call.
"""

from __future__ import annotations

import libcst as cst

from .base import Context, Rewrite, Rule, parameter_names, variants
from .memoise import GatherRecursionVisitor
from .names import code, gather

__all__ = ["CallCacheRule", "pure_functions"]

_LOOPS = (cst.For, cst.While)

CACHED = """\
{key} = ({parts})
if {key} in {cache}:
    {value} = {cache}[{key}]
else:
    {value} = {cache}[{key}] = {call}
"""


def pure_functions(context: Context) -> set[str]:
    """The module's plain functions that look pure: no I/O, randomness, globals or mutation
    of their arguments (calling each other is allowed)."""
    pure = {
        name
        for name, node in context.module_functions.items()
        if not node.decorators and not node.asynchronous
    }
    changed = True
    while changed:
        changed = False
        for name in sorted(pure):
            node = context.module_functions[name]
            recursion = GatherRecursionVisitor(name)
            node.body.visit(recursion)
            facts = gather(node.body, pure=frozenset(pure))
            calls = {c.func.value for c in facts.calls if isinstance(c.func, cst.Name)}
            impure = calls & (set(context.module_functions) - pure - {name})
            if recursion.impure or impure or facts.mutated & set(parameter_names(node)):
                pure.discard(name)
                changed = True
    return pure


def _simple(expr: cst.BaseExpression) -> bool:
    """Cheap to evaluate twice and free of side effects: names, constants, attributes."""
    if isinstance(expr, cst.Name | cst.Integer | cst.Float | cst.SimpleString):
        return True
    return isinstance(expr, cst.Attribute) and _simple(expr.value)


class GatherCallsVisitor(cst.CSTVisitor):
    """Assignments in loops whose value is one call of a pure helper with simple arguments."""

    def __init__(self, pure: set[str]) -> None:
        super().__init__()
        self.pure = pure
        self.sites: list[cst.SimpleStatementLine] = []
        self._loops = 0

    def on_visit(self, node: cst.CSTNode) -> bool:
        self._loops += isinstance(node, _LOOPS)
        return super().on_visit(node)

    def on_leave(self, original_node: cst.CSTNode) -> None:
        self._loops -= isinstance(original_node, _LOOPS)
        super().on_leave(original_node)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False  # a nested function's loops run in another scope

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        if self._loops and len(node.body) == 1 and _cached_call(node.body[0], self.pure):
            self.sites.append(node)


def _cached_call(small: cst.BaseSmallStatement, pure: set[str]) -> cst.Call | None:
    if isinstance(small, cst.Assign):
        if len(small.targets) != 1 or not isinstance(small.targets[0].target, cst.Name):
            return None
    elif not isinstance(small, cst.AugAssign):
        return None
    call = small.value
    if not isinstance(call, cst.Call) or not isinstance(call.func, cst.Name):
        return None
    if call.func.value not in pure or not call.args:
        return None
    if any(arg.star or not _simple(arg.value) for arg in call.args):
        return None
    return call


class CallCacheTransformer(cst.CSTTransformer):
    """Replace each chosen assignment with a cache lookup."""

    def __init__(self, sites: dict[cst.SimpleStatementLine, str], context: Context) -> None:
        super().__init__()
        self.sites = sites
        self.context = context

    def leave_SimpleStatementLine(
        self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine
    ) -> cst.BaseStatement | cst.FlattenSentinel[cst.BaseStatement]:
        cache = self.sites.get(original_node)
        if cache is None:
            return updated_node
        small = original_node.body[0]
        assert isinstance(small, cst.Assign | cst.AugAssign)
        call = small.value
        assert isinstance(call, cst.Call)
        key = self.context.fresh("key")
        parts = ", ".join(f"{code(a.value)}, type({code(a.value)})" for a in call.args)
        if isinstance(small, cst.Assign):
            value = code(small.targets[0].target)
        else:
            value = self.context.fresh("value")
        text = CACHED.format(key=key, parts=parts, cache=cache, value=value, call=code(call))
        statements = list(cst.parse_module(text).body)
        if isinstance(small, cst.AugAssign):
            statements.append(
                cst.SimpleStatementLine(body=[small.with_changes(value=cst.Name(value))])
            )
        statements[0] = statements[0].with_changes(leading_lines=original_node.leading_lines)
        return cst.FlattenSentinel(statements)


class CallCacheRule(Rule):
    """Cache a pure helper's results for the duration of one call of the target."""

    name = "call-cache"
    explanation = (
        "Calls of a pure helper inside the loop now reuse the result for arguments already "
        "seen during this call, so repeated arguments are computed once."
    )

    def rewrite(self, function: cst.FunctionDef, context: Context) -> list[Rewrite]:
        # Sites calling any module function first: telling which functions are pure reads
        # every function of the module, which most targets never need.
        anyone = GatherCallsVisitor(set(context.module_functions) - {function.name.value})
        function.body.visit(anyone)
        if not anyone.sites:
            return []
        pure = pure_functions(context) - {function.name.value}
        if not pure:
            return []
        gathered = GatherCallsVisitor(pure)
        function.body.visit(gathered)
        rewrites = []
        for group in variants(gathered.sites):
            caches: dict[str, str] = {}
            sites: dict[cst.SimpleStatementLine, str] = {}
            for site in group:
                call = _cached_call(site.body[0], pure)  # type: ignore[union-attr]
                assert call is not None
                assert isinstance(call.func, cst.Name)
                helper = call.func.value
                if helper not in caches:
                    caches[helper] = context.fresh(f"{helper}_cache")
                sites[site] = caches[helper]  # type: ignore[index]
            body = function.body.visit(CallCacheTransformer(sites, context))
            assert isinstance(body, cst.IndentedBlock)
            start = 1 if _has_docstring(body) else 0
            setup = [cst.parse_statement(f"{cache} = {{}}") for cache in caches.values()]
            statements = [*body.body[:start], *setup, *body.body[start:]]
            new = function.with_changes(body=body.with_changes(body=statements))
            rewrites.append(Rewrite(new))
        return rewrites


def _has_docstring(body: cst.IndentedBlock) -> bool:
    first = body.body[0] if body.body else None
    return (
        isinstance(first, cst.SimpleStatementLine)
        and isinstance(first.body[0], cst.Expr)
        and isinstance(first.body[0].value, cst.SimpleString | cst.ConcatenatedString)
    )
