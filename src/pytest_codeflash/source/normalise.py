"""Normalised candidate code, to find candidates that change nothing or repeat another.

Two sources get the same key when they are the same program apart from comments,
formatting, docstrings and the names of local variables.  Local names are renamed to
canonical ones in order of first appearance, per binding: a name is renamed only where it
resolves (by Python's scope rules) to a variable bound inside a function, lambda or
comprehension, and each such binding gets its own new name, so the renaming is one to one and
never makes two different programs equal.  Parameters (callers may pass them by keyword),
names of nested functions, classes and imports, class attributes and globals keep their names;
nothing is renamed in a function that calls ``locals``, ``vars``, ``dir``, ``eval`` or
``exec``, which can observe local names.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

from ..models import Candidate

__all__ = ["candidate_key", "normalise"]

_OBSERVERS = frozenset({"locals", "vars", "dir", "eval", "exec"})
_Comprehension = ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp
_Function = ast.FunctionDef | ast.AsyncFunctionDef


def normalise(source: str) -> str:
    """The comparison key of one module's source (the text itself if it does not parse)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return "unparsable:" + source
    _strip_docstrings(tree)
    binder = _Binder()
    binder.visit(tree)
    binder.rename()
    return ast.dump(tree, annotate_fields=False, include_attributes=False)


def candidate_key(candidate: Candidate) -> str:
    """The key of a whole candidate: its target module and every other file it changes."""
    parts = [normalise(candidate.module_source)]
    for change in sorted(candidate.other_files, key=lambda c: c.path):
        parts.append(f"file {change.path}: {normalise(change.merged)}")
    return "\n".join(parts)


def _strip_docstrings(tree: ast.Module) -> None:
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | _Function):
            body = node.body
            first = body[0] if body else None
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                node.body = body[1:] or [ast.Pass()]


class _Scope:
    """A module, class, function (or lambda) or comprehension scope."""

    def __init__(self, kind: str, parent: _Scope | None) -> None:
        self.kind = kind
        self.parent = parent
        self.bound: set[str] = set()
        self.pinned: set[str] = set()  # bound, but the name is observable: never renamed
        self.globals: set[str] = set()
        self.nonlocals: set[str] = set()
        self.observed = False  # calls locals(), eval(), ...: nothing it binds is renamed

    def owner(self, name: str) -> _Scope | None:
        """The function-like scope whose variable ``name`` is here, if any.

        Python's rules: a ``global`` declaration wins; a class body's own names are class
        attributes, and scopes nested in a class do not see them.
        """
        scope: _Scope | None = self
        while scope is not None and scope.kind != "module":
            if scope.kind == "class" and scope is not self:
                scope = scope.parent
                continue
            if name in scope.globals:
                return None
            if name in scope.bound and name not in scope.nonlocals:
                return None if scope.kind == "class" else scope
            scope = scope.parent
        return None


class _Binder(ast.NodeVisitor):
    """Record which scope each name occurrence is in and which names each scope binds."""

    def __init__(self) -> None:
        self.scope = _Scope("module", None)
        self.seen: list[tuple[ast.Name | ast.ExceptHandler | ast.Nonlocal, _Scope]] = []

    def rename(self) -> None:
        """Rename every occurrence of a renamable local variable, in order of appearance.

        The new names (``<0>``, ``<1>``, ...) are not identifiers, so they cannot collide
        with a name of the source; the tree is only dumped, never compiled.
        """
        canonical: dict[tuple[int, str], str] = {}

        def new_name(name: str, scope: _Scope) -> str:
            owner = scope.owner(name)
            if owner is None or owner.observed or name in owner.pinned:
                return name
            return canonical.setdefault((id(owner), name), f"<{len(canonical)}>")

        for node, scope in self.seen:
            if isinstance(node, ast.Name):
                node.id = new_name(node.id, scope)
            elif isinstance(node, ast.Nonlocal):
                node.names = [new_name(name, scope) for name in node.names]
            elif node.name is not None:
                node.name = new_name(node.name, scope)

    def _enter(self, kind: str) -> _Scope:
        self.scope = _Scope(kind, self.scope)
        return self.scope

    def _leave(self, scope: _Scope) -> None:
        assert scope.parent is not None
        self.scope = scope.parent

    def _visit_all(self, nodes: Iterable[ast.AST | None]) -> None:
        for node in nodes:
            if node is not None:
                self.visit(node)

    def _pin(self, name: str) -> None:
        self.scope.bound.add(name)
        self.scope.pinned.add(name)

    def visit_Name(self, node: ast.Name) -> None:
        self.seen.append((node, self.scope))
        if not isinstance(node.ctx, ast.Load):
            self.scope.bound.add(node.id)
        elif node.id in _OBSERVERS:
            scope: _Scope | None = self.scope
            while scope is not None:
                scope.observed = True
                scope = scope.parent

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        scope = self.scope
        while scope.kind == "comprehension" and scope.parent is not None:
            scope = scope.parent  # := in a comprehension binds in the enclosing function
        self.seen.append((node.target, scope))
        scope.bound.add(node.target.id)
        self.visit(node.value)

    def _visit_function(self, node: _Function | ast.Lambda) -> None:
        args = node.args
        self._visit_all([*args.defaults, *args.kw_defaults])
        if not isinstance(node, ast.Lambda):
            self._pin(node.name)
            self._visit_all(node.decorator_list)
            every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
            self._visit_all(a.annotation for a in every if a is not None)
            self._visit_all([node.returns])
        scope = self._enter("function")
        if getattr(node, "type_params", None):
            scope.observed = True  # PEP 695 scopes are not modelled: rename nothing
        for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
            if arg is not None:
                self._pin(arg.arg)
        self._visit_all([node.body] if isinstance(node, ast.Lambda) else node.body)
        self._leave(scope)

    visit_FunctionDef = _visit_function
    visit_AsyncFunctionDef = _visit_function
    visit_Lambda = _visit_function

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._pin(node.name)
        self._visit_all([*node.decorator_list, *node.bases, *node.keywords])
        scope = self._enter("class")
        self._visit_all(node.body)
        self._leave(scope)

    def _visit_comprehension(self, node: _Comprehension) -> None:
        self.visit(node.generators[0].iter)  # evaluated in the enclosing scope
        scope = self._enter("comprehension")
        for index, generator in enumerate(node.generators):
            self.visit(generator.target)
            if index:
                self.visit(generator.iter)
            self._visit_all(generator.ifs)
        if isinstance(node, ast.DictComp):
            self._visit_all([node.key, node.value])
        else:
            self.visit(node.elt)
        self._leave(scope)

    visit_ListComp = _visit_comprehension
    visit_SetComp = _visit_comprehension
    visit_DictComp = _visit_comprehension
    visit_GeneratorExp = _visit_comprehension

    def visit_Global(self, node: ast.Global) -> None:
        self.scope.globals.update(node.names)

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        self.scope.nonlocals.update(node.names)
        self.seen.append((node, self.scope))

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name is not None:
            self.seen.append((node, self.scope))
            self.scope.bound.add(node.name)
        self._visit_all([node.type, *node.body])

    def visit_alias(self, node: ast.alias) -> None:
        if node.name != "*":
            self._pin(node.asname or node.name.split(".")[0])

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        if node.name is not None:
            self._pin(node.name)
        self.generic_visit(node)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name is not None:
            self._pin(node.name)

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        if node.rest is not None:
            self._pin(node.rest)
        self.generic_visit(node)
