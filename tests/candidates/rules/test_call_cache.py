"""call-cache: a pure helper's results are reused during one call of the target."""

from __future__ import annotations

from .harness import proposals, same_behaviour

SOURCE = """\
TABLE = {"a": 1}


def _rate(region, kind):
    return TABLE.get(region.strip(), 0) * len(kind)


def f(lines):
    total = 0
    for region, kind in lines:
        rate = _rate(region, kind)
        total += _rate(kind, region)
    return total + rate
"""

EXPECTED = """\
TABLE = {"a": 1}


def _rate(region, kind):
    return TABLE.get(region.strip(), 0) * len(kind)


def f(lines):
    _rate_cache = {}
    total = 0
    for region, kind in lines:
        _key = (region, type(region), kind, type(kind))
        if _key in _rate_cache:
            rate = _rate_cache[_key]
        else:
            rate = _rate_cache[_key] = _rate(region, kind)
        _key_2 = (kind, type(kind), region, type(region))
        if _key_2 in _rate_cache:
            _value = _rate_cache[_key_2]
        else:
            _value = _rate_cache[_key_2] = _rate(kind, region)
        total += _value
    return total + rate
"""


def test_both_calls_share_one_cache() -> None:
    found = proposals("call-cache", SOURCE)
    assert found[0] == EXPECTED
    assert len(found) == 3


def test_cached_version_behaves_the_same() -> None:
    lines = [("a", "a"), ("a ", "bb"), ("a", "a"), ("b", "a")]
    for rewritten in proposals("call-cache", SOURCE):
        same_behaviour(SOURCE, rewritten, [(lines,), (lines * 3,), ([],)])


def test_impure_helpers_are_not_cached() -> None:
    source = """\
    import random

    def _jitter(x):
        return x + random.random()

    def _log(x, out):
        out.append(x)
        return x

    def f(values, out):
        total = 0
        for v in values:
            total += _jitter(v)
            total += _log(v, out)
        return total
    """
    assert proposals("call-cache", source) == []
