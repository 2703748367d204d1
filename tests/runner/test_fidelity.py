"""A call whose copy for the original is not the call is not compared, nor blamed on the
candidate: its inputs' own copying leaves state out, the copy kept the candidate's class, or
``self`` is of a subclass defined outside the module (found on cachetools' own tests)."""

from __future__ import annotations

import pickle
import re
import sys
import threading
from typing import Any

import pytest

from pytest_codeflash.runner.calls import clone_args
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


def test_a_copy_only_deepcopy_could_make_gets_the_originals_classes() -> None:
    """Schedule's jobs hold the test's ``Mock``: pickle refuses it, ``copy.deepcopy`` copies
    it and keeps the candidate's classes, which the copy then trades for the original's."""

    class Local:  # pickle refuses it; copy.deepcopy copies it, and Box with it
        pass

    differential = _differential("Box.total")
    box = differential.candidate.module.Box([1, 2], key=Local())
    assert _call(differential, box) == 3
    assert differential.tally.uncopyable == []
    assert differential.tally.compared == 1
    ((copied,), _) = clone_args(((box,), {}), NAME, differential.original.module)
    assert type(copied) is differential.original.module.Box
    assert type(copied.timer) is differential.original.module.Timer
    assert type(copied.key) is Local
    assert type(box) is differential.candidate.module.Box  # the call's own: untouched
    assert type(box.timer) is differential.candidate.module.Timer

    wrong = twin_differential(
        NAME, SOURCE, SOURCE.replace("+ self.timer.nesting", "+ 1"), qualname="Box.total"
    )
    wrong.current_test = "test_x"
    box = wrong.candidate.module.Box([1, 2], key=Local())
    wrong.compare_call(((box,), {}), reraise=False)
    assert wrong.tally.uncopyable == []
    assert len(wrong.tally.differences) == 1


def test_values_that_copies_share_anyway_leave_the_rest_to_pickle() -> None:
    """A test's lambda, a ``re.Match`` (parse's converters get one): pickle refuses them,
    deepcopy would share them; the call is compared, on a copy of the original's class."""
    differential = _differential("Box.total")
    match = re.match("a", "abc")
    box = differential.candidate.module.Box([1, 2], key=(lambda x: x, match))
    assert _call(differential, box) == 3
    assert differential.tally.uncopyable == []
    assert differential.tally.compared == 1
    ((copied,), _) = clone_args(((box,), {}), NAME, differential.original.module)
    assert type(copied) is differential.original.module.Box
    assert copied.key[0] is box.key[0]
    assert copied.key[1] is match
    assert copied.items == box.items
    assert copied.items is not box.items

    wrong = twin_differential(
        NAME, SOURCE, SOURCE.replace("+ self.timer.nesting", "+ 1"), qualname="Box.total"
    )
    wrong.current_test = "test_x"
    box = wrong.candidate.module.Box([1, 2], key=lambda x: x)
    wrong.compare_call(((box,), {}), reraise=False)
    assert wrong.tally.uncopyable == []
    assert len(wrong.tally.differences) == 1


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


def test_a_match_argument_is_copied_found_again_and_kept_to_replay() -> None:
    """A converter's ``re.Match`` (parse's) pickles as the search that finds it again."""
    differential = twin_differential(
        "match_mod",
        "def first(m):\n    return m.group(1)\n",
        "def first(m):\n    return m[1]\n",
        qualname="first",
        remember=True,
    )
    differential.current_test = "test_x"
    match = re.compile(r"(\w)b").search("xx ab", 1)
    assert differential.compare_call(((match,), {}), reraise=True) == "a"
    assert differential.tally.uncopyable == []
    assert differential.tally.differences == []
    (kept,) = differential.tally.inputs
    ((loaded,), _) = pickle.loads(kept)
    assert (loaded.span(), loaded.pos, loaded.string) == ((3, 5), 1, "xx ab")

    later = list(re.finditer("(a)", "a a"))[1]  # no search finds it again: shared, not kept
    assert differential.compare_call(((later,), {}), reraise=True) == "a"
    assert differential.tally.uncopyable == []
    assert len(differential.tally.inputs) == 1


def test_an_input_outside_the_tests_that_cannot_be_copied_is_skipped_not_run() -> None:
    """Replayed or generated, such a call has no test waiting for its result: the candidate
    does not run on it raw, where its exception escaped as our own failure (schedule's
    ``Job.at`` on an invalid time)."""
    differential = twin_differential(
        "raising_mod",
        "def f(lock):\n    raise ValueError('bad time')\n",
        "def f(lock):\n    raise ValueError('bad time')\n",
    )
    differential.current_test = "replay of captured call #0"
    assert differential.check(((threading.Lock(),), {})) is None
    (why,) = differential.tally.uncopyable
    assert why.startswith("replay of captured call #0: the inputs cannot be copied")
    assert differential.tally.tool_errors == []
