"""membership: tests against lists and tuples become set lookups."""

from __future__ import annotations

from .harness import proposals, same_behaviour

SOURCE = """\
STOP = ("a", "an", "the")


def f(words, counts):
    kept = []
    allowed = "x y z".split()
    for w in words:
        if w in STOP or w in list(counts.keys()):
            continue
        if w in allowed and w not in ["q", "r", "s"]:
            kept.append(w)
    return kept
"""

EXPECTED = """\
STOP = ("a", "an", "the")


_STOP_SET = frozenset(STOP)


def f(words, counts):
    kept = []
    allowed = "x y z".split()
    _allowed_set = set(allowed)
    for w in words:
        if w in _STOP_SET or w in counts:
            continue
        if w in _allowed_set and w not in {"q", "r", "s"}:
            kept.append(w)
    return kept
"""


def test_every_site_at_once_then_one_by_one() -> None:
    found = proposals("membership", SOURCE)
    assert found[0] == EXPECTED
    assert len(found) == 4  # all sites, then the first three alone
    assert "if w in STOP or w in counts:" in found[1]
    assert 'w not in {"q", "r", "s"}' in found[2]


def test_rewrite_behaves_the_same() -> None:
    calls = [(["a", "x", "q", "y", "k"], {"k": 1}), ([], {}), (["z", "z"], {"x": 0})]
    for rewritten in proposals("membership", SOURCE):
        same_behaviour(SOURCE, rewritten, calls)


def test_set_is_not_hoisted_over_a_loop_that_changes_the_list() -> None:
    source = """\
    def f(items):
        seen = list()
        for x in items:
            if x in seen:
                continue
            seen = seen + [x]
        return seen
    """
    assert proposals("membership", source) == []


def test_parameters_need_a_sequence_annotation() -> None:
    untyped = """\
    def f(words, allowed):
        return [w for w in words if w in allowed]
    """
    typed = """\
    def f(words, allowed: list[str]):
        return [w for w in words if w in allowed]
    """
    assert proposals("membership", untyped) == []
    (found,) = proposals("membership", typed)
    assert "_allowed_set = set(allowed)\n    return [w for w in words if w in _allowed_set]" in (
        found
    )
