"""Python loops over numpy arrays that are elementwise or a running sum become numpy calls.

- ``for i in range(n): out[i] = a[i] * k + b[i]`` into an array becomes
  ``out[:n] = a[:n] * k + b[:n]``: numpy applies the same IEEE operations per element.
- ``for x in a: total += f(x)`` becomes a cumulative sum: ``np.cumsum`` adds left to right
  like the loop (``a.sum()`` would add pairwise and round differently).

Only arithmetic (``+ - * / // % **``, unary minus, ``abs``) is vectorised, and only over
names bound to numpy arrays (by a numpy call or an ``ndarray`` annotation).
"""

from __future__ import annotations

import libcst as cst

from ...source.syntax import dotted
from .base import Context, Rewrite, Rule, variants
from .membership import bindings
from .names import code, gather, read_after_loop

__all__ = ["VectoriseRule"]

_OPERATORS = (cst.Add, cst.Subtract, cst.Multiply, cst.Divide, cst.FloorDivide, cst.Modulo)
_ARRAY_ANNOTATIONS = ("ndarray", "NDArray")


def _arrays(function: cst.FunctionDef, numpy: set[str]) -> set[str]:
    """Names that certainly hold numpy arrays."""
    result = set()
    for name, values in bindings(function).items():
        if values and all(
            isinstance(v, cst.Call) and dotted(v.func).split(".")[0] in numpy for v in values
        ):
            result.add(name)
    stores = gather(function.body).stores
    for param in (*function.params.posonly_params, *function.params.params):
        annotation = param.annotation.annotation if param.annotation else None
        if annotation is not None and param.name.value not in stores:
            text = code(annotation)
            if any(word in text for word in _ARRAY_ANNOTATIONS):
                result.add(param.name.value)
    return result


class Vectoriser:
    """Turn one element's expression into the whole-array expression, if it is arithmetic."""

    def __init__(
        self, arrays: set[str], item: str, replacement: str, count: str, invariant: set[str]
    ) -> None:
        self.arrays = arrays
        self.item = item  # the loop variable (an index, or the element itself)
        self.replacement = replacement  # what the loop variable becomes
        self.count = count  # the number of iterations, when looping over an index
        self.invariant = invariant  # scalars the loop leaves alone

    def convert(self, expr: cst.BaseExpression, by_index: bool) -> str | None:
        """The whole-array text for ``expr``, or ``None`` if it is not plain arithmetic."""
        if isinstance(expr, cst.Integer | cst.Float):
            return code(expr)
        if isinstance(expr, cst.Name):
            if expr.value == self.item:
                return self.replacement
            return expr.value if expr.value in self.invariant else None
        if isinstance(expr, cst.Subscript) and by_index and isinstance(expr.value, cst.Name):
            index = expr.slice[0].slice if len(expr.slice) == 1 else None
            if (
                expr.value.value in self.arrays
                and isinstance(index, cst.Index)
                and code(index.value) == self.item
            ):
                return f"{expr.value.value}[:{self.count}]"
            return None
        if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, _OPERATORS):
            left = self.convert(expr.left, by_index)
            right = self.convert(expr.right, by_index)
            if left is None or right is None:
                return None
            return f"{_wrap(left)} {code(expr.operator).strip()} {_wrap(right)}"
        if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Minus):
            inner = self.convert(expr.expression, by_index)
            return None if inner is None else f"-{_wrap(inner)}"
        if isinstance(expr, cst.Call) and code(expr.func) == "abs" and len(expr.args) == 1:
            inner = self.convert(expr.args[0].value, by_index)
            return None if inner is None else f"abs({inner})"
        return None


def _wrap(text: str) -> str:
    """Parenthesise a compound operand, so the operators keep their original grouping."""
    return f"({text})" if " " in text else text


def _single(loop: cst.For) -> cst.BaseSmallStatement | None:
    body = loop.body
    if loop.orelse or loop.asynchronous or not isinstance(body, cst.IndentedBlock):
        return None
    if len(body.body) != 1 or not isinstance(body.body[0], cst.SimpleStatementLine):
        return None
    line = body.body[0]
    return line.body[0] if len(line.body) == 1 else None


def _vectorise(
    loop: cst.For, arrays: set[str], numpy: str, function: cst.FunctionDef
) -> str | None:
    """The replacement statement for ``loop``, or ``None``."""
    small = _single(loop)
    if small is None or not isinstance(loop.target, cst.Name):
        return None
    item = loop.target.value
    facts = gather(loop)
    if read_after_loop(function, loop, {item}):
        return None  # the loop variable is read after the loop
    invariant = set(gather(function.body).names) - facts.stores
    by_index = isinstance(loop.iter, cst.Call) and code(loop.iter.func) == "range"
    if by_index:
        args = loop.iter.args  # type: ignore[attr-defined]
        if len(args) != 1 or not set(gather(args[0].value).loads) <= invariant:
            return None
        count = code(args[0].value)
        convert = Vectoriser(arrays, item, f"{numpy}.arange({count})", count, invariant)
    elif isinstance(loop.iter, cst.Name) and loop.iter.value in arrays:
        count, convert = "", Vectoriser(arrays, item, loop.iter.value, "", invariant)
    else:
        return None
    if isinstance(small, cst.Assign) and by_index and len(small.targets) == 1:
        target = small.targets[0].target
        if isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name):
            out = target.value.value
            index = target.slice[0].slice if len(target.slice) == 1 else None
            if out in arrays and isinstance(index, cst.Index) and code(index.value) == item:
                value = convert.convert(small.value, True)
                if value is not None and out not in gather(small.value).names:
                    return f"{out}[:{count}] = {value}"
    added = _running_sum(small)
    if added is None:
        return None
    total, term = added
    value = convert.convert(term, by_index)
    size = count or f"len({code(loop.iter)})"
    if value is None:
        return None
    return (
        f"if {size}:\n"
        f"    {total} = {numpy}.cumsum({numpy}.concatenate((({total},), "
        f"{numpy}.broadcast_to({value}, ({size},)))))[-1]\n"
    )


def _running_sum(small: cst.BaseSmallStatement) -> tuple[str, cst.BaseExpression] | None:
    """``(total, term)`` for ``total += term`` where the term does not read the total."""
    if not isinstance(small, cst.AugAssign) or not isinstance(small.operator, cst.AddAssign):
        return None
    target = small.target
    if not isinstance(target, cst.Name) or target.value in gather(small.value).names:
        return None
    return target.value, small.value


class GatherVectorVisitor(cst.CSTVisitor):
    """Loops over arrays that can be replaced."""

    def __init__(self, function: cst.FunctionDef, arrays: set[str], numpy: str) -> None:
        super().__init__()
        self.function = function
        self.arrays = arrays
        self.numpy = numpy
        self.sites: dict[cst.For, str] = {}

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return node is self.function

    def visit_For(self, node: cst.For) -> None:
        text = _vectorise(node, self.arrays, self.numpy, self.function)
        if text is not None:
            self.sites[node] = text


class VectoriseTransformer(cst.CSTTransformer):
    """Replace each chosen loop by its numpy statement."""

    def __init__(self, sites: dict[cst.For, str]) -> None:
        super().__init__()
        self.sites = sites

    def leave_For(
        self, original_node: cst.For, updated_node: cst.For
    ) -> cst.BaseStatement | cst.FlattenSentinel[cst.BaseStatement]:
        text = self.sites.get(original_node)
        if text is None:
            return updated_node
        statement = cst.parse_statement(text)
        return statement.with_changes(leading_lines=original_node.leading_lines)


class VectoriseRule(Rule):
    """Vectorise elementwise loops and running sums over numpy arrays."""

    name = "numpy-vectorise"
    explanation = (
        "A Python loop over a numpy array that did the same arithmetic on every element (or "
        "summed them in order) is now one numpy operation on the whole array."
    )

    def rewrite(self, function: cst.FunctionDef, context: Context) -> list[Rewrite]:
        local = gather(function.body).stores
        numpy = {n for n, m in context.module_imports.items() if m == "numpy"} - local
        if not numpy:
            return []
        name = sorted(numpy)[0]
        arrays = _arrays(function, numpy)
        if not arrays:
            return []
        gathered = GatherVectorVisitor(function, arrays, name)
        function.visit(gathered)
        return [
            Rewrite(function.visit(VectoriseTransformer({s: gathered.sites[s] for s in group})))  # type: ignore[arg-type, index]
            for group in variants(list(gathered.sites))
        ]
