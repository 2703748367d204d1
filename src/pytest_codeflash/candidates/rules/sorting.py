"""Full sorts whose result is only partly used: ``min``/``max`` and ``heapq`` instead.

- ``sorted(x)[0]`` is the first smallest item: ``min(x)`` (same ``key``).  ``sorted(x)[-1]``
  is the *last* largest item (the sort is stable), which ``max`` finds scanning backwards:
  ``max(reversed(...))``.  With ``reverse=True`` the roles swap.  For a name, an empty
  sequence still raises the sort's ``IndexError``.
- ``sorted(x)[:k]`` (``k`` a literal) is ``heapq.nsmallest(k, x)``, and with ``reverse=True``
  ``heapq.nlargest(k, x)``: the documentation defines both as exactly these slices.
"""

from __future__ import annotations

import libcst as cst

from .base import Context, Rewrite, Rule, variants
from .names import code

__all__ = ["SortedMinMaxRule", "TopKRule"]


def _sorted_call(expr: cst.BaseExpression, context: Context) -> tuple[str, str, bool] | None:
    """``(iterable, key=... text, reverse)`` for ``sorted(iterable[, key=k][, reverse=b])``."""
    if not isinstance(expr, cst.Call) or not isinstance(expr.func, cst.Name):
        return None
    if expr.func.value != "sorted" or not context.is_builtin("sorted"):
        return None
    if not expr.args or expr.args[0].keyword or expr.args[0].star:
        return None
    key, reverse = "", False
    for arg in expr.args[1:]:
        if arg.keyword is None or arg.star:
            return None
        if arg.keyword.value == "key":
            key = f", key={code(arg.value)}"
        elif arg.keyword.value == "reverse" and isinstance(arg.value, cst.Name):
            if arg.value.value not in ("True", "False"):
                return None
            reverse = arg.value.value == "True"
        else:
            return None
    return code(expr.args[0].value), key, reverse


def _index(subscript: cst.Subscript) -> cst.BaseSlice | None:
    return subscript.slice[0].slice if len(subscript.slice) == 1 else None


def _integer(expr: cst.BaseExpression | None) -> int | None:
    if isinstance(expr, cst.Integer):
        return int(expr.value, 0)
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Minus):
        inner = _integer(expr.expression)
        return None if inner is None else -inner
    return None


class GatherSortsVisitor(cst.CSTVisitor):
    """``sorted(...)[...]`` subscripts and what each can become."""

    def __init__(self, function: cst.FunctionDef, context: Context, top_k: bool) -> None:
        super().__init__()
        self.function = function
        self.context = context
        self.top_k = top_k
        self.sites: dict[cst.Subscript, str] = {}

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return node is self.function

    def visit_Subscript(self, node: cst.Subscript) -> None:
        found = _sorted_call(node.value, self.context)
        index = _index(node)
        if found is None or index is None:
            return
        items, key, reverse = found
        if isinstance(index, cst.Index) and not self.top_k:
            position = _integer(index.value)
            if position in (0, -1):
                self.sites[node] = self._extreme(items, key, reverse, position == -1, node)
        elif isinstance(index, cst.Slice) and self.top_k:
            count = _integer(index.upper)
            if index.lower is None and index.step is None and count is not None and count >= 0:
                self.sites[node] = f"{{heapq}}.{'nlargest' if reverse else 'nsmallest'}"
                self.sites[node] += f"({count}, {items}{key})"

    def _extreme(self, items: str, key: str, reverse: bool, last: bool, node: cst.Subscript) -> str:
        function = "max" if last != reverse else "min"
        subject = cst.parse_expression(items)
        if last:  # the last of equal items: scan backwards (a set or iterator needs a list)
            display = isinstance(subject, cst.List | cst.Tuple)
            items = f"reversed({items})" if display else f"reversed(list({items}))"
        text = f"{function}({items}{key})"
        if isinstance(subject, cst.Name):
            # an empty sequence keeps raising the sort's IndexError
            text = f"({text} if {subject.value} else {code(node)})"
        return text


class SortTransformer(cst.CSTTransformer):
    """Replace the chosen subscripts."""

    def __init__(self, replacements: dict[cst.Subscript, str]) -> None:
        super().__init__()
        self.replacements = replacements

    def leave_Subscript(
        self, original_node: cst.Subscript, updated_node: cst.Subscript
    ) -> cst.BaseExpression:
        text = self.replacements.get(original_node)
        return updated_node if text is None else cst.parse_expression(text)


class SortedMinMaxRule(Rule):
    """``sorted(x)[0]`` and ``sorted(x)[-1]`` become ``min`` and ``max``."""

    name = "sorted-min-max"
    explanation = (
        "Taking the first or last item of a sorted copy is now a single min() or max() pass, "
        "which is linear instead of a full sort."
    )
    top_k = False

    def rewrite(self, function: cst.FunctionDef, context: Context) -> list[Rewrite]:
        gathered = GatherSortsVisitor(function, context, self.top_k)
        function.visit(gathered)
        rewrites = []
        for group in variants(list(gathered.sites)):
            rewrite = Rewrite(function)
            heapq = context.module_ref("heapq", rewrite) if self.top_k else ""
            chosen = {s: gathered.sites[s].replace("{heapq}", heapq) for s in group}  # type: ignore[index]
            rewrite.function = function.visit(SortTransformer(chosen))  # type: ignore[arg-type, assignment]
            rewrites.append(rewrite)
        return rewrites


class TopKRule(SortedMinMaxRule):
    """``sorted(x)[:k]`` becomes ``heapq.nsmallest(k, x)`` (``nlargest`` when reversed)."""

    name = "top-k"
    explanation = (
        "Only the first k items of a full sort were used; heapq.nsmallest/nlargest now "
        "select them without sorting everything."
    )
    top_k = True
