"""join-index: nested loops joining on equal keys use a dict index built once."""

from __future__ import annotations

from .harness import proposals, same_behaviour

SOURCE = """\
def f(orders, customers):
    out = []
    for o in orders:
        for c in customers:
            if o["cid"] == c["id"] and c["active"]:
                out.append((o["n"], c["name"]))
    return out
"""

EXPECTED = """\
def f(orders, customers):
    out = []
    _customers_by_key = {}
    for c in customers:
        _customers_by_key.setdefault(c["id"], []).append(c)
    for o in orders:
        for c in _customers_by_key.get(o["cid"], ()):
            if c["active"]:
                out.append((o["n"], c["name"]))
    return out
"""


def test_join_on_equal_keys_uses_an_index() -> None:
    assert proposals("join-index", SOURCE) == [EXPECTED]


def test_index_keeps_the_order_of_matches() -> None:
    orders = [{"cid": 1, "n": "a"}, {"cid": 2, "n": "b"}, {"cid": 1, "n": "c"}]
    customers = [
        {"id": 1, "name": "x", "active": True},
        {"id": 1, "name": "y", "active": True},
        {"id": 2, "name": "z", "active": False},
    ]
    same_behaviour(SOURCE, EXPECTED, [(orders, customers), ([], customers), (orders, [])])


def test_other_comparisons_and_leaking_variables_stay() -> None:
    less = """\
    def f(xs, ys):
        return [1 for x in xs for y in ys if x < y]
    """
    leaking = """\
    def f(xs, ys):
        n = 0
        for x in xs:
            for y in ys:
                if x == y:
                    n += 1
        return n, y
    """
    assert proposals("join-index", less) == []
    assert proposals("join-index", leaking) == []
