"""Per-element work an inner loop repeats for every outer iteration is computed once per element.

In ``for line in lines: for kw in keywords: pattern = re.compile(... kw ...)`` the pattern
depends only on ``kw``, and ``keywords`` does not change while the outer loop runs, so every
outer iteration rebuilds the same patterns.  The rewrite builds ``[(kw, pattern), ...]`` once,
before the outer loop, and the inner loop walks that list instead.
"""

from __future__ import annotations

import libcst as cst

from ...source.syntax import dotted
from .base import Context, Replacement, ReplacingTransformer, Rewrite, Rule, leading_lines, variants
from .loop_invariant import GatherCallsVisitor, GatherLoopsVisitor, is_pure_call
from .names import bound_names, code, gather, root_name, unconditional_expressions

__all__ = ["PrecomputeRule"]


class Site:
    """An outer loop, its inner loop, and the inner loop's per-element expressions."""

    def __init__(
        self, outer: cst.For | cst.While, inner: cst.For, expressions: list[cst.Call]
    ) -> None:
        self.outer = outer
        self.inner = inner
        self.expressions = expressions


def _per_element(
    outer: cst.For | cst.While, inner: cst.For, context: Context, local: set[str]
) -> list[cst.Call]:
    """Pure calls of the inner body that depend on the inner loop variables only."""
    if inner.orelse is not None or inner.asynchronous:
        return []
    variables = bound_names(inner.target)
    if not variables or not _plain_target(inner.target):
        return []
    facts = gather(outer)
    # Calling a module's function does not change what its other functions return.
    changing = (facts.stores | facts.mutated) - variables - (set(context.module_imports) - local)
    source = root_name(inner.iter)
    if source is None or source in changing or not isinstance(inner.iter, cst.Name):
        return []
    if variables & gather(inner.body).stores:
        return []
    chosen: list[cst.Call] = []
    for expr in unconditional_expressions(inner.body):
        if not isinstance(expr, cst.Call) or any(code(expr) in code(c) for c in chosen):
            continue
        calls = GatherCallsVisitor()
        expr.visit(calls)
        if calls.blocked or not all(is_pure_call(c, context, local) for c in calls.calls):
            continue
        names = set(gather(expr).loads)
        if names & variables and not names & changing:
            chosen.append(expr)
    return chosen


def _plain_target(target: cst.BaseExpression) -> bool:
    if isinstance(target, cst.Name):
        return True
    return isinstance(target, cst.Tuple) and all(
        isinstance(e.value, cst.Name) for e in target.elements
    )


class PrecomputeTransformer(ReplacingTransformer):
    """Build the per-element list before each outer loop; walk it in the inner loop."""

    def __init__(self, sites: list[Site], context: Context) -> None:
        super().__init__()
        self.outer = {site.outer: site for site in sites}
        self.inner = {site.inner: site for site in sites}
        self.names: dict[Site, tuple[str, list[str]]] = {}
        for site in sites:
            values = [context.fresh(_hint(e)) for e in site.expressions]
            self.names[site] = (context.fresh("per_element"), values)
        self._site: list[Site] = []

    def visit_For(self, node: cst.For) -> None:
        if node in self.inner:
            self._site.append(self.inner[node])

    def replace(self, original_node: cst.CSTNode, updated_node: cst.CSTNode) -> Replacement:
        if self._site and isinstance(original_node, cst.Call):
            site = self._site[-1]
            for expr, name in zip(site.expressions, self.names[site][1], strict=True):
                if code(original_node) == code(expr):
                    return cst.Name(name)
        if original_node in self.inner:
            site = self._site.pop()
            assert isinstance(updated_node, cst.For)
            target = ", ".join([_target_code(site.inner.target), *self.names[site][1]])
            return updated_node.with_changes(
                target=cst.parse_expression(target), iter=cst.Name(self.names[site][0])
            )
        if original_node in self.outer:
            site = self.outer[original_node]  # type: ignore[index]
            listed = self.names[site][0]
            variables = _target_code(site.inner.target)
            items = ", ".join([variables, *(code(e) for e in site.expressions)])
            build = cst.parse_statement(
                f"{listed} = [({items}) for {variables} in {code(site.inner.iter)}]"
            )
            assert isinstance(updated_node, cst.BaseStatement)
            build = build.with_changes(leading_lines=leading_lines(updated_node))
            return cst.FlattenSentinel([build, updated_node.with_changes(leading_lines=())])
        return updated_node


def _target_code(target: cst.BaseExpression) -> str:
    if isinstance(target, cst.Tuple):
        return ", ".join(code(e.value) for e in target.elements)
    return code(target)


def _hint(expr: cst.Call) -> str:
    name = dotted(expr.func)
    return name.rpartition(".")[2] if name else "value"


class PrecomputeRule(Rule):
    """Compute an inner loop's per-element values once, before the outer loop."""

    name = "precompute"
    explanation = (
        "Values the inner loop derived from each of its elements on every pass of the outer "
        "loop are now computed once per element, before the outer loop."
    )

    def rewrite(self, function: cst.FunctionDef, context: Context) -> list[Rewrite]:
        loops = GatherLoopsVisitor(function)
        function.visit(loops)
        local = gather(function.body).stores
        sites: list[Site] = []
        used: set[cst.CSTNode] = set()
        for outer in loops.loops:
            if outer in used or not isinstance(outer.body, cst.IndentedBlock):
                continue
            for inner in outer.body.body:
                if isinstance(inner, cst.For) and inner not in used:
                    expressions = _per_element(outer, inner, context, local)
                    if expressions:
                        sites.append(Site(outer, inner, expressions))
                        used |= {outer, inner}
                        break
        return [
            Rewrite(function.visit(PrecomputeTransformer(group, context)))  # type: ignore[arg-type]
            for group in variants(sites)
        ]
