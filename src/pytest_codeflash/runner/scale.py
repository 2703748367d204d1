"""Inputs scaled up from the captured ones, to see speedups that small test inputs hide.

Runs inside the runner process.  An O(n^2) loop made O(n) barely shows on the five-element
lists unit tests use; the same call on 10x and 100x the data shows it plainly.  Only the
sizes of top-level lists, tuples, strings, bytes and dicts grow, with the captured elements
repeated (and dict keys made distinct), so the data keeps its shape and element types.
"""

from __future__ import annotations

from typing import Any

from .calls import Args

FACTORS = (10, 100)


def scaled(args: Args, factor: int, *, is_method: bool) -> Args | None:
    """``args`` with every top-level collection ``factor`` times larger; None if none grew."""
    positional, keywords = args
    grew = False

    def grow(value: Any) -> Any:
        nonlocal grew
        bigger = _grow(value, factor)
        if bigger is not value:
            grew = True
        return bigger

    head = positional[:1] if is_method else ()
    rest = positional[1:] if is_method else positional
    new_positional = tuple(head) + tuple(grow(v) for v in rest)
    new_keywords = {k: grow(v) for k, v in keywords.items()}
    return (new_positional, new_keywords) if grew else None


def _grow(value: Any, factor: int) -> Any:
    kind = type(value)
    if kind in (list, tuple, str, bytes) and len(value) > 0:
        return value * factor
    if kind is dict and value:
        return _grow_dict(value, factor)
    return value


def _grow_dict(value: dict[Any, Any], factor: int) -> Any:
    """Repeat the items under new keys of the same type (str or int keys only)."""
    keys = list(value)
    if all(type(k) is str for k in keys):
        return {(k if i == 0 else f"{k}~{i}"): v for i in range(factor) for k, v in value.items()}
    if all(type(k) is int for k in keys):
        span = max(keys) - min(keys) + 1
        return {k + i * span: v for i in range(factor) for k, v in value.items()}
    return value


def size_of(args: Args) -> int:
    """The total length of the top-level collections (to report what was timed)."""
    positional, keywords = args
    total = 0
    for value in (*positional, *keywords.values()):
        if type(value) in (list, tuple, str, bytes, dict):
            total += len(value)
    return total


__all__ = ["FACTORS", "scaled", "size_of"]
