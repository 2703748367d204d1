"""Serve a module's source from memory, so a candidate is imported without touching any file.

Runs inside the runner process.  ``OverlayFinder`` sits first on ``sys.meta_path`` and answers
only for the module names it was given: it asks the ordinary path finder where the module
lives (so ``__file__``, ``__path__`` and relative imports stay what they were) and executes
the in-memory source instead of the file's.  ``load_shadow`` builds a second, private module
object from a source (the original), not registered in ``sys.modules``.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import importlib.util
import linecache
import sys
import types
from collections.abc import Callable, Iterator, Sequence

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
        with executing(getattr(module, "__file__", None), self.source):
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
    with executing(getattr(like, "__file__", None), source):
        exec(code, shadow.__dict__)
    return shadow


@contextlib.contextmanager
def executing(path: str | None, source: str) -> Iterator[None]:
    """While a module runs ``source``, the source of the file ``path`` (its ``__file__``,
    which the candidate and the original's twin share) is ``source``: a decorator that
    reads its module's source to rebuild a function as it is defined (typeguard's
    ``@typechecked``, through ``inspect.getsource(sys.modules[f.__module__])``) rebuilds
    that side's own function, not the one at the same line of the file on disk."""
    if not path:
        yield
        return
    before = linecache.cache.get(path)
    remember_source(path, source)
    try:
        yield
    finally:
        if before is None:
            linecache.cache.pop(path, None)
        else:
            linecache.cache[path] = before


def share_sentinels(shadow: types.ModuleType, module: types.ModuleType) -> None:
    """Give the original's twin the real module's ``object()`` sentinels.

    ``_MISSING = object()`` then ``def get(key, default=_MISSING)``: a twin has a sentinel
    of its own, in its globals and in its functions' defaults, so ``default is _MISSING``
    came out otherwise in the original than in the user's run (the globals it is given
    come from the real module), and a correct candidate looked different.  A bare
    ``object()`` has no state, only its identity: sharing it is the user's world exactly.
    The sentinels are registered in :data:`.calls.SENTINELS`, so that copies and pickles of
    the inputs keep them.
    """
    from .calls import SENTINELS
    from .pickling import LOCAL_MODULES

    LOCAL_MODULES.add(module.__name__)
    mine, theirs = vars(shadow), vars(module)
    swap: dict[int, object] = {}
    for name, value in list(mine.items()):
        real = theirs.get(name)
        if type(value) is object and type(real) is object:
            swap[id(value)] = real
            mine[name] = real
            SENTINELS[id(real)] = (module.__name__, name, real)
    if not swap:
        return
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
