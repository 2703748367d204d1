"""Likely invariants of a function's inputs, read off the calls its tests made.

Runs inside the runner process: standard library only.  What every captured value shows,
position by position, is taken for the function's contract: exact types (an ``int`` stays an
``int``, a ``bool`` is no ``int``), finite floats, the sign, non-empty containers, sorted
lists, unique items, the keys every dict has, the characters of strings (digits only, ASCII
only, a fixed format such as ``dddd-dd-dd``), and sequences passed together with equal
lengths.  An invariant needs evidence: types hold from one call on, everything else needs
:data:`MIN_CALLS` calls that show it (the items of one list a test wrote are one example of
the author's habits, not three).

Generated inputs are :func:`repair`-ed into the invariants (sorted, de-duplicated, keys
restored...), and :func:`holds` says whether an input keeps them: a difference on an input
outside them is only a note, since the tests never call the function that way.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .calls import Args

__all__ = ["ArgsShape", "Shape", "infer_args"]

MAX_DEPTH = 3
MIN_CALLS = 3
"""Captured calls that must show a value invariant (sign, order, keys...) to assume it."""
_NUMBERS = (int, float)
_SEQUENCES = (list, tuple)


@dataclass
class Shape:
    """What every captured value at one place (an argument, a list's items, ...) showed."""

    kind: type | None = None  # the exact type, when every value had the same one
    finite: bool = False  # floats: never NaN or infinite
    sign: str = ""  # "nonnegative" or "positive"
    nonempty: bool = False
    order: str = ""  # "ascending", "descending", with "strictly " in front when strict
    unique: bool = False
    keys: tuple[Any, ...] = ()  # dicts: the keys every captured dict had
    chars: str = ""  # strings: "digits" or "ascii"
    pattern: str = ""  # strings: every one had this form ("dddd-dd-dd")
    items: Shape | None = None  # the items of lists, tuples and sets, pooled
    values: dict[Any, Shape] = field(default_factory=dict)  # dicts: by key

    def describe(self, where: str) -> list[str]:
        """The invariants, one phrase each, naming ``where`` they hold."""
        said = []
        if self.kind is not None:
            said.append(f"{where} is a {self.kind.__name__}")
        said += [f"{where} is {word}" for word in (self.sign, self.order) if word]
        if self.finite:
            said.append(f"{where} is never NaN or infinite")
        if self.nonempty:
            said.append(f"{where} is not empty")
        if self.unique:
            said.append(f"{where} has no repeated items")
        if self.keys:
            said.append(f"{where} has the keys {', '.join(map(repr, self.keys))}")
        if self.chars:
            said.append(f"{where} has {self.chars} characters only")
        if self.pattern:
            said.append(f"{where} has the form {self.pattern!r}")
        if self.items is not None:
            said += self.items.describe(f"each item of {where}")
        for key, shape in self.values.items():
            said += shape.describe(f"{where}[{key!r}]")
        return said


def infer(values: Sequence[Any], depth: int = 0, calls: int | None = None) -> Shape:
    """The invariants every one of ``values`` shows (see the module docstring).

    ``calls``: how many captured calls the values come from (the items of a list pooled
    over calls come from fewer calls than there are items); ``len(values)`` by default.
    """
    shape = Shape()
    if not values or depth > MAX_DEPTH:
        return shape
    kinds = {type(v) for v in values}
    if len(kinds) == 1:
        shape.kind = kinds.pop()
    enough = (len(values) if calls is None else calls) >= MIN_CALLS
    if all(isinstance(v, _NUMBERS) and not isinstance(v, bool) for v in values):
        numbers = [float(v) for v in values]
        shape.finite = all(math.isfinite(v) for v in numbers) and any(
            isinstance(v, float) for v in values
        )
        if enough and all(v > 0 for v in numbers):
            shape.sign = "positive"
        elif enough and all(v >= 0 for v in numbers):
            shape.sign = "nonnegative"
    elif all(isinstance(v, str) for v in values):
        _strings(shape, values, enough)
    elif all(isinstance(v, (*_SEQUENCES, set, frozenset)) for v in values):
        _collections(shape, values, enough, depth)
    elif all(type(v) is dict for v in values):
        _dicts(shape, values, enough, depth, len(values) if calls is None else calls)
    return shape


def _strings(shape: Shape, values: Sequence[str], enough: bool) -> None:
    shape.nonempty = enough and all(values)
    if not enough or sum(len(v) for v in values) < 4:
        return
    if all(v.isdigit() and v.isascii() for v in values):
        shape.chars = "digits"
    elif all(v.isascii() for v in values):
        shape.chars = "ascii"
    forms = {_form(v) for v in values}
    if len(forms) == 1 and min(len(v) for v in values) >= 4 and len(set(values)) > 1:
        shape.pattern = forms.pop()


def _form(text: str) -> str:
    """``2024-01-05`` -> ``dddd-dd-dd``: digits, letters and the rest as they are."""
    return "".join("d" if c.isdigit() else "a" if c.isalpha() else c for c in text)


def _collections(shape: Shape, values: Sequence[Any], enough: bool, depth: int) -> None:
    shape.nonempty = enough and all(len(v) for v in values)
    pooled = [item for v in values for item in v]
    calls = sum(1 for v in values if len(v))
    shape.items = infer(pooled, depth + 1, calls) if pooled else None
    ordered = [v for v in values if isinstance(v, _SEQUENCES)]
    if len(ordered) == len(values) and enough:
        shape.order = _order(ordered)
        repeats = any(len(set(map(_key, v))) < len(v) for v in ordered)
        shape.unique = len(pooled) >= 4 and not repeats and _hashable(pooled)


def _order(values: Sequence[Sequence[Any]]) -> str:
    """``ascending`` (or ``strictly ascending``, ``descending``...) if every sequence is,
    with enough adjacent pairs to tell, else ``""``."""
    pairs = sum(max(0, len(v) - 1) for v in values)
    if pairs < 3 or all(len(set(map(_key, v))) <= 1 for v in values):
        return ""
    for order in ("strictly ascending", "ascending", "strictly descending", "descending"):
        if all(_in_order(list(v), order) for v in values):
            return order
    return ""


def _dicts(
    shape: Shape, values: Sequence[dict[Any, Any]], enough: bool, depth: int, calls: int
) -> None:
    shape.nonempty = enough and all(values)
    if not enough:
        return
    common = set(values[0])
    for value in values[1:]:
        common &= set(value)
    shape.keys = tuple(k for k in values[0] if k in common)
    shape.values = {k: infer([v[k] for v in values], depth + 1, calls) for k in shape.keys[:20]}


def _hashable(items: Sequence[Any]) -> bool:
    try:
        set(items)
    except TypeError:
        return False
    return True


def _key(item: Any) -> Any:
    return item if _hashable([item]) else repr(item)


def holds(value: Any, shape: Shape) -> bool:
    """Whether ``value`` keeps every invariant of ``shape``."""
    if shape.kind is not None and type(value) is not shape.kind:
        return False
    if isinstance(value, float) and shape.finite and not math.isfinite(value):
        return False
    if isinstance(value, _NUMBERS) and shape.sign and not _signed(value, shape.sign):
        return False
    if shape.nonempty and hasattr(value, "__len__") and not len(value):
        return False
    if isinstance(value, str):
        return _string_holds(value, shape)
    if isinstance(value, (*_SEQUENCES, set, frozenset)):
        if shape.order and not _in_order(list(value), shape.order):
            return False
        if shape.unique and len(set(map(_key, value))) < len(value):
            return False
        return shape.items is None or all(holds(item, shape.items) for item in value)
    if isinstance(value, dict):
        if any(key not in value for key in shape.keys):
            return False
        return all(holds(value[k], s) for k, s in shape.values.items() if k in value)
    return True


def _in_order(items: list[Any], order: str) -> bool:
    strict = order.startswith("strictly")
    pairs = itertools.pairwise(items)
    try:
        if order.endswith("descending"):
            return all(a > b if strict else a >= b for a, b in pairs)
        return all(a < b if strict else a <= b for a, b in pairs)
    except TypeError:
        return False


def _signed(value: float, sign: str) -> bool:
    return value > 0 if sign == "positive" else value >= 0


def _string_holds(value: str, shape: Shape) -> bool:
    if shape.chars == "digits" and not (value.isdigit() and value.isascii()):
        return False
    if shape.chars == "ascii" and not value.isascii():
        return False
    return not shape.pattern or _form(value) == shape.pattern


def repair(value: Any, shape: Shape, example: Any) -> Any:
    """``value`` brought inside ``shape`` where that is cheap and keeps its spirit
    (sorted, de-duplicated, signs flipped, keys restored...); ``example`` (a captured
    value) stands in where nothing else can.  The result may still not hold."""
    if shape.kind is not None and type(value) is not shape.kind:
        return example
    if isinstance(value, float) and shape.finite and not math.isfinite(value):
        return example
    if isinstance(value, _NUMBERS) and not isinstance(value, bool) and shape.sign:
        value = abs(value)
        if shape.sign == "positive" and not value:
            return example
        return value
    if isinstance(value, str):
        return value if _string_holds(value, shape) and (value or not shape.nonempty) else example
    if isinstance(value, _SEQUENCES):
        return _repair_sequence(value, shape, example)
    if isinstance(value, dict) and shape.keys and isinstance(example, dict):
        value = dict(value)
        for key in shape.keys:
            if key not in value:
                value[key] = example[key]
        for key, inner in shape.values.items():
            value[key] = repair(value[key], inner, example[key])
    if shape.nonempty and hasattr(value, "__len__") and not len(value):
        return example
    return value


def _repair_sequence(value: Any, shape: Shape, example: Any) -> Any:
    items = list(value)
    if shape.items is not None and example:
        sample = next(iter(example))
        items = [repair(item, shape.items, sample) for item in items]
    if shape.unique or shape.order.startswith("strictly"):
        seen: set[Any] = set()
        items = [i for i in items if not (_key(i) in seen or seen.add(_key(i)))]  # type: ignore[func-returns-value]
    if shape.order:
        try:
            items.sort(reverse=shape.order.endswith("descending"))
        except TypeError:
            return example
    if shape.nonempty and not items:
        return example
    return type(value)(items)


@dataclass
class ArgsShape:
    """The invariants of a function's arguments: per position and keyword, and the groups
    of sequence arguments always passed with equal lengths."""

    positional: list[Shape] = field(default_factory=list)
    keywords: dict[str, Shape] = field(default_factory=dict)
    equal_lengths: list[tuple[int, int]] = field(default_factory=list)
    examples: Args | None = None
    offset: int = 0  # leading positional arguments with no invariants (``self``)

    def describe(self) -> list[str]:
        said = []
        for index, shape in enumerate(self.positional):
            said += shape.describe(f"argument {index + 1}")
        for name, shape in self.keywords.items():
            said += shape.describe(name)
        said += [f"arguments {a + 1} and {b + 1} have equal lengths" for a, b in self.equal_lengths]
        return said

    def holds(self, args: Args) -> bool:
        positional, keywords = args[0][self.offset :], args[1]
        if len(positional) != len(self.positional):
            return False
        if not all(holds(v, s) for v, s in zip(positional, self.positional, strict=True)):
            return False
        if any(k in keywords and not holds(keywords[k], s) for k, s in self.keywords.items()):
            return False
        return all(_same_length(positional[a], positional[b]) for a, b in self.equal_lengths)

    def repair(self, args: Args) -> Args:
        head, positional, keywords = args[0][: self.offset], args[0][self.offset :], args[1]
        if self.examples is None or len(positional) != len(self.positional):
            return args
        fixed = [
            repair(v, s, e)
            for v, s, e in zip(positional, self.positional, self.examples[0], strict=True)
        ]
        for a, b in self.equal_lengths:
            size = min(len(fixed[a]), len(fixed[b]))
            fixed[a], fixed[b] = fixed[a][:size], fixed[b][:size]
        named = {
            k: repair(v, self.keywords[k], self.examples[1].get(k, v)) if k in self.keywords else v
            for k, v in keywords.items()
        }
        return (*head, *fixed), named


def _same_length(a: Any, b: Any) -> bool:
    try:
        return len(a) == len(b)
    except TypeError:
        return False


def infer_args(calls: Sequence[Args], *, skip_first: bool = False) -> ArgsShape | None:
    """The invariants of the captured calls' arguments (``skip_first``: ``self``, left out).

    ``None`` when the calls do not even agree on how many positional arguments they pass.
    """
    trimmed = [(p[1:] if skip_first else p, k) for p, k in calls]
    if not trimmed or len({len(p) for p, _ in trimmed}) != 1:
        return None
    count = len(trimmed[0][0])
    shape = ArgsShape(examples=trimmed[0], offset=1 if skip_first else 0)
    shape.positional = [infer([p[i] for p, _ in trimmed]) for i in range(count)]
    common = set(trimmed[0][1])
    for _, named in trimmed[1:]:
        common &= set(named)
    shape.keywords = {k: infer([named[k] for _, named in trimmed]) for k in sorted(common)}
    if len(trimmed) >= MIN_CALLS:
        sequences = [i for i in range(count) if all(_sized(p[i]) for p, _ in trimmed)]
        for position, a in enumerate(sequences):
            for b in sequences[position + 1 :]:
                lengths = [(len(p[a]), len(p[b])) for p, _ in trimmed]
                if all(x == y for x, y in lengths) and max(x for x, _ in lengths) >= 2:
                    shape.equal_lengths.append((a, b))
    return shape


def _sized(value: Any) -> bool:
    return isinstance(value, (*_SEQUENCES, str))
