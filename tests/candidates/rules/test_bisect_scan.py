"""bisect: linear scans over a list the function sorted become binary searches."""

from __future__ import annotations

from .harness import proposals, same_behaviour

SOURCE = """\
def f(values, v, w):
    s = sorted(values)
    below = 0
    for x in s:
        if x < v:
            below += 1
    above = sum(1 for x in s if w <= x)
    for y in s:
        if y > v:
            return below, above, y * 2
    return below, above, None
"""

EXPECTED = """\
import bisect


def f(values, v, w):
    s = sorted(values)
    below = 0
    below += bisect.bisect_left(s, v)
    above = len(s) - bisect.bisect_left(s, w)
    _y_at = bisect.bisect_right(s, v)
    if _y_at < len(s):
        y = s[_y_at]
        return below, above, y * 2
    return below, above, None
"""


def test_counts_and_first_match_use_bisect() -> None:
    found = proposals("bisect", SOURCE, "f")
    assert found[0] == EXPECTED
    assert len(found) == 4


def test_binary_search_behaves_the_same() -> None:
    calls = [([5, 1, 3, 3, 9], 3, 3), ([], 0, 0), ([2, 2, 2], 2, 1), ([1.5, 1], 1, 2)]
    for rewritten in proposals("bisect", SOURCE):
        same_behaviour(SOURCE, rewritten, calls)


def test_unsorted_or_key_sorted_lists_stay() -> None:
    unsorted = """\
    def f(s, v):
        n = 0
        for x in s:
            if x < v:
                n += 1
        return n
    """
    keyed = """\
    def f(values, v):
        s = sorted(values, key=abs)
        return sum(1 for x in s if x < v)
    """
    assert proposals("bisect", unsorted) == []
    assert proposals("bisect", keyed) == []
