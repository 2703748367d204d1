"""The interface check: a candidate may not change the target's name, signature or kind."""

from __future__ import annotations

import pytest

from pytest_codeflash.errors import CandidateError
from pytest_codeflash.source.replace import (
    merge_candidate,
)

from .test_replace import CLASS_MODULE, ORIGINAL, code, target


def test_annotation_only_change_is_allowed() -> None:
    candidate = ORIGINAL.replace(
        "def unique_in_order(items, key=None):",
        "def unique_in_order(items: list[int], key: object | None = None) -> list[int]:",
    )
    merged = merge_candidate(ORIGINAL, candidate, target("unique_in_order"))
    assert "-> list[int]:" in merged


def rejection(candidate: str, qualname: str = "unique_in_order", original: str = ORIGINAL) -> str:
    with pytest.raises(CandidateError) as info:
        merge_candidate(original, candidate, target(qualname))
    return str(info.value)


@pytest.mark.parametrize(
    ("new_def", "shown"),
    [
        ("def unique_in_order(values, key=None):", "(items, key=None) -> (values, key=None)"),
        ("def unique_in_order(items, key=1):", "(items, key=None) -> (items, key=1)"),
        ("def unique_in_order(items, *, key=None):", "(items, key=None) -> (items, *, key=None)"),
        ("def unique_in_order(key=None, items=()):", "(items, key=None) -> (key=None, items=())"),
        ("def unique_in_order(items, key=None, /):", "(items, key=None) -> (items, key=None, /)"),
        ("def unique_in_order(items, key=None, **kw):", "-> (items, key=None, **kw)"),
    ],
)
def test_signature_change_is_rejected(new_def: str, shown: str) -> None:
    message = rejection(ORIGINAL.replace("def unique_in_order(items, key=None):", new_def))
    assert message.startswith("changes the signature of pkg.mod.unique_in_order: ")
    assert shown in message
    assert "only type annotations may change" in message


def test_default_reformatting_is_not_a_signature_change() -> None:
    original = "def f(x=(1,2)):\n    return x\n"
    candidate = "def f(x = ( 1, 2 )):\n    return x * 1\n"
    assert "x * 1" in merge_candidate(original, candidate, target("f"))


def test_decorator_change_is_rejected() -> None:
    candidate = code(
        """
        import functools


        @functools.cache
        def unique_in_order(items, key=None):
            return []
        """
    )
    message = rejection(candidate)
    assert message.startswith(
        "changes the decorators of pkg.mod.unique_in_order: (none) -> @functools.cache"
    )


def test_async_change_is_rejected() -> None:
    message = rejection("async def unique_in_order(items, key=None):\n    return []\n")
    assert "changes pkg.mod.unique_in_order from `def` to `async def`" in message


def test_class_bases_change_is_rejected() -> None:
    fragment = "class Shape:\n    def area(self, scale=1):\n        return 0\n"
    message = rejection(fragment, "Shape.area", CLASS_MODULE)
    assert "changes the bases of class Shape: (Base) -> ()" in message


@pytest.mark.parametrize(
    "candidate",
    [
        "def other(x):\n    return x\n",
        "unique_in_order = list\n",
        "class unique_in_order:\n    pass\n",
        "",
    ],
)
def test_candidate_without_the_target_is_rejected(candidate: str) -> None:
    message = rejection(candidate)
    assert message.startswith("does not define pkg.mod.unique_in_order: ")
    assert "def unique_in_order(...)" in message


def test_method_candidate_without_the_method_is_rejected() -> None:
    message = rejection("def area(self, scale=1):\n    return 0\n", "Shape.area", CLASS_MODULE)
    assert "does not define pkg.mod.Shape.area" in message
    assert "inside class Shape" in message


def test_target_defined_twice_is_rejected() -> None:
    twice = "def unique_in_order(items, key=None):\n    return 1\n" * 2
    assert "defines pkg.mod.unique_in_order more than once" in rejection(twice)


def test_syntax_error_names_the_line() -> None:
    message = rejection("import re\n\ndef unique_in_order(items, key=None)\n    return []\n")
    assert message.startswith("syntax error at line 3: ")
    assert "Fix the candidate's syntax" in message


def test_merged_module_must_compile() -> None:
    candidate = "def unique_in_order(items, key=None):\n    return []\n\nreturn 1\n"
    message = rejection(candidate)
    assert "the merged module does not compile" in message
    assert "'return' outside function" in message
