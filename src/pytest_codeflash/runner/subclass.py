"""Calls through a subclass, for class methods and constructors.

Runs inside the runner process, after the captured calls were replayed.  A rewrite of a
class method that builds ``Point(x, y)`` where the original built ``cls(x, y)`` agrees on
every call through ``Point`` itself and differs on every call through a subclass; so does
a ``__new__`` that hard-codes its class, or an ``__init__`` that stops asking
``type(self)``.  For such targets a few captured calls are compared once more with the
class (or the instance's class) replaced by a subclass made for the purpose: on each side
a subclass of that side's own class, with the same module and qualified name, so the
comparison sees which class a result belongs to.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from .calls import Args, load_args
from .differential import Differential

__all__ = ["check_subclass_calls"]

MAX_CALLS = 4
"""Captured calls compared through a subclass."""


def check_subclass_calls(differential: Differential, inputs: list[bytes]) -> None:
    """Compare a few of the captured ``inputs`` again, called through a subclass, if the
    target is a class method, ``__new__`` or ``__init__`` (nothing happens otherwise)."""
    before = len(differential.tally.differences)
    for index, data in enumerate(inputs[:MAX_CALLS]):
        try:
            args = load_args(data, differential.module_name, differential.candidate.module)
        except Exception:
            continue
        owner = _owner(differential, args)
        if owner is None:
            return
        with _subclasses(differential, owner) as subclass:
            if subclass is None:
                return
            first = args[0][0]
            if isinstance(first, type):
                first = subclass
            else:
                try:
                    first.__class__ = subclass  # a fresh copy: the input was just unpickled
                except TypeError:
                    return
            differential.current_test = (
                f"a call through a subclass of {owner.__qualname__} (captured call #{index})"
            )
            differential.check(((first, *args[0][1:]), args[1]))
        if len(differential.tally.differences) > before:
            return


def _owner(differential: Differential, args: Args) -> type | None:
    """The class the call goes through, if the target is one whose result depends on it."""
    if not args[0]:
        return None
    first = args[0][0]
    name = getattr(differential.candidate.function, "__name__", "")
    if isinstance(first, type) and (differential.is_method or name == "__new__"):
        owner = first  # a class method, or __new__
    elif name == "__init__" and differential.is_method:
        owner = type(first)
    else:
        return None
    return owner if owner.__module__ == differential.module_name else None


@contextlib.contextmanager
def _subclasses(differential: Differential, owner: type) -> Iterator[type | None]:
    """A subclass of ``owner`` on each side, reachable by pickle (as an attribute of its
    base: each side's copy of the inputs resolves it in its own module); ``None`` if the
    class cannot be subclassed."""
    name = f"{owner.__name__}_codeflash_subclass"
    twin = _resolve(differential.original.module, owner.__qualname__)
    made: list[type] = []
    try:
        for base in (owner, twin):
            if not isinstance(base, type):
                raise TypeError("the original module has no such class")
            namespace = {
                "__module__": base.__module__,
                "__qualname__": f"{base.__qualname__}.{name}",
                "__slots__": (),  # the base's layout: an instance's class can be swapped
            }
            subclass = type(base)(name, (base,), namespace)
            setattr(base, name, subclass)
            made.append(base)
    except Exception:
        for base in made:
            delattr(base, name)
        yield None
        return
    try:
        yield getattr(owner, name)  # type: ignore[no-any-return]
    finally:
        for base in made:
            with contextlib.suppress(Exception):
                delattr(base, name)


def _resolve(module: Any, qualname: str) -> Any:
    found = module
    for part in qualname.split("."):
        found = getattr(found, part, None)
    return found
