"""Hypothesis strategies grown from the captured calls: values shaped like the captured ones.

Runs inside the runner process.  Each captured input becomes a strategy of the same shape:
numbers near the captured ones (negatives, zero, the int-valued float), strings edited the
way a careless rewrite breaks them (case, inserted, deleted and replaced characters,
unicode, empty), containers smaller, larger, with duplicates, and dicts with keys dropped.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .calls import Args

MAX_LIST = 64


def annotation_strategy(function: Callable[..., Any], is_method: bool) -> Any:
    """Arguments built from the parameters' type annotations, or None if any is missing."""
    import inspect
    import typing

    from hypothesis import strategies as st

    if is_method:
        return None  # no instance to call it on
    try:
        hints = typing.get_type_hints(function)
        parameters = list(inspect.signature(function).parameters.values())
    except Exception:
        return None
    positional = []
    for parameter in parameters:
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if parameter.name not in hints:
            if parameter.default is parameter.empty:
                return None
            continue
        if parameter.kind is parameter.KEYWORD_ONLY:
            return None
        positional.append(st.from_type(hints[parameter.name]))
    return st.tuples(st.tuples(*positional), st.just({}))


def args_strategy(args: Args, is_method: bool) -> Any:
    from hypothesis import strategies as st

    positional, keywords = args
    fixed = positional[:1] if is_method else ()
    varied = positional[1:] if is_method else positional
    parts = [st.just(value) for value in fixed] + [_strategy(value, 0) for value in varied]
    kw = {key: _strategy(value, 0) for key, value in keywords.items()}
    return st.tuples(st.tuples(*parts), st.fixed_dictionaries(kw))


MAX_EDGE_CASES = 48
# Characters whose case mapping changes the length of a string: "İ".lower() is "i̇",
# "ß".upper() is "SS", "ﬁ".upper() is "FI".
CASE_LENGTH_CHANGERS = ("İ", "ß", "ﬁ")


def edge_cases(captured: list[Args], is_method: bool) -> list[Args]:
    """Deterministic variants of the captured calls, where careless rewrites break: each
    argument in turn made empty, reversed, halved, doubled, its equal hashable and
    unhashable values side by side, strings with characters whose case mapping changes
    their length, numbers at zero and one off.  The smallest captured calls go first."""
    import pickle

    def size(args: Args) -> int:
        try:
            return len(pickle.dumps(args))
        except Exception:
            return 1 << 30

    found: list[Args] = []
    for args in sorted(captured, key=size):
        positional, keywords = args
        first = 1 if is_method else 0
        for index in range(first, len(positional)):
            for variant in _edges(positional[index]):
                found.append(((*positional[:index], variant, *positional[index + 1 :]), keywords))
        for key, value in keywords.items():
            found += [(positional, {**keywords, key: v}) for v in _edges(value)]
        if len(found) >= MAX_EDGE_CASES:
            break
    return found[:MAX_EDGE_CASES]


def _edges(value: Any) -> list[Any]:
    kind = type(value)
    if kind is str:
        changed = [value + c for c in CASE_LENGTH_CHANGERS] + [c + value for c in "İß"]
        return [value.upper(), value.lower(), "", *changed]
    if kind is list and value:
        twins = _with_twins(value)
        return [v for v in (twins, value[::-1], value[:1], value + value, []) if v is not None]
    if kind is tuple and len(value) > 1:
        return [value[::-1]]
    if kind is int:
        return [0, value + 1, value - 1, -value]
    if kind is float and math.isfinite(value):
        return [0.0, -0.0, -value, float(int(value))]
    if kind is dict and value:
        first = next(iter(value))
        return [{}, {k: v for k, v in value.items() if k != first}]
    return []


def _strategy(value: Any, depth: int) -> Any:
    """A strategy for values shaped like ``value`` (the value itself always included)."""
    from hypothesis import strategies as st

    kind = type(value)
    if depth > 3:
        return st.just(value)
    maker = _MAKERS.get(kind)
    if maker is None:
        return st.just(value)
    return st.one_of(st.just(value), maker(value, depth))


def _ints(value: int, depth: int) -> Any:
    from hypothesis import strategies as st

    span = max(abs(value) * 2, 10)
    near = st.integers(-span, span)
    choices: list[Any] = [near, st.sampled_from([0, 1, -1, value + 1, value - 1, -value])]
    if depth == 0:
        # An int argument given as a float is a classic untested path (range(n), indexing);
        # inside containers it would only mix types the function never sees.
        choices.append(near.map(float))
    return st.one_of(choices)


def _floats(value: float, depth: int) -> Any:
    from hypothesis import strategies as st

    # A NaN or infinite captured value gives no bound to draw around.
    span = min(max(abs(value) * 2, 10.0), 1e300) if math.isfinite(value) else 10.0
    return st.one_of(
        st.floats(-span, span),
        st.sampled_from(
            [
                0.0,
                -0.0,
                -value,
                value * 2,
                float(int(value)) if value == value and abs(value) < 1e18 else 0.0,
                float("nan"),
                float("inf"),
            ]
        ),
    )


def _texts(value: str, depth: int) -> Any:
    from hypothesis import strategies as st

    alphabet = sorted(set(value)) or ["a"]
    chars = st.sampled_from(alphabet) | st.characters()
    edits = st.lists(
        st.tuples(
            st.sampled_from(["insert", "delete", "replace"]),
            st.integers(0, max(len(value), 1)),
            chars,
        ),
        max_size=3,
    )
    edited = edits.map(lambda ops: _apply_edits(value, ops))
    pool = [st.sampled_from(_POOL)] if _POOL else []
    return st.one_of(
        *pool,
        edited,
        st.sampled_from(
            [
                value.upper(),
                value.lower(),
                value.swapcase(),
                value.strip(),
                f" {value} ",
                value * 2,
                value[: len(value) // 2],
                "",
                *(value + c for c in CASE_LENGTH_CHANGERS),
            ]
        ),
        st.text(chars, max_size=max(2 * len(value), 4)),
    )


def _apply_edits(text: str, ops: list[tuple[str, int, str]]) -> str:
    for op, index, char in ops:
        index = min(index, len(text))
        if op == "insert":
            text = text[:index] + char + text[index:]
        elif op == "delete" and text:
            text = text[: min(index, len(text) - 1)] + text[min(index, len(text) - 1) + 1 :]
        elif op == "replace" and text:
            at = min(index, len(text) - 1)
            text = text[:at] + char + text[at + 1 :]
    return text


def _bytes(value: bytes, depth: int) -> Any:
    from hypothesis import strategies as st

    return st.one_of(
        st.binary(max_size=max(2 * len(value), 4)),
        st.sampled_from([b"", value * 2, value[: len(value) // 2]]),
    )


def _elements(items: Any, depth: int) -> Any:
    from hypothesis import strategies as st

    sample = list(items)[:20]
    if not sample:
        return st.nothing()  # unknown element type: only the captured (empty) value is used
    return st.one_of([_strategy(item, depth + 1) for item in sample])


def _lists(value: list[Any], depth: int) -> Any:
    from hypothesis import strategies as st

    if not value:
        return st.just(value)  # the element type is unknown
    size = min(max(2 * len(value), 4), MAX_LIST)
    grown = st.lists(_elements(value, depth), max_size=size)
    variants = [value[:1], value + value, value[::-1], value[: len(value) // 2]]
    twins = _with_twins(value)
    if twins is not None:
        variants += [twins, twins[::-1]]
    choices = [grown, st.sampled_from(variants), grown.map(lambda extra: value + extra)]
    phrases = [p for p in _POOL if " " in p]
    if phrases and all(type(item) is str for item in value):
        # A phrase next to one of its own words: overlapping matches are what string
        # searches get wrong (a keyword inside a longer keyword, a prefix of another).
        overlapping = st.sampled_from(phrases).flatmap(
            lambda phrase: st.permutations([phrase, *st_words(phrase)])
        )
        choices.append(overlapping.map(list))
        choices.append(st.tuples(overlapping, grown).map(lambda pair: [*pair[0], *pair[1]]))
    return st.one_of(choices)


def _with_twins(value: list[Any]) -> list[Any] | None:
    """``value`` with equal values of a hashable and an unhashable type side by side.

    A ``set`` and a ``frozenset`` with the same elements compare equal, yet only one of them
    hashes: exactly where de-duplication and caching rewrites split equal values.  Applied
    to lists that already mix hashable and unhashable items (so the function takes any
    values that support ``==``); None when there is nothing to pair.
    """
    if not any(_hashable(item) for item in value) or all(_hashable(i) for i in value):
        return None
    twinned: list[Any] = []
    for item in value:
        twinned.append(item)
        if type(item) in (set, frozenset):
            twinned.append(frozenset(item) if type(item) is set else set(item))
        elif type(item) is list and all(_hashable(element) for element in item):
            twinned += [set(item), frozenset(item)]
    return twinned if len(twinned) > len(value) else None


def st_words(phrase: str) -> list[str]:
    """One or two words of ``phrase`` (as many as keep the permutation small)."""
    words = phrase.split()
    if not words:  # only whitespace
        return []
    return [words[-1]] if len(words) < 3 else [words[0], words[-1]]


_POOL: list[str] = []
"""Strings seen anywhere in the captured calls, their words and short phrases."""


def fill_pool(values: list[Any], limit: int = 200) -> None:
    """Collect the strings of the captured inputs, with their words and word pairs."""
    found: dict[str, None] = {}

    def visit(value: Any, depth: int) -> None:
        if len(found) >= limit or depth > 4:
            return
        if isinstance(value, str):
            words = value.split()
            for piece in [
                value,
                *words,
                *(" ".join(words[i : i + 2]) for i in range(len(words) - 1)),
            ]:
                if piece and len(piece) <= 80:
                    found.setdefault(piece, None)
        elif isinstance(value, (list, tuple, set, frozenset)):
            for item in list(value)[:50]:
                visit(item, depth + 1)
        elif isinstance(value, dict):
            for key, item in list(value.items())[:50]:
                visit(key, depth + 1)
                visit(item, depth + 1)

    for value in values:
        visit(value, 0)
    _POOL[:] = list(found)[:limit]


def _tuples(value: tuple[Any, ...], depth: int) -> Any:
    from hypothesis import strategies as st

    if 0 < len(value) <= 8:
        return st.tuples(*[_strategy(item, depth + 1) for item in value])
    return _lists(list(value), depth).map(tuple)


def _dicts(value: dict[Any, Any], depth: int) -> Any:
    from hypothesis import strategies as st

    keys = list(value)[:20]
    if not keys:
        return st.just(value)
    values = st.fixed_dictionaries({k: _strategy(value[k], depth + 1) for k in keys})
    dropped = st.sets(st.sampled_from(keys)).map(
        lambda gone: {k: v for k, v in value.items() if k not in gone}
    )
    return st.one_of(values, dropped)


def _sets(value: set[Any] | frozenset[Any], depth: int) -> Any:
    from hypothesis import strategies as st

    if not value:
        return st.just(value)
    try:
        elements = _elements(value, depth).filter(_hashable)
        return st.sets(elements, max_size=min(max(2 * len(value), 4), MAX_LIST)).map(type(value))
    except Exception:
        return st.just(value)


def _hashable(item: object) -> bool:
    try:
        hash(item)
    except TypeError:
        return False
    return True


_MAKERS: dict[type, Callable[[Any, int], Any]] = {
    bool: lambda value, depth: __import__("hypothesis").strategies.booleans(),
    int: _ints,
    float: _floats,
    str: _texts,
    bytes: _bytes,
    list: _lists,
    tuple: _tuples,
    dict: _dicts,
    set: _sets,
    frozenset: _sets,
}
