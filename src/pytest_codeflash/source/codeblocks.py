"""Path-tagged markdown code blocks, the format code travels in to and from language models.

The format is the Codeflash service's: one fenced block per file, the language tag followed
by the file's path relative to the project root::

    ```python:src/pkg/mod.py
    def f(x):
        return x
    ```

Context is rendered this way, and candidates are read back this way.  A candidate without
any fence is taken as one bare block of Python source for the target's file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import CandidateError

__all__ = ["CodeBlock", "parse_blocks", "render_blocks"]

_OPEN = re.compile(r"^```[ \t]*(?P<lang>[\w+.-]*)(?::[ \t]*(?P<path>[^\n`]*?))?[ \t]*$")
_CLOSE = re.compile(r"^```[ \t]*$")
_PYTHON = frozenset({"", "python", "py", "python3"})


@dataclass(frozen=True)
class CodeBlock:
    """One file's code: ``path`` is relative to the project root, ``None`` for a bare block."""

    path: str | None
    code: str


def render_blocks(blocks: Iterable[CodeBlock]) -> str:
    """Render blocks as markdown, one fenced ``python:<path>`` block each."""
    rendered = []
    for block in blocks:
        tag = f"python:{block.path}" if block.path else "python"
        rendered.append(f"```{tag}\n{block.code.rstrip(chr(10))}\n```\n")
    return "".join(rendered)


def parse_blocks(text: str) -> list[CodeBlock]:
    """Read the Python blocks of a markdown answer, or the whole text if it has no fences.

    Blocks in other languages are ignored.  Paths are normalised to forward slashes without a
    leading ``./``.

    :raises CandidateError: the text has fenced blocks but none in Python, or a block is not
        closed.
    """
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    lines = text.split("\n")
    blocks: list[CodeBlock] = []
    fenced = False
    index = 0
    while index < len(lines):
        opening = _OPEN.match(lines[index])
        if opening is None:
            index += 1
            continue
        fenced = True
        end = next((j for j in range(index + 1, len(lines)) if _CLOSE.match(lines[j])), None)
        if end is None:
            raise CandidateError(
                f"has a code block opened at line {index + 1} that is never closed; end each "
                "block with a line of three backticks."
            )
        if opening["lang"].lower() in _PYTHON:
            code = "\n".join(lines[index + 1 : end])
            blocks.append(CodeBlock(_clean_path(opening["path"]), code + "\n" if code else ""))
        index = end + 1
    if not fenced:
        return [CodeBlock(None, text)]
    if not blocks:
        raise CandidateError(
            "has code blocks but none in Python; give the code in a ```python:<path> block."
        )
    return blocks


def _clean_path(path: str | None) -> str | None:
    if path is None or not path.strip():
        return None
    clean = path.strip().replace("\\", "/")
    while clean.startswith("./"):
        clean = clean[2:]
    return clean
