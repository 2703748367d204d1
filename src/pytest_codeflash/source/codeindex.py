"""An index of a project's modules for context extraction.

Each module is parsed once with libcst.  Its top-level statements become units (a
definition, a class, an import, a constant, ...), each with the names it binds.  Every
top-level statement, and every statement of a class body, is an *owner*: the references
made inside it are gathered with libcst's scope and qualified-name metadata, so ``helper``
in ``def f(): return helper()`` is known to be the module's global ``helper`` (and, through
the import that binds it, ``pkg.util.helper``), never a local of the same name.

:class:`Project` finds modules by name under the project's import roots, never outside the
rootdir or in virtual environments, and never imports them.  A module that cannot be parsed
is left out and listed in ``Project.unparsable``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst
from libcst.metadata import (
    GlobalScope,
    MetadataWrapper,
    QualifiedNameProvider,
    QualifiedNameSource,
    Scope,
    ScopeProvider,
)

from ..errors import ContextError
from .importmap import GatherImportTargetsVisitor, absolute, holds_imports
from .paths import relative_path
from .syntax import Statement, bindings, dotted, imports_of, statements

__all__ = ["ModuleIndex", "Project", "Refs", "Unit"]

Address = tuple[int, ...]  # where a statement is: its index at top level, then in class bodies
_SKIP = frozenset({"site-packages", "dist-packages", ".venv", "venv", ".tox", "node_modules"})
_MAX_HOPS = 6  # re-exports followed from module to module


@dataclass(frozen=True)
class Unit:
    """A top-level statement: ``kind`` is def, class, import, main or other (constants)."""

    index: int
    node: Statement
    kind: str
    binds: frozenset[str]


@dataclass
class Refs:
    """What an owner refers to; each entry is ``(region, value)``.

    ``region`` is ``"header"`` for a function's decorators, annotations and defaults (names
    that describe its interface), ``"body"`` for everything else.
    """

    names: set[tuple[str, str]] = field(default_factory=set)  # module-level names read
    dotted: set[tuple[str, str]] = field(default_factory=set)  # absolute imported names
    self_attrs: set[tuple[str, str]] = field(default_factory=set)  # self.x / cls.x / Cls.x

    def update(self, other: Refs) -> None:
        self.names |= other.names
        self.dotted |= other.dotted
        self.self_attrs |= other.self_attrs


class ModuleIndex:
    """One parsed module: its units, bindings, imports and the references of each owner."""

    def __init__(self, name: str, path: Path, rel: str, module: cst.Module) -> None:
        self.name = name
        self.path = path
        self.rel = rel
        self.package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        wrapper = MetadataWrapper(module)
        self.module = wrapper.module
        self.units = [_unit(i, node) for i, node in enumerate(statements(self.module.body))]
        self.by_name: dict[str, list[int]] = {}
        for unit in self.units:
            if unit.kind != "main":
                for name_ in unit.binds:
                    self.by_name.setdefault(name_, []).append(unit.index)
        imports = GatherImportTargetsVisitor(self.package)
        for unit in self.units:
            if unit.kind == "import":
                imports.unit = unit.index
                unit.node.visit(imports)
        self.import_targets = imports.targets
        self.star_sources = imports.stars
        visitor = GatherReferencesVisitor(self.units, self.package)
        wrapper.visit(visitor)
        self.refs = visitor.refs

    def members(self, path: Address) -> list[Statement]:
        """The statements of the class body at ``path``."""
        node = self.node_at(path)
        if isinstance(node, cst.ClassDef) and isinstance(node.body, cst.IndentedBlock):
            return statements(node.body.body)
        return []

    def node_at(self, path: Address) -> Statement:
        node: Statement = self.units[path[0]].node
        for index in path[1:]:
            assert isinstance(node, cst.ClassDef)
            assert isinstance(node.body, cst.IndentedBlock)
            node = statements(node.body.body)[index]
        return node

    def qualname(self, path: Address) -> str:
        """Dotted names along ``path`` (``Class.method``; a constant's bound names)."""
        parts = []
        for depth in range(1, len(path) + 1):
            node = self.node_at(path[:depth])
            if isinstance(node, cst.FunctionDef | cst.ClassDef):
                parts.append(node.name.value)
            else:
                parts.append(",".join(sorted(bindings(node))) or "?")
        return ".".join(parts)

    def refs_under(self, path: Address) -> Refs:
        """The references of the owner at ``path`` and of every owner inside it."""
        total = Refs()
        for owner, refs in self.refs.items():
            if owner[: len(path)] == path:
                total.update(refs)
        return total

    def find(self, qualname: str) -> Address | None:
        """The path of the definition ``qualname`` names (the last one Python binds)."""
        path: Address = ()
        for part in qualname.split("."):
            body = statements(self.module.body) if not path else self.members(path)
            found = [
                i
                for i, node in enumerate(body)
                if isinstance(node, cst.FunctionDef | cst.ClassDef) and node.name.value == part
            ]
            if not found:
                return None
            path = (*path, found[-1])
        return path


def _unit(index: int, node: Statement) -> Unit:
    binds = frozenset(bindings(node))
    if isinstance(node, cst.FunctionDef):
        kind = "def"
    elif isinstance(node, cst.ClassDef):
        kind = "class"
    elif imports_of(node) or holds_imports(node):
        kind = "import"
    elif isinstance(node, cst.If) and "__main__" in cst.Module([]).code_for_node(node.test):
        kind = "main"
    else:
        kind = "other"
    return Unit(index, node, kind, binds)


class GatherReferencesVisitor(cst.CSTVisitor):
    """Gather, per owner, the module-level names, imported names and self attributes read."""

    METADATA_DEPENDENCIES = (ScopeProvider, QualifiedNameProvider)

    def __init__(self, units: list[Unit], package: str) -> None:
        super().__init__()
        self.package = package
        self.refs: dict[Address, Refs] = {}
        self._owners: dict[int, tuple[Address, str | None, str | None]] = {}
        self._headers: set[int] = set()
        for unit in units:
            self._register(unit.node, (unit.index,), None, None)
        self._stack: list[tuple[Address, str | None, str | None]] = []
        self._header_depth = 0
        self._globals: dict[int, str] = {}

    def _register(
        self, node: Statement, path: Address, cls: str | None, self_name: str | None
    ) -> None:
        self._owners[id(node)] = (path, cls, self_name)
        if isinstance(node, cst.FunctionDef):
            self._headers.update(id(part) for part in (*node.decorators, node.params))
            if node.returns is not None:
                self._headers.add(id(node.returns))
        if isinstance(node, cst.ClassDef) and isinstance(node.body, cst.IndentedBlock):
            for index, member in enumerate(statements(node.body.body)):
                first = _first_param(member)
                self._register(member, (*path, index), node.name.value, first)

    def visit_Module(self, node: cst.Module) -> None:
        scopes = {s for s in self.metadata[ScopeProvider].values() if isinstance(s, Scope)}
        for scope in scopes:
            if isinstance(scope, GlobalScope):
                for assignment in scope.assignments:
                    for access in assignment.references:
                        self._globals[id(access.node)] = assignment.name.split(".")[0]
            for access in scope.accesses:
                if not access.referents and isinstance(access.node, cst.Name):
                    self._globals[id(access.node)] = access.node.value  # star import, maybe

    def on_visit(self, node: cst.CSTNode) -> bool:
        owner = self._owners.get(id(node))
        if owner is not None:
            self._stack.append(owner)
        if id(node) in self._headers:
            self._header_depth += 1
        if self._stack:
            self._record(node)
        return super().on_visit(node)

    def on_leave(self, original_node: cst.CSTNode) -> None:
        if id(original_node) in self._headers:
            self._header_depth -= 1
        if self._owners.get(id(original_node)) is not None:
            self._stack.pop()
        super().on_leave(original_node)

    def _record(self, node: cst.CSTNode) -> None:
        path, cls, self_name = self._stack[-1]
        refs = self.refs.setdefault(path, Refs())
        region = "header" if self._header_depth else "body"
        name = self._globals.get(id(node))
        if name is not None:
            refs.names.add((region, name))
        if isinstance(node, cst.Name | cst.Attribute):
            for qualified in self.get_metadata(QualifiedNameProvider, node, set()):
                if qualified.source == QualifiedNameSource.IMPORT:
                    full = absolute(qualified.name, self.package)
                    if full:
                        refs.dotted.add((region, full))
        owner_names = {self_name, cls} - {None}
        if (
            isinstance(node, cst.Attribute)
            and isinstance(node.value, cst.Name)
            and node.value.value in owner_names
        ):
            refs.self_attrs.add((region, node.attr.value))


def _first_param(node: Statement) -> str | None:
    """The name ``self`` or ``cls`` goes by in a method (None for static methods)."""
    if not isinstance(node, cst.FunctionDef):
        return None
    if any(dotted(d.decorator) == "staticmethod" for d in node.decorators):
        return None
    params = [*node.params.posonly_params, *node.params.params]
    return params[0].name.value if params else None


class Project:
    """The project's modules, found by name under the import roots and parsed on demand."""

    def __init__(self, rootdir: Path, roots: list[Path]) -> None:
        self.rootdir = rootdir.resolve()
        self.roots = roots
        self.unparsable: list[str] = []
        self._modules: dict[str, ModuleIndex | None] = {}

    def module_at(self, path: Path, name: str) -> ModuleIndex:
        """The index of the target's own module.

        :raises ContextError: the file cannot be read or parsed.
        """
        index = self._load(path.resolve(), name)
        if index is None:
            raise ContextError(
                f"{relative_path(path, self.rootdir)} cannot be parsed, so the context of its "
                "functions cannot be extracted; fix its syntax first."
            )
        self._modules[name] = index
        return index

    def module(self, name: str) -> ModuleIndex | None:
        """The index of project module ``name``, or None (not in the project, unparsable)."""
        if name not in self._modules:
            path = self._locate(name)
            self._modules[name] = self._load(path, name) if path else None
        return self._modules[name]

    def resolve(self, name: str, hops: int = 0) -> list[tuple[ModuleIndex, int]]:
        """The units an absolute dotted name refers to: ``pkg.mod.func`` -> (pkg.mod, func)."""
        parts = name.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            module = self.module(".".join(parts[:cut]))
            if module is not None:
                return self.lookup(module, parts[cut], hops)
        return []

    def lookup(
        self, module: ModuleIndex, name: str, hops: int = 0
    ) -> list[tuple[ModuleIndex, int]]:
        """The units ``name`` is bound by in ``module``, following re-exports."""
        if hops > _MAX_HOPS:
            return []
        found: list[tuple[ModuleIndex, int]] = []
        for index in module.by_name.get(name, []):
            if module.units[index].kind != "import":
                found.append((module, index))
            elif name in module.import_targets:
                found += self.resolve(module.import_targets[name], hops + 1)
        if not found:
            for _, source in module.star_sources:
                star = self.module(source)
                if star is not None:
                    found += self.lookup(star, name, hops + 1)
        return found

    def _locate(self, name: str) -> Path | None:
        for root in self.roots:
            base = root.joinpath(*name.split("."))
            for path in (base / "__init__.py", base.with_name(base.name + ".py")):
                if path.is_file():
                    resolved = path.resolve()
                    inside = self.rootdir in resolved.parents
                    if inside and not _SKIP & set(resolved.relative_to(self.rootdir).parts):
                        return resolved
                    return None
        return None

    def _load(self, path: Path, name: str) -> ModuleIndex | None:
        rel = relative_path(path, self.rootdir)
        try:
            info = path.stat()
            key = (str(path), name, rel, info.st_mtime_ns, info.st_size)
            if key in _CACHE:
                return _CACHE[key]
            module = cst.parse_module(path.read_bytes().decode("utf-8"))
        except (OSError, UnicodeDecodeError, cst.ParserSyntaxError):
            self.unparsable.append(rel)
            return None
        index = ModuleIndex(name, path, rel, module)
        if len(_CACHE) >= _CACHE_SIZE:
            del _CACHE[next(iter(_CACHE))]
        _CACHE[key] = index
        return index


# Parsed modules, by file, name and stat: indexing a large module takes a second or more, and
# every target of a run shares most of them.  An index is never changed after it is built.
_CACHE: dict[tuple[str, str, str, int, int], ModuleIndex] = {}
_CACHE_SIZE = 128
