"""loop-invariant: repeated pure calls and attribute lookups move before the loop."""

from __future__ import annotations

from .harness import proposals, same_behaviour

SOURCE = """\
import math
import re


def f(rows, key, scale):
    out = []
    for row in rows:
        if row.lower() == key.lower():
            out.append(math.sqrt(scale) * len(rows))
        for part in re.split(",", row):
            out.append(part)
    return out
"""

EXPECTED = """\
import math
import re


def f(rows, key, scale):
    out = []
    _key_lower = key.lower()
    _out_append = out.append
    _math_sqrt = math.sqrt
    _re_split = re.split
    for row in rows:
        if row.lower() == _key_lower:
            _out_append(_math_sqrt(scale) * len(rows))
        for part in _re_split(",", row):
            _out_append(part)
    return out
"""


def test_invariant_call_and_lookups_are_hoisted() -> None:
    assert proposals("loop-invariant", SOURCE) == [EXPECTED]


def test_hoisting_behaves_the_same() -> None:
    calls = [(["A,b", "a", "c"], "a", 4.0), ([], "x", 1.0)]
    same_behaviour(SOURCE, EXPECTED, calls)


def test_calls_on_changing_inputs_or_in_branches_stay() -> None:
    source = """\
    def f(items, limits):
        out = 0
        for x in items:
            items_seen = len(items)
            if x:
                out += max(limits)
            items.append(x) if x < 0 else None
        return out
    """
    found = proposals("loop-invariant", source)
    assert all("len(items)" in text and "max(limits)" in text for text in found)
