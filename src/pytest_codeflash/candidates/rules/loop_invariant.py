"""Work a loop repeats with the same result every iteration is done once, before the loop.

Two kinds of repeated work move out:

- pure calls whose inputs the loop never changes (``len(items)``, ``max(limits)``,
  ``key.lower()``, ``re.compile(pattern)``, ``math.sqrt(scale)``), when every iteration
  evaluates them anyway (so hoisting cannot raise an error the loop would not);
- attribute lookups: a method of a list, dict or set the function created (``out.append``)
  and a function of an imported module (``math.sqrt``) are looked up once into a local.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import libcst as cst

from ...source.syntax import dotted
from .base import Context, Replacement, ReplacingTransformer, Rewrite, Rule, leading_lines, variants
from .known import CONTAINER_METHODS, IMMUTABLE_RESULTS, NON_MUTATING_METHODS, STRING_METHODS
from .names import code, gather, unconditional_expressions

__all__ = ["IMMUTABLE_RESULTS", "LoopInvariantRule", "is_pure_call"]


MODULE_FUNCTIONS = frozenset({"re.compile", "re.escape", "string.capwords"})
PURE_MODULES = frozenset({"math", "cmath", "operator"})


def is_pure_call(call: cst.Call, context: Context, local: set[str]) -> bool:
    """Whether ``call`` has no effects and returns an immutable value."""
    name = dotted(call.func)
    if isinstance(call.func, cst.Name):
        return call.func.value in IMMUTABLE_RESULTS and context.is_builtin(call.func.value, local)
    if name:
        module, _, function = name.rpartition(".")
        imported = context.module_imports.get(module.split(".")[0])
        if imported is not None and module.split(".")[0] not in local:
            full = f"{imported}.{function}" if "." not in module else None
            return full in MODULE_FUNCTIONS or imported in PURE_MODULES
    if isinstance(call.func, cst.Attribute):
        return call.func.attr.value in STRING_METHODS
    return False


class GatherCallsVisitor(cst.CSTVisitor):
    """Every call in an expression, and whether it has anything that rules hoisting out."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[cst.Call] = []
        self.blocked = False

    def visit_Call(self, node: cst.Call) -> None:
        self.calls.append(node)

    def on_visit(self, node: cst.CSTNode) -> bool:
        blocking = (cst.Lambda, cst.Yield, cst.Await, cst.NamedExpr, cst.ListComp, cst.SetComp)
        if isinstance(node, (*blocking, cst.DictComp, cst.GeneratorExp)):
            self.blocked = True
        return super().on_visit(node)


def _invariant_calls(
    loop: cst.For | cst.While, context: Context, local: set[str]
) -> Iterator[cst.Call]:
    """Maximal pure calls every iteration evaluates, on inputs the loop leaves alone."""
    facts = gather(loop)
    # Calling a module's function does not change what its other functions return.
    changing = facts.stores | (facts.mutated - (set(context.module_imports) - local))
    expressions = list(unconditional_expressions(loop.body))
    if isinstance(loop, cst.While):
        expressions = [*_walk(loop.test), *expressions]
    taken: list[cst.CSTNode] = []
    for expr in expressions:
        if not isinstance(expr, cst.Call) or any(_inside(expr, t) for t in taken):
            continue
        calls = GatherCallsVisitor()
        expr.visit(calls)
        if calls.blocked or not all(is_pure_call(c, context, local) for c in calls.calls):
            continue
        names = set(gather(expr).loads)
        if names and not names & changing:
            taken.append(expr)
            yield expr


def _walk(expr: cst.BaseExpression) -> list[cst.BaseExpression]:
    block = cst.IndentedBlock(body=[cst.SimpleStatementLine(body=[cst.Expr(expr)])])
    return list(unconditional_expressions(block))


def _inside(node: cst.CSTNode, container: cst.CSTNode) -> bool:
    found = False

    class _Find(cst.CSTVisitor):
        def on_visit(self, other: cst.CSTNode) -> bool:
            nonlocal found
            found = found or other is node
            return not found

    container.visit(_Find())
    return found


def _hint(expr: cst.CSTNode) -> str:
    return "_".join(re.findall(r"[A-Za-z0-9]+", code(expr)))[:30] or "value"


class GatherLookupsVisitor(cst.CSTVisitor):
    """``x.method`` / ``module.function`` attribute lookups made in a loop."""

    def __init__(self, containers: set[str], modules: set[str]) -> None:
        super().__init__()
        self.containers = containers
        self.modules = modules
        self.found: list[cst.Attribute] = []

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name):
            owner, attr = func.value.value, func.attr.value
            if (
                owner in self.containers and attr in CONTAINER_METHODS | NON_MUTATING_METHODS
            ) or owner in self.modules:
                self.found.append(func)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False


def _containers(function: cst.FunctionDef) -> set[str]:
    """Names the function binds only to new lists, dicts, sets or deques."""
    from .membership import bindings

    made = ("list", "dict", "set", "deque", "defaultdict", "OrderedDict", "Counter")
    result = set()
    for name, values in bindings(function).items():
        ok = all(
            isinstance(v, cst.List | cst.Dict | cst.Set | cst.ListComp | cst.DictComp)
            or (isinstance(v, cst.Call) and dotted(v.func).split(".")[-1] in made)
            for v in values
        )
        if ok:
            result.add(name)
    return result


class HoistTransformer(ReplacingTransformer):
    """Insert ``name = expr`` before each loop and use ``name`` inside it."""

    def __init__(self, hoists: dict[cst.BaseStatement, list[tuple[str, cst.BaseExpression]]]):
        super().__init__()
        self.hoists = hoists
        self._inside: list[cst.BaseStatement] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        if node in self.hoists:
            self._inside.append(node)  # type: ignore[arg-type]
        return super().on_visit(node)

    def replace(self, original_node: cst.CSTNode, updated_node: cst.CSTNode) -> Replacement:
        if self._inside and isinstance(original_node, cst.BaseExpression):
            codes = {code(e): n for n, e in self.hoists[self._inside[-1]]}
            name = codes.get(code(original_node))
            if name:
                return cst.Name(name)
        if original_node in self.hoists:
            self._inside.pop()
            assert isinstance(updated_node, cst.BaseStatement)
            lines = [cst.parse_statement(f"{n} = {code(e)}") for n, e in self.hoists[original_node]]  # type: ignore[index]
            lines[0] = lines[0].with_changes(leading_lines=leading_lines(updated_node))
            return cst.FlattenSentinel([*lines, updated_node.with_changes(leading_lines=())])
        return updated_node


class GatherLoopsVisitor(cst.CSTVisitor):
    """Loops that sit directly in a block (so statements can go before them)."""

    def __init__(self, function: cst.FunctionDef) -> None:
        super().__init__()
        self.function = function
        self.loops: list[cst.For | cst.While] = []

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        self.loops += [s for s in node.body if isinstance(s, cst.For | cst.While)]

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return node is self.function


class LoopInvariantRule(Rule):
    """Hoist loop-invariant pure calls and attribute lookups out of loops."""

    name = "loop-invariant"
    explanation = (
        "Calls and attribute lookups that give the same result in every iteration are now "
        "done once before the loop and kept in local variables."
    )

    def rewrite(self, function: cst.FunctionDef, context: Context) -> list[Rewrite]:
        loops = GatherLoopsVisitor(function)
        function.visit(loops)
        local = gather(function.body).stores
        containers = _containers(function)
        modules = {n for n, m in context.module_imports.items() if "." not in m} - local
        sites: list[tuple[cst.BaseStatement, list[tuple[str, cst.BaseExpression]]]] = []
        claimed: set[str] = set()
        for loop in loops.loops:
            if any(_inside(loop, s) for s, _ in sites):
                continue  # an outer loop already hoists; its inner loops are left as they are
            items: list[tuple[str, cst.BaseExpression]] = []
            for call in _invariant_calls(loop, context, local):
                if code(call) not in claimed:
                    claimed.add(code(call))
                    items.append((context.fresh(_hint(call)), call))
            facts = gather(loop)
            lookups = GatherLookupsVisitor(containers - facts.stores, modules - facts.stores)
            loop.body.visit(lookups)
            for attribute in lookups.found:
                if code(attribute) not in claimed:
                    claimed.add(code(attribute))
                    items.append((context.fresh(_hint(attribute)), attribute))
            if items:
                sites.append((loop, items))
        return [
            Rewrite(function.visit(HoistTransformer(dict(group))))  # type: ignore[arg-type]
            for group in variants(sites)
        ]
