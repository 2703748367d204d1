"""Serve a module's source from memory, so a candidate is imported without touching any file.

Runs inside the runner process.  ``OverlayFinder`` sits first on ``sys.meta_path`` and answers
only for the module names it was given: it asks the ordinary path finder where the module
lives (so ``__file__``, ``__path__`` and relative imports stay what they were) and executes
the in-memory source instead of the file's.  ``load_shadow`` builds a second, private module
object from a source (the original), not registered in ``sys.modules``.
"""

from __future__ import annotations

import ast
import importlib.abc
import importlib.machinery
import importlib.util
import linecache
import sys
import types
from collections.abc import Callable, Sequence
from typing import Any

ModuleHook = Callable[[types.ModuleType], None]


class OverlayLoader(importlib.abc.Loader):
    """Execute a module from a source string, under the real file name."""

    def __init__(self, source: str, filename: str, on_exec: ModuleHook | None) -> None:
        self.source = source
        self.filename = filename  # the name code objects carry (may differ from __file__)
        self.on_exec = on_exec

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        remember_source(self.filename, self.source)
        code = compile(self.source, self.filename, "exec", dont_inherit=True)
        exec(code, module.__dict__)
        if self.on_exec is not None:
            self.on_exec(module)

    def get_source(self, fullname: str) -> str:
        return self.source


class OverlayFinder(importlib.abc.MetaPathFinder):
    """Find the overlaid modules; leave every other import to the normal machinery."""

    def __init__(
        self,
        sources: dict[str, str],
        on_exec: ModuleHook | None = None,
        code_filenames: dict[str, str] | None = None,
    ) -> None:
        self.sources = sources
        self.on_exec = on_exec
        self.code_filenames = code_filenames or {}
        self.loaded: set[str] = set()

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        source = self.sources.get(fullname)
        if source is None:
            return None
        real = importlib.machinery.PathFinder.find_spec(fullname, path)
        if real is None or not real.origin:
            return None
        self.loaded.add(fullname)
        filename = self.code_filenames.get(fullname, real.origin)
        loader = OverlayLoader(source, filename, self.on_exec)
        spec = importlib.util.spec_from_file_location(
            fullname,
            real.origin,
            loader=loader,
            submodule_search_locations=real.submodule_search_locations,
        )
        return spec

    def install(self) -> None:
        """Put the finder first on ``sys.meta_path``; drop stale copies of its modules."""
        sys.meta_path.insert(0, self)
        for name in self.sources:
            sys.modules.pop(name, None)


def remember_source(filename: str, source: str) -> None:
    """Make tracebacks and ``inspect`` show the in-memory source, not the file on disk."""
    lines = source.splitlines(keepends=True)
    # An mtime of None tells linecache.checkcache never to reload this entry from disk.
    linecache.cache[filename] = (len(source), None, lines, filename)


def load_shadow(
    name: str, source: str, like: types.ModuleType, filename: str | None = None
) -> types.ModuleType:
    """Execute ``source`` as a private twin of module ``like`` (same name, file and package).

    ``filename`` names the code objects (so coverage and tracebacks can tell the twin apart).
    """
    shadow = types.ModuleType(name, like.__doc__)
    for attr in ("__file__", "__package__", "__path__", "__spec__", "__loader__"):
        if hasattr(like, attr):
            setattr(shadow, attr, getattr(like, attr))
    filename = filename or getattr(like, "__file__", None) or f"<codeflash original {name}>"
    remember_source(filename, source)
    code = compile(source, filename, "exec", dont_inherit=True)
    exec(code, shadow.__dict__)
    return shadow


def share_sentinels(shadow: types.ModuleType, module: types.ModuleType) -> list[str]:
    """Give the original's twin the real module's ``object()`` sentinels; their names.

    ``_MISSING = object()`` then ``def get(key, default=_MISSING)``: a twin has a sentinel
    of its own, in its globals and in its functions' defaults, so ``default is _MISSING``
    came out otherwise in the original than in the user's run (the globals it is given
    come from the real module), and a correct candidate looked different.  A bare
    ``object()`` has no state, only its identity: sharing it is the user's world exactly.
    The sentinels are registered in :data:`.calls.SENTINELS`, so that copies and pickles of
    the inputs keep them.
    """
    from .calls import SENTINELS

    mine, theirs = vars(shadow), vars(module)
    swap: dict[int, object] = {}
    names = []
    for name, value in list(mine.items()):
        real = theirs.get(name)
        if type(value) is object and type(real) is object:
            swap[id(value)] = real
            mine[name] = real
            SENTINELS[id(real)] = (module.__name__, name, real)
            names.append(name)
    if not swap:
        return names
    seen: set[int] = set()

    def fix(value: object) -> None:
        if id(value) in seen:
            return
        seen.add(id(value))
        function = getattr(value, "__func__", value)
        if isinstance(function, types.FunctionType):
            if function.__defaults__:
                function.__defaults__ = tuple(swap.get(id(d), d) for d in function.__defaults__)
            if function.__kwdefaults__:
                function.__kwdefaults__ = {
                    k: swap.get(id(d), d) for k, d in function.__kwdefaults__.items()
                }
        elif isinstance(value, type) and value.__module__ == shadow.__name__:
            for attribute, member in list(vars(value).items()):
                if id(member) in swap:
                    setattr(value, attribute, swap[id(member)])
                else:
                    fix(member)

    for value in list(mine.values()):
        fix(value)
    return names


# What a module-level name may hold for code adopted from the real module to read it there
# instead of in the twin: nothing that state can hide in.
_STATELESS = (int, float, complex, str, bytes, bool, type(None), range, type(...))
_PLAIN_CALLABLES = (types.FunctionType, types.BuiltinFunctionType, type, types.ModuleType)
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def adopt_classes(
    shadow: types.ModuleType,
    module: types.ModuleType,
    original_source: str,
    candidate_source: str,
    qualname: str,
) -> list[str]:
    """Give the original's twin the real module's classes where that is safe; their names.

    A twin has classes of its own, so an object the real module made (at import, in another
    module that imported it, in a test) is foreign to the original: ``isinstance(obj,
    curry)`` comes out otherwise than in the user's run, the original looks unstable, and a
    correct candidate looks different.  A class is taken from the real module when:

    - the candidate changed nothing outside the target (new names the original never
      mentions aside), so the real class is the original's, code for code;
    - it is bound once, by its ``class`` statement, and keeps no mutable state of its own
      (its attributes are functions, descriptors and constants);
    - everything its code reaches through the module (names, the functions and classes
      behind them, transitively) is stateless, and no ``global`` statement rebinds any:
      the adopted code reads the real module, and must not see or change state there
      that the original's run would have kept in the twin;
    - the classes it reaches, and its bases and subclasses in the module, are adopted
      too, so no object is foreign on either side;
    - for the target's own class, the target uses neither ``super()`` nor ``__class__``
      (its twin's function is bound to the twin's class).

    The target itself stays the twin's; a call of it on an adopted class's object while the
    original runs runs the original (see ``Differential._plain``).
    """
    try:
        original, candidate = ast.parse(original_source), ast.parse(candidate_source)
    except (SyntaxError, ValueError):
        return []
    parts = qualname.split(".")
    if not _only_target_changed(original, candidate, parts):
        return []
    bound = _bindings(original.body)
    defs = {s.name: s for s in original.body if isinstance(s, _DEFS)}
    # The real module runs the candidate's source: its line numbers, for _defined_by.
    lines = {s.name: s for s in candidate.body if isinstance(s, _DEFS)}
    loads = {name: _loaded_names(node) for name, node in defs.items()}
    real = vars(module)

    def reach(name: str) -> set[str]:
        seen, pending = {name}, [name]
        while pending:
            for used in loads.get(pending.pop(), ()):
                if used not in seen and used in real:
                    seen.add(used)
                    if used in defs:
                        pending.append(used)
        return seen

    def stateless(name: str) -> bool:
        if name in defs:
            node = defs[name]
            once = bound.get(name) == 1 or (name in lines and _defined_by(real[name], lines[name]))
            return once and not _rebinds(node)
        value = real[name]
        return isinstance(value, _STATELESS + _PLAIN_CALLABLES) or type(value) is object

    ours = {
        name
        for name, node in defs.items()
        if isinstance(node, ast.ClassDef)
        and isinstance(real.get(name), type)
        and isinstance(vars(shadow).get(name), type)
    }
    reached = {name: reach(name) for name in ours}
    members = {
        name
        for name in ours
        if bound.get(name) == 1
        and not _class_state(real[name])
        and all(stateless(n) for n in reached[name])
        and not (name == parts[0] and len(parts) > 1 and _uses_class_cell(defs[name], parts))
    }
    changed = True
    while changed:  # keep only classes whose module classes (reached, bases) are adopted too
        changed = False
        for name in sorted(members):
            related = (reached[name] & ours) | {
                other for other in ours if _related(real[name], real[other])
            }
            if not related <= members:
                members.discard(name)
                changed = True
    for name in sorted(members):
        vars(shadow)[name] = real[name]
    return sorted(members)


def _only_target_changed(original: Any, candidate: Any, parts: list[str]) -> bool:
    """Whether the candidate's module is the original's, the target aside, plus statements
    that bind only new names the original never mentions."""
    before = [ast.dump(_without(s, parts)) for s in original.body]
    extra: list[Any] = []
    matched = 0
    for statement in candidate.body:
        if matched < len(before) and ast.dump(_without(statement, parts)) == before[matched]:
            matched += 1
        else:
            extra.append(statement)
    if matched < len(before):
        return False
    mentioned = {n.id for n in ast.walk(original) if isinstance(n, ast.Name)}
    return not (_bindings(extra).keys() & (_bindings(original.body).keys() | mentioned))


def _bindings(statements: list[Any]) -> dict[str, int]:
    """How many times each name is bound at module level by ``statements`` (not counting
    the bodies of functions, classes and lambdas)."""
    counts: dict[str, int] = {}

    def bind(name: str) -> None:
        counts[name] = counts.get(name, 0) + 1

    pending = list(statements)
    while pending:
        node = pending.pop()
        if isinstance(node, _DEFS):
            bind(node.name)
            pending.extend(node.decorator_list)
            continue  # its body binds its own names
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bind(node.id)
        elif isinstance(node, ast.alias):
            bind((node.asname or node.name).split(".")[0])
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            for name in node.names:
                bind(name)
        elif isinstance(node, ast.Lambda):
            continue
        pending.extend(ast.iter_child_nodes(node))
    return counts


def _loaded_names(node: Any) -> set[str]:
    """Every name a definition reads (its decorators, bases, defaults and body)."""
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _defined_by(value: object, node: Any) -> bool:
    """Whether function ``value`` is the one ``def`` statement ``node`` made (a name bound
    more than once, ``if PYPY: def ...`` for instance)."""
    code = getattr(value, "__code__", None)
    first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
    return (
        isinstance(value, types.FunctionType)
        and code is not None
        and (code.co_firstlineno == first)
    )


def _rebinds(node: Any) -> bool:
    """Whether a definition rebinds a module-level name (``global``)."""
    return any(isinstance(n, ast.Global) for n in ast.walk(node))


def _uses_class_cell(node: Any, parts: list[str]) -> bool:
    """Whether the method at ``parts`` (inside class ``node``) uses ``super()`` or
    ``__class__``; ``True`` when it cannot be found."""
    holder = node
    for part in parts[1:]:
        for child in getattr(holder, "body", []):
            if isinstance(child, _DEFS) and child.name == part:
                holder = child
                break
        else:
            return True
    return any(isinstance(n, ast.Name) and n.id in ("super", "__class__") for n in ast.walk(holder))


def _class_state(cls: type) -> bool:
    """Whether a class (or a class nested in it) keeps mutable data as a class attribute."""
    for name, member in vars(cls).items():
        if name in ("__dict__", "__weakref__", "__doc__", "__module__", "__qualname__"):
            continue
        if isinstance(member, type):
            if member.__module__ == cls.__module__ and _class_state(member):
                return True
            continue
        if isinstance(member, (staticmethod, classmethod)):
            member = member.__func__
        if isinstance(member, _STATELESS + _PLAIN_CALLABLES):
            continue
        if hasattr(type(member), "__get__") and not isinstance(member, (dict, list, set)):
            continue  # a descriptor (a dict that is one too holds state)
        if isinstance(member, (tuple, frozenset)) and all(
            isinstance(item, _STATELESS) for item in member
        ):
            continue  # __slots__, __match_args__, constants
        return True
    return False


def _related(one: type, other: type) -> bool:
    """Whether one class derives from the other."""
    return one is not other and (issubclass(one, other) or issubclass(other, one))


def _without(statement: Any, path: list[str]) -> Any:
    """``statement``, or where it holds the definition at ``path`` a copy of it with that
    definition replaced by ``pass``."""
    import copy

    if not isinstance(statement, _DEFS) or statement.name != path[0]:
        return statement
    if len(path) == 1:
        return ast.Pass()
    top = copy.deepcopy(statement)
    holder: Any = top
    for depth, part in enumerate(path[1:], start=1):
        for index, child in enumerate(holder.body):
            if isinstance(child, _DEFS) and child.name == part:
                if depth == len(path) - 1:
                    holder.body[index] = ast.Pass()
                    return top
                holder = child
                break
        else:
            return top
    return top
