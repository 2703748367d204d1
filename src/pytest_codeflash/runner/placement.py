"""Where the target lives in its module, and how the runner swaps it for its wrapper.

Runs inside the runner process: standard library only.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable
from typing import Any

__all__ = ["find_function", "install", "plain"]


def find_function(module: types.ModuleType, qualname: str) -> tuple[Any, str, Callable[..., Any]]:
    """The object holding the target, the attribute name, and the plain function."""
    owner: Any = module
    parts = qualname.split(".")
    for part in parts[:-1]:
        owner = getattr(owner, part)
    name = parts[-1]
    raw = inspect.getattr_static(owner, name)
    return owner, name, raw


def install(owner: Any, name: str, raw: Any, replacement: Callable[..., Any]) -> None:
    """Put ``replacement`` where ``raw`` was, keeping static/class-method wrappers."""
    if isinstance(raw, staticmethod):
        setattr(owner, name, staticmethod(replacement))
    elif isinstance(raw, classmethod):
        setattr(owner, name, classmethod(replacement))
    else:
        setattr(owner, name, replacement)


def plain(raw: Any) -> Callable[..., Any]:
    """The callable behind a static or class method; the function itself otherwise."""
    if isinstance(raw, (staticmethod, classmethod)):
        return raw.__func__  # type: ignore[no-any-return]
    return raw  # type: ignore[no-any-return]
