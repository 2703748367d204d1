"""What a type tells about comparing its values: whether its ``__eq__`` can be trusted,
where its state lives, how it pickles, and when two classes are the same class twice (each
side of a comparison runs its own copy of the target's module)."""

from __future__ import annotations

import re
import sys
import types
import warnings
from typing import Any

from .mismatch import type_name

__all__ = [
    "OWN_RULES",
    "explained_layout",
    "has_state",
    "qualified",
    "reduced",
    "same_code",
    "same_type",
    "slot_names",
    "trusts_eq",
    "type_names",
]

_HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: set for classes made by a class statement
_POINTER = 8 if sys.maxsize > 2**32 else 4
# Types whose __eq__ is too lax for us (1 == 1.0 inside containers): our own rules apply.
OWN_RULES = frozenset(
    {list, tuple, dict, set, frozenset, str, bytes, bytearray, types.MappingProxyType}
)
_LAX_EQ_MODULES = frozenset({"collections", "collections.abc", "types"})
_STATE_BASES = frozenset({object, types.SimpleNamespace})  # state all in __dict__


def reduced(value: object) -> tuple[Any, ...] | None:
    """What a type written in C gives pickle to rebuild ``value``, when it has its own way:
    the callable and arguments that make it again."""
    kind = type(value)
    if isinstance(value, re.Match):  # no pickling; what finds it again (.calls) is its state
        return (kind, (value.re, value.string, value.pos, value.endpos, value.regs))
    own = [
        method
        for method in (kind.__reduce_ex__, kind.__reduce__)
        if method not in (object.__reduce_ex__, object.__reduce__)
    ]
    if not own or any(isinstance(method, types.FunctionType) for method in own):
        return None  # object's generic pickling, or a class's own Python code
    try:
        with warnings.catch_warnings():  # itertools' pickling is deprecated from 3.12 on
            warnings.simplefilter("ignore", DeprecationWarning)
            reduced = value.__reduce_ex__(4)
    except Exception:
        return None
    if not isinstance(reduced, tuple) or len(reduced) < 2:
        return None
    return reduced[:3]


def trusts_eq(tp: type) -> bool:
    """Whether ``tp``'s own (or a base's) ``__eq__`` decides equality for its instances."""
    for klass in tp.__mro__[:-1]:  # the last one is object
        if "__eq__" in vars(klass):
            return klass not in OWN_RULES and klass.__module__ not in _LAX_EQ_MODULES
    return False


def has_state(value: object) -> bool:
    return isinstance(getattr(value, "__dict__", None), dict) or bool(slot_names(type(value)))


def explained_layout(*classes: type) -> bool:
    """Whether every instance field of these classes is in ``__dict__`` or ``__slots__``.

    Classes written in C (a lock, a socket, ``io.StringIO``) keep state in hidden fields; a
    ``__dict__`` they may also have says nothing about it.  A class statement makes a heap
    type whose instances grow only by its slots (plus ``__dict__``/``__weakref__`` pointers).
    A class written in C whose instances are no larger than its base's (``datetime.tzinfo``,
    an abstract base) hides nothing.
    """
    for klass in {k for tp in classes for k in tp.__mro__}:
        if klass in _STATE_BASES:
            continue
        base = klass.__base__
        if base is None:
            return False
        if not klass.__flags__ & _HEAPTYPE:
            if (klass.__basicsize__, klass.__itemsize__) != (base.__basicsize__, base.__itemsize__):
                return False
            continue
        own = vars(klass).get("__slots__", ())
        slots = 1 if isinstance(own, str) else len(own)
        if klass.__basicsize__ - base.__basicsize__ > _POINTER * (slots + 2):
            return False
    return True


_SLOT_NAMES: dict[int, tuple[type, tuple[str, ...]]] = {}


def slot_names(tp: type) -> tuple[str, ...]:
    """The attribute names of every ``__slots__`` entry in ``tp``'s MRO, mangled (found
    once per class: a comparison asks for each object it meets)."""
    known = _SLOT_NAMES.get(id(tp))
    if known is None:  # the class is kept with its names: its id stays its own
        known = _SLOT_NAMES[id(tp)] = (tp, _find_slot_names(tp))
    return known[1]


def _find_slot_names(tp: type) -> tuple[str, ...]:
    names: list[str] = []
    for klass in tp.__mro__:
        own = vars(klass).get("__slots__", ())
        for name in (own,) if isinstance(own, str) else own:
            if name.startswith("__") and not name.endswith("__"):
                names.append(f"_{klass.__name__.lstrip('_')}{name}")
            elif name not in ("__dict__", "__weakref__"):
                names.append(name)
    return tuple(names)


def same_code(x: types.CodeType, y: types.CodeType) -> bool:
    """Whether two code objects do the same: bytecode, constants (nested code too), names."""
    if x.co_code != y.co_code or x.co_names != y.co_names or x.co_varnames != y.co_varnames:
        return False
    if len(x.co_consts) != len(y.co_consts):
        return False
    for a, b in zip(x.co_consts, y.co_consts, strict=True):
        if isinstance(a, types.CodeType) and isinstance(b, types.CodeType):
            if not same_code(a, b):
                return False
        elif type(a) is not type(b) or a != b:
            return False
    return True


def same_type(t1: type, t2: type) -> bool:
    return t1 is t2 or (t1.__module__ == t2.__module__ and t1.__qualname__ == t2.__qualname__)


def qualified(value: object) -> tuple[object, object]:
    return getattr(value, "__module__", None), getattr(value, "__qualname__", None)


def type_names(t1: type, t2: type) -> str:
    if type_name(t1) != type_name(t2):
        return f"{type_name(t1)} != {type_name(t2)}"
    return f"{t1.__module__}.{type_name(t1)} != {t2.__module__}.{type_name(t2)}"
