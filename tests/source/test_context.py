"""Tests of context extraction: what is read-writable, what is read-only, and the budget."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pytest_codeflash.errors import ContextError
from pytest_codeflash.models import CodeContext, TargetFunction
from pytest_codeflash.source.codeblocks import CodeBlock, parse_blocks, render_blocks
from pytest_codeflash.source.context import count_tokens, extract_context
from pytest_codeflash.source.replace import merge_blocks


def code(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def make_project(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(code(text), encoding="utf-8")
    return root


def target(root: Path, module: str, qualname: str, package_root: str = "src") -> TargetFunction:
    base = root / package_root if package_root else root
    file = base.joinpath(*module.split(".")).with_suffix(".py")
    if not file.exists():
        file = base.joinpath(*module.split("."), "__init__.py")
    return TargetFunction(
        module=module, qualname=qualname, file=file, lineno=1, is_method="." in qualname
    )


def blocks(markdown: str) -> dict[str | None, str]:
    return {block.path: block.code for block in parse_blocks(markdown)}


UTIL = '''
    """Numeric helpers."""
    import math

    SCALE = 3


    def _inner(x):
        """Scale one value."""
        return math.floor(x) * SCALE


    def fast_sum(xs):
        """Sum of scaled values."""
        return sum(_inner(x) for x in xs)


    def unused():
        return 0
    '''

MOD = '''
    """Things to optimize."""
    from __future__ import annotations

    import os
    import json

    from .util import fast_sum

    LIMIT = 10
    UNUSED = 5


    def _small(values):
        # keeps the small ones
        return [v for v in values if v < LIMIT]


    def _log(message):
        return json.dumps(message)


    def total(values):
        """Add up the small values."""
        result = 0
        for value in _small(values):
            result += fast_sum([value]) + len(os.sep)
        return result


    def caller(values):
        return total(values)
    '''


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(
        tmp_path,
        {"src/pkg/__init__.py": "", "src/pkg/util.py": UTIL, "src/pkg/mod.py": MOD},
    )


def test_function_context(project: Path) -> None:
    context = extract_context(target(project, "pkg.mod", "total"), project)
    assert isinstance(context, CodeContext)
    assert context.target == "pkg.mod.total"
    rw = blocks(context.read_writable)
    assert list(rw) == ["src/pkg/mod.py", "src/pkg/util.py"]  # the target's file first
    assert context.files == ["src/pkg/mod.py", "src/pkg/util.py"]
    assert rw["src/pkg/mod.py"] == code(
        '''
        from __future__ import annotations
        import os
        from .util import fast_sum


        def _small(values):
            # keeps the small ones
            return [v for v in values if v < LIMIT]


        def total(values):
            """Add up the small values."""
            result = 0
            for value in _small(values):
                result += fast_sum([value]) + len(os.sep)
            return result
        '''
    )
    assert rw["src/pkg/util.py"] == code(
        '''
        def fast_sum(xs):
            """Sum of scaled values."""
            return sum(_inner(x) for x in xs)
        '''
    )
    assert context.helpers == ["pkg.mod._small", "pkg.util.fast_sum"]
    ro = blocks(context.read_only)
    assert ro == {
        "src/pkg/mod.py": "LIMIT = 10\n",
        "src/pkg/util.py": code(
            '''
            import math

            SCALE = 3


            def _inner(x):
                """Scale one value."""
                return math.floor(x) * SCALE
            '''
        ),
    }
    assert sorted(context.read_only_names) == ["pkg.mod.LIMIT", "pkg.util.SCALE", "pkg.util._inner"]
    for unrelated in ("UNUSED", "_log", "caller", "unused", "json"):
        assert unrelated not in context.read_writable + context.read_only
    assert context.tokens == count_tokens(context.read_writable) + count_tokens(context.read_only)
    assert context.trimmed == []


def test_markdown_is_the_service_format(project: Path) -> None:
    context = extract_context(target(project, "pkg.mod", "total"), project)
    assert context.read_writable.startswith("```python:src/pkg/mod.py\n")
    assert context.read_writable.endswith("\n```\n")
    assert "```python:src/pkg/util.py\n" in context.read_writable


def test_the_read_writable_part_merges_back_unchanged(project: Path) -> None:
    # A model that answers with the code it was given changes nothing.
    context = extract_context(target(project, "pkg.mod", "total"), project)
    assert merge_blocks(context.read_writable, target(project, "pkg.mod", "total"), project) == {}


def test_a_helper_rewritten_in_another_module_is_merged_there(project: Path) -> None:
    answer = render_blocks(
        [
            CodeBlock(
                "src/pkg/mod.py",
                "def total(values):\n    return sum(fast_sum([v]) + 1 for v in _small(values))\n",
            ),
            CodeBlock("src/pkg/util.py", "def fast_sum(xs):\n    return sum(map(_inner, xs))\n"),
        ]
    )
    merged = merge_blocks(answer, target(project, "pkg.mod", "total"), project)
    util = (project / "src/pkg/util.py").resolve()
    assert set(merged) == {(project / "src/pkg/mod.py").resolve(), util}
    assert "return sum(map(_inner, xs))" in merged[util]
    assert '"""Numeric helpers."""' in merged[util]  # the rest of the file is kept


CLASSY = '''
    from .util import fast_sum


    class Base:
        def describe(self):
            return "base"


    class Shape(Base):
        """A shape."""

        sides = 4
        colour = "red"

        def __init__(self, size):
            self.size = size

        def _square(self):
            return self.size * self.size

        def _unused(self):
            return self.colour

        def area(self):
            return self._square() * self.sides + fast_sum([self.size])

        @property
        def label(self):
            return self.describe()
    '''


def test_method_context_has_init_and_the_attributes_it_uses(tmp_path: Path) -> None:
    root = make_project(
        tmp_path, {"src/pkg/__init__.py": "", "src/pkg/util.py": UTIL, "src/pkg/shapes.py": CLASSY}
    )
    context = extract_context(target(root, "pkg.shapes", "Shape.area"), root)
    rw = blocks(context.read_writable)["src/pkg/shapes.py"]
    assert rw == code(
        '''
        from .util import fast_sum


        class Shape(Base):
            """A shape."""
            sides = 4

            def __init__(self, size):
                self.size = size

            def _square(self):
                return self.size * self.size

            def area(self):
                return self._square() * self.sides + fast_sum([self.size])
        '''
    )
    assert sorted(context.helpers) == [
        "pkg.shapes.Shape.__init__",
        "pkg.shapes.Shape._square",
        "pkg.util.fast_sum",
    ]
    # The base class is read-only context; unrelated members are left out.
    ro = blocks(context.read_only)["src/pkg/shapes.py"]
    assert ro.startswith("class Base:")
    assert "_unused" not in context.read_writable + context.read_only
    assert "colour" not in context.read_writable + context.read_only


def test_argument_types_and_decorators_are_read_only(tmp_path: Path) -> None:
    root = make_project(
        tmp_path,
        {
            "src/pkg/__init__.py": "",
            "src/pkg/models.py": '''
                class Point:
                    """A point."""

                    def __init__(self, x):
                        self.x = x
                ''',
            "src/pkg/mod.py": """
                from .models import Point


                def traced(fn):
                    return fn


                @traced
                def shift(p: Point, by: int = 1) -> Point:
                    return Point(p.x + by)
                """,
        },
    )
    context = extract_context(target(root, "pkg.mod", "shift"), root)
    assert context.helpers == []
    ro = blocks(context.read_only)
    assert ro["src/pkg/mod.py"].startswith("def traced(fn):")
    assert ro["src/pkg/models.py"].startswith('class Point:\n    """A point."""')
    assert "from .models import Point" in blocks(context.read_writable)["src/pkg/mod.py"]


def test_recursion_is_not_a_helper(tmp_path: Path) -> None:
    root = make_project(
        tmp_path,
        {"fib.py": "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n"},
    )
    context = extract_context(target(root, "fib", "fib", package_root=""), root)
    assert context.helpers == []
    assert context.read_only == ""
    assert blocks(context.read_writable) == {"fib.py": (root / "fib.py").read_text()}


def budget_project(root: Path) -> Path:
    doc = '"""' + "Explains at length. " * 40 + '"""'
    return make_project(
        root,
        {
            "m.py": f"""
                def _helper_of_helper(x):
                    {doc}
                    y = x * 2
                    z = y + 1
                    return [z for _ in range(3)] + [y, y, y, y, y, y, y, y, y, y]


                def helper(x):
                    return _helper_of_helper(x)


                def f(x):
                    return helper(x)
                """
        },
    )


def test_budget_strips_read_only_docstrings_then_bodies_then_drops_it(tmp_path: Path) -> None:
    root = budget_project(tmp_path)
    spec = target(root, "m", "f", package_root="")
    full = extract_context(spec, root)
    assert "Explains at length" in full.read_only
    rw = count_tokens(full.read_writable)

    no_docs = extract_context(spec, root, token_budget=full.tokens - 1)
    assert no_docs.trimmed == ["read-only docstrings"]
    assert "Explains" not in no_docs.read_only
    assert "z = y + 1" in no_docs.read_only

    stub = render_blocks([CodeBlock("m.py", "def _helper_of_helper(x):\n    ...\n")])
    signatures = extract_context(spec, root, token_budget=rw + count_tokens(stub))
    assert signatures.trimmed == ["read-only docstrings", "read-only bodies"]
    assert signatures.read_only == stub

    dropped = extract_context(spec, root, token_budget=rw)
    assert dropped.read_only == ""
    assert dropped.trimmed[-1] == "read-only context"
    assert dropped.read_writable == full.read_writable
    for context in (no_docs, signatures, dropped):
        assert context.tokens <= context.token_budget


def test_read_writable_over_budget_skips_the_function(tmp_path: Path) -> None:
    root = budget_project(tmp_path)
    with pytest.raises(ContextError) as info:
        extract_context(target(root, "m", "f", package_root=""), root, token_budget=10)
    message = str(info.value)
    assert message.startswith("m.f is skipped: its read-writable code")
    assert "over the token budget of 10" in message


def test_tokens_are_counted_with_cl100k_base() -> None:
    from pytest_codeflash.source.tokenizer import cl100k_base

    text = "def f(x):\n    return x  # <|endoftext|>\n"
    encoding = cl100k_base()
    assert count_tokens(text) == len(encoding.encode(text, disallowed_special=()))
    assert count_tokens("") == 0


def test_unparsable_target_module(tmp_path: Path) -> None:
    root = make_project(tmp_path, {"m.py": "def f(:\n    pass\n"})
    with pytest.raises(ContextError, match=r"m.py cannot be parsed.*fix its syntax"):
        extract_context(target(root, "m", "f", package_root=""), root)


def test_target_gone_from_its_module(tmp_path: Path) -> None:
    root = make_project(tmp_path, {"m.py": "def g():\n    pass\n"})
    with pytest.raises(ContextError, match=r"m.py no longer defines f"):
        extract_context(target(root, "m", "f", package_root=""), root)


def test_bad_budget(project: Path) -> None:
    with pytest.raises(ContextError, match="token_budget=0 must be at least 1"):
        extract_context(target(project, "pkg.mod", "total"), project, token_budget=0)


def test_modules_outside_the_project_are_never_read(tmp_path: Path) -> None:
    root = make_project(
        tmp_path,
        {
            "proj/m.py": "import json\nfrom outside import thing\n\n\ndef f(x):\n"
            "    return json.dumps(thing(x))\n",
            "outside.py": "def thing(x):\n    return x\n",
        },
    )
    project = root / "proj"
    spec = TargetFunction(module="m", qualname="f", file=project / "m.py", lineno=1)
    context = extract_context(spec, project)
    assert context.read_only == ""
    assert "from outside import thing" in context.read_writable
