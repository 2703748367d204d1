"""counter: counting loops into a fresh dict use collections.Counter, kept a plain dict."""

from __future__ import annotations

from .harness import proposals, same_behaviour

SOURCE = """\
def f(words, text):
    counts = {}
    for w in words:
        counts[w] = counts.get(w, 0) + 1
    lower: dict[str, int] = {}
    for w in words:
        if w.lower() in lower:
            lower[w.lower()] += 1
        else:
            lower[w.lower()] = 1
    chars = {}
    for ch in text:
        if ch not in chars:
            chars[ch] = text.count(ch)
    return counts, lower, chars
"""

EXPECTED = """\
from collections import Counter


def f(words, text):
    counts = {}
    counts.update(Counter(words))
    lower: dict[str, int] = {}
    lower.update(Counter(w.lower() for w in words))
    chars = {}
    chars.update(Counter(text))
    return counts, lower, chars
"""


def test_three_spellings_of_counting() -> None:
    found = proposals("counter", SOURCE)
    assert found[0] == EXPECTED
    assert len(found) == 4


def test_counts_keys_order_and_types_are_the_same() -> None:
    calls = [(["b", "A", "a", "b", "B"], "abca"), ([], ""), (["x"], "xxy")]
    for rewritten in proposals("counter", SOURCE):
        same_behaviour(SOURCE, rewritten, calls)


def test_a_dict_already_used_or_a_leaking_loop_variable_is_left_alone() -> None:
    used = """\
    def f(words):
        counts = {}
        counts["x"] = 0
        for w in words:
            counts[w] = counts.get(w, 0) + 1
        return counts
    """
    leaking = """\
    def f(words):
        counts = {}
        for w in words:
            counts[w] = counts.get(w, 0) + 1
        return counts, w
    """
    assert proposals("counter", used) == []
    assert proposals("counter", leaking) == []
