"""memoise: pure recursive functions get a memo that lives for one outer call."""

from __future__ import annotations

from .harness import proposals, same_behaviour

SOURCE = '''\
def f(n, k=None):
    """Paths."""
    if k is None:
        k = n
    if n <= 1:
        return 1
    return f(n - 1, k) + f(n - 2, k)
'''

PLAIN = '''\
def f(n, k=None):
    """Paths."""
    _memo = {}

    def _f(n, k=None):
        _key = (n, type(n), k, type(k))
        if _key in _memo:
            return _memo[_key]
        if k is None:
            k = n
        if n <= 1:
            return _memo.setdefault(_key, 1)
        return _memo.setdefault(_key, _f(n - 1, k) + _f(n - 2, k))

    return _f(n, k)
'''


def test_guarded_and_plain_memo() -> None:
    guarded, plain = proposals("memoise", SOURCE)
    assert plain == PLAIN
    assert "except TypeError:  # unhashable arguments" in guarded
    assert "_key = object()" in guarded


def test_memoised_versions_behave_the_same() -> None:
    calls = [(0,), (1,), (15,), (12.0,), (True,), (-3,), (5, 2)]
    for rewritten in proposals("memoise", SOURCE):
        same_behaviour(SOURCE, rewritten, calls)


def test_no_memo_is_kept_between_calls() -> None:
    source = """\
    SCALE = [1]

    def f(n):
        if n < 2:
            return SCALE[0]
        return f(n - 1) + f(n - 2)
    """
    namespace: dict[str, object] = {}
    exec(proposals("memoise", source)[1], namespace)
    function = namespace["f"]
    assert callable(function)
    first = function(10)
    namespace["SCALE"] = [2]
    assert function(10) == 2 * first


def test_impure_or_single_call_recursion_is_left_alone() -> None:
    printing = """\
    def f(n):
        print(n)
        return 1 if n < 2 else f(n - 1) + f(n - 2)
    """
    linear = """\
    def f(n):
        return 1 if n < 1 else n * f(n - 1)
    """
    mutating = """\
    def f(items):
        if not items:
            return 0
        items.pop()
        return f(items) + f(items)
    """
    for source in (printing, linear, mutating):
        assert proposals("memoise", source) == []
