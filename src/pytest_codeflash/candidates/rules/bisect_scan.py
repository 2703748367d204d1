"""Linear scans over a list the function sorted itself become ``bisect`` searches.

Over a sorted list, "how many items are below ``v``" and "the first item above ``v``" are
binary searches: ``bisect_left(s, v)`` counts the items ``< v``, ``bisect_right(s, v)`` those
``<= v``.  The rewrite applies only to a name bound to ``sorted(...)`` (no ``key``, no
``reverse``) that the function never changes, so the order is certain.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from .base import Context, Replacement, ReplacingTransformer, Rewrite, Rule, variants
from .membership import bindings
from .names import bound_names, code, gather, read_after_loop

__all__ = ["BisectRule"]

# comparison of the item with the value -> (bisect function, count the items after it)
OPERATORS: dict[type[cst.BaseCompOp], tuple[str, bool]] = {
    cst.LessThan: ("bisect_left", False),
    cst.LessThanEqual: ("bisect_right", False),
    cst.GreaterThan: ("bisect_right", True),
    cst.GreaterThanEqual: ("bisect_left", True),
}
FLIPPED: dict[type[cst.BaseCompOp], type[cst.BaseCompOp]] = {
    cst.LessThan: cst.GreaterThan,
    cst.LessThanEqual: cst.GreaterThanEqual,
    cst.GreaterThan: cst.LessThan,
    cst.GreaterThanEqual: cst.LessThanEqual,
}


@dataclass
class Scan:
    """One scan: the statement or call to replace and the text replacing it."""

    node: cst.CSTNode
    text: str  # ``{bisect}`` stands for the module's name


def _sorted_names(function: cst.FunctionDef, context: Context) -> set[str]:
    """Names bound only to ``sorted(x)`` and never changed afterwards."""
    facts = gather(function.body)
    result = set()
    for name, values in bindings(function).items():
        if name in facts.mutated or not values:
            continue
        if all(
            isinstance(v, cst.Call)
            and isinstance(v.func, cst.Name)
            and v.func.value == "sorted"
            and len(v.args) == 1
            and v.args[0].keyword is None
            and not v.args[0].star
            for v in values
        ) and context.is_builtin("sorted"):
            result.add(name)
    return result


def _split(
    test: cst.BaseExpression, item: str
) -> tuple[type[cst.BaseCompOp], cst.BaseExpression] | None:
    """``(operator of item vs value, value)`` for ``item < value`` or ``value > item``."""
    if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
        return None
    link = test.comparisons[0]
    kind = type(link.operator)
    if kind not in OPERATORS:
        return None
    left, right = test.left, link.comparator
    if isinstance(left, cst.Name) and left.value == item and item not in gather(right).loads:
        return kind, right
    if isinstance(right, cst.Name) and right.value == item and item not in gather(left).loads:
        return FLIPPED[kind], left
    return None


def _count(kind: type[cst.BaseCompOp], sequence: str, value: str) -> str:
    function, after = OPERATORS[kind]
    found = f"{{bisect}}.{function}({sequence}, {value})"
    return f"len({sequence}) - {found}" if after else found


class GatherScansVisitor(cst.CSTVisitor):
    """Counting loops, counting generators and first-match loops over sorted names."""

    def __init__(self, function: cst.FunctionDef, names: set[str], context: Context) -> None:
        super().__init__()
        self.function = function
        self.context = context
        self.names = names
        self.scans: list[Scan] = []

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return node is self.function

    def visit_For(self, node: cst.For) -> None:
        if node.orelse or node.asynchronous or not isinstance(node.iter, cst.Name):
            return
        if node.iter.value not in self.names or not isinstance(node.target, cst.Name):
            return
        item, sequence = node.target.value, node.iter.value
        if read_after_loop(self.function, node, {item}):
            return  # the loop variable is read after the loop
        body = node.body
        if not isinstance(body, cst.IndentedBlock) or len(body.body) != 1:
            return
        check = body.body[0]
        if not isinstance(check, cst.If) or check.orelse is not None:
            return
        split = _split(check.test, item)
        inner = check.body.body if isinstance(check.body, cst.IndentedBlock) else []
        if split is None or len(inner) != 1 or not isinstance(inner[0], cst.SimpleStatementLine):
            return
        kind, value = split
        if gather(value).names & gather(node.body).stores:
            return
        (small,) = inner[0].body if len(inner[0].body) == 1 else (None,)
        if isinstance(small, cst.AugAssign) and isinstance(small.operator, cst.AddAssign):
            if code(small.value) == "1" and isinstance(small.target, cst.Name):
                text = _count(kind, sequence, code(value))
                self.scans.append(Scan(node, f"{code(small.target)} += {text}"))
        elif isinstance(small, cst.Return) and OPERATORS[kind][1]:
            self._first(node, kind, value, small)

    def _first(
        self, node: cst.For, kind: type[cst.BaseCompOp], value: cst.BaseExpression, ret: cst.Return
    ) -> None:
        """``for x in s: if x > v: return f(x)``: the first item above ``v``."""
        function = OPERATORS[kind][0]
        sequence, item = code(node.iter), code(node.target)
        index = self.context.fresh(f"{item}_at")
        text = (
            f"{index} = {{bisect}}.{function}({sequence}, {code(value)})\n"
            f"if {index} < len({sequence}):\n"
            f"    {item} = {sequence}[{index}]\n"
            f"    {code(ret).strip()}\n"
        )
        self.scans.append(Scan(node, text))

    def visit_Call(self, node: cst.Call) -> None:
        """``sum(1 for x in s if x < v)``."""
        if not isinstance(node.func, cst.Name) or node.func.value != "sum" or len(node.args) != 1:
            return
        comp = node.args[0].value
        if not isinstance(comp, cst.GeneratorExp) or code(comp.elt) != "1":
            return
        loop = comp.for_in
        if loop.inner_for_in or len(loop.ifs) != 1 or not isinstance(loop.iter, cst.Name):
            return
        if loop.iter.value not in self.names or not isinstance(loop.target, cst.Name):
            return
        split = _split(loop.ifs[0].test, loop.target.value)
        if split is not None and not bound_names(loop.target) & set(gather(split[1]).loads):
            self.scans.append(Scan(node, _count(split[0], loop.iter.value, code(split[1]))))


class BisectTransformer(ReplacingTransformer):
    """Replace each chosen scan."""

    def __init__(self, scans: list[Scan], module: str) -> None:
        super().__init__()
        self.scans = {scan.node: scan.text.replace("{bisect}", module) for scan in scans}

    def replace(self, original_node: cst.CSTNode, updated_node: cst.CSTNode) -> Replacement:
        text = self.scans.get(original_node)
        if text is None:
            return updated_node
        if isinstance(original_node, cst.Call):
            return cst.parse_expression(text)
        statements = list(cst.parse_module(text).body)
        statements[0] = statements[0].with_changes(
            leading_lines=original_node.leading_lines  # type: ignore[attr-defined]
        )
        return cst.FlattenSentinel(statements)


class BisectRule(Rule):
    """Binary search instead of linear scans over lists sorted in the function."""

    name = "bisect"
    explanation = (
        "Scans over a list the function had just sorted now use a binary search (bisect), "
        "which finds the same position in logarithmic instead of linear time."
    )

    def rewrite(self, function: cst.FunctionDef, context: Context) -> list[Rewrite]:
        names = _sorted_names(function, context)
        if not names:
            return []
        gathered = GatherScansVisitor(function, names, context)
        function.visit(gathered)
        rewrites = []
        for group in variants(gathered.scans):
            rewrite = Rewrite(function)
            module = context.module_ref("bisect", rewrite)
            chosen = list(group)
            rewrite.function = function.visit(BisectTransformer(chosen, module))  # type: ignore[arg-type, assignment]
            rewrites.append(rewrite)
        return rewrites
