"""Large arguments and instances compared by their pickled bytes before node by node.

Runs inside the runner process.  Comparing a method's ``self`` after each call walks every
element of it in Python: a 100,000-item container costs tens of milliseconds per
comparison, three comparisons per call.  Pickled (in C) the same state is a byte string,
and two equal byte strings mean equal values: the same types, the same numbers bit for
bit, the same order, the same sharing of parts.  So a large value whose bytes match both
sides' is equal; anything else (bytes that differ, a value that does not pickle, or one
whose pickled form may leave state out) is compared exactly, node by node, as before, so
a difference is still found and described.
"""

from __future__ import annotations

import functools
import io
import itertools
import pickle
import types
from typing import Any

from .compare import _function_state

LARGE = 1000
"""Elements (counted roughly, see :func:`rough_size`) from which a value is digested first."""
_TRUSTED = frozenset(
    {"builtins", "collections", "datetime", "decimal", "fractions", "array", "numpy", "uuid"}
)
"""Modules whose classes pickle their whole state: their own reduction is trusted."""
_DEFAULT_REDUCTION = (
    object.__reduce_ex__,
    object.__reduce__,
    getattr(object, "__getstate__", None),
)


class _Opaque(Exception):
    """The value's pickled form might leave part of its state out."""


class _DigestPickler(pickle.Pickler):
    """Pickles classes and functions by name, so the original's private module and the
    candidate's agree."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, type):
            return (_by_name, (obj.__module__, obj.__qualname__))
        kind = type(obj)
        if kind is types.FunctionType and obj is not _by_name:
            # By name, as the comparison takes it, with what it also compares: defaults and
            # closure.  A lambda or a function made in a call is compared by its code.
            if "<" in obj.__qualname__ or not isinstance(obj.__module__, str):
                raise _Opaque(obj.__qualname__)
            return (_by_name, (obj.__module__, obj.__qualname__, *_function_state(obj)))
        if kind.__module__.partition(".")[0] in _TRUSTED or kind is functools.partial:
            return NotImplemented  # (a partial's reduction is its whole state)
        own: tuple[object, ...] = (
            kind.__reduce_ex__,
            kind.__reduce__,
            getattr(kind, "__getstate__", None),
        )
        if own != _DEFAULT_REDUCTION:
            raise _Opaque(kind.__qualname__)
        return NotImplemented


def _by_name(module: str, qualname: str, *state: object) -> str:  # pragma: no cover
    return f"{module}.{qualname}"  # never unpickled


def rough_size(value: object, limit: int = LARGE) -> int:
    """The number of elements in ``value`` two levels deep, counted up to about ``limit``."""
    total = 0
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack and total < limit:
        item, depth = stack.pop()
        state = getattr(item, "__dict__", None) if not isinstance(item, type) else None
        if isinstance(state, dict):
            item = state
        if isinstance(item, (str, bytes)) or not hasattr(item, "__len__"):
            continue
        try:
            total += len(item)  # type: ignore[arg-type]
        except Exception:
            continue
        if depth < 2 and isinstance(item, (list, tuple, dict)):
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in itertools.islice(children, 64))
    return total


def digest(value: object) -> bytes | None:
    """``value`` pickled with classes by name; ``None`` if it cannot be, or not faithfully."""
    buffer = io.BytesIO()
    try:
        _DigestPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    except Exception:
        return None
    return buffer.getvalue()


def same_large(expected: object, actual: object) -> bool:
    """Whether two large values are certainly equal by their bytes; ``False`` when unsure
    (small values are never digested: comparing them node by node costs little)."""
    return rough_size(expected) >= LARGE and same_bytes(expected, actual)


def same_bytes(expected: object, actual: object) -> bool:
    """Whether two values are certainly equal by their bytes, whatever their size;
    ``False`` when unsure."""
    data = digest(expected)
    return data is not None and data == digest(actual)
