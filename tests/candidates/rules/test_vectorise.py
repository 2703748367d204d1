"""numpy-vectorise: elementwise loops and running sums over numpy arrays."""

from __future__ import annotations

import numpy as np

from .harness import proposals

SOURCE = """\
import numpy as np


def f(a: np.ndarray, b: np.ndarray, k: float):
    out = np.empty_like(a)
    for i in range(len(a)):
        out[i] = a[i] * k + b[i] - i
    total = 0
    for x in a:
        total += x * x
    return out, total
"""

EXPECTED = """\
import numpy as np


def f(a: np.ndarray, b: np.ndarray, k: float):
    out = np.empty_like(a)
    out[:len(a)] = ((a[:len(a)] * k) + b[:len(a)]) - np.arange(len(a))
    total = 0
    if len(a):
        total = np.cumsum(np.concatenate(((total,), np.broadcast_to(x_ * x_, (len(a),)))))[-1]
    return out, total
""".replace("x_", "a")


def test_elementwise_loop_and_running_sum() -> None:
    found = proposals("numpy-vectorise", SOURCE)
    assert found[0] == EXPECTED
    assert len(found) == 3


def _run(source: str, *args: object) -> object:
    namespace: dict[str, object] = {}
    exec(source, namespace)
    function = namespace["f"]
    assert callable(function)
    return function(*args)


def test_results_are_bit_for_bit_the_same() -> None:
    rng = np.random.default_rng(7)
    for size in (0, 1, 50):
        a, b = rng.random(size), rng.random(size)
        expected = _run(SOURCE, a, b, 1.7)
        for rewritten in proposals("numpy-vectorise", SOURCE):
            got = _run(rewritten, a, b, 1.7)
            assert isinstance(expected, tuple)
            assert isinstance(got, tuple)
            assert np.array_equal(got[0], expected[0])
            assert got[1] == expected[1]
            assert type(got[1]) is type(expected[1])


def test_python_lists_and_unknown_functions_stay() -> None:
    lists = """\
    import numpy as np

    def f(a, k):
        total = 0
        for x in a:
            total += x * k
        return total
    """
    unknown = """\
    import math
    import numpy as np

    def f(a: np.ndarray):
        out = np.zeros(len(a))
        for i in range(len(a)):
            out[i] = math.exp(a[i])
        return out
    """
    assert proposals("numpy-vectorise", lists) == []
    assert proposals("numpy-vectorise", unknown) == []
