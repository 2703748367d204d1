"""comprehension: loops that only fill a new list, set or dict become comprehensions."""

from __future__ import annotations

from .harness import proposals, same_behaviour

SOURCE = """\
def f(rows, keys):
    out: list[int] = []
    seen = set()
    index = {}
    # fill the list
    for r in rows:
        if r > 0:
            for k in keys:
                out.append(r * k)
    for r in rows:
        seen.add(r % 7)
    for i, r in enumerate(rows):
        index[r] = i
    return out, seen, index
"""

EXPECTED = """\
def f(rows, keys):
    # fill the list
    out: list[int] = [r * k for r in rows if r > 0 for k in keys]
    seen = {r % 7 for r in rows}
    index = {r: i for i, r in enumerate(rows)}
    return out, seen, index
"""


def test_list_set_and_dict_loops() -> None:
    found = proposals("comprehension", SOURCE)
    assert found[0] == EXPECTED
    assert len(found) == 4


def test_comprehensions_behave_the_same() -> None:
    calls = [([3, -1, 8, 3], [1, 2]), ([], [5]), ([1], [])]
    for rewritten in proposals("comprehension", SOURCE):
        same_behaviour(SOURCE, rewritten, calls)


def test_loops_with_other_effects_or_leaking_variables_stay() -> None:
    leaking = """\
    def f(rows):
        out = []
        for r in rows:
            out.append(r)
        return out, r
    """
    self_reading = """\
    def f(rows):
        out = []
        for r in rows:
            out.append(len(out) + r)
        return out
    """
    in_try = """\
    def f(rows):
        try:
            out = []
            for r in rows:
                out.append(1 / r)
        except ZeroDivisionError:
            return out
        return out
    """
    # A context manager may swallow the exception too (more-itertools' _sample_counted).
    in_suppress = """\
    def f(population, k):
        with suppress(StopIteration):
            out = []
            for _ in range(k):
                out.append(next(population))
        return out
    """
    for source in (leaking, self_reading, in_try, in_suppress):
        assert proposals("comprehension", source) == []


def test_a_loop_under_open_is_rewritten() -> None:
    """``open`` lets every exception through: the partly filled list is never seen."""
    source = """\
    def f(path):
        with open(path) as handle:
            out = []
            for line in handle:
                out.append(line.strip())
        return out
    """
    (found,) = proposals("comprehension", source)
    assert "out = [line.strip() for line in handle]" in found
