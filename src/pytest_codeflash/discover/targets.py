"""Resolve a ``--codeflash-target`` spec to a function in the user's source tree.

The user's module is never imported (importing runs arbitrary module-level code): the file is
found on disk and parsed with :mod:`ast`.  Accepted spec forms::

    pkg.mod.func                    pkg.mod.Class.method
    path/to/file.py::func           path/to/file.py::Class.method
"""

from __future__ import annotations

import ast
import difflib
import keyword
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..errors import TargetError
from ..records import TargetFunction
from ..source.paths import walk_python_files

__all__ = ["resolve_target"]

_FORMS = (
    "pkg.mod.func, pkg.mod.Class.method, path/to/file.py::func or path/to/file.py::Class.method"
)
# Bound on directory entries looked at when building suggestions, so a huge tree stays fast.
_SCAN_CAP = 20_000
_MAX_SUGGESTIONS = 3

_Kind = Literal["function", "class", "variable", "import"]
_FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef
_Render = Callable[[str], str]  # qualname -> the spec the user would write for it


@dataclass(frozen=True)
class _Name:
    """One name bound at module or class level of the target's file."""

    kind: _Kind
    lineno: int
    node: ast.AST
    conditional: bool  # bound inside if/try/with/for: not a stable definition


def resolve_target(spec: str, rootdir: Path, search_paths: Sequence[Path]) -> TargetFunction:
    """Find the function a ``--codeflash-target`` spec names, without importing it.

    :param spec: the spec as the user wrote it.
    :param rootdir: the pytest rootdir; relative file specs are resolved against it.
    :param search_paths: import roots, searched in order for dotted specs.
    :raises TargetError: with a message naming the spec and the fix.
    """
    text = spec.strip()
    root = rootdir.resolve()
    roots = _unique_dirs([*search_paths])
    if "::" in text:
        file_part, qual_parts = _split_file_spec(text)
        path = _locate_file(text, file_part, root)
        module = _module_for_file(text, path, root, roots)

        def render(qualname: str) -> str:
            return f"{file_part}::{qualname}"

    else:
        parts = _split_dotted_spec(text)
        module, path, qual_parts = _locate_module(text, parts, root, roots)

        def render(qualname: str) -> str:
            return f"{module}.{qualname}"

    tree = _parse(text, path, root)
    names = _index_names(tree.body)
    where = f"{module} ({_show(path, root)})"
    node = _lookup_function(text, ".".join(qual_parts), names, where, render)
    return TargetFunction(
        module=module,
        qualname=".".join(qual_parts),
        file=path,
        lineno=node.lineno,
        is_async=isinstance(node, ast.AsyncFunctionDef),
        is_generator=_is_generator(node),
        is_method=len(qual_parts) > 1,
    )


# -- parsing the spec -------------------------------------------------------------------------


def _malformed(spec: str, why: str) -> TargetError:
    return TargetError(f"--codeflash-target={spec}: {why}. Accepted forms: {_FORMS}.")


def _is_identifier(part: str) -> bool:
    return part.isidentifier() and not keyword.iskeyword(part)


def _check_qualname(spec: str, parts: Sequence[str]) -> None:
    for part in parts:
        if not _is_identifier(part):
            shown = repr(part) if part else "an empty name"
            raise _malformed(spec, f"{shown} is not a Python identifier")


def _split_dotted_spec(spec: str) -> list[str]:
    if not spec:
        raise _malformed(spec, "the target is empty")
    parts = spec.split(".")
    _check_qualname(spec, parts)
    if len(parts) < 2:
        raise _malformed(spec, f"name the module too, e.g. mymodule.{spec}")
    return parts


def _split_file_spec(spec: str) -> tuple[str, list[str]]:
    file_part, _, qual = spec.partition("::")
    # pytest node ids write Class::method; accept that spelling of Class.method too.
    qual = qual.replace("::", ".")
    if not file_part.strip() or not qual.strip():
        raise _malformed(spec, "both the file and the function must be given around '::'")
    if not file_part.endswith(".py"):
        raise _malformed(spec, f"{file_part!r} is not a .py file")
    parts = qual.split(".")
    _check_qualname(spec, parts)
    return file_part, parts


# -- finding the file -------------------------------------------------------------------------


def _unique_dirs(paths: Iterable[Path]) -> list[Path]:
    seen: list[Path] = []
    for path in paths:
        resolved = path.resolve()
        if resolved not in seen and resolved.is_dir():
            seen.append(resolved)
    return seen


def _show(path: Path, root: Path) -> str:
    """Show ``path`` relative to the rootdir when it is inside it (shorter, and what users type)."""
    try:
        rel = path.relative_to(root).as_posix()
    except ValueError:
        return str(path)
    return rel or "."


def _locate_file(spec: str, file_part: str, root: Path) -> Path:
    path = Path(file_part)
    path = (path if path.is_absolute() else root / path).resolve()
    if path.is_file():
        return path
    what = "is a directory" if path.is_dir() else "does not exist"
    hint = _did_you_mean(file_part, _scan_files(root))
    raise TargetError(
        f"--codeflash-target={spec}: the file {file_part} {what} (looked at {path}; relative "
        f"paths are resolved against the rootdir {root}).{hint} Give the path of the .py file "
        "that defines the function."
    )


def _module_for_file(spec: str, path: Path, root: Path, roots: Sequence[Path]) -> str:
    # The deepest import root wins: with both rootdir and rootdir/src on the path, a file in
    # src/pkg/ is imported as pkg.mod, not src.pkg.mod.
    containing = sorted(
        (r for r in roots if path.is_relative_to(r)), key=lambda r: len(r.parts), reverse=True
    )
    for import_root in containing:
        parts = list(path.relative_to(import_root).with_suffix("").parts)
        if parts and parts[-1] == "__init__":
            parts.pop()
        if parts and all(_is_identifier(p) for p in parts):
            return ".".join(parts)
    folder = _show(path.parent, root)
    shown_roots = ", ".join(_show(r, root) for r in roots) or "none"
    raise TargetError(
        f"--codeflash-target={spec}: {_show(path, root)} is not importable from any import root "
        f"(searched: {shown_roots}), so its module name is unknown. Add its folder to pythonpath "
        f'in [tool.pytest.ini_options] (e.g. pythonpath = ["{folder}"]) and make sure every '
        "folder and file name on the way is a valid Python identifier."
    )


def _module_files(import_root: Path, parts: Sequence[str]) -> Iterator[Path]:
    # A regular package shadows a same-named module in the same folder, as in the import system.
    yield import_root.joinpath(*parts, "__init__.py")
    yield import_root.joinpath(*parts[:-1], parts[-1] + ".py")


def _locate_module(
    spec: str, parts: Sequence[str], root: Path, roots: Sequence[Path]
) -> tuple[str, Path, list[str]]:
    """Find the longest prefix of ``parts`` that is a module file under an import root."""
    tried: list[str] = []
    for cut in range(len(parts) - 1, 0, -1):
        for import_root in roots:
            for candidate in _module_files(import_root, parts[:cut]):
                if candidate.is_file():
                    return ".".join(parts[:cut]), candidate.resolve(), list(parts[cut:])
        tried.extend(p.as_posix() for p in _module_files(Path(), parts[:cut]))
    modules = _scan_modules(roots)
    hints: list[str] = []
    for cut in (len(parts) - 1, len(parts) - 2):
        if cut > 0:
            hints += difflib.get_close_matches(".".join(parts[:cut]), modules, _MAX_SUGGESTIONS)
    hint = _did_you_mean_list(hints, label="module ")
    shown_roots = ", ".join(_show(r, root) for r in roots) or "none"
    raise TargetError(
        f"--codeflash-target={spec}: no module found for it. Looked for {', '.join(tried)} under "
        f"the import roots {shown_roots}.{hint} Check the spelling, add the module's folder to "
        "pythonpath in [tool.pytest.ini_options], or use the path/to/file.py::func form."
    )


def _walk(top: Path, budget: list[int], identifiers_only: bool, skip: set[Path]) -> Iterator[Path]:
    """Yield .py files under ``top``, skipping environments and build output; ``budget`` caps it."""

    def keep_dir(path: Path) -> bool:
        return (not identifiers_only or _is_identifier(path.name)) and path not in skip

    return walk_python_files(top, budget, keep_dir)


def _scan_modules(roots: Sequence[Path]) -> list[str]:
    budget = [_SCAN_CAP]
    modules: list[str] = []
    for import_root in roots:
        # Another import root below this one is scanned on its own, under its own names.
        others = {r for r in roots if r != import_root}
        for file in _walk(import_root, budget, identifiers_only=True, skip=others):
            parts = list(file.relative_to(import_root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            if parts and all(_is_identifier(p) for p in parts):
                modules.append(".".join(parts))
    return modules


def _scan_files(root: Path) -> list[str]:
    budget = [_SCAN_CAP]
    return [f.relative_to(root).as_posix() for f in _walk(root, budget, False, set())]


def _did_you_mean(word: str, choices: Sequence[str]) -> str:
    return _did_you_mean_list(difflib.get_close_matches(word, choices, _MAX_SUGGESTIONS))


def _did_you_mean_list(matches: Sequence[str], label: str = "") -> str:
    unique = list(dict.fromkeys(matches))[:_MAX_SUGGESTIONS]
    return f" Did you mean {label}{' or '.join(unique)}?" if unique else ""


# -- reading the module -----------------------------------------------------------------------


def _parse(spec: str, path: Path, root: Path) -> ast.Module:
    try:
        source = path.read_bytes()
    except OSError as err:
        raise TargetError(
            f"--codeflash-target={spec}: cannot read {_show(path, root)}: {err.strerror}. "
            "Check the file's permissions."
        ) from err
    try:
        return ast.parse(source, filename=str(path))
    except SyntaxError as err:
        raise TargetError(
            f"--codeflash-target={spec}: cannot parse {_show(path, root)}: syntax error at line "
            f"{err.lineno}: {err.msg}. Fix the syntax error first."
        ) from err
    except ValueError as err:  # null bytes (Python < 3.12), undecodable source
        raise TargetError(
            f"--codeflash-target={spec}: cannot parse {_show(path, root)}: {err}. "
            "The target must be in a Python source file."
        ) from err


def _bound_names(target: ast.expr) -> Iterator[str]:
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, ast.Tuple | ast.List):
        for elt in target.elts:
            yield from _bound_names(elt)
    elif isinstance(target, ast.Starred):
        yield from _bound_names(target.value)


def _index_names(
    body: Sequence[ast.stmt],
    prefix: str = "",
    conditional: bool = False,
    out: dict[str, _Name] | None = None,
) -> dict[str, _Name]:
    """Map every qualname bound at module or class level to what binds it (last binding wins)."""
    names: dict[str, _Name] = {} if out is None else out

    def bind(name: str, kind: _Kind, node: ast.AST, lineno: int) -> None:
        existing = names.get(prefix + name)
        # A binding under `if`/`try` must not hide the unconditional definition.
        if existing is None or conditional or not existing.conditional:
            names[prefix + name] = _Name(kind, lineno, node, conditional)

    for stmt in body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            bind(stmt.name, "function", stmt, stmt.lineno)
        elif isinstance(stmt, ast.ClassDef):
            bind(stmt.name, "class", stmt, stmt.lineno)
            _index_names(stmt.body, f"{prefix}{stmt.name}.", conditional, names)
        elif isinstance(stmt, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for target in targets:
                for name in _bound_names(target):
                    bind(name, "variable", stmt, stmt.lineno)
        elif isinstance(stmt, ast.Import | ast.ImportFrom):
            for alias in stmt.names:
                bound = alias.asname or alias.name.split(".")[0]
                if bound != "*":
                    bind(bound, "import", stmt, stmt.lineno)
        else:
            for block in ("body", "orelse", "finalbody", "handlers"):
                children = getattr(stmt, block, None)
                if isinstance(children, list):
                    inner = [c for c in children if isinstance(c, ast.stmt)]
                    for handler in children:
                        if isinstance(handler, ast.ExceptHandler):
                            inner.extend(handler.body)
                    _index_names(inner, prefix, True, names)
    return names


def _lookup_function(
    spec: str,
    qualname: str,
    names: dict[str, _Name],
    where: str,
    render: _Render,
) -> _FunctionNode:
    found = names.get(qualname)
    prefix = f"--codeflash-target={spec}:"
    if found is None:
        raise TargetError(f"{prefix} {_explain_missing(qualname, names, where, render)}")
    if found.kind == "function" and not found.conditional:
        assert isinstance(found.node, ast.FunctionDef | ast.AsyncFunctionDef)
        return found.node
    shown = render(qualname)
    if found.kind == "function":
        raise TargetError(
            f"{prefix} {shown} is defined inside an if/try/with/for block (line {found.lineno}) "
            f"in {where}; only functions defined directly at module or class level can be "
            "targets. Move it out of the block or optimize its caller."
        )
    raise TargetError(f"{prefix} {shown} {_explain_not_function(qualname, found, names, render)}")


def _explain_missing(qualname: str, names: dict[str, _Name], where: str, render: _Render) -> str:
    parts = qualname.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        outer = names.get(".".join(parts[:cut]))
        if outer is not None and outer.kind == "function":
            return (
                f"{render(qualname)} is nested inside the function {render('.'.join(parts[:cut]))} "
                f"in {where}; functions nested in functions cannot be targets. Target "
                f"{render('.'.join(parts[:cut]))} instead."
            )
        if outer is not None and outer.kind != "class":
            return (
                f"{render('.'.join(parts[:cut]))} in {where} is a {outer.kind}, not a class, so it "
                f"has no {parts[cut]!r}. Name a function or Class.method defined in {where}."
            )
    functions = [q for q, n in names.items() if n.kind == "function" and not n.conditional]
    # Same last component first: catches `mod.method` written without its class.
    same_tail = [q for q in functions if q.split(".")[-1] == parts[-1]]
    close = difflib.get_close_matches(qualname, functions, _MAX_SUGGESTIONS)
    hint = _did_you_mean_list([render(q) for q in [*same_tail, *close]])
    if not hint:
        listed = ", ".join(functions[:10]) or "none"
        hint = f" Functions defined there: {listed}."
    return f"no function {qualname!r} in {where}.{hint}"


def _explain_not_function(
    qualname: str, found: _Name, names: dict[str, _Name], render: _Render
) -> str:
    if found.kind == "class":
        methods = [
            q for q, n in names.items() if n.kind == "function" and q.startswith(qualname + ".")
        ]
        example = (
            f" Name one of its methods, e.g. --codeflash-target={render(methods[0])}."
            if methods
            else " It defines no methods; name a function instead."
        )
        return f"is a class (line {found.lineno}), not a function.{example}"
    if found.kind == "import":
        return (
            f"is imported at line {found.lineno}, not defined in this module. Target the module "
            "that defines it."
        )
    return (
        f"is a variable (assigned at line {found.lineno}), not a function. Only functions and "
        "methods defined with def can be targets."
    )


def _is_generator(node: _FunctionNode) -> bool:
    """Whether ``node``'s own body yields; yields in nested functions or lambdas do not count."""
    stack: list[ast.AST] = list(node.body)
    while stack:
        current = stack.pop()
        if isinstance(current, ast.Yield | ast.YieldFrom):
            return True
        if isinstance(current, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            continue
        stack.extend(ast.iter_child_nodes(current))
    return False
