"""Patches: a unified diff per optimization, ``git apply`` compatible, kept line endings."""

from __future__ import annotations

import difflib
import re

__all__ = ["make_patch", "same_newlines"]

_LONE_LF = re.compile(r"(?<!\r)\n")


def make_patch(rel_file: str, original: str, optimized: str) -> str:
    """A unified diff (``git apply`` compatible) from the original to the optimized module."""
    optimized = same_newlines(optimized, original)
    lines = difflib.unified_diff(
        original.splitlines(keepends=True),
        optimized.splitlines(keepends=True),
        fromfile=f"a/{rel_file}",
        tofile=f"b/{rel_file}",
    )
    return "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
    )


def same_newlines(text: str, like: str) -> str:
    """``text`` with ``like``'s line endings, if ``like`` uses CRLF and ``text`` does not."""
    crlf = like.count("\r\n")
    if crlf and crlf >= like.count("\n") - crlf:
        return _LONE_LF.sub("\r\n", text)
    return text
