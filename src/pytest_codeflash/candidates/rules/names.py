"""What a piece of code binds, reads and may mutate: the facts every rule's safety check needs.

The analysis is syntactic and deliberately coarse.  A name counts as *mutated* when code could
change the object it refers to: a store through it (``x[i] = ...``, ``x.a = ...``, ``del
x[i]``), a method call that is not known to be read-only, or passing it bare to a call that is
not a known pure builtin.  Rules only need "certainly not mutated here"; the runner catches
whatever a coarse check lets through.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import libcst as cst

from ...source.syntax import may_exit
from .known import NON_MUTATING_METHODS, PURE_BUILTINS

__all__ = [
    "GatherNamesVisitor",
    "bound_names",
    "code",
    "gather",
    "read_after_loop",
    "root_name",
    "unconditional_expressions",
]


def code(node: cst.CSTNode) -> str:
    """The source text of ``node`` alone."""
    return cst.Module([]).code_for_node(node)


def root_name(expr: cst.BaseExpression) -> str | None:
    """The name at the root of an attribute, subscript or call chain (``a`` in ``a.b[c]()``)."""
    while isinstance(expr, cst.Attribute | cst.Subscript | cst.Call):
        expr = expr.func if isinstance(expr, cst.Call) else expr.value
    return expr.value if isinstance(expr, cst.Name) else None


def bound_names(target: cst.BaseExpression) -> set[str]:
    """The names an assignment target binds (``a`` and ``b`` in ``a, *b = ...``)."""
    if isinstance(target, cst.Name):
        return {target.value}
    if isinstance(target, cst.Tuple | cst.List):
        names: set[str] = set()
        for element in target.elements:
            names |= bound_names(element.value)
        return names
    if isinstance(target, cst.StarredElement):
        return bound_names(target.value)
    return set()


class GatherNamesVisitor(cst.CSTVisitor):
    """Collect the names code binds (``stores``), reads (``loads``) and may mutate.

    Names bound inside nested functions, lambdas, classes and comprehensions are local to them
    and not collected; their reads and mutations are (a closure can change an outer object).
    """

    def __init__(self, pure: frozenset[str] = frozenset()) -> None:
        super().__init__()
        self.stores: set[str] = set()
        self.loads: Counter[str] = Counter()
        self.changed: set[str] = set()  # names changed directly (see ``mutated``)
        self.aliases: list[tuple[str, str]] = []  # (new name, old name) for ``new = old``
        self.calls: list[cst.Call] = []
        self.pure = PURE_BUILTINS | pure  # functions known not to mutate their arguments
        self._nested = 0
        self._bound: set[cst.Name] = set()  # Name nodes already counted as bindings
        self._shadows: list[set[str]] = []  # names bound by the comprehensions we are in

    @property
    def mutated(self) -> set[str]:
        """Names whose object may change, directly or through an alias (``y = x; y.pop()``)."""
        result = set(self.changed)
        grew = True
        while grew:
            before = len(result)
            result |= {old for new, old in self.aliases if new in result}
            grew = len(result) > before
        return result

    @property
    def names(self) -> set[str]:
        """Every name the code mentions."""
        return self.stores | set(self.loads)

    # -- bindings ---------------------------------------------------------------------------
    def _store(self, target: cst.BaseExpression) -> None:
        if isinstance(target, cst.Name):
            self._bound.add(target)
            if not self._nested:
                self.stores.add(target.value)
        elif isinstance(target, cst.Tuple | cst.List):
            for element in target.elements:
                self._store(element.value)
        elif isinstance(target, cst.StarredElement):
            self._store(target.value)
        elif isinstance(target, cst.Subscript | cst.Attribute):
            root = root_name(target)
            if root:
                self.changed.add(root)
            target.value.visit(self)
            if isinstance(target, cst.Subscript):
                for part in target.slice:
                    part.visit(self)
        else:
            target.visit(self)

    def visit_AssignTarget(self, node: cst.AssignTarget) -> bool:
        self._store(node.target)
        return False

    def visit_Assign(self, node: cst.Assign) -> None:
        if isinstance(node.value, cst.Name):  # an alias: the object may change through it
            for target in node.targets:
                if isinstance(target.target, cst.Name):
                    self.aliases.append((target.target.value, node.value.value))
                else:
                    self.changed.add(node.value.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> bool:
        self._store(node.target)
        if node.value is not None:
            node.value.visit(self)
        return False

    def visit_AugAssign(self, node: cst.AugAssign) -> bool:
        if isinstance(node.target, cst.Name):
            self.loads[node.target.value] += 1
        self._store(node.target)
        node.value.visit(self)
        return False

    def visit_For(self, node: cst.For) -> None:
        self._store(node.target)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> bool:
        self._store(node.target)
        node.value.visit(self)
        return False

    def visit_Del(self, node: cst.Del) -> bool:
        self._store(node.target)
        return False

    def visit_AsName(self, node: cst.AsName) -> bool:
        self._store(node.name)
        return False

    def visit_Import(self, node: cst.Import) -> bool:
        for alias in node.names:
            if alias.asname is None:
                self._store(cst.Name(code(alias.name).split(".")[0]))
            else:
                alias.asname.visit(self)
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        if not isinstance(node.names, cst.ImportStar):
            for alias in node.names:
                if alias.asname is None:
                    self._store(cst.Name(code(alias.name)))
                else:
                    alias.asname.visit(self)
        return False

    def visit_Global(self, node: cst.Global) -> bool:
        for item in node.names:
            self.stores.add(item.name.value)
        return False

    def visit_Nonlocal(self, node: cst.Nonlocal) -> bool:
        return self.visit_Global(node)  # type: ignore[arg-type]

    # -- nested scopes ----------------------------------------------------------------------
    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._store(node.name)
        self._nested += 1

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._nested -= 1

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.visit_FunctionDef(node)  # type: ignore[arg-type]

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self._nested -= 1

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self._nested += 1

    def leave_Lambda(self, original_node: cst.Lambda) -> None:
        self._nested -= 1

    def visit_CompFor(self, node: cst.CompFor) -> bool:
        self._nested += 1
        self._store(node.target)
        self._nested -= 1
        node.iter.visit(self)
        for condition in node.ifs:
            condition.visit(self)
        if node.inner_for_in is not None:
            node.inner_for_in.visit(self)
        return False

    def visit_Param(self, node: cst.Param) -> bool:
        if node.default is not None:
            node.default.visit(self)
        if node.annotation is not None:
            node.annotation.visit(self)
        return False

    # -- reads and calls --------------------------------------------------------------------
    def visit_Name(self, node: cst.Name) -> None:
        if node not in self._bound and not any(node.value in s for s in self._shadows):
            self.loads[node.value] += 1

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, cst.ListComp | cst.SetComp | cst.DictComp | cst.GeneratorExp):
            names: set[str] = set()
            loop: cst.CompFor | None = node.for_in
            while loop is not None:
                names |= bound_names(loop.target)
                loop = loop.inner_for_in
            self._shadows.append(names)  # a comprehension's variables are its own
        return super().on_visit(node)

    def on_leave(self, original_node: cst.CSTNode) -> None:
        if isinstance(original_node, cst.ListComp | cst.SetComp | cst.DictComp | cst.GeneratorExp):
            self._shadows.pop()
        super().on_leave(original_node)

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        node.value.visit(self)  # the attribute's own name is not a variable
        return False

    def visit_Arg(self, node: cst.Arg) -> bool:
        node.value.visit(self)  # neither is a keyword argument's name
        return False

    def visit_Call(self, node: cst.Call) -> None:
        self.calls.append(node)
        func = node.func
        pure = isinstance(func, cst.Name) and func.value in self.pure
        if isinstance(func, cst.Attribute):
            root = root_name(func.value)
            if func.attr.value in NON_MUTATING_METHODS:
                pure = True
            elif root:
                self.changed.add(root)
        if pure:
            return
        for arg in node.args:
            # What is passed may be changed by the callee; a call's result is a new object.
            value = arg.value
            while isinstance(value, cst.Attribute | cst.Subscript):
                value = value.value
            if isinstance(value, cst.Name):
                self.changed.add(value.value)


def gather(*nodes: cst.CSTNode | None, pure: frozenset[str] = frozenset()) -> GatherNamesVisitor:
    """Run :class:`GatherNamesVisitor` over ``nodes`` (``None`` entries are skipped).

    :param pure: more function names to treat as not mutating their arguments.
    """
    visitor = GatherNamesVisitor(pure)
    for node in nodes:
        if node is not None:
            node.visit(visitor)
    return visitor


def _unconditional(expr: cst.BaseExpression) -> Iterator[cst.BaseExpression]:
    """``expr`` and its subexpressions that are evaluated whenever ``expr`` is."""
    yield expr
    children: list[cst.BaseExpression] = []
    if isinstance(expr, cst.BooleanOperation):
        children = [expr.left]  # the right operand may be skipped
    elif isinstance(expr, cst.IfExp):
        children = [expr.test]
    elif isinstance(expr, cst.BinaryOperation):
        children = [expr.left, expr.right]
    elif isinstance(expr, cst.UnaryOperation):
        children = [expr.expression]
    elif isinstance(expr, cst.Comparison):
        # a chained comparison stops at the first false link
        children = [expr.left, expr.comparisons[0].comparator]
    elif isinstance(expr, cst.Call):
        children = [expr.func, *(arg.value for arg in expr.args)]
    elif isinstance(expr, cst.Attribute):
        children = [expr.value]
    elif isinstance(expr, cst.Subscript):
        children = [expr.value]
        for element in expr.slice:
            if isinstance(element.slice, cst.Index):
                children.append(element.slice.value)
    elif isinstance(expr, cst.Tuple | cst.List | cst.Set):
        children = [element.value for element in expr.elements]
    for child in children:
        yield from _unconditional(child)


def unconditional_expressions(body: cst.BaseSuite) -> Iterator[cst.BaseExpression]:
    """Expressions a block evaluates every time it runs, up to its first possible early exit."""
    if not isinstance(body, cst.IndentedBlock):
        return
    for statement in body.body:
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                valued = (cst.Assign, cst.AugAssign, cst.AnnAssign, cst.Expr, cst.Return)
                if isinstance(small, valued) and small.value is not None:
                    yield from _unconditional(small.value)
        elif isinstance(statement, cst.If):
            yield from _unconditional(statement.test)
        elif isinstance(statement, cst.For):
            yield from _unconditional(statement.iter)
        if may_exit(statement):
            return


class _GatherForsVisitor(cst.CSTVisitor):
    def __init__(self) -> None:
        super().__init__()
        self.loops: list[cst.For] = []

    def visit_For(self, node: cst.For) -> None:
        self.loops.append(node)


def read_after_loop(function: cst.FunctionDef, loop: cst.For, names: set[str]) -> set[str]:
    """Which of ``names`` (bound by ``loop``) the function may read outside the loop.

    A comprehension or vectorised rewrite does not leave the loop variable behind.  Reads
    inside another ``for`` loop that binds the same name itself see that loop's value, so
    they do not count.
    """
    everywhere, inside = gather(function.body).loads, gather(loop).loads
    fors = _GatherForsVisitor()
    function.body.visit(fors)
    within = _GatherForsVisitor()
    loop.visit(within)
    others = [f for f in fors.loops if f not in within.loops and not _contains(f, loop)]
    found = set()
    for name in names:
        rebound = sum(gather(f.body).loads[name] for f in others if name in bound_names(f.target))
        if everywhere[name] - inside[name] - rebound > 0:
            found.add(name)
    return found


def _contains(outer: cst.CSTNode, node: cst.CSTNode) -> bool:
    inner = _GatherForsVisitor()
    outer.visit(inner)
    return node in inner.loops
