"""A list that is built with ``append`` and searched with ``in`` gets a set beside it.

``if item not in result: result.append(item)`` scans the whole list for every item.  The
rewrite keeps the list (its order, its identity as the return value) and mirrors its items
in a set, answering ``in`` from the set.  Two proposals: a guarded one (if an unhashable item
is ever appended the set is dropped and ``in`` scans the list again; an unhashable item being
looked up is compared with every element, as before) and a plain one for lists whose items
are always hashable.  The runner only accepts code that ran, so the guard's fallback lines
pass only when the inputs contain unhashable items, and the plain version only when they
do not.
"""

from __future__ import annotations

import libcst as cst

from ...source.syntax import single_assignment
from .base import Context, Rewrite, Rule
from .membership import bindings
from .names import gather

__all__ = ["SeenSetRule"]

CONTAINS_HELPER = '''\
def {name}(seen, items, item):
    """``item in items``, answered from ``seen``, the set of the same items, while it exists."""
    if seen is not None:
        try:
            return item in seen
        except TypeError:  # unhashable: compare it with every element, as the list does
            pass
    return item in items
'''

REMEMBER_PLAIN = "{seen}.add({item})"
REMEMBER = """\
if {seen} is not None:
    try:
        {seen}.add({item})
    except TypeError:  # an unhashable item: from now on the list itself answers
        {seen} = None
"""


def _is_empty_list(value: cst.BaseExpression | None) -> bool:
    if isinstance(value, cst.List):
        return not value.elements
    return (
        isinstance(value, cst.Call)
        and isinstance(value.func, cst.Name)
        and value.func.value == "list"
        and not value.args
    )


def _append_of(statement: cst.CSTNode, name: str) -> cst.Call | None:
    """The ``name.append(x)`` call if ``statement`` is exactly that line."""
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return None
    small = statement.body[0]
    if not isinstance(small, cst.Expr) or not isinstance(small.value, cst.Call):
        return None
    call = small.value
    func = call.func
    if (
        isinstance(func, cst.Attribute)
        and isinstance(func.value, cst.Name)
        and func.value.value == name
        and func.attr.value == "append"
        and len(call.args) == 1
        and call.args[0].keyword is None
        and not call.args[0].star
    ):
        return call
    return None


def _assigned(small: cst.BaseSmallStatement) -> str | None:
    """The name a plain (possibly annotated) single-target assignment binds."""
    found = single_assignment(small)
    if found is None:
        return None
    return found[0].value if isinstance(found[0], cst.Name) else None


class GatherListUsesVisitor(cst.CSTVisitor):
    """Classify every use of one list name: appends, membership tests, and harmless reads."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.appends: list[cst.SimpleStatementLine] = []
        self.tests: list[cst.Comparison] = []
        self.definitions: list[cst.SimpleStatementLine] = []
        self.harmless = 0

    def _is_name(self, expr: cst.BaseExpression | None) -> bool:
        return isinstance(expr, cst.Name) and expr.value == self.name

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        if _append_of(node, self.name) is not None:
            self.appends.append(node)
        small = node.body[0]
        value = small.value if isinstance(small, cst.Assign | cst.AnnAssign) else None
        if len(node.body) == 1 and _assigned(small) == self.name and _is_empty_list(value):
            self.definitions.append(node)
        if len(node.body) == 1 and isinstance(small, cst.Return) and self._is_name(small.value):
            self.harmless += 1

    def visit_Comparison(self, node: cst.Comparison) -> None:
        if len(node.comparisons) == 1:
            link = node.comparisons[0]
            if isinstance(link.operator, cst.In | cst.NotIn) and self._is_name(link.comparator):
                self.tests.append(node)

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Name) and node.func.value in ("len", "print", "repr"):
            self.harmless += sum(1 for arg in node.args if self._is_name(arg.value))

    def visit_For(self, node: cst.For) -> None:
        if self._is_name(node.iter):
            self.harmless += 1


class SeenSetTransformer(cst.CSTTransformer):
    """Add the mirror set after the list's creation and each append; route ``in`` to it."""

    def __init__(self, uses: GatherListUsesVisitor, seen: str, helper: str | None) -> None:
        super().__init__()
        self.uses = uses
        self.seen = seen
        self.helper = helper  # the guarded ``in`` helper; ``None`` for the plain version

    def leave_SimpleStatementLine(
        self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine
    ) -> cst.BaseStatement | cst.FlattenSentinel[cst.BaseStatement]:
        if original_node in self.uses.definitions:
            return cst.FlattenSentinel([updated_node, cst.parse_statement(f"{self.seen} = set()")])
        if original_node in self.uses.appends:
            call = _append_of(original_node, self.uses.name)
            assert call is not None
            item = call.args[0].value
            if isinstance(item, cst.Name):
                text = REMEMBER if self.helper else REMEMBER_PLAIN
                remember = cst.parse_statement(text.format(seen=self.seen, item=item.value))
                return cst.FlattenSentinel([updated_node, remember])
        return updated_node

    def leave_Comparison(
        self, original_node: cst.Comparison, updated_node: cst.Comparison
    ) -> cst.BaseExpression:
        if original_node not in self.uses.tests:
            return updated_node
        link = updated_node.comparisons[0]
        if self.helper is None:
            return updated_node.with_changes(
                comparisons=[link.with_changes(comparator=cst.Name(self.seen))]
            )
        call = cst.parse_expression(f"{self.helper}({self.seen}, {self.uses.name}, ITEM)")
        assert isinstance(call, cst.Call)
        item = updated_node.left
        call = call.with_changes(args=[*call.args[:2], call.args[2].with_changes(value=item)])
        if isinstance(link.operator, cst.NotIn):
            return cst.UnaryOperation(operator=cst.Not(), expression=call)
        return call.with_changes(lpar=updated_node.lpar, rpar=updated_node.rpar)


class SeenSetRule(Rule):
    """Lists built with ``append`` and searched with ``in`` get a mirror set."""

    name = "seen-set"
    explanation = (
        "A list that is searched with `in` while it is being built now keeps a set of its "
        "items beside it, so each search is a hash lookup instead of a scan of the list."
    )

    def rewrite(self, function: cst.FunctionDef, context: Context) -> list[Rewrite]:
        rewrites = []
        loads = gather(function.body).loads
        for name, values in bindings(function).items():
            if len(values) != 1 or not _is_empty_list(values[0]):
                continue
            uses = GatherListUsesVisitor(name)
            function.body.visit(uses)
            named_items = all(
                isinstance(_append_of(s, name).args[0].value, cst.Name)  # type: ignore[union-attr]
                for s in uses.appends
            )
            counted = len(uses.appends) + len(uses.tests) + uses.harmless
            if not uses.tests or len(uses.definitions) != 1 or not named_items:
                continue
            if counted != loads[name]:
                continue  # some other use might change the list behind the set's back
            seen = context.fresh(f"{name}_seen")
            guarded = Rewrite(function)
            helper = context.fresh("contains")
            guarded.helpers.append(CONTAINS_HELPER.format(name=helper))
            guarded.function = function.visit(SeenSetTransformer(uses, seen, helper))  # type: ignore[assignment]
            plain = function.visit(SeenSetTransformer(uses, seen, None))
            rewrites += [guarded, Rewrite(plain)]  # type: ignore[arg-type]
        return rewrites
