"""Reductions over comprehensions use the cheapest equivalent argument.

- ``any([... for ...])`` / ``all([...])`` build the whole list before looking at it; a
  generator lets them stop at the first decisive item.
- ``sum([x for x in xs])`` (and ``min``, ``max``, ``sorted``, ``set``, ...) copies ``xs``
  for nothing: the reduction can read ``xs`` itself.
- ``sum([len(x) for x in xs])`` calls a builtin per item from Python bytecode;
  ``sum(map(len, xs))`` calls it from C.
"""

from __future__ import annotations

import libcst as cst

from .base import Context, Rewrite, Rule, variants
from .names import code

__all__ = ["ReductionRule"]

REDUCERS = frozenset({"sum", "min", "max", "any", "all", "sorted", "set", "frozenset", "tuple"})
SHORT_CIRCUIT = frozenset({"any", "all"})
MAPPABLE = frozenset({"len", "abs", "str", "int", "float", "bool", "ord", "chr", "repr", "round"})


def _argument(call: cst.Call, context: Context) -> str | None:
    """The replacement text of the call's comprehension argument, if there is a better one."""
    if not isinstance(call.func, cst.Name) or call.func.value not in REDUCERS:
        return None
    if not context.is_builtin(call.func.value) or not call.args:
        return None
    first = call.args[0]
    comp = first.value
    if first.keyword or first.star or not isinstance(comp, cst.ListComp | cst.GeneratorExp):
        return None
    loop = comp.for_in
    if loop.inner_for_in is not None or loop.asynchronous is not None:
        return None
    element, variable = comp.elt, code(loop.target)
    plain = not loop.ifs and isinstance(loop.target, cst.Name)
    if plain and code(element) == variable:
        return code(loop.iter)
    if plain and isinstance(element, cst.Call) and isinstance(element.func, cst.Name):
        args = element.args
        single = len(args) == 1 and not args[0].keyword and not args[0].star
        if single and code(args[0].value) == variable:
            function = element.func.value
            if function in MAPPABLE and context.is_builtin(function):
                return f"map({function}, {code(loop.iter)})"
    if call.func.value in SHORT_CIRCUIT and isinstance(comp, cst.ListComp):
        return code(cst.GeneratorExp(elt=comp.elt, for_in=comp.for_in))
    return None


class GatherReductionsVisitor(cst.CSTVisitor):
    """Reduction calls whose argument can be cheaper."""

    def __init__(self, function: cst.FunctionDef, context: Context) -> None:
        super().__init__()
        self.function = function
        self.context = context
        self.sites: dict[cst.Call, str] = {}

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return node is self.function

    def visit_Call(self, node: cst.Call) -> None:
        text = _argument(node, self.context)
        if text is not None:
            self.sites[node] = text


class ReductionTransformer(cst.CSTTransformer):
    """Swap each chosen call's first argument."""

    def __init__(self, sites: dict[cst.Call, str]) -> None:
        super().__init__()
        self.sites = sites

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.Call:
        text = self.sites.get(original_node)
        if text is None:
            return updated_node
        value = cst.parse_expression(text)
        if isinstance(value, cst.GeneratorExp) and len(updated_node.args) == 1:
            value = value.with_changes(lpar=[], rpar=[])  # the call's parentheses suffice
        first = updated_node.args[0].with_changes(value=value)
        return updated_node.with_changes(args=[first, *updated_node.args[1:]])


class ReductionRule(Rule):
    """Feed reductions a generator, the iterable itself, or ``map`` over a builtin."""

    name = "reduction"
    explanation = (
        "sum/any/all/min/max now read their items without building a list first (or let any "
        "and all stop at the first decisive item), and builtins are mapped in C."
    )

    def rewrite(self, function: cst.FunctionDef, context: Context) -> list[Rewrite]:
        gathered = GatherReductionsVisitor(function, context)
        function.visit(gathered)
        return [
            Rewrite(function.visit(ReductionTransformer({s: gathered.sites[s] for s in group})))  # type: ignore[arg-type, index]
            for group in variants(list(gathered.sites))
        ]
