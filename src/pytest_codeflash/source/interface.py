"""The interface check: a candidate may change how the target works, never how it is called.

The interface of a target is its name, ``def`` or ``async def``, its parameters with their
kinds, order and defaults, its decorators, and for a method the bases and decorators of the
classes around it.  Type annotations may change.  A candidate that changes anything else is
rejected with :class:`~pytest_codeflash.errors.InterfaceChange` (a verdict, not a usage
error), and never silently "fixed".
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Sequence

from ..errors import CandidateError, InterfaceChange
from ..models import TargetFunction

__all__ = ["check_interface", "parse_python"]

_Def = ast.FunctionDef | ast.AsyncFunctionDef
_KEEP = "; keep the original interface (only type annotations may change)."


def parse_python(source: str) -> ast.Module:
    """Parse ``source`` with :mod:`ast`.

    :raises CandidateError: ``syntax error at line N: message (the line)``, or for text that
        is not Python source (null bytes).
    """
    try:
        return ast.parse(source)
    except SyntaxError as err:
        text = f" ({err.text.strip()})" if err.text and err.text.strip() else ""
        raise CandidateError(f"syntax error at line {err.lineno}: {err.msg}{text}") from err
    except ValueError as err:  # null bytes before Python 3.12
        raise CandidateError(f"is not Python source: {err}") from err


def check_interface(original: ast.Module, candidate: ast.Module, target: TargetFunction) -> None:
    """Check that ``candidate`` defines the target with the original's interface.

    :raises CandidateError: the original no longer defines the target, the candidate does
        not define it, or defines it twice.
    :raises InterfaceChange: the candidate changes the target's interface; the message shows
        the old and new forms.
    """
    name = target.qualified_name
    parts = target.qualname.split(".")
    old_chain = _find(original.body, parts)
    if old_chain is None or not isinstance(old_chain[-1], _Def):
        raise CandidateError(f"the original module {target.file} no longer defines {name}")
    new_chain = _find(candidate.body, parts)
    if new_chain is None or not isinstance(new_chain[-1], _Def):
        _check_renamed(original, candidate, parts, old_chain[-1], name)
        inside = f" inside class {'.'.join(parts[:-1])}" if len(parts) > 1 else ""
        raise CandidateError(
            f"does not define {name}: it must contain `def {parts[-1]}(...)`{inside}, either as "
            "the full module or as a fragment with the function and its new helpers and imports."
        )
    for depth, (old, new) in enumerate(zip(old_chain[:-1], new_chain[:-1], strict=True)):
        assert isinstance(old, ast.ClassDef)
        assert isinstance(new, ast.ClassDef)
        _check_class(old, new, ".".join(parts[: depth + 1]))
    old_fn, new_fn = old_chain[-1], new_chain[-1]
    assert isinstance(new_fn, _Def)
    _check_function(old_fn, new_fn, name)
    body = candidate.body if len(new_chain) == 1 else _class_body(new_chain[-2])
    old_body = original.body if len(old_chain) == 1 else _class_body(old_chain[-2])
    if _count_defs(body, parts[-1]) > _count_defs(old_body, parts[-1]):
        raise CandidateError(f"defines {name} more than once; define it once.")


def _check_renamed(
    original: ast.Module, candidate: ast.Module, parts: list[str], old_fn: ast.stmt, name: str
) -> None:
    """Raise if the candidate defines the target under a new name (same place, signature)."""
    assert isinstance(old_fn, _Def)
    old_scope = _find(original.body, parts[:-1]) if len(parts) > 1 else []
    new_scope = _find(candidate.body, parts[:-1]) if len(parts) > 1 else []
    if new_scope is None or old_scope is None:
        return
    old_body = _class_body(old_scope[-1]) if old_scope else original.body
    new_body = _class_body(new_scope[-1]) if new_scope else candidate.body
    known = {s.name for s in old_body if isinstance(s, _Def)}
    for stmt in new_body:
        if (
            isinstance(stmt, _Def)
            and stmt.name not in known
            and _signature(stmt) == _signature(old_fn)
        ):
            raise InterfaceChange(f"renames {name} to {stmt.name}{_KEEP}")


def _check_class(old: ast.ClassDef, new: ast.ClassDef, cls: str) -> None:
    if _bases(old) != _bases(new):
        raise InterfaceChange(
            f"changes the bases of class {cls}: {_bases(old)} -> {_bases(new)}{_KEEP}"
        )
    if _decorators(old) != _decorators(new):
        raise InterfaceChange(
            f"changes the decorators of class {cls}: {_decorators(old)} -> "
            f"{_decorators(new)}{_KEEP}"
        )


def _check_function(old: _Def, new: _Def, name: str) -> None:
    kinds = {ast.FunctionDef: "def", ast.AsyncFunctionDef: "async def"}
    if type(old) is not type(new):
        raise InterfaceChange(
            f"changes {name} from `{kinds[type(old)]}` to `{kinds[type(new)]}`{_KEEP}"
        )
    if _signature(old) != _signature(new):
        raise InterfaceChange(
            f"changes the signature of {name}: {_signature(old)} -> {_signature(new)}{_KEEP}"
        )
    if _decorators(old) != _decorators(new):
        raise InterfaceChange(
            f"changes the decorators of {name}: {_decorators(old)} -> {_decorators(new)}{_KEEP}"
        )


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


def _class_body(node: ast.stmt) -> list[ast.stmt]:
    assert isinstance(node, ast.ClassDef)
    return node.body


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


def _count_defs(body: Sequence[ast.stmt], name: str) -> int:
    return sum(1 for s in body if isinstance(s, _Def) and s.name == name)
