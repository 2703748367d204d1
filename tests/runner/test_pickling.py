"""Inputs kept for replay in other runs (``dump_stored``): a test's own functions go by
value; the target module's functions never do (each side must run its own)."""

from __future__ import annotations

import pickle
import sys
import types

import pytest

from pytest_codeflash.runner.pickling import dump_stored, load_args

from .twins import twin_differential

TARGET = types.ModuleType("stored_target")
exec(
    "def adder(n):\n    def add(x):\n        return x + n\n    return add\n",
    TARGET.__dict__,
)


def test_a_tests_lambda_and_nested_function_are_kept_by_value() -> None:
    offset = 10

    def scaled(x: int) -> int:
        return 2 * x + offset

    data = dump_stored(
        ((lambda v: v + offset, scaled, [1, 2]), {"key": str.lower}), "stored_target"
    )
    (add, double, items), keywords = load_args(data, "stored_target", TARGET)
    assert (add(1), double(1), items, keywords["key"]) == (11, 12, [1, 2], str.lower)
    with pytest.raises(Exception):  # noqa: B017, PT011  (plain pickle refuses them)
        pickle.dumps(lambda v: v + offset)


def test_a_function_of_the_target_module_is_not_kept_by_value() -> None:
    with pytest.raises(pickle.PicklingError, match="of the target's module"):
        dump_stored(((TARGET.adder(1),), {}), "stored_target")


HELPER_SOURCE = """\
import dataclasses


class Kind(tuple):
    pass


@dataclasses.dataclass(frozen=True)
class Mode:
    name: str


KEYWORD = Kind(("Keyword",))
READ = Mode("r")
"""


def test_another_modules_immutable_constants_stay_themselves(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """sqlparse's token types are tuples compared with ``is``: a copy was another object, so
    the original, run on copies, took the other branch (a correct candidate was rejected)."""
    helper = types.ModuleType("stored_kinds")
    monkeypatch.setitem(sys.modules, "stored_kinds", helper)
    exec(HELPER_SOURCE, helper.__dict__)
    head = "import stored_kinds\n\n\ndef f(kind, mode):\n"
    original = head + "    return kind is stored_kinds.KEYWORD and mode is stored_kinds.READ\n"
    candidate = head + (
        "    if kind is not stored_kinds.KEYWORD:\n        return False\n"
        "    return mode is stored_kinds.READ\n"
    )
    differential = twin_differential("stored_user", original, candidate)
    differential.current_test = "test_x"
    assert differential.compare_call(((helper.KEYWORD, helper.READ), {}), reraise=True) is True
    assert differential.tally.differences == []
    assert not differential.tally.unstable
    (kind, mode), _ = load_args(dump_stored(((helper.KEYWORD, helper.READ), {}), "x"), "x", TARGET)
    assert kind is helper.KEYWORD
    assert mode is helper.READ
    (other,), _ = load_args(dump_stored(((helper.Kind(("Keyword",)),), {}), "x"), "x", TARGET)
    assert other == helper.KEYWORD
    assert other is not helper.KEYWORD  # not a constant: copied
