"""Markdown code blocks: parsing them, and merging blocks for several files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pytest_codeflash.errors import CandidateError, InterfaceChange
from pytest_codeflash.models import TargetFunction
from pytest_codeflash.source.codeblocks import CodeBlock, parse_blocks, render_blocks
from pytest_codeflash.source.replace import (
    candidate_from_blocks,
    merge_blocks,
    merge_candidate,
    merge_module,
)

from .test_replace import CLASS_MODULE, ORIGINAL, target

# -- markdown blocks and several files ---------------------------------------------------------


def test_parse_blocks() -> None:
    text = (
        "Here is the faster version.\n\n"
        "```python:src/pkg/mod.py\ndef f():\n    return 1\n```\n\n"
        "```text\nnot code\n```\n"
        "```python:./src\\pkg\\util.py\n\n```\n"
        "```py\nx = 1\n```\n"
    )
    assert parse_blocks(text) == [
        CodeBlock("src/pkg/mod.py", "def f():\n    return 1\n"),
        CodeBlock("src/pkg/util.py", ""),
        CodeBlock(None, "x = 1\n"),
    ]
    assert parse_blocks("def f():\r\n    pass\r\n") == [CodeBlock(None, "def f():\n    pass\n")]
    block = CodeBlock("a.py", "x = 1\n")
    assert parse_blocks(render_blocks([block, block])) == [block, block]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("```python:a.py\nx = 1\n", "opened at line 1 that is never closed"),
        ("```text\nhello\n```\n", "has code blocks but none in Python"),
    ],
)
def test_bad_markdown(text: str, message: str) -> None:
    with pytest.raises(CandidateError, match=message):
        parse_blocks(text)


@pytest.fixture
def src_project(tmp_path: Path) -> tuple[Path, TargetFunction]:
    package = tmp_path / "proj" / "src" / "pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "mod.py").write_text(ORIGINAL)
    (package / "util.py").write_text(CLASS_MODULE)
    spec = TargetFunction(
        module="pkg.mod", qualname="unique_in_order", file=package / "mod.py", lineno=1
    )
    return tmp_path / "proj", spec


FAST = "def unique_in_order(items, key=None):\n    return list(dict.fromkeys(items))\n"


def test_merge_blocks_bare_and_module_root_relative(
    src_project: tuple[Path, TargetFunction],
) -> None:
    root, spec = src_project
    mod = (root / "src/pkg/mod.py").resolve()
    assert list(merge_blocks(FAST, spec, root)) == [mod]
    tagged = render_blocks([CodeBlock("pkg/mod.py", FAST)])  # relative to src/, not the root
    assert list(merge_blocks(tagged, spec, root)) == [mod]
    assert merge_blocks([CodeBlock(None, FAST)], spec, root) == merge_blocks(FAST, spec, root)


def test_merge_blocks_into_a_helper_module(src_project: tuple[Path, TargetFunction]) -> None:
    root, spec = src_project
    helper = "class Shape(Base):\n    def perimeter(self):\n        return self.size << 2\n"
    text = render_blocks([CodeBlock("src/pkg/mod.py", FAST), CodeBlock("src/pkg/util.py", helper)])
    merged = merge_blocks(text, spec, root)
    util = merged[(root / "src/pkg/util.py").resolve()]
    assert util == CLASS_MODULE.replace("return 4 * self.size", "return self.size << 2")
    candidate = candidate_from_blocks("c", text, spec, root, source="llm", explanation="why")
    assert candidate.module_source == merged[(root / "src/pkg/mod.py").resolve()]
    assert [(c.path, c.module) for c in candidate.other_files] == [("src/pkg/util.py", "pkg.util")]
    assert candidate.other_files[0].merged == util
    assert candidate.other_files[0].original == CLASS_MODULE


@pytest.mark.parametrize(
    ("blocks", "message"),
    [
        (
            [("src/pkg/mod.py", FAST), ("src/pkg/mod.py", FAST)],
            "two code blocks for src/pkg/mod.py",
        ),
        ([(None, FAST), ("../outside.py", "X = 1\n")], "'../outside.py', which is not a Python"),
        ([(None, FAST), ("src/pkg/new.py", "X = 1\n")], "'src/pkg/new.py', which is not a Python"),
        ([(None, FAST), ("src/pkg/util.py", "def (")], "its block for src/pkg/util.py: syntax"),
    ],
)
def test_merge_blocks_errors(
    src_project: tuple[Path, TargetFunction], blocks: list[tuple[str | None, str]], message: str
) -> None:
    root, spec = src_project
    (root.parent / "outside.py").write_text("X = 0\n")
    with pytest.raises(CandidateError, match=re.escape(message)):
        merge_blocks([CodeBlock(path, text) for path, text in blocks], spec, root)


def test_interface_change_in_blocks_is_a_rejection(
    src_project: tuple[Path, TargetFunction],
) -> None:
    root, spec = src_project
    changed = "def unique_in_order(items):\n    return list(dict.fromkeys(items))\n"
    with pytest.raises(InterfaceChange):
        merge_blocks(changed, spec, root)
    candidate = candidate_from_blocks("c", changed, spec, root, source="llm")
    assert candidate.rejection is not None
    assert candidate.rejection.startswith("signature change: the candidate changes the signature")


def test_only_a_helper_module_changes(src_project: tuple[Path, TargetFunction]) -> None:
    root, spec = src_project
    helper = "class Shape(Base):\n    def perimeter(self):\n        return self.size << 2\n"
    text = render_blocks([CodeBlock("src/pkg/util.py", helper)])
    assert list(merge_blocks(text, spec, root)) == [(root / "src/pkg/util.py").resolve()]
    candidate = candidate_from_blocks("c", text, spec, root, source="llm")
    assert candidate.module_source == ORIGINAL
    assert [c.path for c in candidate.other_files] == ["src/pkg/util.py"]


def test_merge_module_appends_new_helpers() -> None:
    original = "import os\n\n\ndef a():\n    return os.sep\n"
    merged = merge_module(original, "import sys\n\n\ndef b():\n    return sys.argv\n", Path("m.py"))
    assert (
        merged == "import os\nimport sys\n\n\ndef a():\n    return os.sep\n\n\n"
        "def b():\n    return sys.argv\n"
    )


def test_renamed_target_is_an_interface_change() -> None:
    renamed = "def unique_fast(items, key=None):\n    return list(dict.fromkeys(items))\n"
    with pytest.raises(InterfaceChange) as info:
        merge_candidate(ORIGINAL, renamed, target("unique_in_order"))
    assert str(info.value).startswith("renames pkg.mod.unique_in_order to unique_fast; keep")
    method = "class Shape(Base):\n    def fast_area(self, scale=1):\n        return 0\n"
    with pytest.raises(InterfaceChange, match=r"renames pkg\.mod\.Shape\.area to fast_area"):
        merge_candidate(CLASS_MODULE, method, target("Shape.area"))
