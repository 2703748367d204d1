"""Decide whether a candidate produced the same values as the original, and say where not.

Runs inside the isolated runner, so only the standard library is imported at module level;
numpy and pandas are used only when the user's code already loaded them.

The rules are strict on purpose: calling a changed function "equal" is far worse than
rejecting a good one.  Types must match exactly (``1`` is not ``1.0`` nor ``True``), except
that two classes with the same ``__module__`` and ``__qualname__`` count as one type, because
the original and the candidate each run in their own copy of the user's module.  Floats match
bit for bit (``-0.0`` is not ``0.0``; NaN matches NaN) unless a relative tolerance is given.
Dict key order, and the exact types of set elements, are compared too.

A class that defines ``__eq__`` (anywhere in its MRO but ``object``) is trusted: when ``==``
says equal, its ``__dict__`` is not looked at (dataclass fields still are).  When ``==`` says
different but the two classes are the two module copies, the state is compared instead,
since such ``__eq__`` methods usually reject instances of the other copy.  Other objects are
compared by ``__dict__`` and ``__slots__``, but only if the class has no hidden C-level state.
Whatever cannot be compared raises :class:`Unverifiable`, never "equal".
"""

from __future__ import annotations

import array
import collections
import contextlib
import dataclasses
import datetime
import decimal
import enum
import functools
import math
import sys
import types
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any

from .compare_types import (
    OWN_RULES as _OWN_RULES,
)
from .compare_types import (
    explained_layout as _explained_layout,
)
from .compare_types import (
    has_state as _has_state,
)
from .compare_types import (
    qualified as _qualified,
)
from .compare_types import (
    reduced as _reduced,
)
from .compare_types import (
    same_code as _same_code,
)
from .compare_types import (
    same_type as _same_type,
)
from .compare_types import (
    slot_names as _slot_names,
)
from .compare_types import (
    trusts_eq as _trusts_eq,
)
from .compare_types import (
    type_names as _type_names,
)
from .mismatch import (
    Mismatch,
    Unverifiable,
    at,
    differ,
    full_name,
    short_repr,
    text_differ,
    type_name,
)

CompareHook = Callable[[object, object], "bool | None"]

_MAX_DEPTH = 200
# Hashed containers whose elements == tells apart only because each side has its own copy
# of a class are paired up element by element, up to this many elements.
MAX_TWIN_ELEMENTS = 256
_UNSET: Any = object()  # an attribute, slot or global that does not exist
_CALLABLES = (type, types.FunctionType, types.BuiltinFunctionType, types.MethodType)
_LEAVES = frozenset({int, bool, float, str, bytes, type(None)})
_ONE_SHOT = (types.GeneratorType, types.CoroutineType, types.AsyncGeneratorType)


def compare_values(
    expected: object, actual: object, *, rel_tol: float = 0.0, hook: CompareHook | None = None
) -> Mismatch | None:
    """Compare what the original produced with what the candidate produced.

    :param rel_tol: relative tolerance for floats (``0.0``: bitwise equality).
    :param hook: consulted first at every node; ``True``/``False`` decide, ``None`` defers.
    :return: ``None`` when equal, else the first difference found.
    :raises Unverifiable: when some part of the values cannot be compared.
    """
    with _room_to_recurse():
        return _Comparer(rel_tol, hook).node(expected, actual, "", 0)


@contextlib.contextmanager
def _room_to_recurse() -> Iterator[None]:
    """Let ``_MAX_DEPTH`` levels fit: each level takes up to six Python frames."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(old + 7 * _MAX_DEPTH)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


class _Comparer:
    """One comparison: its options and the pairs of objects on the current path."""

    def __init__(self, rel_tol: float, hook: CompareHook | None) -> None:
        if not rel_tol >= 0.0:
            raise ValueError(f"rel_tol must be a number >= 0, not {rel_tol!r}")
        self.rel_tol = rel_tol
        self.hook = hook
        self.active: set[tuple[int, int]] = set()

    def node(self, e: object, a: object, path: str, depth: int) -> Mismatch | None:
        """Compare one pair of values found at ``path``."""
        if depth > _MAX_DEPTH:
            raise Unverifiable(f"the values{at(path)} nest deeper than {_MAX_DEPTH} levels")
        if self.hook is not None:
            verdict = self._ask_hook(e, a, path)
            if verdict is not None:
                return None if verdict else differ(path, e, a, "different per the compare hook")
        if e is a:
            return None
        if not _same_type(type(e), type(a)):
            return differ(path, e, a, f"type {_type_names(type(e), type(a))}")
        key = (id(e), id(a))
        if key in self.active:
            return None  # a cycle: equal unless something else on the path differs
        self.active.add(key)
        try:
            return self._typed(e, a, path, depth + 1)
        except Unverifiable:
            raise
        except Exception as exc:  # a user __eq__ that raises, a recursion too deep, ...
            what = f"the {type_name(type(e))} values{at(path)}"
            raise Unverifiable(f"comparing {what} raised {type(exc).__name__}: {exc}") from exc
        finally:
            self.active.discard(key)

    def _ask_hook(self, e: object, a: object, path: str) -> bool | None:
        assert self.hook is not None
        try:
            verdict = self.hook(e, a)
        except Exception as exc:
            why = f"{type(exc).__name__}: {exc}"
            raise Unverifiable(f"the compare hook raised {why} for the values{at(path)}") from exc
        if verdict is None or isinstance(verdict, bool):
            return verdict
        raise Unverifiable(f"the compare hook returned {short_repr(verdict)}{at(path)}")

    def _typed(self, e: Any, a: Any, path: str, depth: int) -> Mismatch | None:
        """Compare two values of the same type (by the module/qualname rule)."""
        if type(e) is list or type(e) is tuple:  # fast paths for the commonest types
            return self._sequence(e, a, path, depth)
        if type(e) is dict:
            return self._mapping(e, a, path, depth)
        if type(e) is int or type(e) is bool:
            return None if e == a else differ(path, e, a, "values differ")
        if type(e) is float:
            return self._float(e, a, path)
        np, pd = sys.modules.get("numpy"), sys.modules.get("pandas")
        if np is not None and isinstance(e, (np.ndarray, np.generic)):
            from .compare_arrays import compare_numpy

            return compare_numpy(self, np, e, a, path, depth)
        if pd is not None and isinstance(e, (pd.DataFrame, pd.Series, pd.Index)):
            from .compare_arrays import compare_pandas

            return compare_pandas(self, pd, e, a, path, depth)
        if isinstance(e, _ONE_SHOT) or (
            isinstance(e, (Iterator, AsyncIterator)) and not _explained_layout(type(e))
        ):
            reduced = (None, None) if isinstance(e, _ONE_SHOT) else (_reduced(e), _reduced(a))
            if reduced[0] is not None and reduced[1] is not None:
                # An iterator written in C that pickles by its position (itertools.count(5)):
                # compared by that, without reading it.
                return self.node(reduced[0], reduced[1], f"{path}.__reduce__()", depth + 1)
            raise Unverifiable(f"{full_name(type(e))} value{at(path)} is consumed by reading it")
        if isinstance(e, enum.Enum):  # before int, str and float: IntEnum, StrEnum
            return self._fields(e, a, path, depth, ("name", "value"))
        if isinstance(e, float):
            return self._float(e, a, path)
        if isinstance(e, complex):
            return self._float(e.real, a.real, path + ".real") or self._float(
                e.imag, a.imag, path + ".imag"
            )
        if isinstance(e, (str, bytes, bytearray)):
            return None if _eq(e, a, path) else text_differ(path, e, a)
        if isinstance(e, decimal.Decimal):  # str tells Decimal("1.0") from Decimal("1.00")
            return None if str(e) == str(a) else differ(path, e, a, "values differ")
        if isinstance(e, BaseException):
            return self._exception(e, a, path, depth)
        if isinstance(e, types.ModuleType):
            return None if e.__name__ == a.__name__ else differ(path, e, a, "another module")
        if isinstance(e, _CALLABLES):
            return self._callable(e, a, path, depth)
        return self._special(e, a, path, depth)

    def _special(self, e: Any, a: Any, path: str, depth: int) -> Mismatch | None:
        """Compare values whose ``==`` is too lax, then containers, then plain objects."""
        if isinstance(e, (range, slice)):  # range(0) == range(2, 2); slice(1) == slice(1.0)
            return self._fields(e, a, path, depth, ("start", "stop", "step"))
        if isinstance(e, functools.partial):
            return self._fields(e, a, path, depth, ("func", "args", "keywords", "__dict__"))
        if isinstance(e, (datetime.datetime, datetime.time)):
            # == ignores the time zone (aware values compare as instants) and fold.
            m = None if _eq(e, a, path) else differ(path, e, a, "values differ")
            return m or self._fields(e, a, path, depth, ("tzinfo", "fold"))
        if isinstance(e, datetime.timezone):  # == ignores the zone's name
            return None if repr(e) == repr(a) else differ(path, e, a, "values differ")
        if isinstance(e, memoryview):  # == ignores the format
            x, y = ((v.format, v.shape, v.tobytes()) for v in (e, a))
            return self.node(x, y, path, depth)
        if isinstance(e, array.array):  # == ignores the typecode
            return self.node((e.typecode, e.tobytes()), (a.typecode, a.tobytes()), path, depth)
        if _trusts_eq(type(e)):
            return self._user_eq(e, a, path, depth)
        if isinstance(e, (dict, types.MappingProxyType)):
            m = self._mapping(e, a, path, depth)
        elif isinstance(e, (list, tuple, collections.deque)):
            m = self._sequence(e, a, path, depth)
        elif isinstance(e, (set, frozenset)):
            m = self._set(e, a, path, depth)
        else:
            return self._object(e, a, path, depth)
        if m is not None or type(e) in _OWN_RULES:
            return m
        return self._state(e, a, path, depth)  # a subclass may have attributes too

    def _float(self, e: float, a: float, path: str) -> Mismatch | None:
        if math.isnan(e) or math.isnan(a):
            same = math.isnan(e) and math.isnan(a)
        elif self.rel_tol > 0.0:
            same = math.isclose(e, a, rel_tol=self.rel_tol, abs_tol=0.0)
        else:
            same = e == a and math.copysign(1.0, e) == math.copysign(1.0, a)
        if same:
            return None
        return differ(path, e, a, "sign of zero differs" if e == a else "values differ")

    def _fields(
        self, e: object, a: object, path: str, depth: int, names: Iterable[str]
    ) -> Mismatch | None:
        for name in names:
            m = self.node(getattr(e, name), getattr(a, name), f"{path}.{name}", depth)
            if m is not None:
                return m
        return None

    def _exception(self, e: BaseException, a: Any, path: str, depth: int) -> Mismatch | None:
        """Exceptions: args, message, the attributes a caller may read, ``__notes__``, and the
        types (and messages) of the exceptions they were raised from or during."""
        m = self.node(e.args, a.args, path + ".args", depth)
        if m is None and str(e) != str(a):
            m = differ(path, e, a, "message differs")
        m = m or self._state(e, a, path, depth)
        for link in ("__cause__", "__context__"):
            x, y = getattr(e, link), getattr(a, link)
            if m is None and (x is None) != (y is None):
                m = differ(path + f".{link}", x, y, "one has it, the other not")
            elif m is None and x is not None:
                m = self.node(type(x), type(y), path + f".{link}", depth)
                if m is None and str(x) != str(y):
                    m = differ(path + f".{link}", x, y, "message differs")
        return m

    def _callable(self, e: Any, a: Any, path: str, depth: int) -> Mismatch | None:
        """Functions and classes: the same object, or the same qualified name; functions
        made at run time (lambdas, closures) also the same code, defaults and closure."""
        fe, fa = getattr(e, "__func__", e), getattr(a, "__func__", a)
        if fe is not fa and (_qualified(fe) != _qualified(fa) or _qualified(fe)[1] is None):
            return differ(path, e, a, f"another {type_name(type(e))}")
        # A lambda, or a function made in a call: its name says nothing of what it does.
        made = isinstance(fe, types.FunctionType) and isinstance(fa, types.FunctionType)
        if (
            made
            and fe is not fa
            and "<" in fe.__qualname__
            and not _same_code(fe.__code__, fa.__code__)
        ):
            return differ(path, e, a, "another function body")
        if isinstance(fe, types.FunctionType) and fe is not fa:
            # The same name, but a closure or defaults may hold different values.
            x, y = (_function_state(f) for f in (fe, fa))
            m = self.node(x, y, path + ".<closure and defaults>", depth)
            if m is not None:
                return m
        owner = getattr(e, "__self__", None)
        if owner is None or isinstance(owner, types.ModuleType) or isinstance(e, type):
            return None  # unbound, or a builtin function "bound" to its module
        return self.node(owner, a.__self__, path + ".__self__", depth)

    def _user_eq(self, e: object, a: object, path: str, depth: int) -> Mismatch | None:
        same = _eq(e, a, path)
        # With the two module copies of one class, __eq__ most likely rejected the other
        # copy's instance (isinstance, __class__ checks): judge by state instead.
        copies = not same and type(e) is not type(a)
        if dataclasses.is_dataclass(e) and (same or copies):
            names = [f.name for f in dataclasses.fields(e) if f.compare]
            return self._fields(e, a, path, depth, names)  # strictly, unlike their __eq__
        if same:
            return None
        if copies and _has_state(e) and _explained_layout(type(e), type(a)):
            return self._state(e, a, path, depth)
        builtin = type(e).__module__ == "builtins"
        return differ(path, e, a, "values differ" if builtin else "__eq__ says they differ")

    def _mapping(self, e: Any, a: Any, path: str, depth: int) -> Mismatch | None:
        keys = list(e), list(a)
        if keys[0] != keys[1] and not self._twins(keys[0], keys[1], path, depth):
            # The keys, or their order, differ; the types come below.
            parts = [f"missing key {short_repr(k, 40)}" for k in e if k not in a][:1]
            parts += [f"extra key {short_repr(k, 40)}" for k in a if k not in e][:1]
            if parts:
                return differ(path, e, a, ", ".join(parts))
            return Mismatch(
                path, short_repr(keys[0]), short_repr(keys[1]), "dict key order differs"
            )
        for (ke, ve), (ka, va) in zip(e.items(), a.items(), strict=True):
            if self.hook is None and _plainly_equal(ke, ka) and _plainly_equal(ve, va):
                continue
            where = f"{path}[{short_repr(ke, 40)}]"
            m = self.node(ke, ka, where, depth)
            if m is not None:
                return dataclasses.replace(m, detail=f"in the key: {m.detail}")
            m = self.node(ve, va, where, depth)
            if m is not None:
                return m
        if isinstance(e, collections.defaultdict):
            return self.node(e.default_factory, a.default_factory, f"{path}.default_factory", depth)
        return None

    def _sequence(self, e: Any, a: Any, path: str, depth: int) -> Mismatch | None:
        if len(e) != len(a):
            return differ(path, e, a, f"length {len(e)} != {len(a)}")
        names = getattr(type(e), "_fields", None)  # a namedtuple: name the field
        for i, (x, y) in enumerate(zip(e, a, strict=True)):
            if self.hook is None and _plainly_equal(x, y):
                continue
            m = self.node(x, y, f"{path}.{names[i]}" if names else f"{path}[{i}]", depth)
            if m is not None:
                return m
        if isinstance(e, collections.deque):
            return self.node(e.maxlen, a.maxlen, path + ".maxlen", depth)
        return None

    def _twins(self, e: list[Any], a: list[Any], path: str, depth: int) -> bool:
        """Whether keys that ``==`` tells apart are, in order, the same values of classes
        that both sides define alike (an enum of the original's module and its twin in the
        candidate's: each side has its own copy of the module, and their members never
        compare equal)."""
        if len(e) != len(a) or len(e) > MAX_TWIN_ELEMENTS:
            return False
        pairs = list(zip(e, a, strict=True))
        if not any(type(x) is not type(y) and _same_type(type(x), type(y)) for x, y in pairs):
            return False
        return all(self.node(x, y, path, depth) is None for x, y in pairs)

    def _set_twins(self, e: Any, a: Any, path: str, depth: int) -> bool:
        """Whether every element of ``e`` pairs up with its own element of ``a``, compared
        strictly, where ``==`` failed only for twin classes (see :meth:`_twins`)."""
        if len(e) != len(a) or len(e) > MAX_TWIN_ELEMENTS:
            return False
        ours, theirs = {type(x) for x in e}, {type(y) for y in a}
        if not any(t is not u and _same_type(t, u) for t in ours for u in theirs):
            return False
        left = list(a)
        for x in e:
            match = next(
                (
                    i
                    for i, y in enumerate(left)
                    if _same_type(type(x), type(y)) and self.node(x, y, path, depth) is None
                ),
                None,
            )
            if match is None:
                return False
            left.pop(match)
        return True

    def _set(self, e: Any, a: Any, path: str, depth: int) -> Mismatch | None:
        if not _eq(e, a, path):
            if self._set_twins(e, a, path, depth):
                return None
            parts = [f"missing {short_repr(x, 40)}" for x in e if x not in a][:1]
            parts += [f"extra {short_repr(y, 40)}" for y in a if y not in e][:1]
            return differ(path, e, a, ", ".join(parts) or "values differ")
        # == pairs up 1, 1.0 and True: compare each element with its partner, strictly.
        partner = {y: y for y in a}
        for x in e:
            y = partner[x]
            if self.hook is None and _plainly_equal(x, y):
                continue
            m = self.node(x, y, f"{path}{{{short_repr(x, 40)}}}", depth)
            if m is not None:
                return m
        return None

    def _object(self, e: object, a: object, path: str, depth: int) -> Mismatch | None:
        if type(e) is object:
            return None  # a bare sentinel has no state
        if not (_has_state(e) and _explained_layout(type(e), type(a))):
            reduced = _reduced(e), _reduced(a)
            if reduced[0] is not None and reduced[1] is not None:
                # A C type that pickles by what it holds (operator.itemgetter(0)): that is
                # its state.
                return self.node(reduced[0], reduced[1], f"{path}.__reduce__()", depth + 1)
            why = "has no __eq__, and its state is not all in __dict__ or __slots__"
            raise Unverifiable(f"{full_name(type(e))} value{at(path)} {why}")
        return self._state(e, a, path, depth)

    def _state(self, e: object, a: object, path: str, depth: int) -> Mismatch | None:
        """Compare ``__dict__`` (in any order) and every ``__slots__`` entry."""
        de, da = (getattr(v, "__dict__", None) for v in (e, a))
        de, da = (d if isinstance(d, dict) else {} for d in (de, da))
        names = [*de, *(k for k in da if k not in de)]
        pairs = [(name, de.get(name, _UNSET), da.get(name, _UNSET)) for name in names]
        for name in dict.fromkeys([*_slot_names(type(e)), *_slot_names(type(a))]):
            pairs.append((name, getattr(e, name, _UNSET), getattr(a, name, _UNSET)))
        for name, x, y in pairs:
            m = self.attribute(x, y, f"{path}.{name}", depth)
            if m is not None:
                return m
        return None

    def attribute(self, x: object, y: object, path: str, depth: int) -> Mismatch | None:
        """Compare two values that may be missing (``_UNSET``) on either side."""
        if x is _UNSET or y is _UNSET:
            if x is y:
                return None
            shown = ["<unset>" if v is _UNSET else short_repr(v) for v in (x, y)]
            return Mismatch(path, shown[0], shown[1], "set on one side only")
        return self.node(x, y, path, depth)


def _plainly_equal(x: object, y: object) -> bool:
    """Whether ``node`` would find two leaves equal, told cheaply; False means "look closer".

    Large lists of numbers are common, and the full walk costs several times more per item.
    Zeros (whose sign matters) and NaNs (which are != themselves) take the full walk.
    """
    return type(x) is type(y) and type(x) in _LEAVES and x == y and x != 0.0


def _eq(e: object, a: object, path: str) -> bool:
    """``e == a``, insisting on a bool answer."""
    result = e == a
    if isinstance(result, bool):
        return result
    np = sys.modules.get("numpy")
    if np is not None and isinstance(result, np.bool_):
        return bool(result)
    got = type_name(type(result))
    raise Unverifiable(f"{type_name(type(e))}.__eq__ returned {got}, not a bool,{at(path)}")


def _function_state(function: types.FunctionType) -> tuple[object, ...]:
    cells = []
    for cell in function.__closure__ or ():
        try:
            cells.append(cell.cell_contents)
        except ValueError:  # an empty cell
            cells.append(_UNSET)
    return (function.__defaults__, function.__kwdefaults__, tuple(cells))
