"""loop-sink: values a loop recomputes but never reads are computed once, after it."""

from __future__ import annotations

from .harness import proposals, same_behaviour

SOURCE = """\
def f(values):
    seen = []
    for v in values:
        seen.append(v * 2)
        # running statistics
        mean = sum(seen) / len(seen)
        top = max(seen)
    return mean, top
"""

EXPECTED = """\
def f(values):
    seen = []
    _ran = False
    for v in values:
        seen.append(v * 2)
        _ran = True
    if _ran:
        mean = sum(seen) / len(seen)
        top = max(seen)
    return mean, top
"""


def test_statistics_move_after_the_loop() -> None:
    assert proposals("loop-sink", SOURCE) == [EXPECTED]


def test_zero_iterations_still_leave_the_names_unbound() -> None:
    same_behaviour(SOURCE, EXPECTED, [([1, 5, 2],), ([],), ([3],)])


def test_not_moved_when_the_loop_reads_them_or_can_stop_early() -> None:
    read = """\
    def f(values):
        seen = []
        for v in values:
            seen.append(v)
            top = max(seen)
            print(top)
        return top
    """
    stops = """\
    def f(values):
        seen = []
        for v in values:
            if v < 0:
                break
            seen.append(v)
            top = max(seen)
        return top
    """
    changed_later = """\
    def f(values):
        seen = []
        for v in values:
            top = max(seen + [v])
            seen.append(v)
        return top
    """
    impure = """\
    def f(rng, n):
        for _ in range(n):
            last = rng.random()
        return last
    """
    for source in (read, stops, changed_later, impure):
        assert proposals("loop-sink", source) == []
