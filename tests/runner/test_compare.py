"""Tests of the strict value and outcome comparator that runs inside the isolated runner."""

from __future__ import annotations

import array
import collections
import copy
import dataclasses
import datetime
import decimal
import enum
import fractions
import functools
import io
import math
import sys
import threading
import types
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_codeflash.runner.compare import compare_values
from pytest_codeflash.runner.mismatch import Mismatch, Unverifiable

# --- helpers and user-like classes ------------------------------------------------------------


def differs(expected: object, actual: object, **options: Any) -> Mismatch:
    """Compare, insisting on a difference."""
    mismatch = compare_values(expected, actual, **options)
    assert mismatch is not None, f"{expected!r} and {actual!r} compared equal"
    return mismatch


class Plain:
    next: Plain

    def __init__(self, **attrs: object) -> None:
        self.__dict__.update(attrs)


class Slotted:
    __slots__ = ("__secret", "x", "y")
    x: object
    y: object

    def __init__(self, x: object, secret: object = 0) -> None:
        self.x = x
        self.__secret = secret


class ById:
    """Equal when the ids are equal, whatever the cache holds."""

    def __init__(self, ident: int, cache: object) -> None:
        self.ident, self.cache = ident, cache

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ById) and self.ident == other.ident

    __hash__ = None  # type: ignore[assignment]


class Raising:
    def __eq__(self, other: object) -> bool:
        raise RuntimeError("no comparing me")

    __hash__ = None  # type: ignore[assignment]


class ArrayLike:
    def __eq__(self, other: object) -> Any:
        return [True, False]

    __hash__ = None  # type: ignore[assignment]


@dataclasses.dataclass
class Point:
    x: object
    y: object
    note: object = dataclasses.field(default=None, compare=False)


USER_SOURCE = """
import dataclasses, datetime, enum

class Box:
    def __init__(self, value):
        self.value = value

@dataclasses.dataclass(frozen=True)
class Pair:
    left: object
    right: object

class Strict:
    def __init__(self, value):
        self.value = value
    def __eq__(self, other):
        return isinstance(other, Strict) and self.value == other.value
    __hash__ = None

class Offset(datetime.tzinfo):  # parse's FixedTzOffset: a C base that adds no field
    def __init__(self, minutes):
        self.minutes = minutes
    def __eq__(self, other):
        return isinstance(other, Offset) and self.minutes == other.minutes
    __hash__ = None

class Color(enum.Enum):
    RED = 1
    BLUE = 2

def helper(x):
    return x + 1
"""


def user_module(name: str = "usermod") -> types.ModuleType:
    """A fresh copy of the same user module, as the original and a candidate each get."""
    module = types.ModuleType(name)
    exec(compile(USER_SOURCE, f"<{name}>", "exec", dont_inherit=True), module.__dict__)
    return module


# --- types and scalars -------------------------------------------------------------------------

EQUAL_PAIRS = [
    (None, None),
    (1, 1),
    (10**30, 10**30),
    ("text", "te" + "xt"),
    (b"bytes", b"bytes"),
    (bytearray(b"ab"), bytearray(b"ab")),
    ([1, [2, (3, {"k": {4}})]], [1, [2, (3, {"k": {4}})]]),
    (float("nan"), float("nan")),
    (-0.0, -0.0),
    (math.inf, math.inf),
    (complex(1, -0.0), complex(1, -0.0)),
    (decimal.Decimal("1.10"), decimal.Decimal("1.10")),
    (decimal.Decimal("NaN"), decimal.Decimal("NaN")),
    (fractions.Fraction(1, 3), fractions.Fraction(2, 6)),
    (range(1, 10, 2), range(1, 10, 2)),
    (slice(1, None), slice(1, None)),
    (datetime.date(2024, 1, 2), datetime.date(2024, 1, 2)),
    (datetime.timedelta(hours=1), datetime.timedelta(minutes=60)),
    (collections.deque([1, 2], maxlen=3), collections.deque([1, 2], maxlen=3)),
    (collections.Counter("aab"), collections.Counter("aab")),
    (types.SimpleNamespace(a=1), types.SimpleNamespace(a=1)),
    (Plain(a=1, b=[2]), Plain(b=[2], a=1)),
    (object(), object()),
    (len, len),
    (int, int),
    (math, math),
    (functools.partial(int, base=2), functools.partial(int, base=2)),
    (ValueError("x", 1), ValueError("x", 1)),
    (frozenset({1, "a", (2, 3)}), frozenset({(2, 3), "a", 1})),
]


@pytest.mark.parametrize(("expected", "actual"), EQUAL_PAIRS, ids=lambda v: type(v).__name__)
def test_equal_values_compare_equal(expected: object, actual: object) -> None:
    assert compare_values(expected, actual) is None
    if not isinstance(expected, types.ModuleType):  # modules cannot be copied
        assert compare_values(expected, copy.deepcopy(expected)) is None


DIFFERENT_PAIRS = [
    ([1, 2], (1, 2), "", "type list != tuple"),
    (1, 1.0, "", "type int != float"),
    (1, True, "", "type int != bool"),
    (True, 1, "", "type bool != int"),
    ("a", b"a", "", "type str != bytes"),
    (0.0, -0.0, "", "sign of zero differs"),
    (float("nan"), 1.0, "", "values differ"),
    (complex(1, 0.0), complex(1, -0.0), ".imag", "sign of zero differs"),
    (decimal.Decimal("1.0"), decimal.Decimal("1.00"), "", "values differ"),
    (range(0), range(5, 5), ".start", "values differ"),
    (slice(1, 2), slice(1.0, 2), ".start", "type int != float"),
    ([1, 2, 3], [1, 2], "", "length 3 != 2"),
    ([1, {"k": [0, 1]}], [1, {"k": [0, 2]}], "[1]['k'][1]", "values differ"),
    ({"a": 1, "b": 2}, {"b": 2, "a": 1}, "", "dict key order differs"),
    ({"a": 1}, {"a": 1, "b": 2}, "", "extra key 'b'"),
    ({"a": 1, "b": 2}, {"a": 1}, "", "missing key 'b'"),
    ({1: "x"}, {1.0: "x"}, "[1]", "in the key: type int != float"),
    ({1}, {1.0}, "{1}", "type int != float"),
    ({1}, {True}, "{1}", "type int != bool"),
    (frozenset({(1, 2)}), frozenset({(1.0, 2)}), "{(1, 2)}[0]", "type int != float"),
    ({1, 2}, {1, 3}, "", "missing 2, extra 3"),
    (collections.Counter({"a": 0}), collections.Counter(), "", "missing key 'a'"),
    (
        collections.deque([1], maxlen=2),
        collections.deque([1], maxlen=3),
        ".maxlen",
        "values differ",
    ),
    (ValueError("bad duration: x"), ValueError("invalid: x"), ".args[0]", "first difference"),
    (ValueError("x"), TypeError("x"), "", "type ValueError != TypeError"),
    (len, abs, "", "another builtin_function_or_method"),
    (int, float, "", "another type"),
    (math, collections, "", "another module"),
    (functools.partial(int, base=2), functools.partial(int, base=8), ".keywords['base']", "values"),
    (types.SimpleNamespace(a=1), types.SimpleNamespace(a=1.0), ".a", "type int != float"),
    (array.array("i", [1]), array.array("d", [1.0]), "[0]", "first difference at index 0"),
    (types.MappingProxyType({1: 0}), types.MappingProxyType({1.0: 0}), "[1]", "in the key"),
]


@pytest.mark.parametrize(
    ("expected", "actual", "path", "detail"), DIFFERENT_PAIRS, ids=lambda v: type(v).__name__
)
def test_different_values_say_where_and_how(
    expected: object, actual: object, path: str, detail: str
) -> None:
    mismatch = differs(expected, actual)
    assert (mismatch.path, mismatch.detail[: len(detail)]) == (path, detail)


def test_str_subclass_differs_from_str() -> None:
    class Name(str):
        pass

    detail = differs("bob", Name("bob")).detail
    assert detail.startswith("type str != ")
    assert detail.endswith(".Name")


def test_rel_tol_applies_to_floats_only() -> None:
    assert differs(1.0, 1.0 + 1e-12).detail == "values differ"
    assert compare_values(1.0, 1.0 + 1e-12, rel_tol=1e-9) is None
    assert compare_values([complex(1, 1)], [complex(1, 1 + 1e-12)], rel_tol=1e-9) is None
    assert differs(1.0, 1.1, rel_tol=1e-9).detail == "values differ"
    assert differs(0.0, 1e-300, rel_tol=1e-9).detail == "values differ"  # no absolute slack
    assert differs(float("nan"), 1.0, rel_tol=0.5)
    assert compare_values(float("nan"), float("nan"), rel_tol=0.5) is None
    assert differs(1, 1.0, rel_tol=0.5).detail == "type int != float"
    with pytest.raises(ValueError, match="rel_tol"):
        compare_values(1.0, 1.0, rel_tol=-1.0)


def test_mismatch_describe() -> None:
    mismatch = differs([0, 1, 1], [0, 1, 1.0])
    assert mismatch.describe() == "at [2]: expected 1, got 1.0 (type int != float)"
    assert differs(1, 2).describe() == "expected 1, got 2 (values differ)"


def test_long_texts_show_the_first_difference() -> None:
    expected, actual = "a" * 500 + "X" + "b" * 500, "a" * 500 + "Y" + "b" * 500
    mismatch = differs(expected, actual)
    assert mismatch.detail == "first difference at index 500"
    assert "X" in mismatch.expected
    assert "Y" in mismatch.actual
    assert differs(b"abc", b"abd").detail == "first difference at index 2"


def test_defaultdict_factory_and_ordered_dict_order() -> None:
    a: collections.defaultdict[str, Any] = collections.defaultdict(list)
    b: collections.defaultdict[str, Any] = collections.defaultdict(set)
    assert differs(a, b).path == ".default_factory"
    od1, od2 = collections.OrderedDict(a=1, b=2), collections.OrderedDict(a=1, b=2)
    od2.move_to_end("a")
    assert differs(od1, od2).detail == "dict key order differs"


def test_aware_datetimes_compare_time_zones() -> None:
    utc = datetime.datetime(2024, 1, 1, 12, tzinfo=datetime.timezone.utc)
    plus_one = utc.astimezone(datetime.timezone(datetime.timedelta(hours=1)))
    assert utc == plus_one  # the same instant, yet observably different
    assert differs(utc, plus_one).path == ".tzinfo"
    named = datetime.timezone(datetime.timedelta(0), "Zulu")
    assert differs(datetime.timezone.utc, named).detail == "values differ"


class Level(enum.IntEnum):
    LOW = 1
    ALIAS = 1
    HIGH = 2


def test_enums_compare_by_type_name_and_value() -> None:
    assert compare_values(Level.LOW, Level.ALIAS) is None  # an alias is the same member
    assert differs(Level.LOW, 1).detail == "type Level != int"
    assert differs(Level.LOW, Level.HIGH).path == ".name"


def test_namedtuple_paths_name_the_field() -> None:
    Pt = collections.namedtuple("Pt", "x y")
    assert differs(Pt(1, 2), Pt(1, 3)).path == ".y"


# --- objects -----------------------------------------------------------------------------------


def test_objects_compare_by_dict_in_any_order() -> None:
    assert compare_values(Plain(a=1, b=2), Plain(b=2, a=1)) is None
    nested = differs(Plain(inner=Plain(x=[1, 2])), Plain(inner=Plain(x=[1, 2.0])))
    assert (nested.path, nested.detail) == (".inner.x[1]", "type int != float")
    one_sided = differs(Plain(a=1), Plain(a=1, b=2))
    assert (one_sided.path, one_sided.expected, one_sided.actual) == (".b", "<unset>", "2")


def test_objects_compare_by_slots() -> None:
    assert compare_values(Slotted(1, secret=2), Slotted(1, secret=2)) is None
    assert differs(Slotted(1, secret=2), Slotted(1, secret=3)).path == "._Slotted__secret"
    assert differs(Slotted(1), Slotted(1.0)).path == ".x"
    unset, set_y = Slotted(1), Slotted(1)
    set_y.y = 5
    assert differs(unset, set_y).detail == "set on one side only"


def test_dict_and_slots_versions_of_one_class_are_compared_fully() -> None:
    with_dict, with_slots = types.ModuleType("m"), types.ModuleType("m")
    exec("class C:\n    def __init__(self): self.x = 1", with_dict.__dict__)
    exec(
        "class C:\n    __slots__ = ('y',)\n    def __init__(self): self.y = 1", with_slots.__dict__
    )
    mismatch = differs(with_dict.C(), with_slots.C())
    assert (mismatch.path, mismatch.actual) == (".x", "<unset>")


def test_user_eq_is_trusted() -> None:
    assert compare_values(ById(1, cache=[1]), ById(1, cache=[2, 3])) is None
    assert differs(ById(1, None), ById(2, None)).detail == "__eq__ says they differ"


def test_dataclass_fields_are_compared_strictly() -> None:
    assert Point(1, 2) == Point(1.0, 2)
    assert differs(Point(1, 2), Point(1.0, 2)).path == ".x"
    assert compare_values(Point(1, 2, note="a"), Point(1, 2, note="b")) is None  # compare=False


def test_eq_that_raises_or_returns_no_bool_is_unverifiable() -> None:
    with pytest.raises(Unverifiable, match="RuntimeError: no comparing me"):
        compare_values([Raising()], [Raising()])
    with pytest.raises(Unverifiable, match=r"ArrayLike\.__eq__ returned list, not a bool"):
        compare_values(ArrayLike(), ArrayLike())


@pytest.mark.parametrize(
    ("make", "named"),
    [
        (threading.Lock, "lock"),
        (io.StringIO, "StringIO"),
        (lambda: (i for i in [1]), "generator"),
        (lambda: map(abs, (i for i in [1])), "generator"),  # the map's own source
    ],
    ids=["lock", "stringio", "generator", "map over a generator"],
)
def test_opaque_objects_are_unverifiable(make: Any, named: str) -> None:
    with pytest.raises(Unverifiable) as info:
        compare_values({"k": make()}, {"k": make()})
    assert named in str(info.value)
    assert "at ['k']" in str(info.value)


def test_iterators_written_in_c_compare_by_position() -> None:
    assert compare_values({"k": iter([1, 2])}, {"k": iter([1, 2])}) is None
    assert compare_values(map(abs, [1, -2]), map(abs, [1, -2])) is None
    assert differs(map(abs, [1, -2]), map(abs, [1, -3])) is not None


def test_same_qualname_classes_from_two_module_copies_are_one_type() -> None:
    first, second = user_module(), user_module()
    assert first.Box is not second.Box
    assert compare_values(first.Box([1, 2]), second.Box([1, 2])) is None
    assert differs(first.Box([1, 2]), second.Box([1, 3])).path == ".value[1]"
    assert compare_values(first.Pair(1, "a"), second.Pair(1, "a")) is None
    assert differs(first.Pair(1, "a"), second.Pair(1, "b")).path == ".right"
    assert compare_values(first.Strict(3), second.Strict(3)) is None
    assert differs(first.Strict(3), second.Strict(4)).path == ".value"
    assert compare_values(first.Offset(60), second.Offset(60)) is None
    assert differs(first.Offset(60), second.Offset(0)).path == ".minutes"
    assert compare_values(first.Color.RED, second.Color.RED) is None
    assert differs(first.Color.RED, second.Color.BLUE).path == ".name"
    assert compare_values(first.helper, second.helper) is None
    assert compare_values(first.Box, second.Box) is None
    other = user_module("othermod")
    assert "usermod.Box != othermod.Box" in differs(first.Box(1), other.Box(1)).detail


def test_closures_with_the_same_name_compare_their_cells() -> None:
    def make_adder(n: int) -> Any:
        return lambda x: x + n

    assert compare_values(make_adder(1), make_adder(1)) is None
    assert differs(make_adder(1), make_adder(2)).path == ".<closure and defaults>[2][0]"


def test_bound_methods_compare_their_instances() -> None:
    assert compare_values([1].append, [1].append) is None
    assert differs([1].append, [2].append).path == ".__self__[0]"


# --- hook, cycles, depth -----------------------------------------------------------------------


def test_hook_decides_first_and_none_falls_through() -> None:
    seen: list[tuple[object, object]] = []

    def hook(expected: object, actual: object) -> bool | None:
        seen.append((expected, actual))
        if isinstance(expected, float):
            return abs(expected - float(actual)) < 0.5  # type: ignore[arg-type]
        return False if expected == "never" else None

    assert compare_values([1, 2.0], [1, 2.1], hook=hook) is None
    assert (2.0, 2.1) in seen
    assert compare_values([1.0], [1], hook=hook) is None  # the hook even overrides types
    assert differs(["never"], ["never"], hook=hook).detail == "different per the compare hook"
    assert differs([1], [2], hook=hook).detail == "values differ"


def test_hook_that_raises_or_answers_nonsense_is_unverifiable() -> None:
    def broken(expected: object, actual: object) -> bool | None:
        raise KeyError("oops")

    with pytest.raises(Unverifiable, match="the compare hook raised KeyError"):
        compare_values(1, 1, hook=broken)
    with pytest.raises(Unverifiable, match="the compare hook returned 'yes'"):
        compare_values(1, 1, hook=lambda e, a: "yes")  # type: ignore[arg-type,return-value]


def test_cycles_are_handled() -> None:
    a: list[object] = [1]
    a.append(a)
    b: list[object] = [1]
    b.append(b)
    assert compare_values(a, b) is None
    c: list[object] = [2]
    c.append(c)
    assert differs(a, c).path == "[0]"
    node1, node2 = Plain(value=1), Plain(value=1)
    node1.next, node2.next = node1, node2
    assert compare_values(node1, node2) is None


def nested(depth: int) -> list[object]:
    value: list[object] = []
    for _ in range(depth):
        value = [value]
    return value


def chain(depth: int) -> Plain:
    value = Plain(next=None)
    for _ in range(depth - 1):
        value = Plain(next=value)
    return value


def test_depth_limit() -> None:
    assert compare_values(nested(199), nested(199)) is None
    assert compare_values(chain(199), chain(199)) is None  # six frames a level: still fits
    with pytest.raises(Unverifiable, match="deeper than 200 levels"):
        compare_values(nested(300), nested(300))
    limit = sys.getrecursionlimit()
    with pytest.raises(Unverifiable, match=r"at \.next\.next.*\.\.\..*deeper than 200"):
        compare_values(chain(300), chain(300))
    assert sys.getrecursionlimit() == limit


# --- properties --------------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=3), children, max_size=4)
    ),
    max_leaves=20,
)


@given(JSON)
def test_deep_copies_compare_equal(value: object) -> None:
    assert compare_values(value, copy.deepcopy(value)) is None


def mutate(value: object, data: st.DataObject) -> object:
    """Return a copy of ``value`` that differs in one place."""
    if isinstance(value, list) and value and data.draw(st.booleans()):
        i = data.draw(st.integers(0, len(value) - 1))
        return [*value[:i], mutate(value[i], data), *value[i + 1 :]]
    if isinstance(value, dict) and value and data.draw(st.booleans()):
        key = data.draw(st.sampled_from(sorted(value)))
        return {k: mutate(v, data) if k == key else v for k, v in value.items()}
    if isinstance(value, list):
        return [*value, None]
    if isinstance(value, dict):
        return {**value, "extra key": None}
    if isinstance(value, float):
        return math.nextafter(value, math.inf) if math.isfinite(value) else 0.0
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, str)):
        return value + type(value)(1) if isinstance(value, int) else value + "!"
    return 0  # None


@given(JSON, st.data())
def test_mutated_copies_differ(value: object, data: st.DataObject) -> None:
    assert compare_values(value, mutate(value, data)) is not None
