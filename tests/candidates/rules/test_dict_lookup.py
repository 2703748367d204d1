"""dict-lookup: a repeated lookup of the same key is read once into a local."""

from __future__ import annotations

from .harness import proposals, same_behaviour

SOURCE = """\
def f(events):
    summary = {}
    for event in events:
        name = event.get("name")
        if name not in summary:
            summary[name] = {"n": 0, "total": 0}
        summary.get(name)["n"] = summary.get(name)["n"] + 1
        summary[name]["total"] += event.get("size") + event.get("size")
    return summary
"""

EXPECTED = """\
def f(events):
    summary = {}
    for event in events:
        name = event.get("name")
        if name not in summary:
            summary[name] = {"n": 0, "total": 0}
        _summary_name = summary.get(name)
        _summary_name["n"] = _summary_name["n"] + 1
        _event_size = event.get("size")
        summary[name]["total"] += _event_size + _event_size
    return summary
"""


def test_lookups_are_reused_after_the_last_change() -> None:
    assert proposals("dict-lookup", SOURCE) == [EXPECTED]


def test_reuse_behaves_the_same() -> None:
    events = [{"name": "a", "size": 2}, {"name": "b", "size": 1}, {"name": "a", "size": 5}]
    same_behaviour(SOURCE, EXPECTED, [(events,), ([],), ([{"size": 1}],)])


def test_no_reuse_across_a_change_or_for_a_conditional_subscript() -> None:
    changed = """\
    def f(d, k):
        a = d.get(k)
        d[k] = 1
        return a, d.get(k)
    """
    conditional = """\
    def f(d, k, ok):
        if ok:
            x = d[k]
        return d[k]
    """
    assert proposals("dict-lookup", changed) == []
    assert proposals("dict-lookup", conditional) == []
