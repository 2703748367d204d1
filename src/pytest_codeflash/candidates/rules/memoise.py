"""Pure recursive functions with overlapping subcalls get a memo that lives for one call.

The function's body moves into an inner helper that looks its arguments up in a dict before
computing, and the outer function calls it with a fresh dict each time.  Nothing is kept
between calls to the outer function, so a change to whatever the function reads (a global
table, say) is seen on the next call.  The key includes each argument's type, so ``f(1)`` and
``f(1.0)`` (equal, same hash) never share a result.  Two proposals: one where unhashable
arguments skip the memo, and a plain one for functions that only get hashable arguments (the
runner accepts only code that ran, so the first passes only if unhashable arguments occur).
"""

from __future__ import annotations

import libcst as cst

from ...source.syntax import dotted
from .base import Context, Rewrite, Rule, parameter_names
from .names import gather

__all__ = ["MemoiseRule"]

_IMPURE_CALLS = frozenset({"print", "open", "input", "exec", "eval", "setattr", "delattr"})
_IMPURE_MODULES = frozenset({"random", "time", "os", "sys", "datetime", "secrets", "uuid"})

LOOKUP_PLAIN = """\
if {key} in {memo}:
    return {memo}[{key}]
"""
LOOKUP = """\
try:
    if {key} in {memo}:
        return {memo}[{key}]
except TypeError:  # unhashable arguments: this call is computed without the memo
    {key} = object()
"""


class GatherRecursionVisitor(cst.CSTVisitor):
    """Count calls to the function itself, note those in loops, and spot what rules it out."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.calls = 0
        self.calls_in_loops = 0
        self.impure = False
        self._loops = 0

    def visit_For(self, node: cst.For) -> None:
        self._loops += 1

    def leave_For(self, original_node: cst.For) -> None:
        self._loops -= 1

    def visit_While(self, node: cst.While) -> None:
        self._loops += 1

    def leave_While(self, original_node: cst.While) -> None:
        self._loops -= 1

    def visit_CompFor(self, node: cst.CompFor) -> None:
        self._loops += 1

    def leave_CompFor(self, original_node: cst.CompFor) -> None:
        self._loops -= 1

    def visit_Call(self, node: cst.Call) -> None:
        name = dotted(node.func)
        if name == self.name:
            self.calls += 1
            self.calls_in_loops += self._loops > 0
        elif name and (name in _IMPURE_CALLS or name.split(".")[0] in _IMPURE_MODULES):
            self.impure = True

    def visit_Yield(self, node: cst.Yield) -> None:
        self.impure = True

    def visit_Await(self, node: cst.Await) -> None:
        self.impure = True

    def visit_Global(self, node: cst.Global) -> None:
        self.impure = True

    def visit_Nonlocal(self, node: cst.Nonlocal) -> None:
        self.impure = True


class MemoiseTransformer(cst.CSTTransformer):
    """Point recursive calls at the helper and store every returned value in the memo."""

    def __init__(self, name: str, helper: str, memo: str, key: str) -> None:
        super().__init__()
        self.name = name
        self.helper = helper
        self.memo = memo
        self.key = key
        self._nested = 0

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._nested += 1

    def leave_FunctionDef(
        self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef
    ) -> cst.FunctionDef:
        self._nested -= 1
        return updated_node

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self._nested += 1

    def leave_Lambda(self, original_node: cst.Lambda, updated_node: cst.Lambda) -> cst.Lambda:
        self._nested -= 1
        return updated_node

    def leave_Attribute(
        self, original_node: cst.Attribute, updated_node: cst.Attribute
    ) -> cst.Attribute:
        return updated_node.with_changes(attr=original_node.attr)  # the attribute keeps its name

    def leave_Arg(self, original_node: cst.Arg, updated_node: cst.Arg) -> cst.Arg:
        return updated_node.with_changes(keyword=original_node.keyword)

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.Name:
        return cst.Name(self.helper) if original_node.value == self.name else updated_node

    def leave_Return(self, original_node: cst.Return, updated_node: cst.Return) -> cst.Return:
        if self._nested:
            return updated_node
        value = updated_node.value or cst.Name("None")
        stored = cst.parse_expression(f"{self.memo}.setdefault({self.key}, VALUE)")
        assert isinstance(stored, cst.Call)
        stored = stored.with_changes(
            args=[stored.args[0], stored.args[1].with_changes(value=value)]
        )
        return updated_node.with_changes(value=stored)


def _docstring(body: cst.IndentedBlock) -> list[cst.BaseStatement]:
    first = body.body[0] if body.body else None
    if (
        isinstance(first, cst.SimpleStatementLine)
        and isinstance(first.body[0], cst.Expr)
        and isinstance(first.body[0].value, cst.SimpleString | cst.ConcatenatedString)
    ):
        return [first]
    return []


class MemoiseRule(Rule):
    """Memoise a pure recursive function for the duration of one outer call."""

    name = "memoise"
    explanation = (
        "The recursive function now remembers the result of each distinct subcall during one "
        "call, so overlapping subproblems are computed once instead of exponentially often."
    )

    def rewrite(self, function: cst.FunctionDef, context: Context) -> list[Rewrite]:
        name = function.name.value
        params = function.params
        if context.target.is_method or function.decorators or function.asynchronous:
            return []
        if isinstance(params.star_arg, cst.Param) or params.star_kwarg is not None:
            return []
        recursion = GatherRecursionVisitor(name)
        function.body.visit(recursion)
        if recursion.impure or (recursion.calls < 2 and not recursion.calls_in_loops):
            return []
        names = parameter_names(function)
        facts = gather(function.body, pure=frozenset({name}))
        if facts.mutated & set(names) or name in facts.stores:
            return []
        fresh = (context.fresh(function.name.value), context.fresh("memo"), context.fresh("key"))
        return [_memoised(function, names, lookup, *fresh) for lookup in (LOOKUP, LOOKUP_PLAIN)]


def _memoised(
    function: cst.FunctionDef, names: list[str], lookup: str, helper: str, memo: str, key: str
) -> Rewrite:
    """``function`` with its body moved into a memoised inner helper."""
    name = function.name.value
    assert isinstance(function.body, cst.IndentedBlock)
    doc = _docstring(function.body)
    statements = list(function.body.body[len(doc) :])
    parts = ", ".join(f"{n}, type({n})" for n in names)
    prologue = [
        cst.parse_statement(f"{key} = ({parts})" if names else f"{key} = ()"),
        cst.parse_statement(lookup.format(key=key, memo=memo)),
    ]
    transformer = MemoiseTransformer(name, helper, memo, key)
    rewritten = [s.visit(transformer) for s in statements]
    body = cst.IndentedBlock(body=[*prologue, *rewritten])  # type: ignore[list-item]
    last = statements[-1] if statements else None
    ends = isinstance(last, cst.SimpleStatementLine) and isinstance(
        last.body[-1], cst.Return | cst.Raise
    )
    if not ends:
        tail = cst.parse_statement(f"return {memo}.setdefault({key}, None)")
        body = body.with_changes(body=[*body.body, tail])
    inner = function.with_changes(
        name=cst.Name(helper),
        body=body,
        leading_lines=[cst.EmptyLine(indent=False)],
        returns=None,
    )
    params = function.params
    args = [p.name.value for p in (*params.posonly_params, *params.params)]
    args += [f"{p.name.value}={p.name.value}" for p in params.kwonly_params]
    outer = [
        *doc,
        cst.parse_statement(f"{memo} = {{}}"),
        inner,
        cst.parse_statement(f"return {helper}({', '.join(args)})").with_changes(
            leading_lines=[cst.EmptyLine(indent=False)]
        ),
    ]
    return Rewrite(function.with_changes(body=function.body.with_changes(body=outer)))
