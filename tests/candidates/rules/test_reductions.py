"""reduction: reductions read generators, the iterable itself, or map over a builtin."""

from __future__ import annotations

from .harness import proposals, same_behaviour

SOURCE = """\
def f(words, nums):
    a = any([w.startswith("x") for w in words])
    b = sum([len(w) for w in words])
    c = max([n for n in nums])
    d = all(n > 0 for n in nums)
    return a, b, c, d
"""

EXPECTED = """\
def f(words, nums):
    a = any(w.startswith("x") for w in words)
    b = sum(map(len, words))
    c = max(nums)
    d = all(n > 0 for n in nums)
    return a, b, c, d
"""


def test_cheaper_arguments() -> None:
    found = proposals("reduction", SOURCE)
    assert found[0] == EXPECTED
    assert len(found) == 4


def test_reductions_behave_the_same() -> None:
    calls = [(["ax", "xb"], [3, 1, 2]), ([], [1]), (["y"], [])]
    for rewritten in proposals("reduction", SOURCE):
        same_behaviour(SOURCE, rewritten, calls)


def test_shadowed_builtins_and_filtered_sums_stay() -> None:
    source = """\
    def f(xs, len):
        return sum([len(x) for x in xs]), sum([x for x in xs if x])
    """
    assert proposals("reduction", source) == []
