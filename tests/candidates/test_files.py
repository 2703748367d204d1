"""Tests of loading hand-written candidate files."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_codeflash.candidates.files import load_candidate_file
from pytest_codeflash.errors import CandidateError
from pytest_codeflash.models import TargetFunction

ORIGINAL = (
    '"""Keyword statistics."""\n'
    "import re\n"
    "\n"
    "\n"
    "def keyword_line_counts(lines, keywords):\n"
    "    counts = {kw: 0 for kw in keywords}\n"
    "    for line in lines:\n"
    "        for kw in keywords:\n"
    '            if re.search(r"\\b" + re.escape(kw) + r"\\b", line, re.I):\n'
    "                counts[kw] += 1\n"
    "    return counts\n"
)
FAST = (
    "def keyword_line_counts(lines, keywords):\n"
    "    counts = {kw: 0 for kw in keywords}\n"
    '    searches = [(kw, re.compile(r"\\b" + re.escape(kw) + r"\\b", re.I).search)'
    " for kw in keywords]\n"
    "    for line in lines:\n"
    "        for kw, search in searches:\n"
    "            if search(line):\n"
    "                counts[kw] += 1\n"
    "    return counts\n"
)
TARGET = TargetFunction(
    module="textscan.keywords",
    qualname="keyword_line_counts",
    file=Path("/project/src/textscan/keywords.py"),
    lineno=5,
)


def write(path: Path, data: str | bytes) -> Path:
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return path


def test_fragment_is_merged(tmp_path: Path) -> None:
    path = write(tmp_path / "fast.py", FAST)
    candidate = load_candidate_file(path, TARGET, ORIGINAL)
    assert candidate.id == "fast.py"
    assert candidate.source == "file"
    assert candidate.explanation == "user candidate fast.py"
    assert candidate.module_source == ORIGINAL.replace(ORIGINAL[ORIGINAL.index("def ") :], FAST)


def test_full_module_with_bom_and_crlf(tmp_path: Path) -> None:
    full = ORIGINAL[: ORIGINAL.index("def ")] + FAST
    path = write(tmp_path / "full.py", b"\xef\xbb\xbf" + full.replace("\n", "\r\n").encode())
    assert load_candidate_file(path, TARGET, ORIGINAL).module_source == full


def error(path: Path) -> str:
    with pytest.raises(CandidateError) as info:
        load_candidate_file(path, TARGET, ORIGINAL)
    message = str(info.value)
    assert message.startswith(f"--codeflash-candidate={path}: ")
    return message


def test_missing_file(tmp_path: Path) -> None:
    message = error(tmp_path / "nope.py")
    assert "does not exist" in message
    assert str(tmp_path / "nope.py") in message


def test_directory(tmp_path: Path) -> None:
    (tmp_path / "cands").mkdir()
    message = error(tmp_path / "cands")
    assert "is a directory" in message
    assert "fast.py" in message


def test_not_a_py_file(tmp_path: Path) -> None:
    assert "is not a .py file" in error(write(tmp_path / "fast.txt", FAST))


def test_not_utf8(tmp_path: Path) -> None:
    message = error(write(tmp_path / "latin.py", b"x = 1\ns = '\xe9'\n"))
    assert "is not UTF-8 text" in message
    assert "line 2" in message


def test_nul_bytes(tmp_path: Path) -> None:
    assert "NUL bytes" in error(write(tmp_path / "bin.py", b"x = 1\x00\n"))


def test_syntax_error_gives_the_line(tmp_path: Path) -> None:
    message = error(write(tmp_path / "bad.py", FAST.replace("for line in lines:", "for line in")))
    assert "syntax error at line 4" in message


def test_candidate_without_the_target(tmp_path: Path) -> None:
    message = error(write(tmp_path / "other.py", "def helper():\n    pass\n"))
    assert "does not define textscan.keywords.keyword_line_counts" in message


def test_interface_change_is_a_verdict_not_an_error(tmp_path: Path) -> None:
    renamed = FAST.replace("keywords", "words")
    candidate = load_candidate_file(write(tmp_path / "param_renamed.py", renamed), TARGET, ORIGINAL)
    message = candidate.rejection or ""
    assert message.startswith("signature change:")
    assert "changes the signature of textscan.keywords.keyword_line_counts" in message
    assert "(lines, keywords) -> (lines, words)" in message
