"""Class methods and constructors are also compared when called through a subclass."""

from __future__ import annotations

import pytest

from pytest_codeflash.runner.calls import Args, dump_args
from pytest_codeflash.runner.differential import Differential
from pytest_codeflash.runner.replay import verify_replayed

from .twins import twin_differential

NAME = "shapes_sub"
ORIGINAL = """\
class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y
        self.kind = type(self).__name__

    @classmethod
    def from_pair(cls, pair):
        x, y = pair
        return cls(x, y)

    def __new__(cls, *args):
        return super().__new__(cls)
"""
HARD_CODED = ORIGINAL.replace("return cls(x, y)", "return Point(x, y)")
UNPACKED = ORIGINAL.replace("x, y = pair\n        return cls(x, y)", "return cls(*pair)")
INIT_NAMED = ORIGINAL.replace("type(self).__name__", '"Point"')
NEW_HARD_CODED = ORIGINAL.replace("super().__new__(cls)", "super().__new__(Point)")


def _replayed(candidate: str, qualname: str) -> Differential:
    """Replay one captured call of ``qualname`` with ``candidate`` against the original."""
    differential = twin_differential(NAME, ORIGINAL, candidate, qualname=qualname)
    point = differential.candidate.module.Point
    calls: dict[str, Args] = {
        "Point.from_pair": ((point, (1, 2)), {}),
        "Point.__init__": ((point.__new__(point), 1, 2), {}),
        "Point.__new__": ((point, 1, 2), {}),
    }
    verify_replayed(differential, [dump_args(calls[qualname])], lambda _: None)
    return differential


@pytest.mark.parametrize(
    ("candidate", "qualname"),
    [
        (HARD_CODED, "Point.from_pair"),
        (INIT_NAMED, "Point.__init__"),
        (NEW_HARD_CODED, "Point.__new__"),
    ],
    ids=["classmethod", "init", "new"],
)
def test_a_rewrite_that_names_its_class_differs_through_a_subclass(
    candidate: str, qualname: str
) -> None:
    differential = _replayed(candidate, qualname)
    (difference,) = differential.tally.differences
    assert difference.test == "a call through a subclass of Point (captured call #0)"
    assert "Point_codeflash_subclass" in difference.detail + difference.expected
    # The classes made for the check are gone again.
    assert not hasattr(differential.candidate.module.Point, "Point_codeflash_subclass")
    assert not hasattr(differential.original.module.Point, "Point_codeflash_subclass")


def test_a_rewrite_that_keeps_cls_agrees_through_a_subclass() -> None:
    differential = _replayed(UNPACKED, "Point.from_pair")
    assert differential.tally.differences == []
    assert differential.tally.compared == 2  # the captured call, then through a subclass


def test_a_plain_function_is_not_called_twice() -> None:
    source = "def double(x):\n    return 2 * x\n"
    differential = twin_differential(
        NAME, source, source.replace("2 * x", "x + x"), qualname="double"
    )
    verify_replayed(differential, [dump_args(((3,), {}))], lambda _: None)
    assert differential.tally.compared == 1
