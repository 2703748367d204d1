"""seen-set: a list searched with ``in`` while it is built gets a mirror set."""

from __future__ import annotations

from .harness import proposals, same_behaviour

SOURCE = """\
def f(items):
    result = []
    for item in items:
        if item not in result:
            result.append(item)
    return result
"""

GUARDED = '''\
def _contains(seen, items, item):
    """``item in items``, answered from ``seen``, the set of the same items, while it exists."""
    if seen is not None:
        try:
            return item in seen
        except TypeError:  # unhashable: compare it with every element, as the list does
            pass
    return item in items


def f(items):
    result = []
    _result_seen = set()
    for item in items:
        if not _contains(_result_seen, result, item):
            result.append(item)
            if _result_seen is not None:
                try:
                    _result_seen.add(item)
                except TypeError:  # an unhashable item: from now on the list itself answers
                    _result_seen = None
    return result
'''

PLAIN = """\
def f(items):
    result = []
    _result_seen = set()
    for item in items:
        if item not in _result_seen:
            result.append(item)
            _result_seen.add(item)
    return result
"""


def test_guarded_then_plain() -> None:
    assert proposals("seen-set", SOURCE) == [GUARDED, PLAIN]


def test_guarded_version_handles_unhashable_and_mixed_items() -> None:
    calls = [
        ([3, 1, 3, 2, 1],),
        ([],),
        ([frozenset({1}), {1}, 2, 2.0, [3], [3]],),
        ([{1}, frozenset({1}), {2}, {2}],),
        ([1, True, 1.0, "1"],),
    ]
    same_behaviour(SOURCE, GUARDED, calls)
    same_behaviour(SOURCE, PLAIN, calls[:2] + calls[4:])


def test_lists_used_in_other_ways_are_left_alone() -> None:
    source = """\
    def f(items):
        result = []
        for item in items:
            if item not in result:
                result.append(item)
                result.sort()
        return result
    """
    assert proposals("seen-set", source) == []
