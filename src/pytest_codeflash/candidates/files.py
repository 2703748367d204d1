"""Candidates the user wrote by hand, given with ``--codeflash-candidate=FILE``."""

from __future__ import annotations

from pathlib import Path

from ..errors import CandidateError, InterfaceChange
from ..models import Candidate, TargetFunction
from ..source.replace import merge_candidate

__all__ = ["load_candidate_file"]


def load_candidate_file(path: Path, target: TargetFunction, original_source: str) -> Candidate:
    """Read a hand-written candidate and merge it into ``original_source``.

    The file is a full replacement of the target's module or a fragment (the function plus its
    new helpers and imports).  ``original_source`` should be read with ``newline=""`` so the
    merged module keeps the original's line endings.

    :raises CandidateError: naming ``path`` and the fix, if the file is missing, not UTF-8
        Python source, has a syntax error, lacks the target or changes its interface.
    """
    flag = f"--codeflash-candidate={path}"
    source = _read(path, flag)
    try:
        merged = merge_candidate(original_source, source, target)
    except InterfaceChange as err:
        # A verdict, not a usage error: the file is a valid candidate that fails the rules.
        return Candidate(
            id=path.name,
            source="file",
            module_source="",
            explanation=f"user candidate {path.name}",
            rejection=f"signature change: the candidate {err}",
        )
    except CandidateError as err:
        raise CandidateError(f"{flag}: {err}") from err
    return Candidate(
        id=path.name,
        source="file",
        module_source=merged,
        explanation=f"user candidate {path.name}",
    )


def _read(path: Path, flag: str) -> str:
    if not path.exists():
        raise CandidateError(
            f"{flag}: the file does not exist (looked at {path.absolute()}). Check the path; "
            "relative paths are resolved against the directory pytest was started from."
        )
    if path.is_dir():
        raise CandidateError(
            f"{flag}: is a directory. Pass the .py file itself, once per candidate "
            f"(e.g. --codeflash-candidate={path / 'fast.py'})."
        )
    if path.suffix != ".py":
        raise CandidateError(
            f"{flag}: is not a .py file. A candidate is Python source: a full rewrite of the "
            "target's module or just the rewritten function; save it with a .py suffix."
        )
    try:
        data = path.read_bytes()
    except OSError as err:
        raise CandidateError(
            f"{flag}: cannot be read ({err.strerror}). Check its permissions."
        ) from err
    try:
        # newline="" semantics: keep the file's own line endings for the merge to normalize.
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise CandidateError(
            f"{flag}: is not UTF-8 text (undecodable byte on line {line}). Save it as UTF-8 "
            "Python source."
        ) from err
    if "\x00" in text:
        raise CandidateError(f"{flag}: contains NUL bytes, so it is not Python source text.")
    return text
