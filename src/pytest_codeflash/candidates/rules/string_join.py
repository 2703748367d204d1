"""Strings and bytes built with ``+=`` in a loop are collected in a list and joined once.

Each ``text += piece`` may copy everything built so far (always for ``bytes``; for ``str``
whenever CPython cannot resize in place), which makes the loop quadratic.  Collecting the
pieces and joining them once after the loop is linear.  The rewrite applies when the loop
touches the string only to extend it (or to return it), and the string starts as a literal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import libcst as cst

from ...source.syntax import single_assignment
from .base import (
    Context,
    GuardedBlocksVisitor,
    Replacement,
    ReplacingTransformer,
    Rewrite,
    Rule,
    leading_lines,
    variants,
)
from .names import code, gather

__all__ = ["StringJoinRule"]

_STRINGS = (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)


def _initial(statement: cst.BaseStatement) -> tuple[str, cst.BaseExpression, bool] | None:
    """``(name, value, is_bytes)`` if ``statement`` is ``name = <string literal>``."""
    found = single_assignment(statement)
    if found is None:
        return None
    target, value = found
    if not isinstance(target, cst.Name) or not isinstance(value, _STRINGS):
        return None
    first = value.left if isinstance(value, cst.ConcatenatedString) else value
    prefix = code(first).split("'")[0].split('"')[0].lower()
    return target.value, value, "b" in prefix


def _piece(small: cst.BaseSmallStatement, name: str) -> cst.BaseExpression | None:
    """``piece`` if ``small`` is ``name += piece`` or ``name = name + piece``."""
    if (
        isinstance(small, cst.AugAssign)
        and isinstance(small.operator, cst.AddAssign)
        and isinstance(small.target, cst.Name)
        and small.target.value == name
    ):
        return small.value
    found = single_assignment(small, annotated=False)
    if found is not None:
        target, value = found
        if (
            isinstance(value, cst.BinaryOperation)
            and isinstance(value.operator, cst.Add)
            and code(target) == name
            and code(value.left) == name
        ):
            return value.right
    return None


class GatherUsesVisitor(cst.CSTVisitor):
    """Within a loop: the statements that extend ``name``, return it, and every other use."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.extends: list[cst.SimpleStatementLine] = []
        self.returns: list[cst.SimpleStatementLine] = []
        self.allowed = 0

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        if len(node.body) != 1:
            return
        small = node.body[0]
        piece = _piece(small, self.name)
        if piece is not None and self.name not in gather(piece).names:
            self.extends.append(node)
            self.allowed += 1  # both spellings read it once
        elif isinstance(small, cst.Return) and code(small.value or cst.Name("None")) == self.name:
            self.returns.append(node)
            self.allowed += 1


def _site(
    body: Sequence[cst.BaseStatement], index: int
) -> tuple[str, bool, cst.BaseStatement, GatherUsesVisitor] | None:
    initial = _initial(body[index])
    if initial is None:
        return None
    name, _, is_bytes = initial
    for later in body[index + 1 :]:
        if isinstance(later, cst.For | cst.While):
            uses = GatherUsesVisitor(name)
            later.visit(uses)
            facts = gather(later)
            only = facts.loads[name] == uses.allowed
            every = len(uses.extends) + len(uses.returns) == _mentions(later, name)
            if uses.extends and only and every:
                return name, is_bytes, later, uses
            return None
        if name in gather(later).names:
            return None
    return None


def _mentions(node: cst.CSTNode, name: str) -> int:
    """How many statements of ``node`` mention ``name``."""
    count = 0

    class _Count(cst.CSTVisitor):
        def visit_SimpleStatementLine(self, line: cst.SimpleStatementLine) -> None:
            nonlocal count
            count += name in gather(line).names

    node.visit(_Count())
    return count


@dataclass
class Site:
    """A string started by ``start`` and extended in ``loop``; ``parts`` names its list."""

    start: cst.BaseStatement
    name: str
    is_bytes: bool
    loop: cst.BaseStatement
    parts: str = ""

    @property
    def joined(self) -> str:
        """The expression that joins the pieces."""
        return f'{"b" if self.is_bytes else ""}"".join({self.parts})'


class StringJoinTransformer(ReplacingTransformer):
    """Turn the chosen strings into lists of pieces joined after their loops."""

    def __init__(self, sites: Sequence[Site]) -> None:
        super().__init__()
        self.starts = {site.start: site for site in sites}
        self.loops: dict[cst.CSTNode, list[Site]] = {}
        for site in sites:
            self.loops.setdefault(site.loop, []).append(site)
        self.lines: dict[cst.CSTNode, str] = {}
        for site in sites:
            uses = GatherUsesVisitor(site.name)
            site.loop.visit(uses)
            for line in uses.extends:
                piece = _piece(line.body[0], site.name)
                assert piece is not None
                self.lines[line] = f"{site.parts}.append({code(piece)})"
            for line in uses.returns:
                self.lines[line] = f"return {site.joined}"

    def replace(self, original_node: cst.CSTNode, updated_node: cst.CSTNode) -> Replacement:
        if not isinstance(updated_node, cst.BaseStatement):
            return updated_node
        leading = leading_lines(updated_node)
        if original_node in self.lines:
            return cst.parse_statement(self.lines[original_node]).with_changes(
                leading_lines=leading
            )
        if original_node in self.starts:
            site = self.starts[original_node]  # type: ignore[index]
            small = site.start.body[0]  # type: ignore[attr-defined]
            value = code(small.value)
            empty = value in ('""', "''", 'b""', "b''")
            text = f"{site.parts} = []" if empty else f"{site.parts} = [{value}]"
            return cst.parse_statement(text).with_changes(leading_lines=leading)
        if original_node in self.loops:
            joins = [
                cst.parse_statement(f"{site.name} = {site.joined}")
                for site in self.loops[original_node]
            ]
            return cst.FlattenSentinel([updated_node, *joins])
        return updated_node


class GatherStartsVisitor(GuardedBlocksVisitor):
    """Every block's string-building sites (not under a guard: an exception halfway leaves
    the string partly built in the original, and the rewrite's as it started)."""

    def __init__(self, function: cst.FunctionDef) -> None:
        super().__init__()
        self.function = function
        self.sites: list[Site] = []

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        if self.guarded:
            return
        for index, statement in enumerate(node.body):
            found = _site(node.body, index)
            if found is not None:
                name, is_bytes, loop, _ = found
                self.sites.append(Site(statement, name, is_bytes, loop))

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return node is self.function


class StringJoinRule(Rule):
    """Build strings and bytes with a list and one ``join``."""

    name = "string-join"
    explanation = (
        "The string built piece by piece with += in a loop is now collected in a list and "
        "joined once after the loop, so it is not copied again for every piece."
    )

    def rewrite(self, function: cst.FunctionDef, context: Context) -> list[Rewrite]:
        gathered = GatherStartsVisitor(function)
        function.visit(gathered)
        for site in gathered.sites:
            site.parts = context.fresh(f"{site.name}_parts")
        return [
            Rewrite(function.visit(StringJoinTransformer(group)))  # type: ignore[arg-type]
            for group in variants(gathered.sites)
        ]
