"""A call whose copy for the original is not the call is not compared, nor blamed on the
candidate: its inputs' own copying leaves state out, the copy kept the candidate's class, or
``self`` is of a subclass defined outside the module (found on cachetools' own tests)."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from pytest_codeflash.runner.differential import Differential

from .twins import load_module, twin_differential

NAME = "fidelity_mod"
SOURCE = """\
class Timer:
    def __init__(self):
        self.nesting = 0

    def __enter__(self):
        self.nesting += 1
        return self

    def __exit__(self, *exc):
        self.nesting -= 1

    def __reduce__(self):  # a copy starts afresh, as cachetools' timer does
        return Timer, ()


class Box:
    def __init__(self, items, key=None):
        self.items = list(items)
        self.key = key
        self.timer = Timer()

    def total(self):
        return sum(self.items) + self.timer.nesting
"""
# The same behaviour, spelled otherwise: nothing a fair comparison could tell apart.
CANDIDATE = SOURCE.replace(
    "return sum(self.items) + self.timer.nesting",
    "n = self.timer.nesting\n        for x in self.items:\n            n += x\n        return n",
)


def _differential(qualname: str) -> Differential:
    return twin_differential(NAME, SOURCE, CANDIDATE, qualname=qualname)


def _call(differential: Differential, *args: Any) -> Any:
    differential.current_test = "test_x"
    return differential.compare_call((args, {}), reraise=True)


def test_a_copy_that_leaves_state_out_is_not_compared() -> None:
    differential = _differential("Box.total")
    box = differential.candidate.module.Box([1, 2])
    assert _call(differential, box) == 3  # outside the block: the copy is the call
    with box.timer:
        assert _call(differential, box) == 4  # the candidate's result, on the real box
    tally = differential.tally
    assert tally.differences == []
    (why,) = tally.uncopyable
    assert why.startswith("test_x: the original's copy of the inputs differs from them at self")
    assert "timer.nesting (0 in the copy, 1 in the call)" in why


def test_a_copy_that_kept_the_candidates_class_is_not_compared() -> None:
    differential = _differential("Box.total")
    box = differential.candidate.module.Box([1, 2], key=lambda x: x)  # pickle refuses it
    assert _call(differential, box) == 3
    (why,) = differential.tally.uncopyable
    assert "the copy of self is still of the candidate's Box, not of the original's own" in why
    assert differential.tally.differences == []


def _subclass_module(source: str) -> Any:
    """A module of the test's own, importable, with a subclass of the target's Box."""
    module = load_module("fidelity_tests_own", "from fidelity_mod import Box\n\n" + source)
    sys.modules["fidelity_tests_own"] = module  # (removed after the test, see conftest)
    return module


def test_self_of_a_subclass_defined_elsewhere_is_compared_through_a_twin() -> None:
    differential = _differential("Box.total")
    own = _subclass_module(
        "class MyBox(Box):\n    def double(self):\n        return 2 * self.total()\n"
    )
    assert _call(differential, own.MyBox([5])) == 5
    assert differential.tally.uncopyable == []
    assert differential.tally.differences == []
    wrong = twin_differential(
        NAME, SOURCE, CANDIDATE.replace("return n", "return n + 1"), qualname="Box.total"
    )
    own = _subclass_module("class MyBox(Box):\n    pass\n")  # on the new candidate's Box
    _call(wrong, own.MyBox([5]))
    assert wrong.tally.uncopyable == []
    (difference,) = wrong.tally.differences
    assert difference.detail == "return value differs: expected 5, got 6 (values differ)"


def test_self_of_a_subclass_whose_methods_use_super_is_not_compared() -> None:
    differential = _differential("Box.total")
    own = _subclass_module(
        "class MyBox(Box):\n    def total(self):\n        return super().total()\n"
    )
    assert _call(differential, own.MyBox([5])) == 5
    (why,) = differential.tally.uncopyable
    assert "a subclass of a class of fidelity_mod defined outside it" in why
    assert differential.tally.differences == []


def test_self_of_a_local_subclass_is_not_compared() -> None:
    differential = _differential("Box.total")

    class MyBox(differential.candidate.module.Box):  # type: ignore[name-defined,misc]
        pass  # pickle cannot find it: copy.deepcopy copies it, on the candidate's Box

    assert _call(differential, MyBox([5])) == 5
    (why,) = differential.tally.uncopyable
    assert "a subclass of a class of fidelity_mod defined outside it" in why
    assert differential.tally.differences == []


def test_a_faithful_copy_is_compared() -> None:
    differential = _differential("Box.total")
    _call(differential, differential.candidate.module.Box([1, 2, 3]))
    assert differential.tally.uncopyable == []
    assert differential.tally.differences == []


def test_the_copy_of_a_large_input_is_compared_with_it_only_so_far(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pytest_codeflash.runner import compare, fidelity
    from pytest_codeflash.runner.calls import Args, clone_args

    differential = _differential("Box.total")
    original, candidate = differential.original.module, differential.candidate.module
    box = candidate.Box([])
    box.items = [{"n": n} for n in range(100)]  # walked value by value
    call: Args = ((box,), {})
    seen = []
    node = compare._Comparer.node

    def counted(self: Any, e: object, a: object, path: str, depth: int) -> Any:
        seen.append(path)
        return node(self, e, a, path, depth)

    monkeypatch.setattr(fidelity, "MAX_NODES", 10)
    monkeypatch.setattr(compare._Comparer, "node", counted)
    copied = clone_args(call, NAME, original)
    assert fidelity.unfaithful_copy(call, copied, original, candidate, True) is None
    assert len(seen) == 10  # then it gives up, and the call is compared as before
