"""Statement-level merge of a candidate module into an original module (libcst).

Candidate statements are paired with the original statements they replace: definitions and
single-name assignments by name (same-named definitions by their decorators), classes member
by member.  A replaced statement keeps the original's leading comments; one whose syntax tree
is unchanged keeps the original's bytes.  New statements go before their first user, after
everything they need at import time; new imports go after the original's, name by name.
Nothing of the original is ever removed.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence

import libcst as cst

from .syntax import Statement, bindings, dotted, imports_of, is_def, is_future, names, statements

__all__ = ["merge_body"]

_Key = tuple[str, str]  # (kind, name) pairs a candidate statement with an original one


def merge_body(
    original: cst.Module, candidate: cst.Module, path: Sequence[str] | None
) -> list[Statement]:
    """The original's body with the candidate's merged in.

    :param path: the target's qualname parts: new statements go at the latest before the
        target's top-level definition, and its classes are merged down to it.  ``None`` for a
        module without the target: new statements go at the latest at the end.
    """
    parts = list(path or ())
    body = statements(original.body)
    anchor = _last_index(body, parts[0]) if parts else len(body)
    pairs, added = _pair(original, body, statements(candidate.body))
    for index, node in pairs.items():
        old = body[index]
        if isinstance(old, cst.ClassDef) and isinstance(node, cst.ClassDef):
            inner = parts[1:] if index == anchor else []
            body[index] = _merge_class(original, old, node, inner, keep_header=bool(inner))
        else:
            body[index] = _replaced(original, old, node)
    futures, imports = _new_imports(body, statements(candidate.body))
    future_at, import_at = _import_positions(body)
    placed = _place(body, added, anchor, import_at)
    merged: list[Statement] = []
    for index in range(len(body) + 1):
        if index == future_at:
            merged += futures
        if index == import_at:
            merged += imports
        for node in placed.get(index, []):
            after_def = bool(merged) and is_def(merged[-1])
            merged.append(_with_blank_lines(node, 2 if is_def(node) or after_def else 0))
        if index < len(body):
            # Blank lines between an inserted definition and the original's next one (PEP 8);
            # only whitespace is added to the original.
            spaced = index in placed and is_def(body[index]) and is_def(merged[-1])
            merged.append(_with_blank_lines(body[index], 2) if spaced else body[index])
    return merged


# -- pairing ----------------------------------------------------------------------------------


def _same(module: cst.Module, node: Statement) -> str:
    """What makes two statements the same: their syntax tree, else (unparsable alone) code.

    Comparing trees keeps the original's comments and formatting wherever the candidate only
    reformatted or dropped comments.
    """
    code = module.code_for_node(node.with_changes(leading_lines=()))
    try:
        return ast.dump(ast.parse(code))
    except (SyntaxError, ValueError):
        return code


def _key(node: Statement, first: bool) -> _Key | None:
    """What a candidate statement replaces, or ``("skip", ...)``/``None`` (no counterpart)."""
    if isinstance(node, cst.FunctionDef | cst.ClassDef):
        return ("def", node.name.value)
    if not isinstance(node, cst.SimpleStatementLine):
        if isinstance(node, cst.If) and "__main__" in cst.Module([]).code_for_node(node.test):
            return ("skip", "main")  # never runs on import: nothing to merge
        return None
    small = node.body
    if imports_of(node):
        return ("import", "")
    if len(small) == 1 and isinstance(small[0], cst.Pass):
        return ("skip", "pass")
    if (
        first
        and len(small) == 1
        and isinstance(small[0], cst.Expr)
        and isinstance(small[0].value, cst.SimpleString | cst.ConcatenatedString)
    ):
        return ("skip", "docstring")
    if len(small) == 1 and isinstance(small[0], cst.Assign | cst.AnnAssign):
        targets = (
            [t.target for t in small[0].targets]
            if isinstance(small[0], cst.Assign)
            else [small[0].target]
        )
        if len(targets) == 1 and isinstance(targets[0], cst.Name):
            return ("assign", targets[0].value)
    return None


def _decorator_code(module: cst.Module, node: Statement) -> str:
    if isinstance(node, cst.FunctionDef | cst.ClassDef):
        return "".join(module.code_for_node(d) for d in node.decorators)
    return ""


def _pair(
    module: cst.Module, original: Sequence[Statement], candidate: Sequence[Statement]
) -> tuple[dict[int, Statement], list[Statement]]:
    """Map original indexes to the candidate statements replacing them; list the new ones.

    Same-named definitions pair by decorators first, so a fragment with only the
    implementation of an ``@overload``-ed function or only a property's getter pairs right.
    """
    slots: dict[_Key, list[int]] = {}
    for index, node in enumerate(original):
        key = _key(node, index == 0)
        if key is not None:
            slots.setdefault(key, []).append(index)
    known = {_same(module, node) for node in original}
    pairs: dict[int, Statement] = {}
    new: list[Statement] = []
    for index, node in enumerate(candidate):
        key = _key(node, index == 0)
        if key is not None and key[0] in ("skip", "import"):
            continue  # imports are merged name by name, at module level only
        free = [i for i in slots.get(key, []) if i not in pairs] if key else []
        same = [
            i for i in free if _decorator_code(module, original[i]) == _decorator_code(module, node)
        ]
        if free:
            pairs[(same or free)[0]] = node
        elif _same(module, node) not in known:
            new.append(node)
    return pairs, new


def _replaced(module: cst.Module, old: Statement, new: Statement) -> Statement:
    if _same(module, old) == _same(module, new):
        return old
    return new.with_changes(leading_lines=old.leading_lines)  # keep the original's comments


def _with_blank_lines(node: Statement, count: int) -> Statement:
    lines = list(node.leading_lines)
    blanks = 0
    while blanks < len(lines) and lines[blanks].comment is None:
        blanks += 1
    missing = max(0, count - blanks)
    return node.with_changes(leading_lines=[cst.EmptyLine(indent=False)] * missing + lines)


def _last_index(body: Sequence[Statement], name: str) -> int:
    defs = (i for i, s in enumerate(body) if isinstance(s, cst.FunctionDef | cst.ClassDef))
    return max(i for i in defs if body[i].name.value == name)  # type: ignore[union-attr]


def _header(module: cst.Module, node: cst.ClassDef) -> str:
    return _same(module, node.with_changes(body=cst.IndentedBlock([cst.SimpleStatementLine([])])))


def _merge_class(
    module: cst.Module,
    old: cst.ClassDef,
    new: cst.ClassDef,
    path: Sequence[str],
    keep_header: bool,
) -> cst.ClassDef:
    """Merge the members of ``new`` into ``old``; ``path`` leads inward to the target.

    New members go before the member on ``path``, or at the end of a class without the
    target.  A class around the target keeps its header (the interface check compared it);
    another class takes the candidate's decorators and bases if they changed.
    """
    if not isinstance(old.body, cst.IndentedBlock) or not isinstance(new.body, cst.IndentedBlock):
        return _replaced(module, old, new)  # type: ignore[return-value]
    items = statements(old.body.body)
    anchor = _last_index(items, path[0]) if path else len(items)
    pairs, added = _pair(module, items, statements(new.body.body))
    for index, node in pairs.items():
        item = items[index]
        if isinstance(item, cst.ClassDef) and isinstance(node, cst.ClassDef):
            inner = path[1:] if index == anchor else []
            items[index] = _merge_class(module, item, node, inner, keep_header=bool(inner))
        else:
            items[index] = _replaced(module, item, node)
    added = [_with_blank_lines(n, 1) if is_def(n) else n for n in added]
    if added and not path and items and is_def(items[-1]):
        added[0] = _with_blank_lines(added[0], 1)
    items[anchor:anchor] = added
    merged = old.with_changes(body=old.body.with_changes(body=items))
    if keep_header or _header(module, old) == _header(module, new):
        return merged
    return merged.with_changes(
        decorators=new.decorators,
        lpar=new.lpar,
        bases=new.bases,
        keywords=new.keywords,
        rpar=new.rpar,
    )


# -- placing new statements -------------------------------------------------------------------


def _place(
    body: Sequence[Statement], added: Sequence[Statement], anchor: int, floor: int
) -> dict[int, list[Statement]]:
    """Choose where each new statement goes: before its first user, or at the latest before
    the target, but after everything it needs at import time.
    """
    bound = [bindings(node) for node in body]
    used = [names(node) for node in body]
    new_at: dict[str, int] = {}
    placed: dict[int, list[Statement]] = {}
    for node in added:
        binds, needs = bindings(node), names(node, eager_only=True)
        hi = min([anchor, *(i for i, found in enumerate(used) if found & binds)])
        lo = max(
            [
                floor,
                *(i + 1 for i, found in enumerate(bound) if found & needs),
                *(new_at[n] for n in needs if n in new_at),
            ]
        )
        at = hi if lo <= hi else lo
        new_at.update(dict.fromkeys(binds, at))
        placed.setdefault(at, []).append(node)
    return placed


# -- imports ----------------------------------------------------------------------------------


def _is_future_line(node: Statement) -> bool:
    imports = imports_of(node)
    return bool(imports) and all(is_future(s) for s in imports)


def _import_positions(body: Sequence[Statement]) -> tuple[int, int]:
    """Where new ``__future__`` imports and other new imports go in the original body."""
    future_at = 1 if body and _key(body[0], True) == ("skip", "docstring") else 0
    while future_at < len(body) and _is_future_line(body[future_at]):
        future_at += 1
    first_def = next((i for i, node in enumerate(body) if is_def(node)), len(body))
    header = [i for i in range(first_def) if imports_of(body[i])]
    return future_at, (header[-1] + 1 if header else future_at)


def _import_keys(
    small: cst.Import | cst.ImportFrom,
) -> Iterator[tuple[cst.ImportAlias | None, str]]:
    """Identify what each alias binds: ``import a.b`` by module, other imports by bound name."""
    if isinstance(small, cst.ImportFrom) and isinstance(small.names, cst.ImportStar):
        source = dotted(small.module) if small.module else ""
        yield None, f"* from {'.' * len(small.relative)}{source}"
        return
    assert not isinstance(small.names, cst.ImportStar)
    for alias in small.names:
        if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
            yield alias, alias.asname.name.value
        elif isinstance(small, cst.ImportFrom):
            yield alias, dotted(alias.name)
        else:
            yield alias, f"import {dotted(alias.name)}"


def _end_aliases(
    small: cst.Import | cst.ImportFrom, aliases: list[cst.ImportAlias]
) -> list[cst.ImportAlias]:
    """Give the kept last alias the original last alias's comma (trailing commas and the
    newline before a closing parenthesis live there), or none where no parentheses allow it.
    """
    last = small.names[-1] if isinstance(small.names, Sequence) else None
    parenthesized = isinstance(small, cst.ImportFrom) and small.lpar is not None
    comma = last.comma if parenthesized and last is not None else cst.MaybeSentinel.DEFAULT
    return [*aliases[:-1], aliases[-1].with_changes(comma=comma)]


def _new_imports(
    body: Sequence[Statement], candidate: Sequence[Statement]
) -> tuple[list[Statement], list[Statement]]:
    """The candidate's imports of names the original does not bind: (futures, others).

    A name the original binds otherwise (a conditional import, an assignment, a definition)
    is not imported again: that would change what it refers to.
    """
    seen = {key for node in body for small in imports_of(node) for _, key in _import_keys(small)}
    seen |= {name for node in body for name in bindings(node)}
    seen |= {f"import {name}" for name in seen}  # `import json` binds json
    futures: list[Statement] = []
    others: list[Statement] = []
    for node in candidate:
        kept: list[cst.BaseSmallStatement] = []
        for small in imports_of(node):
            aliases = [(a, k) for a, k in _import_keys(small) if k not in seen]
            seen.update(k for _, k in aliases)
            if not aliases:
                continue
            if aliases[0][0] is None:  # star import: all or nothing
                kept.append(small)
                continue
            chosen = [a for a, _ in aliases if a is not None]
            kept.append(small.with_changes(names=_end_aliases(small, chosen)))
        if kept:
            kept[-1] = kept[-1].with_changes(semicolon=cst.MaybeSentinel.DEFAULT)
            line = node.with_changes(body=kept, leading_lines=())
            (futures if all(is_future(s) for s in kept) else others).append(line)
    return futures, others
