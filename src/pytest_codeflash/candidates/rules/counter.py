"""Counting loops over a fresh dict become ``collections.Counter``, kept a plain dict.

``for w in words: d[w] = d.get(w, 0) + 1`` (or the ``if w in d`` spellings of it, or
``if w not in d: d[w] = words.count(w)``) fills ``d`` exactly as ``Counter(words)`` does: same
keys in first-seen order, same int counts.  Counter counts in C.  The rewrite keeps ``d`` a
plain ``dict`` (``d.update(Counter(...))``), so the result's type does not change.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence

import libcst as cst

from ...source.syntax import single_assignment
from .base import Context, Rewrite, Rule, variants
from .names import bound_names, code, gather, read_after_loop

__all__ = ["CounterRule"]

TEMPLATES = (
    "{d}[{e}] = {d}.get({e}, 0) + 1",
    "{d}[{e}] = 1 + {d}.get({e}, 0)",
    "if {e} in {d}:\n    {d}[{e}] += 1\nelse:\n    {d}[{e}] = 1",
    "if {e} in {d}:\n    {d}[{e}] = {d}[{e}] + 1\nelse:\n    {d}[{e}] = 1",
    "if {e} not in {d}:\n    {d}[{e}] = 1\nelse:\n    {d}[{e}] += 1",
    "if {e} not in {d}:\n    {d}[{e}] = 0\n{d}[{e}] += 1",
)
# Only right when the key is the loop variable and the loop walks ``seq`` itself.
COUNT_TEMPLATE = "if {e} not in {d}:\n    {d}[{e}] = {seq}.count({e})"


def _dump(source: str) -> str | None:
    try:
        return ast.dump(ast.parse(source))
    except SyntaxError:
        return None


def _key_of(body: ast.Module, name: str) -> ast.expr | None:
    """The key expression the loop body counts into dict ``name``, if any."""
    first = body.body[0] if body.body else None
    if isinstance(first, ast.Assign) and isinstance(first.targets[0], ast.Subscript):
        return first.targets[0].slice
    if isinstance(first, ast.If) and isinstance(first.test, ast.Compare):
        return first.test.left
    return None


def _counted(loop: cst.For, name: str) -> str | None:
    """What ``Counter`` must count (source text) if ``loop`` only counts into ``name``."""
    if not isinstance(loop.body, cst.IndentedBlock) or loop.orelse or loop.asynchronous:
        return None
    if not isinstance(loop.target, cst.Name):
        return None
    text = "".join(code(s) for s in loop.body.body)
    try:
        body = ast.parse(text)
    except SyntaxError:
        return None
    key = _key_of(body, name)
    if key is None:
        return None
    e, d, var = ast.unparse(key), name, loop.target.value
    iterable = code(loop.iter)
    wanted = ast.dump(body)
    if any(_dump(t.format(d=d, e=e)) == wanted for t in TEMPLATES):
        if name in gather(cst.parse_expression(e)).loads:
            return None
        return iterable if e == var else f"{e} for {var} in {iterable}"
    count = _dump(COUNT_TEMPLATE.format(d=d, e=e, seq=iterable))
    if e == var and isinstance(loop.iter, cst.Name) and count == wanted:
        return iterable
    return None


def _is_new_dict(statement: cst.BaseStatement) -> str | None:
    found = single_assignment(statement)
    if found is None:
        return None
    target, value = found
    empty = isinstance(value, cst.Dict) and not value.elements
    empty = empty or (
        isinstance(value, cst.Call)
        and isinstance(value.func, cst.Name)
        and value.func.value == "dict"
        and not value.args
    )
    return target.value if empty and isinstance(target, cst.Name) else None


class GatherCountingVisitor(cst.CSTVisitor):
    """Counting loops that follow the creation of their (still empty) dict."""

    def __init__(self, function: cst.FunctionDef) -> None:
        super().__init__()
        self.function = function
        self.loops: dict[cst.For, tuple[str, str]] = {}  # loop -> (dict, what to count)

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        self._scan(node.body)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return node is self.function

    def _scan(self, body: Sequence[cst.BaseStatement]) -> None:
        for index, statement in enumerate(body):
            name = _is_new_dict(statement)
            if name is None:
                continue
            for later in body[index + 1 :]:
                if isinstance(later, cst.For) and (counted := _counted(later, name)) is not None:
                    fresh = name not in gather(later.iter).loads
                    if fresh and self._no_leak(later):
                        self.loops[later] = (name, counted)
                if name in gather(later).names:
                    break  # the dict is used, so it may no longer be empty

    def _no_leak(self, loop: cst.For) -> bool:
        """The loop variable is not read after the loop (a comprehension would not set it)."""
        return not read_after_loop(self.function, loop, bound_names(loop.target))


class CounterTransformer(cst.CSTTransformer):
    """Replace each chosen counting loop by ``d.update(Counter(...))``."""

    def __init__(self, loops: dict[cst.For, tuple[str, str]], counter: str) -> None:
        super().__init__()
        self.loops = loops
        self.counter = counter

    def leave_For(
        self, original_node: cst.For, updated_node: cst.For
    ) -> cst.BaseStatement | cst.FlattenSentinel[cst.BaseStatement]:
        if original_node not in self.loops:
            return updated_node
        name, counted = self.loops[original_node]
        statement = cst.parse_statement(f"{name}.update({self.counter}({counted}))")
        return statement.with_changes(leading_lines=original_node.leading_lines)


class CounterRule(Rule):
    """Count with ``collections.Counter`` instead of a Python loop over a dict."""

    name = "counter"
    explanation = (
        "The loop that counted items into a dictionary one by one now fills it from "
        "collections.Counter, which counts in C and gives the same keys, order and counts."
    )

    def rewrite(self, function: cst.FunctionDef, context: Context) -> list[Rewrite]:
        gathered = GatherCountingVisitor(function)
        function.visit(gathered)
        rewrites = []
        for group in variants(list(gathered.loops)):
            rewrite = Rewrite(function)
            counter = context.imported("collections", "Counter", rewrite)
            chosen = {loop: gathered.loops[loop] for loop in group}  # type: ignore[index]
            rewrite.function = function.visit(CounterTransformer(chosen, counter))  # type: ignore[assignment]
            rewrites.append(rewrite)
        return rewrites
