"""A call's inputs through pickle: each side's classes, the sentinels, shared values.

Inputs are pickled with the target module's classes redirected, when loaded, to the module
object that receives them (the original's private copy or the candidate's), so each side
sees instances of its own classes; a module's ``object()`` sentinels stay themselves; a
list or dict subclass that keeps its items elsewhere pickles by its own storage; a
``re.Match`` pickles as the search that finds it again.  When pickle refuses a value that
``copy.deepcopy`` would share anyway, :func:`clone_sharing` keeps it by reference and
pickles the rest; inputs kept for replay in other runs keep a test's own functions by
value (:func:`dump_stored`).  See :mod:`.calls` for the rest of a call's observation.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import io
import pickle
import re
import sys
import types
from typing import Any

from .foreign import found_in, twin_class
from .outcomes import Outcome

Args = tuple[tuple[Any, ...], dict[str, Any]]


class _RedirectUnpickler(pickle.Unpickler):
    def __init__(self, data: bytes, module_name: str, module: types.ModuleType) -> None:
        super().__init__(io.BytesIO(data))
        self._name = module_name
        self._module = module

    def find_class(self, module: str, name: str) -> Any:
        if module == self._name:
            obj: Any = self._module
            for part in name.split("."):
                obj = getattr(obj, part)
            return obj
        return twin_class(super().find_class(module, name), self._name, self._module)


def dump_args(args: Args) -> bytes:
    """Serialise a call's inputs (raises on unpicklable values)."""
    buffer = io.BytesIO()
    _ArgsPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(args)
    return buffer.getvalue()


def dump_stored(args: Args, module_name: str) -> bytes:
    """Serialise a call's inputs to keep them for replay in other runs: as
    :func:`dump_args`, or else with functions and classes that pickle cannot find by name
    (a test's lambda, nested function or class) kept by value, with ``cloudpickle``; not
    those of the target module ``module_name`` (each side must run its own).  Raises on
    values neither can pickle."""
    try:
        return dump_args(args)
    except Exception:
        pass
    buffer = io.BytesIO()
    _by_value_pickler()(buffer, module_name).dump(args)
    return buffer.getvalue()


@functools.cache
def _by_value_pickler() -> Any:
    import cloudpickle

    class ByValuePickler(cloudpickle.Pickler):  # type: ignore[misc]
        def __init__(self, buffer: io.BytesIO, module_name: str) -> None:
            super().__init__(buffer, protocol=pickle.HIGHEST_PROTOCOL)
            self._module_name = module_name

        def reducer_override(self, obj: Any) -> Any:
            if (
                getattr(obj, "__module__", None) == self._module_name
                and isinstance(obj, (type, types.FunctionType))
                and not _found_by_name(obj)
            ):
                raise pickle.PicklingError(f"{obj!r} of the target's module, by value")
            found = _ArgsPickler.reducer_override(self, obj)  # type: ignore[arg-type]
            return super().reducer_override(obj) if found is NotImplemented else found

    return ByValuePickler


_DEFAULT_REDUCTION: tuple[object, ...] = (object.__reduce_ex__, object.__reduce__)


# The target module's ``object()`` sentinels (``_MISSING = object()``), by id: the
# original's twin shares them with the real module (see ``overlay.share_sentinels``), and
# pickles and copies of values keep them as they are, since identity is all they have.
SENTINELS: dict[int, tuple[str, str, object]] = {}


def memo(replace: dict[int, Any] | None = None) -> dict[int, Any]:
    """A ``copy.deepcopy`` memo that keeps the sentinels (and replaces what ``replace``
    names)."""
    memo: dict[int, Any] = {key: known[2] for key, known in SENTINELS.items()}
    if replace:
        memo.update(replace)
    return memo


def _sentinel(module: str, name: str) -> object:
    """A sentinel, unpickled: the module's own object."""
    return getattr(sys.modules[module], name)


# The target's module: its values are each side's own, never kept by reference (see
# ``overlay.share_sentinels``, which adds it).
LOCAL_MODULES: set[str] = set()
_IMMUTABLE_BASES = (tuple, frozenset, str, bytes, int, float, complex)
_CONSTANTS: dict[int, tuple[str, str]] = {}  # id -> (module, name), see _constant_name
_SCANNED: set[str] = set()  # the modules whose constants are in _CONSTANTS


_CONSTANT_KINDS: dict[type, bool] = {}  # see _is_constant_kind: asked of every value pickled


def _is_constant_kind(kind: type) -> bool:
    """Instances of a subclass of an immutable built-in (sqlparse's token types are tuples)
    or of a frozen dataclass: values whose identity may be what the code checks."""
    try:
        known = _CONSTANT_KINDS.get(kind)
    except TypeError:  # a metaclass without __hash__: asked again each time
        known = None
    if known is None:
        if issubclass(kind, _IMMUTABLE_BASES):
            known = kind not in _IMMUTABLE_BASES and kind is not bool
        else:
            known = bool(getattr(getattr(kind, "__dataclass_params__", None), "frozen", False))
        with contextlib.suppress(TypeError):
            _CONSTANT_KINDS[kind] = known
    return known


def _constant_name(obj: object) -> tuple[str, str] | None:
    """The module and name of ``obj`` if it is an immutable constant of another module than
    the target's: such a value is kept as itself, since code compares it with ``is``
    (``ttype is T.Keyword.DDL``) and a copy would be another object."""
    found = _CONSTANTS.get(id(obj))
    if found is None and len(sys.modules) != len(_SCANNED):
        for module_name, module in list(sys.modules.items()):
            if module_name in _SCANNED:
                continue
            _SCANNED.add(module_name)
            names = getattr(module, "__dict__", None)
            if module_name in LOCAL_MODULES or not isinstance(names, dict):
                continue
            for name, value in list(names.items()):
                if _is_constant_kind(type(value)):
                    _CONSTANTS.setdefault(id(value), (module_name, name))
        found = _CONSTANTS.get(id(obj))
    if found is None or getattr(sys.modules.get(found[0]), found[1], None) is not obj:
        return None  # none, or an id that an object since collected had
    return found


def _module_constant(module: str, name: str) -> object:
    """A module's constant, unpickled: the module's own object."""
    return getattr(importlib.import_module(module), name)


class _ArgsPickler(pickle.Pickler):
    """Pickles a ``re.Match`` as the search that finds it again, a module's sentinel and
    another module's immutable constant as themselves, and a list or dict subclass that
    overrides how items are added or listed by its own storage and attributes, never
    through those methods.

    The usual reduction lists the items with the subclass's ``__iter__`` and adds them back
    with its ``extend``: a class keeping its items elsewhere (boltons' ``BarrelList`` keeps
    them in ``self.lists``) fails to load, or comes back with every item twice.
    """

    def reducer_override(self, obj: Any) -> Any:
        kind = type(obj)
        if kind is re.Match:  # a callback's argument (re.sub's repl, a parser's converter)
            found = (obj.re, obj.string, obj.pos, obj.endpos, obj.regs)
            _rebuild_match(*found)  # raises if it cannot be found again: not pickled
            return (_rebuild_match, found)
        if kind is object:
            known = SENTINELS.get(id(obj))
            return (_sentinel, known[:2]) if known is not None else NotImplemented
        if _is_constant_kind(kind):
            name = _constant_name(obj)
            if name is not None:
                return (_module_constant, name)
        base = list if isinstance(obj, list) else dict if isinstance(obj, dict) else None
        if base is None or kind is base or isinstance(obj, type):
            return NotImplemented
        own: tuple[object, ...] = (kind.__reduce_ex__, kind.__reduce__)
        if own != _DEFAULT_REDUCTION:
            return NotImplemented  # its own reduction: trusted
        names = (
            ("__iter__", "extend", "append")
            if base is list
            else ("__iter__", "items", "update", "__setitem__")
        )
        if all(getattr(kind, name) is getattr(base, name) for name in names):
            return NotImplemented
        state = obj.__reduce_ex__(pickle.HIGHEST_PROTOCOL)[2]
        items = list(list.__iter__(obj)) if base is list else dict(dict.items(obj))
        return (_rebuild_subclass, (kind, items), state)


def _rebuild_match(
    pattern: re.Pattern[Any], string: Any, pos: int, endpos: int, regs: tuple[Any, ...]
) -> re.Match[Any]:
    """The ``re.Match`` that ``search``, ``match`` or ``fullmatch`` of ``pattern`` over
    ``string[pos:endpos]`` finds with these groups' spans; none does (a match ``finditer``
    found after the first, say): it cannot be pickled."""
    for find in (pattern.search, pattern.match, pattern.fullmatch):
        found = find(string, pos, endpos)
        if found is not None and found.regs == regs:
            return found
    raise ValueError(f"no search of {pattern.pattern!r} finds the match at {regs[0]}")


def _rebuild_subclass(kind: type, items: Any) -> Any:
    """A list or dict subclass with ``items`` in its own storage (see :class:`_ArgsPickler`)."""
    obj = kind.__new__(kind)  # type: ignore[call-overload]
    (list.extend if isinstance(obj, list) else dict.update)(obj, items)  # type: ignore[operator]
    return obj


def load_args(data: bytes, module_name: str, module: types.ModuleType) -> Args:
    """Deserialise inputs, resolving classes of ``module_name`` in ``module``."""
    loaded = _RedirectUnpickler(data, module_name, module).load()
    args, kwargs = loaded
    return tuple(args), dict(kwargs)


def load_outcome(data: bytes, module_name: str, module: types.ModuleType) -> Outcome:
    """Deserialise a stored :class:`Outcome`, resolving classes of ``module_name`` in ``module``."""
    loaded = _RedirectUnpickler(data, module_name, module).load()
    if not isinstance(loaded, Outcome):
        raise TypeError(f"expected a stored Outcome, found {type(loaded).__name__}")
    return loaded


class _SharingPickler(_ArgsPickler):
    """Keeps by reference the values pickle refuses and ``copy.deepcopy`` shares: functions
    defined outside ``module_name`` that pickle cannot find by name (a test's lambda or
    nested function; deepcopy never copies a function), and objects whose own
    ``__deepcopy__`` is built in and returns the object itself (a ``re.Match`` that cannot
    be found again)."""

    def __init__(self, buffer: io.BytesIO, module_name: str, shared: list[object]) -> None:
        super().__init__(buffer, protocol=pickle.HIGHEST_PROTOCOL)
        self._module_name = module_name
        self._shared = shared

    def persistent_id(self, obj: Any) -> int | None:
        if isinstance(obj, types.FunctionType):
            if obj.__module__ == self._module_name or _found_by_name(obj):
                return None
        elif not _shared_by_deepcopy(type(obj), obj):
            return None
        self._shared.append(obj)
        return len(self._shared) - 1


class _SharingUnpickler(_RedirectUnpickler):
    def __init__(
        self, data: bytes, module_name: str, module: types.ModuleType, shared: list[object]
    ) -> None:
        super().__init__(data, module_name, module)
        self._shared = shared

    def persistent_load(self, pid: Any) -> Any:
        return self._shared[pid]


def clone_sharing(args: Args, module_name: str, module: types.ModuleType) -> Args:
    """A clone through :class:`_SharingPickler` (see :func:`clone_args`)."""
    buffer, shared = io.BytesIO(), list[object]()
    _SharingPickler(buffer, module_name, shared).dump(args)
    positional, keywords = _SharingUnpickler(buffer.getvalue(), module_name, module, shared).load()
    return tuple(positional), dict(keywords)


def _found_by_name(function: types.FunctionType | type) -> bool:
    """Whether pickle can store ``function`` (or a class) by reference: its module and
    qualified name find it."""
    return found_in(sys.modules.get(function.__module__), function.__qualname__) is function


_SHARED_KINDS: dict[type, bool] = {}


def _shared_by_deepcopy(kind: type, obj: object) -> bool:
    """Whether ``obj``'s type is built in, cannot be pickled, and copies by returning the
    object itself (learnt from the first such object, per type)."""
    known = _SHARED_KINDS.get(kind)
    if known is None:
        own: Any = kind.__dict__.get("__deepcopy__")
        known = isinstance(own, types.MethodDescriptorType) and "__reduce__" not in kind.__dict__
        if known:
            try:
                obj.__reduce_ex__(pickle.HIGHEST_PROTOCOL)
                known = False  # it pickles: pickle copies it
            except Exception:
                known = own(obj, {}) is obj
        _SHARED_KINDS[kind] = known
    return known
