"""Nested loops that join two collections on equal keys use a dict index built once.

``for a in left: for b in right: if key(a) == key(b): ...`` compares every pair, O(n*m).
Grouping ``right`` by its key once (keeping its order within each key) and looking each
``a`` up in that index visits exactly the matching ``b``s, in the same order, in O(n + m).
Equal keys must hash equally, which holds for numbers, strings, tuples and other hashables;
an unhashable key raises instead, which the runner reports.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from .base import Context, Rewrite, Rule, variants
from .loop_invariant import GatherCallsVisitor, GatherLoopsVisitor, is_pure_call
from .names import code, gather, read_after_loop

__all__ = ["JoinIndexRule"]


@dataclass
class Join:
    """An outer loop, the inner loop joining on ``outer_key == inner_key``, and the rest."""

    outer: cst.For | cst.While
    inner: cst.For
    test: cst.If
    outer_key: cst.BaseExpression
    inner_key: cst.BaseExpression
    rest: cst.BaseExpression | None  # the conditions after the equality, if any
    index: str = ""


def _equality(test: cst.BaseExpression) -> tuple[cst.Comparison, cst.BaseExpression | None]:
    """The leading ``x == y`` of ``test`` and what follows it in an ``and`` chain."""
    if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.And):
        first, rest = _equality(test.left)
        if rest is None:
            return first, test.right
        return first, test.with_changes(left=rest)
    if (
        isinstance(test, cst.Comparison)
        and len(test.comparisons) == 1
        and isinstance(test.comparisons[0].operator, cst.Equal)
        and not test.lpar
    ):
        return test, None
    raise LookupError


def _pure(expr: cst.BaseExpression, context: Context, local: set[str]) -> bool:
    calls = GatherCallsVisitor()
    expr.visit(calls)
    return not calls.blocked and all(is_pure_call(c, context, local) for c in calls.calls)


def _join(
    outer: cst.For | cst.While, inner: cst.For, function: cst.FunctionDef, context: Context
) -> Join | None:
    if inner.orelse or inner.asynchronous or not isinstance(inner.target, cst.Name):
        return None
    if not isinstance(inner.iter, cst.Name) or not isinstance(inner.body, cst.IndentedBlock):
        return None
    variable, source = inner.target.value, inner.iter.value
    facts = gather(outer)
    if source in facts.stores | facts.mutated or len(inner.body.body) != 1:
        return None
    test = inner.body.body[0]
    if not isinstance(test, cst.If) or test.orelse is not None:
        return None
    try:
        equality, rest = _equality(test.test)
    except LookupError:
        return None
    local = gather(function.body).stores
    left, right = equality.left, equality.comparisons[0].comparator
    sides = []
    for side in (left, right):
        names = set(gather(side).loads)
        if not _pure(side, context, local):
            return None
        changing = (facts.stores | facts.mutated) - {variable}
        sides.append(("inner" if variable in names and not names & changing else "outer", names))
    if {kind for kind, _ in sides} != {"inner", "outer"}:
        return None
    outer_key, inner_key = (left, right) if sides[0][0] == "outer" else (right, left)
    if variable in gather(outer_key).loads or variable in gather(inner.body).stores:
        return None
    if read_after_loop(function, inner, {variable}):
        return None  # the loop variable is read after the loop
    return Join(outer, inner, test, outer_key, inner_key, rest)


class JoinTransformer(cst.CSTTransformer):
    """Build each index before its outer loop and walk only the matches."""

    def __init__(self, joins: list[Join]) -> None:
        super().__init__()
        self.outer = {join.outer: join for join in joins}
        self.inner = {join.inner: join for join in joins}

    def leave_For(
        self, original_node: cst.For, updated_node: cst.For
    ) -> cst.BaseStatement | cst.FlattenSentinel[cst.BaseStatement]:
        join = self.inner.get(original_node)
        if join is None:
            return self._outer(original_node, updated_node)
        test = join.test
        if join.rest is None:
            body = test.body
        else:
            body = cst.IndentedBlock(body=[test.with_changes(test=join.rest)])
        lookup = cst.parse_expression(f"{join.index}.get({code(join.outer_key)}, ())")
        return updated_node.with_changes(iter=lookup, body=body)

    def leave_While(
        self, original_node: cst.While, updated_node: cst.While
    ) -> cst.BaseStatement | cst.FlattenSentinel[cst.BaseStatement]:
        return self._outer(original_node, updated_node)

    def _outer(
        self, original_node: cst.For | cst.While, updated_node: cst.For | cst.While
    ) -> cst.BaseStatement | cst.FlattenSentinel[cst.BaseStatement]:
        join = self.outer.get(original_node)
        if join is None:
            return updated_node
        variable, source = code(join.inner.target), code(join.inner.iter)
        build = cst.parse_module(
            f"{join.index} = {{}}\n"
            f"for {variable} in {source}:\n"
            f"    {join.index}.setdefault({code(join.inner_key)}, []).append({variable})\n"
        ).body
        first = build[0].with_changes(leading_lines=updated_node.leading_lines)
        return cst.FlattenSentinel([first, *build[1:], updated_node.with_changes(leading_lines=())])


class JoinIndexRule(Rule):
    """Replace nested-loop equality joins by a dict index."""

    name = "join-index"
    explanation = (
        "The nested loops that compared every pair to find equal keys now group the inner "
        "collection by key once and look each outer item up, visiting only the matches."
    )

    def rewrite(self, function: cst.FunctionDef, context: Context) -> list[Rewrite]:
        loops = GatherLoopsVisitor(function)
        function.visit(loops)
        joins: list[Join] = []
        for outer in loops.loops:
            if not isinstance(outer.body, cst.IndentedBlock) or any(
                outer is j.outer for j in joins
            ):
                continue
            for inner in outer.body.body:
                if isinstance(inner, cst.For) and (join := _join(outer, inner, function, context)):
                    join.index = context.fresh(f"{join.inner.iter.value}_by_key")  # type: ignore[attr-defined]
                    joins.append(join)
                    break
        return [
            Rewrite(function.visit(JoinTransformer(group)))  # type: ignore[arg-type]
            for group in variants(joins)
        ]
