"""Merge a candidate rewrite into the original module(s), keeping the originals' bytes.

One module serves both the runner (which imports the merged source) and ``--codeflash-apply``
(which writes it), so what is verified is exactly what is written.

A candidate is a full replacement module, a fragment (the function plus its new helpers and
imports), or path-tagged markdown blocks, one per file (the Codeflash service's format, see
:mod:`.codeblocks`).  Only what the candidate changes is replaced; everything else in the
original (comments, formatting, order, line endings) is kept byte for byte.  The target's
interface must not change: see :mod:`.interface`.

Multi-file candidates: :func:`merge_blocks` returns the merged source of every file that
changed; :func:`candidate_from_blocks` turns them into a :class:`~.models.Candidate` whose
``module_source`` is the target's module and whose ``other_files`` are the other modules,
each with its import name.  The runner must overlay all of them (``{change.module:
change.merged}`` next to ``{target.module: module_source}``), and apply writes all of them.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..errors import CandidateError, InterfaceChange
from ..models import Candidate, FileChange, TargetFunction
from .codeblocks import CodeBlock, parse_blocks
from .cstmerge import merge_body
from .interface import check_interface, parse_python
from .paths import import_roots, module_name, relative_path
from .syntax import parse_cst

__all__ = [
    "candidate_from_blocks",
    "changed_functions",
    "merge_blocks",
    "merge_candidate",
    "merge_module",
]


def merge_candidate(original_source: str, candidate_source: str, target: TargetFunction) -> str:
    """Return the target's original module with the candidate's changes merged in.

    :raises CandidateError: the candidate has a syntax error, does not define the target, or
        the merged module does not compile.
    :raises InterfaceChange: the candidate changes the target's interface.
    """
    candidate_source = candidate_source.removeprefix("\ufeff")
    try:
        candidate_tree = parse_python(candidate_source)
    except CandidateError as err:
        raise CandidateError(f"{err}. Fix the candidate's syntax.") from err
    check_interface(_parse_original(original_source, target.file), candidate_tree, target)
    return _merge(original_source, candidate_source, target.file, target.qualname.split("."))


def merge_module(original_source: str, candidate_source: str, path: Path) -> str:
    """Merge a candidate's block for a module other than the target's (its helpers).

    Definitions it changes are replaced, new ones added (at the end at the latest) with
    the imports they need.

    :raises CandidateError: the block or the merged module is not valid Python.
    """
    candidate_source = candidate_source.removeprefix("\ufeff")
    try:
        parse_python(candidate_source)
    except CandidateError as err:
        raise CandidateError(f"{err}. Fix the candidate's syntax.") from err
    _parse_original(original_source, path)
    return _merge(original_source, candidate_source, path, None)


def merge_blocks(
    blocks: str | Sequence[CodeBlock],
    target: TargetFunction,
    rootdir: Path,
    *,
    originals: Mapping[Path, str] | None = None,
) -> dict[Path, str]:
    """Merge each block of a candidate into the file its path names.

    A bare block (no path) is the target's module.  A candidate may leave the target's
    module alone and change only its helpers elsewhere.  Only files whose source changes are
    returned, keyed by resolved absolute path.

    :param originals: the files' sources as read at the start of the run, by resolved path;
        files not in it are read from disk.
    :raises CandidateError: a block names a file outside the project or that does not exist,
        two blocks name one file, or a merge fails.
    :raises InterfaceChange: the target's block changes its interface.
    """
    root = rootdir.resolve()
    target_file = target.file.resolve()
    by_file: dict[Path, str] = {}
    for block in parse_blocks(blocks) if isinstance(blocks, str) else blocks:
        path = target_file if block.path is None else _block_file(block.path, root, target_file)
        if path in by_file:
            raise CandidateError(
                f"has two code blocks for {relative_path(path, root)}; give one block per file."
            )
        by_file[path] = block.code
    merged: dict[Path, str] = {}
    for path, code in by_file.items():
        original = _original(path, originals)
        if path == target_file:
            result = merge_candidate(original, code, target)
        else:
            try:
                result = merge_module(original, code, path)
            except CandidateError as err:
                raise CandidateError(f"its block for {relative_path(path, root)}: {err}") from err
        if result != original:
            merged[path] = result
    return merged


def candidate_from_blocks(
    candidate_id: str,
    text: str,
    target: TargetFunction,
    rootdir: Path,
    *,
    source: str,
    explanation: str = "",
    originals: Mapping[Path, str] | None = None,
) -> Candidate:
    """Build a candidate from a model's answer (markdown blocks or bare source).

    A candidate that changes the target's interface is returned with its ``rejection`` set
    (a verdict, not an error).

    :raises CandidateError: the answer cannot be merged (see :func:`merge_blocks`).
    """
    target_file = target.file.resolve()
    try:
        merged = merge_blocks(text, target, rootdir, originals=originals)
    except InterfaceChange as err:
        return Candidate(
            id=candidate_id,
            source=source,
            module_source="",
            explanation=explanation,
            rejection=f"signature change: the candidate {err}",
        )
    roots = import_roots(target, rootdir)
    others = tuple(
        FileChange(
            path=relative_path(path, rootdir.resolve()),
            module=module_name(path, roots),
            original=_original(path, originals),
            merged=code,
        )
        for path, code in merged.items()
        if path != target_file
    )
    return Candidate(
        id=candidate_id,
        source=source,
        module_source=merged.get(target_file) or _original(target_file, originals),
        explanation=explanation,
        other_files=others,
    )


def changed_functions(original_source: str, merged_source: str) -> list[str]:
    """Qualnames of the functions and methods whose code differs, in merged-source order.

    Code is compared as syntax trees, so formatting and comments alone do not count; functions
    the merge added count as changed.
    """
    before = _function_dumps(parse_python(original_source).body)
    after = _function_dumps(parse_python(merged_source).body)
    changed = [(dumps[0][0], qual) for qual, dumps in after.items() if qual not in before]
    changed += [
        (dumps[0][0], qual)
        for qual, dumps in after.items()
        if qual in before and [d for _, d in dumps] != [d for _, d in before[qual]]
    ]
    return [qual for _, qual in sorted(changed)]


# -- helpers ----------------------------------------------------------------------------------


def _merge(original_source: str, candidate_source: str, file: Path, parts: list[str] | None) -> str:
    original = parse_cst(original_source, f"the original module {file}")
    # Same line endings as the original, so a CRLF file stays CRLF (and libcst renders the
    # candidate's nodes with the original's newline and indentation).
    newline = original.default_newline
    unified = candidate_source.replace("\r\n", "\n").replace("\r", "\n").replace("\n", newline)
    candidate = parse_cst(unified, "the candidate")
    merged = original.with_changes(body=merge_body(original, candidate, parts))
    if merged.deep_equals(original):
        return original_source
    code = merged.code
    try:
        compile(code, str(file), "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as err:
        line = getattr(err, "lineno", "?")
        raise CandidateError(
            f"the merged module does not compile (line {line}: {err}); fix the candidate so it "
            "works when merged into the original module."
        ) from err
    return code


def _parse_original(source: str, file: Path) -> ast.Module:
    try:
        return parse_python(source)
    except CandidateError as err:
        raise CandidateError(f"the original module {file} cannot be parsed: {err}") from err


def _block_file(tag: str, root: Path, target_file: Path) -> Path:
    """The project file a block's path tag names (relative to the root, or to ``src/``)."""
    if (root / tag).resolve() == target_file or target_file.as_posix().endswith("/" + tag):
        return target_file
    for base in (root, root / "src"):
        path = (base / tag).resolve()
        if path.suffix == ".py" and path.is_file() and root in path.parents:
            return path
    raise CandidateError(
        f"has a code block for {tag!r}, which is not a Python module of the project "
        f"(looked under {root}); tag each block with the path of an existing module relative "
        "to the project root, as given in the context."
    )


def _original(path: Path, originals: Mapping[Path, str] | None) -> str:
    if originals is not None and path in originals:
        return originals[path]
    return path.read_bytes().decode("utf-8", "surrogateescape")


def _function_dumps(
    body: Sequence[ast.stmt], prefix: str = "", out: dict[str, list[tuple[int, str]]] | None = None
) -> dict[str, list[tuple[int, str]]]:
    dumps: dict[str, list[tuple[int, str]]] = {} if out is None else out
    for stmt in body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            dumps.setdefault(prefix + stmt.name, []).append((stmt.lineno, ast.dump(stmt)))
        elif isinstance(stmt, ast.ClassDef):
            _function_dumps(stmt.body, f"{prefix}{stmt.name}.", dumps)
    return dumps
