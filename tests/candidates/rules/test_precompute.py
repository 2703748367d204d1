"""precompute: an inner loop's per-element values are computed once, before the outer loop."""

from __future__ import annotations

from .harness import proposals, same_behaviour

SOURCE = """\
import re


def f(lines, words):
    counts = {w: 0 for w in words}
    for line in lines:
        for w in words:
            pattern = re.compile(re.escape(w), re.I)
            if pattern.search(line):
                counts[w] += len(w.strip())
    return counts
"""

EXPECTED = """\
import re


def f(lines, words):
    counts = {w: 0 for w in words}
    _per_element = [(w, re.compile(re.escape(w), re.I)) for w in words]
    for line in lines:
        for w, _compile in _per_element:
            pattern = _compile
            if pattern.search(line):
                counts[w] += len(w.strip())
    return counts
"""


def test_patterns_are_compiled_once_per_word() -> None:
    assert proposals("precompute", SOURCE) == [EXPECTED]


def test_precomputing_behaves_the_same() -> None:
    calls = [(["a B c", "b.", "nothing"], ["b", "B", "c+"]), ([], ["x"]), (["x"], [])]
    same_behaviour(SOURCE, EXPECTED, calls)


def test_not_when_the_outer_loop_changes_the_inner_sequence() -> None:
    source = """\
    def f(lines, words):
        out = []
        for line in lines:
            for w in words:
                out.append(w.lower() in line)
            words.append(line)
        return out
    """
    assert proposals("precompute", source) == []
