"""From a model's answer to a :class:`~pytest_codeflash.models.Candidate`, or a reason why not.

An answer is prose with fenced code blocks, one per file (```python:path, the Codeflash
service's form, or a plain ```python block for the target's file), or bare code.  The blocks
are merged into the original module(s) by the same libcst merge that ``--codeflash-apply``
uses (:func:`pytest_codeflash.replace.candidate_from_blocks`).

Nothing here raises for a bad answer: an answer without code, with code that does not parse,
for another function, or far too long becomes a candidate whose ``rejection`` says so, and
the run goes on with the next one.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ...errors import CandidateError
from ...models import Candidate, TargetFunction
from ...source.codeblocks import CodeBlock, parse_blocks, render_blocks
from ...source.interface import parse_python
from ...source.replace import candidate_from_blocks

__all__ = ["MAX_ANSWER_CHARS", "Proposal", "defined_names", "extract_test_module", "to_candidate"]

MAX_ANSWER_CHARS = 200_000  # far beyond any rewrite of one function and its helpers
EXPLANATION_CHARS = 600
_FENCE = re.compile(r"^[ \t]*```", re.MULTILINE)


@dataclass(frozen=True)
class Proposal:
    """One answer of a model, before it is parsed.

    ``problem`` is set when the answer is known to be unusable already (an empty choice, a
    candidate object without code): it becomes the rejection.
    """

    id: str
    text: str
    explanation: str = ""
    problem: str | None = None


def to_candidate(
    proposal: Proposal,
    target: TargetFunction,
    rootdir: Path,
    original_source: str,
    *,
    label: str,
) -> Candidate:
    """Parse and merge ``proposal``; a bad answer gives a candidate with ``rejection`` set."""
    explanation = proposal.explanation or _prose(proposal.text)
    try:
        if proposal.problem:
            raise CandidateError(proposal.problem)
        blocks = _blocks(proposal.text, target)
        originals = {target.file.resolve(): original_source}
        candidate = candidate_from_blocks(
            proposal.id,
            render_blocks(blocks),
            target,
            rootdir,
            source=label,
            explanation=explanation,
            originals=originals,
        )
    except CandidateError as err:
        return Candidate(
            id=proposal.id,
            source=label,
            module_source="",
            explanation=explanation,
            rejection=f"bad reply: {err}",
        )
    return candidate


def _blocks(text: str, target: TargetFunction) -> list[CodeBlock]:
    """The answer's Python blocks, checked to parse and to define the target."""
    if len(text) > MAX_ANSWER_CHARS:
        raise CandidateError(
            f"the answer is {len(text):,} characters long, over the limit of "
            f"{MAX_ANSWER_CHARS:,} for a rewrite of one function"
        )
    if not text.strip():
        raise CandidateError("the answer is empty")
    if not _FENCE.search(text):
        try:
            ast.parse(text)
        except (SyntaxError, ValueError):
            raise CandidateError(
                f"the answer has no code block (it begins {_begin(text)}); a rewrite must "
                "come in a ```python block"
            ) from None
    blocks = parse_blocks(text)
    names: list[str] = []
    for block in blocks:
        where = f" (in the block for {block.path})" if block.path else ""
        try:
            tree = parse_python(block.code)
        except CandidateError as err:
            raise CandidateError(f"its code does not parse: {err}{where}") from None
        names += defined_names(tree)
    if target.qualname not in names:
        shown = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "") if names else "nothing"
        raise CandidateError(f"it is not a rewrite of {target.qualname}: its code defines {shown}")
    return blocks


def defined_names(tree: ast.Module) -> list[str]:
    """Qualified names of the functions and methods ``tree`` defines, in order."""
    found: list[str] = []

    def walk(body: Sequence[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                found.append(prefix + node.name)
            elif isinstance(node, ast.ClassDef):
                walk(node.body, f"{prefix}{node.name}.")

    walk(tree.body, "")
    return found


def extract_test_module(text: str) -> str:
    """The test module in an answer: its first Python block, checked to hold a test.

    :raises CandidateError: there is no Python code, it does not parse, or it defines no
        ``test_*`` function.
    """
    if len(text) > MAX_ANSWER_CHARS:
        raise CandidateError(f"the answer is {len(text):,} characters long")
    blocks = [b for b in parse_blocks(text) if b.code.strip()] if text.strip() else []
    if not blocks:
        raise CandidateError("the answer holds no test code")
    code = blocks[0].code
    tree = parse_python(code)
    if not any(name.rsplit(".", 1)[-1].startswith("test") for name in defined_names(tree)):
        raise CandidateError("the answer's code defines no test function")
    return code


def _prose(text: str) -> str:
    """The answer's words outside its code blocks, shortened: the model's explanation."""
    kept: list[str] = []
    inside = False
    for line in text.splitlines():
        if _FENCE.match(line):
            inside = not inside
            continue
        if not inside and line.strip():
            kept.append(line.strip())
    prose = " ".join(kept)
    return prose if len(prose) <= EXPLANATION_CHARS else prose[:EXPLANATION_CHARS] + "..."


def _begin(text: str) -> str:
    words = " ".join(text.split())
    return repr(words[:60] + ("..." if len(words) > 60 else ""))
