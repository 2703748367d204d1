"""drop-copy: copies of data that is only ever read are no longer made."""

from __future__ import annotations

from .harness import proposals, same_behaviour

SOURCE = """\
import copy


def f(orders, limit):
    snapshot = copy.deepcopy(orders)
    out = 0
    for order in snapshot:
        for line in order["lines"]:
            if line["qty"] < limit:
                out += line["qty"] * line["price"]
    return out
"""

EXPECTED = """\
import copy


def f(orders, limit):
    snapshot = orders
    out = 0
    for order in snapshot:
        for line in order["lines"]:
            if line["qty"] < limit:
                out += line["qty"] * line["price"]
    return out
"""


def test_read_only_copy_is_dropped() -> None:
    assert proposals("drop-copy", SOURCE) == [EXPECTED]


def test_reading_the_original_behaves_the_same() -> None:
    orders = [{"lines": [{"qty": 1, "price": 2.5}, {"qty": 9, "price": 1}]}]
    same_behaviour(SOURCE, EXPECTED, [(orders, 5), ([], 1)])


def test_copies_that_are_changed_returned_or_stored_stay() -> None:
    changed = """\
    from copy import deepcopy

    def f(rows):
        data = deepcopy(rows)
        for row in data:
            row.append(0)
        return len(data)
    """
    returned = """\
    import copy

    def f(rows):
        data = copy.copy(rows)
        return data
    """
    stored = """\
    import copy

    def f(rows, out):
        data = copy.deepcopy(rows)
        out.append(data)
    """
    original_changed = """\
    import copy

    def f(rows):
        data = copy.deepcopy(rows)
        rows.clear()
        return sum(data)
    """
    for source in (changed, returned, stored, original_changed):
        assert proposals("drop-copy", source) == []
