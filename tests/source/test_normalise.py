"""Tests of the candidate normaliser used to skip no-change and duplicate candidates."""

from __future__ import annotations

import textwrap

import pytest

from pytest_codeflash.models import Candidate, FileChange
from pytest_codeflash.source.normalise import candidate_key, normalise


def code(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def same(a: str, b: str) -> bool:
    return normalise(code(a)) == normalise(code(b))


def test_comments_formatting_docstrings_and_local_names_do_not_count() -> None:
    original = '''
        """Module doc."""


        def unique(items):
            """Items without repeats."""
            result = []
            for item in items:
                if item not in result:
                    result.append(item)
            return result
        '''
    renamed = """
        def unique(items):
            out = [ ]  # the answer
            for x in items:
                if x not in out: out.append(x)
            return out
        """
    assert same(original, renamed)


def test_a_different_program_is_different() -> None:
    assert not same("def f(a):\n    return a + 1\n", "def f(a):\n    return a + 2\n")
    assert not same("def f(a):\n    x = a\n    return x\n", "def f(a):\n    x = a\n    return a\n")


def test_parameters_keep_their_names() -> None:
    # Callers may pass parameters by keyword: renaming one changes the interface.
    assert not same("def f(a):\n    return a\n", "def f(b):\n    return b\n")


@pytest.mark.parametrize(
    ("left", "right"),
    [
        # Globals, builtins and attributes are not local names.
        ("def f():\n    return x\n", "def f():\n    return y\n"),
        ("def f(a):\n    return a.x\n", "def f(a):\n    return a.y\n"),
        ("def f(a):\n    global T\n    T = a\n", "def f(a):\n    global U\n    U = a\n"),
        # Class attributes are observable.
        ("class C:\n    x = 1\n", "class C:\n    y = 1\n"),
        # Nested functions keep their names (they show in reprs and tracebacks).
        (
            "def f():\n    def g():\n        pass\n    return g\n",
            "def f():\n    def h():\n        pass\n    return h\n",
        ),
        # locals() sees the names.
        (
            "def f(a):\n    x = a\n    return locals()\n",
            "def f(a):\n    y = a\n    return locals()\n",
        ),
    ],
)
def test_observable_names_are_kept(left: str, right: str) -> None:
    assert normalise(left) != normalise(right)


def test_renaming_never_merges_two_bindings() -> None:
    # In the first, g returns the enclosing y; in the second, its own x.  A renaming per scope
    # that reused names would make them equal.
    shadow = code(
        """
        def f():
            y = 1
            def g():
                x = 2
                return {}
            return g
        """
    )
    assert normalise(shadow.format("y")) != normalise(shadow.format("x"))


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (
            "def f(a):\n    return [v for v in a if (w := v)]\n",
            "def f(a):\n    return [q for q in a if (r := q)]\n",
        ),
        (
            "def f(a):\n    try:\n        pass\n    except E as e:\n        return e\n",
            "def f(a):\n    try:\n        pass\n    except E as err:\n        return err\n",
        ),
        (
            "def f():\n    n = 0\n    def g():\n        nonlocal n\n        n += 1\n    return g\n",
            "def f():\n    k = 0\n    def g():\n        nonlocal k\n        k += 1\n    return g\n",
        ),
        (
            "class C:\n    x = 1\n    def m(self):\n        x = 2\n        return x\n",
            "class C:\n    x = 1\n    def m(self):\n        z = 2\n        return z\n",
        ),
        ("f = lambda a: [b for b in a]\n", "f = lambda a: [c for c in a]\n"),
    ],
)
def test_scopes_are_followed(left: str, right: str) -> None:
    assert normalise(left) == normalise(right)


def test_a_comprehension_does_not_see_the_class_body() -> None:
    # `x` in the comprehension's condition is the global x, not the class attribute.
    left = "class C:\n    x = 1\n    ys = [v for v in range(3) if x]\n"
    right = "class C:\n    x = 1\n    ys = [w for w in range(3) if x]\n"
    assert normalise(left) == normalise(right)
    assert "'x'" in normalise(left)


def test_a_canonical_name_never_collides_with_an_existing_one() -> None:
    left = "def f(a):\n    _v0 = a\n    return _v0\n"
    right = "def f(a):\n    b = a\n    return b\n"
    assert normalise(left) == normalise(right)
    # A global that happens to look like a canonical name stays a global.
    assert normalise("def f():\n    b = 1\n    return _v0\n") != normalise(right)


def test_unparsable_source_is_compared_as_text() -> None:
    assert normalise("def (") == normalise("def (")
    assert normalise("def (") != normalise("def  (")


def candidate(source: str, *others: FileChange) -> Candidate:
    return Candidate(id="c", source="test", module_source=source, other_files=others)


def test_candidate_key_covers_the_other_files() -> None:
    change = FileChange(path="pkg/util.py", module="pkg.util", original="", merged="X = 1\n")
    other = change.model_copy(update={"merged": "X = 2\n"})
    assert candidate_key(candidate("A = 1\n", change)) == candidate_key(
        candidate("A = 1  # same\n", change)
    )
    assert candidate_key(candidate("A = 1\n", change)) != candidate_key(candidate("A = 1\n", other))
    assert candidate_key(candidate("A = 1\n")) == normalise("A = 1\n")
