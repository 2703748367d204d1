"""Subclasses defined outside the target module, on the original's side of a comparison.

Runs inside the runner process.  The original runs in a private copy of the target module,
with its own copy of each class (see :mod:`.overlay`), and the copies of a call's inputs
it runs on are made of those (see :func:`.calls.load_args`).  A class a test defines on a
base of the module (``class TestCache(LRUCache)``) has no copy there: its base is the
candidate's class, so the original's methods would get an instance of a class that is not
their own (a zero-argument ``super()`` raises TypeError, ``isinstance`` answers otherwise).

So the copies for the original are of a *twin* of such a class: the same name, module and
attributes, on the original's copies of its bases.  A class whose own methods use a
zero-argument ``super()`` (their ``__class__`` is the class itself, not its twin) gets no
twin; the call is then not compared (see :mod:`.fidelity`).
"""

from __future__ import annotations

import contextlib
import sys
import types
from collections.abc import Iterator
from typing import Any

__all__ = ["found_in", "reclass_copy", "twin_class"]

# (class, module) -> (class, twin, module): the twins made so far, kept alive with what they
# were made from, so that an id is never reused while its entry is here.
_TWINS: dict[tuple[int, int], tuple[type, type, types.ModuleType]] = {}


def twin_class(kind: Any, module_name: str, module: types.ModuleType) -> Any:
    """``kind``, or its twin on ``module``'s classes if ``kind`` is a class defined outside
    the module ``module_name`` on a base of it and ``module`` is a private copy of that
    module (not the one imported under its name)."""
    if (
        not isinstance(kind, type)
        or kind.__module__ == module_name
        or sys.modules.get(module_name) is module
        or not any(base.__module__ == module_name for base in kind.__mro__[1:])
    ):
        return kind
    key = (id(kind), id(module))
    made = _TWINS.get(key)
    if made is None:
        try:
            made = (kind, _make_twin(kind, module_name, module), module)
        except Exception:  # an unusual class: no twin, and the call is not compared
            made = (kind, kind, module)  # (see .fidelity); nor tried again
        _TWINS[key] = made
    return made[1]


def _make_twin(kind: type, module_name: str, module: types.ModuleType) -> type:
    namespace = dict(vars(kind))
    slots = namespace.get("__slots__", ())
    for name in ("__dict__", "__weakref__", *([slots] if isinstance(slots, str) else slots)):
        namespace.pop(name, None)
    for value in namespace.values():  # functions, and those inside descriptors
        for part in ("__func__", "fget", "fset", "fdel", ""):
            function = getattr(value, part, None) if part else value
            code = getattr(function, "__code__", None)
            if code is not None and "__class__" in code.co_freevars:
                raise TypeError(f"{kind.__qualname__} has a method that uses super()")
    bases = tuple(_base(base, module_name, module) for base in kind.__bases__)
    return type(kind)(kind.__name__, bases, namespace)


def _base(base: type, module_name: str, module: types.ModuleType) -> type:
    if base.__module__ != module_name:
        return twin_class(base, module_name, module)  # type: ignore[no-any-return]
    found: Any = module
    for part in base.__qualname__.split("."):
        found = getattr(found, part)
    if not isinstance(found, type):
        raise TypeError(f"{base.__qualname__} is not a class in the original's module")
    return found


MAX_RECLASSED_NODES = 10_000
"""Values :func:`reclass_copy` looks at, at most."""


def reclass_copy(copied: Any, live: Any, module_name: str, module: types.ModuleType) -> Any:
    """Give the instances of the module's classes in ``copied`` (a fresh ``copy.deepcopy``
    of ``live``) the class of the same name on ``module`` (the original's private copy), in
    place; return ``copied``.

    ``copy.deepcopy`` (the copy made when pickle refuses a value: schedule's jobs hold the
    test's ``Mock``) keeps each instance's class, the candidate's: the original's methods
    would run on objects of a class not their own.  Twin classes are made from one source,
    so assigning ``__class__`` is allowed; where it is not, or past ``MAX_RECLASSED_NODES``
    values, the instance keeps its class (and :mod:`.fidelity` leaves the call uncompared).
    What the copy shares with ``live`` (deepcopy shares functions and what copies itself as
    itself) is never changed.
    """
    if sys.modules.get(module_name) is module:
        return copied
    shared = {id(item) for item in _reachable(live)}
    for item in _reachable(copied):
        kind = type(item)
        if kind.__module__ != module_name or id(item) in shared:
            continue
        own = found_in(module, kind.__qualname__)
        if isinstance(own, type) and own is not kind:
            with contextlib.suppress(TypeError):
                item.__class__ = own
    return copied


def _reachable(value: Any) -> Iterator[Any]:
    """The values in ``value``'s containers and attributes, once each, up to a bound; not
    into functions, classes and modules (a copy shares them)."""
    seen: set[int] = set()
    stack = [value]
    while stack and len(seen) < MAX_RECLASSED_NODES:
        item = stack.pop()
        if id(item) in seen or isinstance(item, _OPAQUE):
            continue
        seen.add(id(item))
        yield item
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)
        state = getattr(item, "__dict__", None)
        if isinstance(state, dict):
            stack.extend(state.values())


_OPAQUE = (str, bytes, int, float, type, types.FunctionType, types.MethodType, types.ModuleType)


def found_in(module: types.ModuleType | None, qualname: str) -> Any:
    """What ``qualname`` (dotted) names in ``module``; ``None`` if nothing does."""
    found: Any = module
    for part in qualname.split("."):
        found = getattr(found, part, None)
    return found
