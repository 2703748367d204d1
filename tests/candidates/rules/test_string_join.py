"""string-join: strings and bytes built with += in a loop are joined once."""

from __future__ import annotations

from .harness import proposals, same_behaviour

SOURCE = """\
def f(rows, sep):
    out = ""
    data = b"\\x00"
    for row in rows:
        out += str(row) + sep
        data = data + bytes([row % 256])
        if row > 100:
            return out
    return out, data
"""

EXPECTED = """\
def f(rows, sep):
    _out_parts = []
    _data_parts = [b"\\x00"]
    for row in rows:
        _out_parts.append(str(row) + sep)
        _data_parts.append(bytes([row % 256]))
        if row > 100:
            return "".join(_out_parts)
    out = "".join(_out_parts)
    data = b"".join(_data_parts)
    return out, data
"""


def test_str_and_bytes_are_collected_and_joined() -> None:
    found = proposals("string-join", SOURCE)
    assert found[0] == EXPECTED
    assert len(found) == 3


def test_joining_behaves_the_same() -> None:
    calls = [([1, 2, 3], ","), ([5, 200, 7], "-"), ([], "")]
    for rewritten in proposals("string-join", SOURCE):
        same_behaviour(SOURCE, rewritten, calls)


def test_strings_read_inside_the_loop_are_left_alone() -> None:
    source = """\
    def f(words):
        text = ""
        for w in words:
            if len(text) > 10:
                break
            text += w
        return text
    """
    assert proposals("string-join", source) == []


def test_strings_built_where_an_exception_may_be_caught_are_left_alone() -> None:
    """Halfway through, the original has part of the string; the rewrite, the start."""
    under_suppress = """\
    def f(chunks):
        with suppress(UnicodeDecodeError):
            text = ""
            for chunk in chunks:
                text += chunk.decode()
            return text
    """
    assert proposals("string-join", under_suppress) == []
    under_open = under_suppress.replace("suppress(UnicodeDecodeError)", "open('log')")
    assert len(proposals("string-join", under_open)) == 1  # open lets every exception through
