"""The ``Rule`` base class and the module surgery every rule shares.

A rule looks only at the target function.  It returns rewrites of that one ``def`` (a
:class:`Rewrite`), each with the imports and module-level helpers it needs; :meth:`Rule.propose`
puts them into the module, leaving every other statement untouched.
"""

from __future__ import annotations

import builtins
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar, TypeVar, cast

import libcst as cst

from ...models import TargetFunction
from ...source.syntax import single_assignment
from .names import code, gather

__all__ = [
    "Context",
    "GuardedBlocksVisitor",
    "ReplacingTransformer",
    "Rewrite",
    "Rule",
    "find_function",
    "leading_lines",
    "parameter_names",
    "variants",
]

_BUILTIN_NAMES = frozenset(dir(builtins))
_Node = TypeVar("_Node", bound=cst.CSTNode)
_Site = TypeVar("_Site")
Replacement = cst.CSTNode | cst.RemovalSentinel | cst.FlattenSentinel[cst.CSTNode]
MAX_SINGLE_SITES = 3


@dataclass
class Rewrite:
    """One rewrite of the target ``def``, with the imports and helpers it needs."""

    function: cst.FunctionDef
    imports: list[str] = field(default_factory=list)  # e.g. "import re"
    helpers: list[str] = field(default_factory=list)  # module-level statements, before the target


class Context:
    """What a rule may need to know about the target's module, and a source of fresh names."""

    def __init__(self, module: cst.Module, target: TargetFunction, function: cst.FunctionDef):
        self.module = module
        self.target = target
        self.function = function
        facts = _module_facts(module)
        self.taken: set[str] = {*facts.names, *parameter_names(function)}
        self.module_assigns = facts.assigns
        self.module_functions = facts.functions
        self.module_imports = facts.imports

    def fresh(self, hint: str) -> str:
        """A new name based on ``hint`` that nothing in the module uses yet (it is reserved)."""
        base = "_" + hint.strip("_")
        name, number = base, 1
        while name in self.taken or name in _BUILTIN_NAMES:
            number += 1
            name = f"{base}_{number}"
        self.taken.add(name)
        return name

    def module_ref(self, module: str, rewrite: Rewrite) -> str:
        """How to name module ``module`` in the target's code, importing it if needed."""
        for bound, what in self.module_imports.items():
            if what == module:
                return bound
        for statement in rewrite.imports:
            if statement == f"import {module}":
                return module
            if statement.startswith(f"import {module} as "):
                return statement.rpartition(" ")[2]
        if module not in self.taken and module not in _BUILTIN_NAMES:
            rewrite.imports.append(f"import {module}")
            return module
        name = self.fresh(module.replace(".", "_"))
        rewrite.imports.append(f"import {module} as {name}")
        return name

    def imported(self, module: str, attr: str, rewrite: Rewrite) -> str:
        """How to name ``module.attr`` in the target's code, importing it if needed."""
        for bound, what in self.module_imports.items():
            if what == f"{module}.{attr}":
                return bound
        if f"from {module} import {attr}" in rewrite.imports:
            return attr
        for bound, what in self.module_imports.items():
            if what == module:
                return f"{bound}.{attr}"
        if attr not in self.taken and attr not in _BUILTIN_NAMES:
            rewrite.imports.append(f"from {module} import {attr}")
            return attr
        return f"{self.module_ref(module, rewrite)}.{attr}"

    def is_builtin(self, name: str, local: set[str] | None = None) -> bool:
        """Whether ``name`` refers to the builtin of that name in the target's code."""
        shadowed = name in self.module_assigns or name in self.module_functions
        shadowed = shadowed or name in self.module_imports or name in (local or set())
        return (
            name in _BUILTIN_NAMES and not shadowed and name not in parameter_names(self.function)
        )


@dataclass(frozen=True)
class _ModuleFacts:
    """What every rule's :class:`Context` reads from the whole module: found once per module
    (every rule, for every target in it, would otherwise walk the whole module again)."""

    names: frozenset[str]
    assigns: dict[str, cst.BaseExpression]
    functions: dict[str, cst.FunctionDef]
    imports: dict[str, str]  # bound name -> "module" or "module.attr"


@functools.lru_cache(maxsize=4)  # nodes hash by identity: one entry per parsed module
def _module_facts(module: cst.Module) -> _ModuleFacts:
    return _scan_top_level(module)


def _scan_top_level(module: cst.Module) -> _ModuleFacts:
    facts = _ModuleFacts(frozenset(gather(module).names), {}, {}, {})
    for statement in module.body:
        if isinstance(statement, cst.FunctionDef):
            facts.functions[statement.name.value] = statement
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            assigned = single_assignment(small, annotated=False)
            if assigned is not None:
                if isinstance(assigned[0], cst.Name):
                    facts.assigns[assigned[0].value] = assigned[1]
            elif isinstance(small, cst.Import):
                for alias in small.names:
                    name = code(alias.name)
                    bound = _asname(alias) or name.split(".")[0]
                    facts.imports[bound] = name if _asname(alias) else bound
            elif isinstance(small, cst.ImportFrom) and small.module is not None:
                if small.relative or isinstance(small.names, cst.ImportStar):
                    continue
                source = code(small.module)
                for alias in small.names:
                    name = code(alias.name)
                    facts.imports[_asname(alias) or name] = f"{source}.{name}"
    return facts


NEVER_SUPPRESS = frozenset({"open", "io.open", "codecs.open", "gzip.open", "bz2.open"})
"""Context managers that let every exception through."""


class GuardedBlocksVisitor(cst.CSTVisitor):
    """A visitor that knows whether it is under a ``try`` or a ``with`` that may catch an
    exception (any context manager but ``open``'s): there, state a loop left halfway is seen
    after the exception, so a rewrite that changes it (a container filled in one go, a
    string joined at the end) would change behaviour."""

    def __init__(self) -> None:
        super().__init__()
        self._guards: list[bool] = []  # each enclosing try/with: may it catch an exception?

    @property
    def guarded(self) -> bool:
        return any(self._guards)

    def visit_Try(self, node: cst.Try) -> None:
        self._guards.append(True)

    def leave_Try(self, original_node: cst.Try) -> None:
        self._guards.pop()

    def visit_With(self, node: cst.With) -> None:
        opens = all(
            isinstance(item.item, cst.Call) and code(item.item.func) in NEVER_SUPPRESS
            for item in node.items
        )
        self._guards.append(not opens)

    def leave_With(self, original_node: cst.With) -> None:
        self._guards.pop()


class ReplacingTransformer(cst.CSTTransformer):
    """A transformer whose :meth:`replace` sees every node after its ``leave_*`` method.

    libcst types ``on_leave`` per node type; rules swap expressions for other kinds of
    expressions and statements for several statements, so they override ``replace``.
    """

    def on_leave(
        self, original_node: _Node, updated_node: _Node
    ) -> _Node | cst.RemovalSentinel | cst.FlattenSentinel[_Node]:
        updated = super().on_leave(original_node, updated_node)
        if not isinstance(updated, cst.CSTNode):
            return updated
        return cast("_Node", self.replace(original_node, updated))

    def replace(self, original_node: cst.CSTNode, updated_node: cst.CSTNode) -> Replacement:
        """What ``original_node`` (already updated to ``updated_node``) becomes."""
        return updated_node


class Rule:
    """A family of rewrites.  Subclasses set ``name`` and ``explanation``, implement ``rewrite``.

    ``explanation`` is one plain sentence: what the rewrite changes and why it is faster.
    """

    name: ClassVar[str] = ""
    explanation: ClassVar[str] = ""

    def propose(self, module: cst.Module, target: TargetFunction) -> list[cst.Module]:
        """Whole-module rewrites, each changing only the target (and adding what it needs)."""
        function = find_function(module, target.qualname)
        if function is None or not isinstance(function.body, cst.IndentedBlock):
            return []
        context = Context(module, target, function)
        return [_apply(module, target.qualname, rw) for rw in self.rewrite(function, context)]

    def rewrite(self, function: cst.FunctionDef, context: Context) -> list[Rewrite]:
        """The rewrites of ``function`` this rule proposes (an empty list for none)."""
        raise NotImplementedError


def variants(sites: Sequence[_Site]) -> list[list[_Site]]:
    """Which sites each proposal rewrites: all of them, then (if several) a few one by one.

    The single-site proposals let the runner keep the sites that are right when one is wrong.
    """
    if not sites:
        return []
    groups: list[list[_Site]] = [list(sites)]
    if len(sites) > 1:
        groups += [[site] for site in sites[:MAX_SINGLE_SITES]]
    return groups


def leading_lines(node: cst.CSTNode) -> Sequence[cst.EmptyLine]:
    """The blank and comment lines above a statement (none for other nodes)."""
    if isinstance(node, cst.SimpleStatementLine | cst.BaseCompoundStatement):
        return node.leading_lines
    return ()


def parameter_names(function: cst.FunctionDef) -> list[str]:
    """Every parameter's name, ``*args`` and ``**kwargs`` included."""
    params = function.params
    every = [*params.posonly_params, *params.params, *params.kwonly_params]
    for star in (params.star_arg, params.star_kwarg):
        if isinstance(star, cst.Param):
            every.append(star)
    return [p.name.value for p in every]


def _asname(alias: cst.ImportAlias) -> str | None:
    if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
        return alias.asname.name.value
    return None


def _path(body: Sequence[cst.BaseStatement], parts: Sequence[str]) -> list[int] | None:
    """Indexes of the enclosing classes and the function named by ``parts`` (last one wins)."""
    found = [
        i
        for i, s in enumerate(body)
        if isinstance(s, cst.FunctionDef | cst.ClassDef) and s.name.value == parts[0]
    ]
    if not found:
        return None
    node = body[found[-1]]
    if len(parts) == 1:
        return [found[-1]] if isinstance(node, cst.FunctionDef) else None
    if not isinstance(node, cst.ClassDef) or not isinstance(node.body, cst.IndentedBlock):
        return None
    rest = _path(node.body.body, parts[1:])
    return None if rest is None else [found[-1], *rest]


def find_function(module: cst.Module, qualname: str) -> cst.FunctionDef | None:
    """The ``def`` that ``qualname`` names in ``module``."""
    path = _path(module.body, qualname.split("."))
    if path is None:
        return None
    body: Sequence[cst.BaseStatement] = module.body
    node: cst.BaseStatement = body[path[0]]
    for index in path[1:]:
        assert isinstance(node, cst.ClassDef)
        assert isinstance(node.body, cst.IndentedBlock)
        node = node.body.body[index]
    assert isinstance(node, cst.FunctionDef)
    return node


def _replace(
    body: Sequence[cst.BaseStatement], path: Sequence[int], new: cst.FunctionDef
) -> list[cst.BaseStatement]:
    items = list(body)
    if len(path) == 1:
        items[path[0]] = new
        return items
    cls = items[path[0]]
    assert isinstance(cls, cst.ClassDef)
    assert isinstance(cls.body, cst.IndentedBlock)
    inner = _replace(cls.body.body, path[1:], new)
    items[path[0]] = cls.with_changes(body=cls.body.with_changes(body=inner))
    return items


def _blank_lines(count: int) -> list[cst.EmptyLine]:
    return [cst.EmptyLine(indent=False)] * count


def _import_position(body: Sequence[cst.BaseStatement]) -> int:
    """After the module's leading docstring, ``__future__`` imports and header imports."""
    position = 0
    for index, statement in enumerate(body):
        if isinstance(statement, cst.FunctionDef | cst.ClassDef):
            break
        if isinstance(statement, cst.SimpleStatementLine) and all(
            isinstance(s, cst.Import | cst.ImportFrom) for s in statement.body
        ):
            position = index + 1
        elif index == 0 and isinstance(statement, cst.SimpleStatementLine):
            first = statement.body[0]
            is_doc = isinstance(first, cst.Expr) and isinstance(first.value, cst.SimpleString)
            position = 1 if is_doc else 0
    return position


def _helpers(
    rewrite: Rewrite, target: cst.BaseStatement
) -> tuple[list[cst.BaseStatement], cst.BaseStatement]:
    """The helper statements to put before ``target`` (a top-level statement), and the target
    with two blank lines above it; a comment above the target stays with the target."""
    helpers: list[cst.BaseStatement] = []
    for text in rewrite.helpers:
        statement = cst.parse_statement(text)
        is_def = isinstance(statement, cst.FunctionDef | cst.ClassDef)
        after_def = bool(helpers) and isinstance(helpers[-1], cst.FunctionDef | cst.ClassDef)
        lines = _blank_lines(2 if helpers and (is_def or after_def) else 0)
        helpers.append(statement.with_changes(leading_lines=lines))
    above = list(leading_lines(target))
    comments = [line for line in above if line.comment is not None]
    helpers[0] = helpers[0].with_changes(leading_lines=_blank_lines(2) if comments else above)
    return helpers, target.with_changes(leading_lines=[*_blank_lines(2), *comments])


def _apply(module: cst.Module, qualname: str, rewrite: Rewrite) -> cst.Module:
    """The module with the rewritten target, its helpers and imports.

    The merge that follows (:func:`pytest_codeflash.source.replace.merge_candidate`) places new
    imports and helpers where they belong; here they only need to be valid.
    """
    path = _path(module.body, qualname.split("."))
    assert path is not None
    body = _replace(module.body, path, rewrite.function)
    anchor = path[0]
    if rewrite.helpers:
        helpers, body[anchor] = _helpers(rewrite, body[anchor])
        body[anchor:anchor] = helpers
    if rewrite.imports:
        at = _import_position(body)
        imports = [cst.parse_statement(text + "\n") for text in dict.fromkeys(rewrite.imports)]
        following = body[at] if at < len(body) else None
        if isinstance(following, cst.FunctionDef | cst.ClassDef) and not following.leading_lines:
            body[at] = following.with_changes(leading_lines=_blank_lines(2))  # PEP 8 spacing
        body[at:at] = imports
    return module.with_changes(body=body)
