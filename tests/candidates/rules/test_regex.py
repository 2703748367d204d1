"""regex-precompile: literal patterns are compiled once, at module level."""

from __future__ import annotations

from .harness import proposals, same_behaviour

SOURCE = """\
import re


def f(lines):
    out = []
    for line in lines:
        m = re.match(r"(\\w+)=(\\d+)", line, re.I | re.M)
        if m:
            out.append(re.sub(r"\\s+", " ", m.group(1), count=2))
        out.extend(re.findall(r"\\d+", line, flags=re.A))
    return out, re.compile(r"\\s+").split("a b")
"""

EXPECTED = """\
import re


_F_RE = re.compile(r"(\\w+)=(\\d+)", re.I | re.M)
_F_RE_2 = re.compile(r"\\s+")
_F_RE_3 = re.compile(r"\\d+", re.A)


def f(lines):
    out = []
    for line in lines:
        m = _F_RE.match(line)
        if m:
            out.append(_F_RE_2.sub(" ", m.group(1), count=2))
        out.extend(_F_RE_3.findall(line))
    return out, _F_RE_2.split("a b")
"""


def test_patterns_move_to_module_level_and_are_shared() -> None:
    found = proposals("regex-precompile", SOURCE)
    assert found[0] == EXPECTED
    assert len(found) == 4


def test_precompiled_patterns_behave_the_same() -> None:
    same_behaviour(SOURCE, EXPECTED, [(["ab=12 x", "A=1", "none 3 4"],), ([],)])


def test_patterns_that_do_not_compile_or_vary_stay() -> None:
    source = """\
    import re

    def f(text, word):
        bad = re.compile("(")
        return re.search(word, text), re.match("a", text, flags=word)
    """
    assert proposals("regex-precompile", source) == []


def test_an_alias_of_re_is_followed() -> None:
    source = """\
    import re as regex

    def f(text):
        return regex.split("[,;]", text, 3)
    """
    (found,) = proposals("regex-precompile", source)
    assert '_F_RE = regex.compile("[,;]")' in found
    assert "return _F_RE.split(text, 3)" in found
