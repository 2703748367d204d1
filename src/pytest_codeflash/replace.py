"""Merge a candidate rewrite into the original module, keeping the original's bytes.

A candidate is a full replacement module or a fragment (the function plus its new helpers and
imports).  Only what the candidate changes is replaced; everything else in the original (comments,
formatting, order) is kept byte for byte.  The target's interface (name, parameters, defaults,
``async``, decorators, enclosing classes' bases) must not change: a candidate that changes it is
rejected, never silently fixed.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Iterator, Sequence

import libcst as cst

from .errors import CandidateError, InterfaceChange
from .models import TargetFunction

__all__ = ["changed_functions", "merge_candidate"]

_Def = ast.FunctionDef | ast.AsyncFunctionDef
_Key = tuple[str, str]  # (kind, name) pairs a candidate statement with an original one


def merge_candidate(original_source: str, candidate_source: str, target: TargetFunction) -> str:
    """Return the original module with the candidate's changes merged in.

    :raises CandidateError: the candidate has a syntax error, does not define the target,
        changes its interface, or the merged module does not compile.
    """
    candidate_source = candidate_source.removeprefix("\ufeff")
    try:
        candidate_tree = _parse_ast(candidate_source)
    except CandidateError as err:
        raise CandidateError(f"{err}. Fix the candidate's syntax.") from err
    _check_interface(_parse_original(original_source, target), candidate_tree, target)
    original = _parse_cst(original_source, f"the original module {target.file}")
    # Same line endings as the original, so a CRLF file stays CRLF (and libcst renders the
    # candidate's nodes with the original's newline and indentation).
    newline = original.default_newline
    unified = candidate_source.replace("\r\n", "\n").replace("\r", "\n").replace("\n", newline)
    candidate = _parse_cst(unified, "the candidate")
    merged = original.with_changes(body=_merge_module(original, candidate, target))
    if merged.deep_equals(original):
        return original_source
    code = merged.code
    try:
        compile(code, str(target.file), "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as err:
        line = getattr(err, "lineno", "?")
        raise CandidateError(
            f"the merged module does not compile (line {line}: {err}); fix the candidate so it "
            "works when merged into the original module."
        ) from err
    return code


def changed_functions(original_source: str, merged_source: str) -> list[str]:
    """Qualnames of the functions and methods whose code differs, in merged-source order.

    Code is compared as syntax trees, so formatting and comments alone do not count; functions
    the merge added count as changed.
    """
    before = _function_dumps(_parse_ast(original_source).body)
    after = _function_dumps(_parse_ast(merged_source).body)
    changed = [(dumps[0][0], qual) for qual, dumps in after.items() if qual not in before]
    changed += [
        (dumps[0][0], qual)
        for qual, dumps in after.items()
        if qual in before and [d for _, d in dumps] != [d for _, d in before[qual]]
    ]
    return [qual for _, qual in sorted(changed)]


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


# -- parsing ----------------------------------------------------------------------------------


def _parse_ast(source: str) -> ast.Module:
    try:
        return ast.parse(source)
    except SyntaxError as err:
        text = f" ({err.text.strip()})" if err.text and err.text.strip() else ""
        raise CandidateError(f"syntax error at line {err.lineno}: {err.msg}{text}") from err
    except ValueError as err:  # null bytes before Python 3.12
        raise CandidateError(f"is not Python source: {err}") from err


def _parse_original(source: str, target: TargetFunction) -> ast.Module:
    try:
        return _parse_ast(source)
    except CandidateError as err:
        raise CandidateError(f"the original module {target.file} cannot be parsed: {err}") from err


def _parse_cst(source: str, what: str) -> cst.Module:
    try:
        return cst.parse_module(source)
    except cst.ParserSyntaxError as err:
        raise CandidateError(
            f"{what} cannot be parsed for merging: syntax error at line {err.raw_line}: "
            f"{err.message}"
        ) from err


# -- interface check (ast) --------------------------------------------------------------------


def _find(body: Sequence[ast.stmt], parts: Sequence[str]) -> list[ast.stmt] | None:
    """The chain of definitions (enclosing classes, then the function) named by ``parts``."""
    chain: list[ast.stmt] = []
    for depth, part in enumerate(parts):
        found = [
            s
            for s in body
            if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            and s.name == part
        ]
        if not found:
            return None
        node = found[-1]  # the last definition is the one Python binds
        chain.append(node)
        if depth < len(parts) - 1:
            if not isinstance(node, ast.ClassDef):
                return None
            body = node.body
    return chain


def _signature(fn: _Def) -> str:
    args = copy.deepcopy(fn.args)  # annotations may change, so they are not compared
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
    for arg in every:
        if arg is not None:
            arg.annotation = None
    return f"({ast.unparse(args)})"


def _decorators(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> str:
    return " ".join(f"@{ast.unparse(d)}" for d in node.decorator_list) or "(none)"


def _bases(node: ast.ClassDef) -> str:
    return f"({', '.join(ast.unparse(b) for b in [*node.bases, *node.keywords])})"


def _check_interface(original: ast.Module, candidate: ast.Module, target: TargetFunction) -> None:
    name = target.qualified_name
    parts = target.qualname.split(".")
    keep = "; keep the original interface (only type annotations may change)."
    old_chain = _find(original.body, parts)
    if old_chain is None or not isinstance(old_chain[-1], ast.FunctionDef | ast.AsyncFunctionDef):
        raise CandidateError(f"the original module {target.file} no longer defines {name}")
    new_chain = _find(candidate.body, parts)
    if new_chain is None or not isinstance(new_chain[-1], ast.FunctionDef | ast.AsyncFunctionDef):
        inside = f" inside class {'.'.join(parts[:-1])}" if len(parts) > 1 else ""
        raise CandidateError(
            f"does not define {name}: it must contain `def {parts[-1]}(...)`{inside}, either as "
            "the full module or as a fragment with the function and its new helpers and imports."
        )
    for depth, (old, new) in enumerate(zip(old_chain[:-1], new_chain[:-1], strict=True)):
        assert isinstance(old, ast.ClassDef)
        assert isinstance(new, ast.ClassDef)
        cls = ".".join(parts[: depth + 1])
        if _bases(old) != _bases(new):
            raise InterfaceChange(
                f"changes the bases of class {cls}: {_bases(old)} -> {_bases(new)}{keep}"
            )
        if _decorators(old) != _decorators(new):
            raise InterfaceChange(
                f"changes the decorators of class {cls}: {_decorators(old)} -> "
                f"{_decorators(new)}{keep}"
            )
    old_fn, new_fn = old_chain[-1], new_chain[-1]
    assert isinstance(new_fn, ast.FunctionDef | ast.AsyncFunctionDef)
    kinds = {ast.FunctionDef: "def", ast.AsyncFunctionDef: "async def"}
    if type(old_fn) is not type(new_fn):
        raise InterfaceChange(
            f"changes {name} from `{kinds[type(old_fn)]}` to `{kinds[type(new_fn)]}`{keep}"
        )
    if _signature(old_fn) != _signature(new_fn):
        raise InterfaceChange(
            f"changes the signature of {name}: {_signature(old_fn)} -> {_signature(new_fn)}{keep}"
        )
    if _decorators(old_fn) != _decorators(new_fn):
        raise InterfaceChange(
            f"changes the decorators of {name}: {_decorators(old_fn)} -> "
            f"{_decorators(new_fn)}{keep}"
        )
    body = candidate.body if len(new_chain) == 1 else new_chain[-2].body  # type: ignore[attr-defined]
    old_body = original.body if len(old_chain) == 1 else old_chain[-2].body  # type: ignore[attr-defined]
    if _count_defs(body, parts[-1]) > _count_defs(old_body, parts[-1]):
        raise CandidateError(f"defines {name} more than once; define it once.")


def _count_defs(body: Sequence[ast.stmt], name: str) -> int:
    kinds = ast.FunctionDef | ast.AsyncFunctionDef
    return sum(1 for s in body if isinstance(s, kinds) and s.name == name)


# -- merge (libcst) ---------------------------------------------------------------------------


class GatherNamesVisitor(cst.CSTVisitor):
    """Collect the names a statement reads; ``eager_only`` skips code that runs later.

    Function and lambda bodies run when called, not when the module is imported, so for
    ordering definitions only the eager references (decorators, defaults, values) matter.
    """

    def __init__(self, eager_only: bool) -> None:
        super().__init__()
        self.eager_only = eager_only
        self.names: set[str] = set()

    def visit_Name(self, node: cst.Name) -> None:
        self.names.add(node.value)

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        node.value.visit(self)  # `.attr` is not a variable reference
        return False

    def visit_Arg(self, node: cst.Arg) -> bool:
        node.value.visit(self)  # `keyword=` is not a variable reference
        return False

    def visit_Param(self, node: cst.Param) -> bool:
        for part in (node.default, node.annotation):
            if part is not None:
                part.visit(self)
        return False

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        if not self.eager_only:
            return True
        for part in (*node.decorators, node.params, node.returns):
            if part is not None:
                part.visit(self)
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        if not self.eager_only:
            return True
        node.params.visit(self)
        return False


class GatherBindingsVisitor(cst.CSTVisitor):
    """Collect the names a statement binds in its own scope."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def _bind(self, target: cst.BaseExpression) -> None:
        if isinstance(target, cst.Name):
            self.names.add(target.value)
        elif isinstance(target, cst.Tuple | cst.List):
            for element in target.elements:
                self._bind(element.value)
        elif isinstance(target, cst.StarredElement):
            self._bind(target.value)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        self.names.add(node.name.value)
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        self.names.add(node.name.value)
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self._bind(node.target)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._bind(node.target)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._bind(node.target)

    def visit_For(self, node: cst.For) -> None:
        self._bind(node.target)

    def visit_AsName(self, node: cst.AsName) -> None:
        self._bind(node.name)

    def visit_ImportAlias(self, node: cst.ImportAlias) -> None:
        if node.asname is None:
            self.names.add(_dotted(node.name).split(".")[0])


def _names(node: cst.CSTNode, eager_only: bool = False) -> set[str]:
    visitor = GatherNamesVisitor(eager_only)
    node.visit(visitor)
    return visitor.names


def _bindings(node: cst.CSTNode) -> set[str]:
    visitor = GatherBindingsVisitor()
    node.visit(visitor)
    return visitor.names


def _dotted(node: cst.BaseExpression) -> str:
    if isinstance(node, cst.Attribute):
        return f"{_dotted(node.value)}.{node.attr.value}"
    return node.value if isinstance(node, cst.Name) else ""


Statement = cst.SimpleStatementLine | cst.BaseCompoundStatement


def _statements(nodes: Sequence[cst.BaseStatement]) -> list[Statement]:
    return [n for n in nodes if isinstance(n, cst.SimpleStatementLine | cst.BaseCompoundStatement)]


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
    if _imports_of(node):
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


def _is_def(node: Statement) -> bool:
    return isinstance(node, cst.FunctionDef | cst.ClassDef)


def _last_index(body: Sequence[Statement], name: str) -> int:
    defs = (i for i, s in enumerate(body) if isinstance(s, cst.FunctionDef | cst.ClassDef))
    return max(i for i in defs if body[i].name.value == name)  # type: ignore[union-attr]


def _merge_class(
    module: cst.Module, old: cst.ClassDef, new: cst.ClassDef, path: Sequence[str]
) -> cst.ClassDef:
    """Merge the members of the target's class ``new`` into ``old``; ``path`` goes inward."""
    assert isinstance(old.body, cst.IndentedBlock)  # it holds the target, so it is a block
    items = _statements(old.body.body)
    anchor = _last_index(items, path[0])
    candidate = _statements(new.body.body) if isinstance(new.body, cst.IndentedBlock) else []
    pairs, added = _pair(module, items, candidate)
    for index, node in pairs.items():
        item = items[index]
        inner = index == anchor and len(path) > 1
        if inner and isinstance(node, cst.ClassDef) and isinstance(item, cst.ClassDef):
            items[index] = _merge_class(module, item, node, path[1:])
        else:
            items[index] = _replaced(module, item, node)
    added = [_with_blank_lines(n, 1) if _is_def(n) else n for n in added]
    items[anchor:anchor] = added
    return old.with_changes(body=old.body.with_changes(body=items))


def _merge_module(
    original: cst.Module, candidate: cst.Module, target: TargetFunction
) -> list[Statement]:
    parts = target.qualname.split(".")
    body = list(original.body)
    anchor = _last_index(body, parts[0])
    pairs, added = _pair(original, body, candidate.body)
    for index, node in pairs.items():
        old = body[index]
        if index == anchor and len(parts) > 1 and isinstance(node, cst.ClassDef):
            assert isinstance(old, cst.ClassDef)
            body[index] = _merge_class(original, old, node, parts[1:])
        else:
            body[index] = _replaced(original, old, node)
    futures, imports = _new_imports(body, candidate.body)
    future_at, import_at = _import_positions(body)
    placed = _place(body, added, anchor, import_at)
    merged: list[Statement] = []
    for index in range(len(body) + 1):
        if index == future_at:
            merged += futures
        if index == import_at:
            merged += imports
        for node in placed.get(index, []):
            after_def = bool(merged) and _is_def(merged[-1])
            merged.append(_with_blank_lines(node, 2 if _is_def(node) or after_def else 0))
        if index < len(body):
            # Blank lines between an inserted definition and the original's next one (PEP 8);
            # only whitespace is added to the original.
            spaced = index in placed and _is_def(body[index]) and _is_def(merged[-1])
            merged.append(_with_blank_lines(body[index], 2) if spaced else body[index])
    return merged


def _place(
    body: Sequence[Statement], added: Sequence[Statement], anchor: int, floor: int
) -> dict[int, list[Statement]]:
    """Choose where each new statement goes: before its first user, or at the latest before
    the target, but after everything it needs at import time.
    """
    bound = [_bindings(node) for node in body]
    used = [_names(node) for node in body]
    new_at: dict[str, int] = {}
    placed: dict[int, list[Statement]] = {}
    for node in added:
        binds, needs = _bindings(node), _names(node, eager_only=True)
        hi = min([anchor, *(i for i, names in enumerate(used) if names & binds)])
        lo = max(
            [
                floor,
                *(i + 1 for i, names in enumerate(bound) if names & needs),
                *(new_at[n] for n in needs if n in new_at),
            ]
        )
        at = hi if lo <= hi else lo
        new_at.update(dict.fromkeys(binds, at))
        placed.setdefault(at, []).append(node)
    return placed


def _imports_of(node: Statement) -> list[cst.Import | cst.ImportFrom]:
    """The imports on ``node`` if it is a line of imports only, else ``[]``."""
    if not isinstance(node, cst.SimpleStatementLine):
        return []
    imports = [s for s in node.body if isinstance(s, cst.Import | cst.ImportFrom)]
    return imports if len(imports) == len(node.body) else []


def _is_future_line(node: Statement) -> bool:
    imports = _imports_of(node)
    return bool(imports) and all(_is_future(s) for s in imports)


def _is_future(small: cst.BaseSmallStatement) -> bool:
    return (
        isinstance(small, cst.ImportFrom)
        and small.module is not None
        and _dotted(small.module) == "__future__"
    )


def _import_positions(body: Sequence[Statement]) -> tuple[int, int]:
    """Where new ``__future__`` imports and other new imports go in the original body."""
    future_at = 1 if body and _key(body[0], True) == ("skip", "docstring") else 0
    while future_at < len(body) and _is_future_line(body[future_at]):
        future_at += 1
    first_def = next((i for i, node in enumerate(body) if _is_def(node)), len(body))
    header = [i for i in range(first_def) if _imports_of(body[i])]
    return future_at, (header[-1] + 1 if header else future_at)


def _import_keys(
    small: cst.Import | cst.ImportFrom,
) -> Iterator[tuple[cst.ImportAlias | None, str]]:
    """Identify what each alias binds: ``import a.b`` by module, other imports by bound name."""
    if isinstance(small, cst.ImportFrom) and isinstance(small.names, cst.ImportStar):
        source = _dotted(small.module) if small.module else ""
        yield None, f"* from {'.' * len(small.relative)}{source}"
        return
    assert not isinstance(small.names, cst.ImportStar)
    for alias in small.names:
        if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
            yield alias, alias.asname.name.value
        elif isinstance(small, cst.ImportFrom):
            yield alias, _dotted(alias.name)
        else:
            yield alias, f"import {_dotted(alias.name)}"


def _end_aliases(
    small: cst.Import | cst.ImportFrom, names: list[cst.ImportAlias]
) -> list[cst.ImportAlias]:
    """Give the kept last alias the original last alias's comma (trailing commas and the
    newline before a closing parenthesis live there), or none where no parentheses allow it.
    """
    last = small.names[-1] if isinstance(small.names, Sequence) else None
    parenthesized = isinstance(small, cst.ImportFrom) and small.lpar is not None
    comma = last.comma if parenthesized and last is not None else cst.MaybeSentinel.DEFAULT
    return [*names[:-1], names[-1].with_changes(comma=comma)]


def _new_imports(
    body: Sequence[Statement], candidate: Sequence[Statement]
) -> tuple[list[Statement], list[Statement]]:
    """The candidate's imports of names the original does not import: (futures, others)."""
    seen = {key for node in body for small in _imports_of(node) for _, key in _import_keys(small)}
    futures: list[Statement] = []
    others: list[Statement] = []
    for node in candidate:
        kept: list[cst.BaseSmallStatement] = []
        for small in _imports_of(node):
            aliases = [(a, k) for a, k in _import_keys(small) if k not in seen]
            seen.update(k for _, k in aliases)
            if not aliases:
                continue
            if aliases[0][0] is None:  # star import: all or nothing
                kept.append(small)
                continue
            names = [a for a, _ in aliases if a is not None]
            kept.append(small.with_changes(names=_end_aliases(small, names)))
        if kept:
            kept[-1] = kept[-1].with_changes(semicolon=cst.MaybeSentinel.DEFAULT)
            line = node.with_changes(body=kept, leading_lines=())
            (futures if all(_is_future(s) for s in kept) else others).append(line)
    return futures, others
