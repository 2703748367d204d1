"""Whether the copy of a call's inputs that the original runs on is that call's inputs.

Runs inside the runner process.  Each compared call runs the original on a copy of its
inputs (pickled, with the target module's classes resolved in the original's private copy
of the module) and the candidate on the caller's own.  Three things make the copy another
call, and any difference then the copy's doing, not the candidate's:

- the inputs' own copying leaves state out: a ``__reduce__`` or ``__copy__`` that starts
  an object afresh (cachetools' timer forgets that a ``with`` block holds it, so the
  original ran as if outside it);
- an argument, or ``self``, could only be copied with ``copy.deepcopy`` (pickle refused a
  part of it, a lambda), which keeps the candidate's classes: the original's run would
  call the candidate's methods, and its zero-argument ``super()`` raises TypeError;
- ``self`` (or ``cls``) is of a subclass defined outside the target module (a test's own
  subclass) that has no twin on the original's classes (see :mod:`.foreign`: its methods
  use ``super()``, or pickle could not find it): its base is the candidate's copy of the
  module's class, so the original's method would get an instance of a class that is not
  its own.

Only the arguments themselves are looked at, not the objects inside them, and the
comparison of the copy with the call stops after ``MAX_NODES`` values (a large container:
then the call is compared as before), so that it costs a compared call little.

Such a call is not compared: it runs the candidate only, and is counted with the calls
whose inputs cannot be copied (:class:`~.calls.Uncopyable`).
"""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType
from typing import Any

from .calls import Args, Uncopyable, _Replayable
from .compare import _Comparer, _room_to_recurse
from .mismatch import Mismatch, Unverifiable

__all__ = ["check_copy", "unfaithful_copy"]

MAX_NODES = 5_000
"""Values compared between a call's inputs and their copy, at most (see the module's text)."""


def unfaithful_copy(
    args: Args, copied: Args, original: ModuleType, candidate: ModuleType, is_method: bool
) -> str | None:
    """Why ``copied`` is not the call ``args`` for the ``original`` module's function (the
    twin of ``candidate``'s), or ``None`` if it is (or the comparison cannot tell: then the
    call is compared as before)."""
    pairs = list(_pairs(args, copied, is_method))
    for path, live, copy in pairs:
        wrong = _class_of_copy(path, live, copy, original, candidate)
        if wrong:
            return wrong
    comparer = _Bounded()
    with _room_to_recurse():
        for path, live, copy in pairs:
            try:
                mismatch = comparer.node(copy, live, path, 0)
            except Unverifiable:
                continue
            if mismatch is not None:
                where = mismatch.path.lstrip(".") or path
                return (
                    f"the original's copy of the inputs differs from them at {where} "
                    f"({mismatch.expected} in the copy, {mismatch.actual} in the call): "
                    "their own copying leaves state out"
                )
    return None


def check_copy(
    args: Args, copied: Args, original: ModuleType, candidate: ModuleType, is_method: bool
) -> None:
    """Raise :class:`~.calls.Uncopyable` if ``copied`` is not the call ``args``."""
    why = unfaithful_copy(args, copied, original, candidate, is_method)
    if why:
        raise Uncopyable(why)


def _class_of_copy(
    path: str, live: Any, copy: Any, original: ModuleType, candidate: ModuleType
) -> str:
    """Why the copy at ``path`` is not of the original module's own class, or ``""``.

    A class of the target module has a twin in the original's copy of the module, and the
    copy of an instance must be of the twin: one that kept the candidate's class (copied
    with ``copy.deepcopy``, which pickle could not do) would run the candidate's methods
    inside the original's run.  A class defined elsewhere on a base of the module (a test's
    own subclass) is copied as a twin on the original's classes (see :mod:`.foreign`); on
    ``self``, a copy that is not (no twin could be made) gives the original's method an
    instance of a class that is not its own.
    """
    module_name = candidate.__name__
    is_class = isinstance(live, type)
    kind = live if is_class else type(live)
    copied_kind = copy if is_class else type(copy)
    if kind.__module__ != module_name:
        bases = [b for b in kind.__mro__[1:] if b.__module__ == module_name]
        if path != "self" or not bases:
            return ""
        if _resolve(original, bases[0].__qualname__) in copied_kind.__mro__:
            return ""  # a twin on the original's classes (see .foreign)
        return (
            f"self is a {kind.__module__}.{kind.__qualname__}, a subclass of a class of "
            f"{module_name} defined outside it: the original's copy of the module cannot "
            "run its methods on it"
        )
    twin, own = _resolve(original, kind.__qualname__), _resolve(candidate, kind.__qualname__)
    if not isinstance(twin, type) or twin is own or copied_kind is not own:
        return ""
    return (
        f"the copy of {path} is still of the candidate's {kind.__qualname__}, not of the "
        "original's own: it could only be copied with copy.deepcopy"
    )


class _Bounded(_Comparer):
    """A comparison of the copy with the call that gives up after ``MAX_NODES`` values."""

    def __init__(self) -> None:
        super().__init__(0.0, None)
        self.left = MAX_NODES

    def node(self, e: object, a: object, path: str, depth: int) -> Mismatch | None:
        self.left -= 1
        if self.left < 0:
            raise Unverifiable("too many values to compare with their copy")
        return super().node(e, a, path, depth)


def _resolve(module: ModuleType, qualname: str) -> Any:
    found: Any = module
    for part in qualname.split("."):
        found = getattr(found, part, None)
    return found


def _pairs(args: Args, copied: Args, is_method: bool) -> Iterator[tuple[str, Any, Any]]:
    """(path, the caller's value, its copy) for each argument, iterators left out."""
    for index, (live, copy) in enumerate(zip(args[0], copied[0], strict=False)):
        if not isinstance(live, _Replayable):
            yield ("self" if is_method and index == 0 else f"args[{index}]"), live, copy
    for name, live in args[1].items():
        if not isinstance(live, _Replayable) and name in copied[1]:
            yield f"kwargs[{name!r}]", live, copied[1][name]
