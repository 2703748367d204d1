"""sorted-min-max and top-k: partial use of a full sort becomes min/max or heapq."""

from __future__ import annotations

from .harness import proposals, same_behaviour

SOURCE = """\
def f(scores, names):
    best = sorted(scores)[-1]
    worst = sorted(scores, key=abs)[0]
    last = sorted(names.values(), reverse=True)[-1]
    top = sorted(scores, reverse=True)[:3]
    return best, worst, last, top
"""

MIN_MAX = """\
def f(scores, names):
    best = (max(reversed(list(scores))) if scores else sorted(scores)[-1])
    worst = (min(scores, key=abs) if scores else sorted(scores, key=abs)[0])
    last = min(reversed(list(names.values())))
    top = sorted(scores, reverse=True)[:3]
    return best, worst, last, top
"""

TOP_K = """\
import heapq


def f(scores, names):
    best = sorted(scores)[-1]
    worst = sorted(scores, key=abs)[0]
    last = sorted(names.values(), reverse=True)[-1]
    top = heapq.nlargest(3, scores)
    return best, worst, last, top
"""


def test_first_and_last_items_become_min_and_max() -> None:
    found = proposals("sorted-min-max", SOURCE)
    assert found[0] == MIN_MAX
    assert len(found) == 4


def test_a_leading_slice_becomes_heapq() -> None:
    assert proposals("top-k", SOURCE) == [TOP_K]


def test_ties_and_empty_input_behave_the_same() -> None:
    calls = [
        ([1, 1.0, True, -3, 3, -3.0], {"a": 2, "b": 2.0}),
        ([5], {"x": 1}),
        ([], {"x": 1}),
    ]
    for rewritten in proposals("sorted-min-max", SOURCE) + proposals("top-k", SOURCE):
        same_behaviour(SOURCE, rewritten, calls)


def test_other_indexes_and_negative_slices_stay() -> None:
    source = """\
    def f(xs, k):
        return sorted(xs)[1], sorted(xs)[:-2], sorted(xs)[:k]
    """
    assert proposals("sorted-min-max", source) == []
    assert proposals("top-k", source) == []
