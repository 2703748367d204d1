"""A difference between two values, described for people: the leaf of the comparator.

Runs inside the isolated runner: standard library only.  :mod:`.compare` walks the values;
this module holds what it reports (:class:`Mismatch`, :class:`Unverifiable`) and how values
are shown (:func:`short_repr`), so that :mod:`.compare_arrays` and :mod:`.outcomes` can use
them without depending on the walker.
"""

from __future__ import annotations

import functools
import reprlib
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = [
    "Comparer",
    "Mismatch",
    "Unverifiable",
    "at",
    "differ",
    "full_name",
    "short_repr",
    "text_differ",
    "type_name",
]


class Comparer(Protocol):
    """What a type-specific comparison needs of the walker: its tolerance and recursion."""

    rel_tol: float

    def node(self, e: object, a: object, path: str, depth: int) -> Mismatch | None: ...


class Unverifiable(Exception):
    """A value cannot be compared; the message says which value and why."""


@dataclass(frozen=True)
class Mismatch:
    """The first place where the two values differ."""

    path: str  # "" for the root, then like "[0]", "['key']", ".attr", "[0].x"
    expected: str  # short repr of the original's value at that path
    actual: str  # short repr of the candidate's value at that path
    detail: str  # one phrase: "type list != tuple", "values differ", "length 3 != 4", ...

    def describe(self) -> str:
        """Say where and how the values differ, in one line."""
        where = f"{at(self.path)[1:]}: " if self.path else ""
        return f"{where}expected {self.expected}, got {self.actual} ({self.detail})"


def short_repr(value: object, limit: int = 80) -> str:
    """Return a repr of ``value`` at most ``limit`` characters long; never raise."""
    try:
        text = _repr_for(limit).repr(value)
    except Exception:  # a broken __repr__, an int too long to print, ...
        text = f"<unreprable {type_name(type(value))}>"
    if len(text) <= limit or limit < 5:
        return text[: max(limit, 1)]
    keep = limit - 3
    return text[: (keep + 1) // 2] + "..." + text[len(text) - keep // 2 :]


@functools.lru_cache(maxsize=8)
def _repr_for(limit: int) -> reprlib.Repr:
    shown = reprlib.Repr()
    shown.maxstring = shown.maxother = max(limit, 20)
    return shown


def type_name(tp: type) -> str:
    return getattr(tp, "__qualname__", None) or str(tp)


def full_name(tp: type) -> str:
    module = getattr(tp, "__module__", None)
    return type_name(tp) if module in (None, "builtins") else f"{module}.{type_name(tp)}"


def at(path: str) -> str:
    """`` at PATH`` for messages, with the middle of a very long path left out."""
    if len(path) > 80:
        path = f"{path[:30]}...{path[-47:]}"
    return f" at {path}" if path else ""


def differ(path: str, expected: object, actual: object, detail: str) -> Mismatch:
    return Mismatch(path, short_repr(expected), short_repr(actual), detail)


def text_differ(path: str, e: Any, a: Any) -> Mismatch:
    """Point at the first differing character, showing the text around it if long."""
    i = next((i for i, (x, y) in enumerate(zip(e, a, strict=False)) if x != y), min(len(e), len(a)))
    detail = f"first difference at index {i}"
    if len(e) != len(a):
        detail += f", length {len(e)} != {len(a)}"
    if max(len(e), len(a)) <= 60:
        return differ(path, e, a, detail)
    start = max(i - 20, 0)
    shown = [("..." if start else "") + short_repr(v[start : start + 50], 60) for v in (e, a)]
    return Mismatch(path, shown[0], shown[1], detail)


def describe_input(args: tuple[tuple[Any, ...], dict[str, Any]], is_method: bool) -> str:
    """A call's inputs in one short line (``self`` left out), for messages."""
    positional, keywords = args
    shown = positional[1:] if is_method else positional
    parts = [short_repr(a, 40) for a in shown]
    parts += [f"{k}={short_repr(v, 40)}" for k, v in keywords.items()]
    return short_repr_join(parts)


def short_repr_join(parts: list[str], limit: int = 120) -> str:
    """``(a, b, ...)``, cut to ``limit`` characters."""
    text = "(" + ", ".join(parts) + ")"
    return text if len(text) <= limit else text[: limit - 4] + "...)"
