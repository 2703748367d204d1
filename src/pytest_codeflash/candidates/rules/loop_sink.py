"""Values computed in every iteration but only used after the loop are computed once, after it.

``mean = sum(values) / len(values)`` inside a loop that appends to ``values`` costs O(n) per
iteration, O(n^2) in all, when only the last iteration's value is ever read.  If the loop never
reads the name, cannot leave an iteration early (``break``/``continue``), and nothing later in
the iteration changes what the expression reads, the last value equals the value computed once
after the loop.  A flag keeps the name unbound (or at its old value) when the loop runs zero
times, as before.
"""

from __future__ import annotations

import libcst as cst

from ...source.syntax import may_exit, single_assignment
from .base import Context, Replacement, ReplacingTransformer, Rewrite, Rule, variants
from .known import NON_MUTATING_METHODS, PURE_BUILTINS
from .names import gather

__all__ = ["LoopSinkRule"]


class GatherEffectsVisitor(cst.CSTVisitor):
    """Whether an expression only calls functions that have no effects."""

    def __init__(self, context: Context) -> None:
        super().__init__()
        self.context = context
        self.pure = True

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Name):
            ok = func.value in PURE_BUILTINS and self.context.is_builtin(func.value)
        else:
            ok = isinstance(func, cst.Attribute) and func.attr.value in NON_MUTATING_METHODS
        self.pure = self.pure and ok

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self.pure = False


def _assignment(statement: cst.BaseStatement) -> tuple[str, cst.BaseExpression] | None:
    found = single_assignment(statement, annotated=False)
    if found is None or not isinstance(found[0], cst.Name):
        return None
    return found[0].value, found[1]


def _sinkable(loop: cst.For | cst.While, context: Context) -> list[cst.SimpleStatementLine]:
    """The statements of ``loop``'s body that can move after the loop."""
    if loop.orelse is not None or not isinstance(loop.body, cst.IndentedBlock):
        return []
    if may_exit(loop.body, any_exit=False):
        return []
    header = gather(loop.target, loop.iter) if isinstance(loop, cst.For) else gather(loop.test)
    body = list(loop.body.body)
    found = []
    for index, statement in enumerate(body):
        assignment = _assignment(statement)
        if assignment is None:
            continue
        name, value = assignment
        calls = GatherEffectsVisitor(context)
        value.visit(calls)
        reads = set(gather(value).loads)
        others = [s for s in body if s is not statement]
        rest = gather(*body[index + 1 :])
        if (
            calls.pure
            and reads
            and name not in reads
            and not gather(loop).loads[name]
            and name not in header.stores | set(header.loads)
            and not any(name in gather(s).stores for s in others)
            and not reads & (rest.stores | rest.mutated)
        ):
            found.append(statement)
    return found  # type: ignore[return-value]


class GatherSinksVisitor(cst.CSTVisitor):
    """Loops (directly in a block) with statements to sink."""

    def __init__(self, context: Context) -> None:
        super().__init__()
        self.context = context
        self.loops: dict[cst.For | cst.While, list[cst.SimpleStatementLine]] = {}

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        for statement in node.body:
            if isinstance(statement, cst.For | cst.While) and not (
                isinstance(statement, cst.For) and statement.asynchronous
            ):
                sinkable = _sinkable(statement, self.context)
                if sinkable:
                    self.loops[statement] = sinkable

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False


class LoopSinkTransformer(ReplacingTransformer):
    """Move the chosen statements after their loops, behind a "the loop ran" flag."""

    def __init__(
        self, loops: dict[cst.For | cst.While, list[cst.SimpleStatementLine]], context: Context
    ) -> None:
        super().__init__()
        self.loops = loops
        self.context = context

    def replace(self, original_node: cst.CSTNode, updated_node: cst.CSTNode) -> Replacement:
        if original_node not in self.loops:
            return updated_node
        assert isinstance(original_node, cst.For | cst.While)
        assert isinstance(updated_node, cst.For | cst.While)
        moved = self.loops[original_node]
        flag = self.context.fresh("ran")
        assert isinstance(original_node.body, cst.IndentedBlock)
        assert isinstance(updated_node.body, cst.IndentedBlock)
        old = original_node.body.body
        # Nested rewrites show in the updated body, unless they changed its length.
        new = updated_node.body.body if len(updated_node.body.body) == len(old) else old
        body: list[cst.BaseStatement] = []
        for statement, current in zip(old, new, strict=True):
            if statement is moved[0]:
                body.append(cst.parse_statement(f"{flag} = True"))
            elif statement not in moved:
                body.append(current)
        loop = updated_node.with_changes(body=updated_node.body.with_changes(body=body))
        after = cst.parse_statement(f"if {flag}:\n    pass\n")
        assert isinstance(after, cst.If)
        block = after.body.with_changes(body=[s.with_changes(leading_lines=()) for s in moved])
        return cst.FlattenSentinel(
            [
                cst.parse_statement(f"{flag} = False").with_changes(
                    leading_lines=updated_node.leading_lines
                ),
                loop.with_changes(leading_lines=()),
                after.with_changes(body=block),
            ]
        )


class LoopSinkRule(Rule):
    """Compute once, after the loop, what the loop computes every time but never reads."""

    name = "loop-sink"
    explanation = (
        "A value the loop recomputed on every iteration but only used after the loop is now "
        "computed once, after the loop, with the same final inputs."
    )

    def rewrite(self, function: cst.FunctionDef, context: Context) -> list[Rewrite]:
        gathered = GatherSinksVisitor(context)
        function.body.visit(gathered)
        rewrites = []
        for group in variants(list(gathered.loops)):
            chosen = {loop: gathered.loops[loop] for loop in group}  # type: ignore[index]
            new = function.visit(LoopSinkTransformer(chosen, context))
            rewrites.append(Rewrite(new))  # type: ignore[arg-type]
        return rewrites
