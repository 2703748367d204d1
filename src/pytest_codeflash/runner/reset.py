"""Put a module's state back before every timed batch, so no cache carries over.

Runs inside the runner process.  Timing calls a function thousands of times; a cache the
candidate keeps (``functools.lru_cache``, a dict in a module global, a mutable default
argument, a closure's variable, a function or class attribute) would make every call after
the first nearly free and the speed-up a lie.  :class:`StateReset` snapshots all of those
when timing starts, restores them before each batch, and clears ``lru_cache``s;
:meth:`StateReset.detects_state` tells whether calls leave state behind.
"""

from __future__ import annotations

import contextlib
import types
from typing import Any

from .calls import _IMMUTABLE
from .timing import MakeThunks


class StateReset:
    """Put both modules back to their state at the start of timing, before every batch."""

    def __init__(self, modules: list[types.ModuleType]) -> None:
        from .calls import data_globals, snapshot

        self.modules = modules
        self.saved = [{name: snapshot(vars(m)[name]) for name in data_globals(m)} for m in modules]
        self.hidden = [slot for module in modules for slot in _hidden_state(module)]
        self.hidden_saved = [snapshot(slot.get()) for slot in self.hidden]
        self.frozen: dict[int, object] = {}  # by id, and kept alive here: see reset()
        frozen_parts(
            [*(v for saved in self.saved for v in saved.values()), *self.hidden_saved], self.frozen
        )

    def reset(self) -> None:
        """Put every saved value back, as a fresh copy of its mutable parts.  The parts of
        it that cannot change (tuples, named tuples and frozensets of such) are shared, not
        rebuilt: before every timed batch, a module's tables of named tuples (tabulate's
        formats) cost more than the batch."""
        from .calls import snapshot

        frozen = self.frozen
        for module, saved in zip(self.modules, self.saved, strict=False):
            namespace = vars(module)
            for name, value in saved.items():
                namespace[name] = snapshot(value, frozen)
            for value in list(namespace.values()):
                _clear_caches(value)
        for slot, value in zip(self.hidden, self.hidden_saved, strict=True):
            slot.put(snapshot(value, frozen))

    def fingerprint(self) -> list[Any]:
        marks: list[Any] = []
        for module in self.modules:
            for name, value in vars(module).items():
                info = getattr(value, "cache_info", None)
                if callable(info):
                    marks.append((name, info().currsize))
                elif hasattr(value, "__len__") and not isinstance(value, type):
                    try:
                        marks.append((name, len(value)))
                    except Exception:
                        continue
        for index, slot in enumerate(self.hidden):
            with contextlib.suppress(Exception):
                marks.append((index, len(slot.get())))
        return marks

    def candidate_fills(self, pairs: list[tuple[MakeThunks, MakeThunks]]) -> bool:
        """From this state, whether the candidate keeps a memo of its inputs: its calls
        leave state behind that grows with each new input, and the original's never do.
        A table built once on the first call (it grows on one input only, of several) is
        set-up, not a memo.  The state is put back."""
        try:
            for make_original, _ in pairs[:3]:
                if _fills(self, make_original):
                    return False
            self.reset()
            grew = 0
            for _, make_candidate in pairs[:3]:  # in a row: a memo grows at each input
                before = self.fingerprint()
                with contextlib.suppress(Exception):
                    make_candidate(1)[0]()
                grew += self.fingerprint() != before
            return grew >= min(2, len(pairs[:3]))
        finally:
            self.reset()

    def detects_state(
        self, pairs: list[tuple[MakeThunks, MakeThunks]], cold: StateReset | None = None
    ) -> bool:
        """Whether a call leaves state behind that would make the next call cheaper.

        ``cold`` is the modules' state when they were imported.  The checks before timing
        have already filled a cache the candidate keeps (a dict in a module global or a
        class attribute), so from this state its calls change nothing, and the cache would
        be timed warm.  So first the calls start from ``cold``: if the candidate's leave
        state behind there and the original's do not, the candidate caches, and every
        reset from then on goes back to ``cold``.
        """
        if cold is not None and cold.candidate_fills(pairs):
            self.modules, self.saved = cold.modules, cold.saved
            self.hidden, self.hidden_saved = cold.hidden, cold.hidden_saved
            self.frozen = cold.frozen
            self.reset()
            return True
        found = any(_fills(self, make) for pair in pairs[:3] for make in pair)
        self.reset()
        return found


def _fills(reset: StateReset, make: MakeThunks) -> bool:
    """Whether one call, from ``reset``'s state, changes it."""
    reset.reset()
    before = reset.fingerprint()
    with contextlib.suppress(Exception):
        make(1)[0]()
    return reset.fingerprint() != before


# Values that copies share: calls.snapshot's immutables, and functions and classes, which
# ``copy.deepcopy`` keeps too.
_FROZEN_ATOMS = frozenset({*_IMMUTABLE, types.FunctionType, types.BuiltinFunctionType, type})


def frozen_parts(
    values: list[object],
    found: dict[int, object],
    exclude: dict[int, object] | None = None,
    seen: set[int] | None = None,
    depth: int = 0,
) -> bool:
    """Whether every one of ``values`` is immutable all the way down; into ``found`` (by
    ``id``) go the tuples, named tuples and frozensets among them, and inside their
    mutable containers, that are.  (Functions and classes count as immutable here, as
    ``copy.deepcopy`` keeps them; their own state is reset as hidden state.)  Objects whose
    ``id`` is in ``exclude`` (replaced in copies) are not immutable, nor what holds them."""
    seen = set() if seen is None else seen
    exclude = exclude or {}
    frozen = True
    for value in values:
        kind = type(value)
        if id(value) in exclude:
            frozen = False
            continue
        if kind in _FROZEN_ATOMS or id(value) in found:
            continue
        if id(value) in seen or depth > 50:  # looked at already, and not frozen
            frozen = False
            continue
        seen.add(id(value))
        if kind in (tuple, frozenset) or (
            isinstance(value, tuple) and getattr(kind, "__slots__", None) == ()
        ):  # a named tuple has no other state
            if frozen_parts(list(value), found, exclude, seen, depth + 1):  # type: ignore[call-overload]
                found[id(value)] = value
                continue
        elif kind in (list, dict, set):
            children: Any = value.values() if isinstance(value, dict) else value
            frozen_parts(list(children), found, exclude, seen, depth + 1)
        frozen = False
    return frozen


def sharing_memo(
    values: list[object], found: dict[int, object], replace: dict[int, object]
) -> dict[int, object]:
    """A ``copy.deepcopy`` memo for copies of ``values`` that share their immutable parts
    (learnt into ``found``, which keeps them alive, up to a bound) and replace what
    ``replace`` names."""
    if len(found) > 100_000:
        found.clear()
    frozen_parts(values, found, replace)
    return {**found, **replace}


def _clear_caches(value: object) -> None:
    clear = getattr(value, "cache_clear", None)
    if callable(clear) and hasattr(value, "cache_info"):
        clear()
    if isinstance(value, type):
        for member in vars(value).values():
            inner = getattr(member, "__func__", member)
            clear = getattr(inner, "cache_clear", None)
            if callable(clear) and hasattr(inner, "cache_info"):
                clear()


class _Slot:
    """One place a function or class keeps mutable state: read and replace it."""

    def __init__(self, get: Any, put: Any) -> None:
        self.get, self.put = get, put


_ATOMS = (int, float, complex, str, bytes, bool, type(None), tuple, frozenset, range)


def _hidden_state(module: types.ModuleType) -> list[_Slot]:
    """The mutable defaults, closure variables and attributes of the module's own functions
    and classes: where a cache hides from the module's globals."""
    slots: list[_Slot] = []
    for value in list(vars(module).values()):
        if getattr(value, "__module__", None) != module.__name__:
            continue
        if isinstance(value, type):
            for name, member in list(vars(value).items()):
                function = getattr(member, "__func__", member)
                if isinstance(function, types.FunctionType):
                    slots += _function_slots(function)
                elif callable(member):
                    continue
                elif hasattr(type(member), "__get__"):  # a descriptor: only its own memo
                    slots += _descriptor_slots(member)
                elif (
                    not name.startswith("__")
                    and _mutable(member)
                    and not _instance_of(member, value)  # an enum's members, a singleton
                    and _settable(value, name, member)
                ):
                    slots.append(_class_attribute_slot(value, name))
        elif isinstance(value, types.FunctionType):
            slots += _function_slots(value)
    return slots


def _descriptor_slots(descriptor: object) -> list[_Slot]:
    """A descriptor's own mutable attributes (a memo it keeps for the class)."""
    try:
        attributes = list(vars(descriptor).items())
    except TypeError:  # no __dict__ (slots, C descriptors)
        return []
    return [
        _attribute_slot(descriptor, name)
        for name, value in attributes
        if not name.startswith("__") and _mutable(value) and not callable(value)
    ]


def _function_slots(function: types.FunctionType) -> list[_Slot]:
    slots = []
    for index, default in enumerate(function.__defaults__ or ()):
        if _mutable(default):
            slots.append(_default_slot(function, index))
    for name, default in (function.__kwdefaults__ or {}).items():
        if _mutable(default):
            slots.append(_kwdefault_slot(function, name))
    for cell in function.__closure__ or ():
        with contextlib.suppress(ValueError):  # an empty cell
            if _mutable(cell.cell_contents) and not callable(cell.cell_contents):
                slots.append(
                    _Slot(
                        lambda c=cell: c.cell_contents,
                        lambda v, c=cell: setattr(c, "cell_contents", v),
                    )
                )
    for name, value in list(vars(function).items()):
        if _mutable(value) and not name.startswith("__"):
            slots.append(_attribute_slot(function, name))
    return slots


def _cell_slot(cell: types.CellType) -> _Slot:
    return _Slot(lambda: cell.cell_contents, lambda value: setattr(cell, "cell_contents", value))


def _default_slot(function: types.FunctionType, index: int) -> _Slot:
    def put(value: Any) -> None:
        defaults = list(function.__defaults__ or ())
        defaults[index] = value
        function.__defaults__ = tuple(defaults)

    return _Slot(lambda: (function.__defaults__ or ())[index], put)


def _kwdefault_slot(function: types.FunctionType, name: str) -> _Slot:
    def put(value: Any) -> None:
        function.__kwdefaults__ = {**(function.__kwdefaults__ or {}), name: value}

    return _Slot(lambda: (function.__kwdefaults__ or {})[name], put)


def _instance_of(member: object, owner: type) -> bool:
    """``isinstance``, for classes that refuse it (a ``typing.Protocol`` that is not
    runtime-checkable raises ``TypeError``): then the member is left alone."""
    try:
        return isinstance(member, owner)
    except Exception:
        return True


def _settable(owner: type, name: str, value: object) -> bool:
    """Whether the class lets its attribute be put back (an enum's members do not)."""
    try:
        setattr(owner, name, value)
    except (AttributeError, TypeError):
        return False
    return True


def _class_attribute_slot(owner: type, name: str) -> _Slot:
    """The attribute as the class holds it (``vars``), not as ``getattr`` finds it: through
    the class's bases, or a descriptor's ``__get__`` (toolz's ``instanceproperty`` gives
    ``None`` on the class, and putting that back would replace the descriptor)."""
    return _Slot(lambda: vars(owner)[name], lambda value: setattr(owner, name, value))


def _attribute_slot(owner: Any, name: str) -> _Slot:
    return _Slot(lambda: getattr(owner, name), lambda value: setattr(owner, name, value))


def _mutable(value: object) -> bool:
    return not isinstance(value, _ATOMS) and not isinstance(value, types.ModuleType)
