"""Regular expressions with a literal pattern are compiled once, at module level.

``re.compile(r"\\d+")`` or ``re.search(r"\\d+", text)`` in a function looks the pattern up
in ``re``'s cache (and recompiles it once that cache is full) on every call.  The rewrite
compiles it once into a module-level constant and calls the pattern's own method.  Only
patterns that compile are moved, so importing the module cannot start failing.
"""

from __future__ import annotations

import ast
import re

import libcst as cst

from ...source.syntax import dotted
from .base import Context, Rewrite, Rule, variants
from .names import code, gather

__all__ = ["RegexRule"]

# re function -> (index of the string argument after the pattern, index of ``flags``)
FUNCTIONS = {
    "compile": (None, 1),
    "search": (1, 2),
    "match": (1, 2),
    "fullmatch": (1, 2),
    "findall": (1, 2),
    "finditer": (1, 2),
    "split": (1, 3),
    "sub": (2, 4),
    "subn": (2, 4),
}


def _pattern(expr: cst.BaseExpression) -> str | bytes | None:
    if not isinstance(expr, cst.SimpleString | cst.ConcatenatedString):
        return None
    try:
        value = ast.literal_eval(code(expr))
    except (ValueError, SyntaxError):
        return None
    return value if isinstance(value, str | bytes) else None


def _flag_value(expr: cst.BaseExpression, modules: set[str]) -> int | None:
    """The value of ``re.I | re.M``-like flags, or ``None`` if not such a constant."""
    if isinstance(expr, cst.Integer):
        return int(expr.evaluated_value)
    if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.BitOr):
        left, right = _flag_value(expr.left, modules), _flag_value(expr.right, modules)
        return None if left is None or right is None else left | right
    name = dotted(expr)
    if not name or name.count(".") != 1 or name.split(".")[0] not in modules:
        return None
    value = getattr(re, name.split(".")[1], None)
    return int(value) if isinstance(value, re.RegexFlag) else None


def _compiles(pattern: str | bytes, flags: int) -> bool:
    try:
        re.compile(pattern, flags)
    except (re.error, TypeError, ValueError, OverflowError):
        return False
    return True


class GatherRegexVisitor(cst.CSTVisitor):
    """Calls of ``re`` functions with a literal pattern and constant flags."""

    def __init__(self, function: cst.FunctionDef, modules: set[str]) -> None:
        super().__init__()
        self.function = function
        self.modules = modules
        self.sites: list[tuple[cst.Call, str, str]] = []  # (call, pattern code, flags code)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return node is self.function

    def visit_Call(self, node: cst.Call) -> None:
        name = dotted(node.func)
        if not name or name.count(".") != 1:
            return
        module, function = name.split(".")
        if module not in self.modules or function not in FUNCTIONS:
            return
        if not node.args or node.args[0].keyword or node.args[0].star:
            return
        if any(a.star for a in node.args):
            return
        pattern = _pattern(node.args[0].value)
        flags = self._flags(node, FUNCTIONS[function][1])
        if pattern is None or flags is None or not _compiles(pattern, flags[1]):
            return
        self.sites.append((node, code(node.args[0].value), flags[0]))

    def _flags(self, call: cst.Call, position: int) -> tuple[str, int] | None:
        """The flags argument's code and value (``("", 0)`` if absent)."""
        for index, arg in enumerate(call.args):
            is_flags = (arg.keyword and arg.keyword.value == "flags") or (
                arg.keyword is None and index == position
            )
            if is_flags:
                value = _flag_value(arg.value, self.modules)
                return None if value is None else (code(arg.value), value)
        return "", 0


def _method_call(call: cst.Call, pattern_name: str) -> cst.BaseExpression:
    """The call rewritten to use the compiled pattern."""
    name = dotted(call.func)
    assert name
    function = name.split(".")[1]
    if function == "compile":
        return cst.Name(pattern_name)
    flags_at = FUNCTIONS[function][1]
    args = [
        arg
        for index, arg in enumerate(call.args[1:], 1)
        if not (arg.keyword and arg.keyword.value == "flags")
        and not (arg.keyword is None and index == flags_at)
    ]
    if args:
        args[-1] = args[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
    method = cst.Attribute(value=cst.Name(pattern_name), attr=cst.Name(function))
    return call.with_changes(func=method, args=args)


class RegexTransformer(cst.CSTTransformer):
    """Point each chosen call at its module-level pattern."""

    def __init__(self, names: dict[cst.Call, str]) -> None:
        super().__init__()
        self.names = names

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        name = self.names.get(original_node)
        return updated_node if name is None else _method_call(updated_node, name)


class RegexRule(Rule):
    """Compile literal regular expressions once, at module level."""

    name = "regex-precompile"
    explanation = (
        "Regular expressions with a fixed pattern are now compiled once when the module is "
        "imported, instead of being looked up in re's cache on every call."
    )

    def rewrite(self, function: cst.FunctionDef, context: Context) -> list[Rewrite]:
        local = gather(function.body).stores
        modules = {n for n, m in context.module_imports.items() if m == "re"} - local
        if not modules:
            return []
        gathered = GatherRegexVisitor(function, modules)
        function.visit(gathered)
        rewrites = []
        base = f"{function.name.value}_re".upper()
        for group in variants(gathered.sites):
            rewrite = Rewrite(function)
            shared: dict[tuple[str, str], str] = {}
            names: dict[cst.Call, str] = {}
            for call, pattern, flags in group:
                if (pattern, flags) not in shared:
                    name = context.fresh(base)
                    shared[pattern, flags] = name
                    module = dotted(call.func).split(".")[0]
                    arguments = f"{pattern}, {flags}" if flags else pattern
                    rewrite.helpers.append(f"{name} = {module}.compile({arguments})\n")
                names[call] = shared[pattern, flags]
            rewrite.function = function.visit(RegexTransformer(names))  # type: ignore[assignment]
            rewrites.append(rewrite)
        return rewrites
