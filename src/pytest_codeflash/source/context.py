"""The code context of a target: what a language model may rewrite, and what it should read.

``extract_context`` returns a :class:`~pytest_codeflash.models.CodeContext` with two parts,
each rendered as path-tagged markdown code blocks (the target's file first):

* **read-writable**: the target; the project functions it calls, in its module or in others;
  for a method, its class with ``__init__`` and the methods and class attributes the method
  uses through ``self``/``cls``; and the imports these need.
* **read-only**: the helpers of those helpers; the classes they use, including the target's
  argument and return types; module constants and the imports in use.

Helpers are found statically (libcst scope and qualified-name metadata, see
:mod:`.codeindex`); nothing is imported.  Tokens are counted with tiktoken's ``cl100k_base``
(from the table shipped in the package, :mod:`.tokenizer`).  Over the budget, the read-only
part loses its docstrings, then its function bodies, then goes entirely; if the read-writable
part alone is over the budget the function cannot be optimized and
:class:`~pytest_codeflash.errors.ContextError` says so.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import libcst as cst
from libcst import codemod

from ..errors import ContextError
from ..models import CodeContext, TargetFunction
from .codeblocks import CodeBlock, render_blocks
from .codeindex import Address, ModuleIndex, Project, Refs
from .paths import import_roots
from .syntax import (
    Statement,
    bindings,
    imports_of,
    is_def,
    is_docstring,
    is_future,
    statements,
)

if TYPE_CHECKING:
    import tiktoken

__all__ = ["DEFAULT_TOKEN_BUDGET", "count_tokens", "extract_context"]

DEFAULT_TOKEN_BUDGET = 16000
ENCODING = "cl100k_base"  # shipped with the package: no download (see tokenizer.py)

Pick = dict[int, "Pick | None"]  # statement index -> the whole statement (None) or members
_CORE = 1  # levels 0 (the target) and 1 (its read-writable helpers) pull in definitions


def extract_context(
    target: TargetFunction, rootdir: Path, *, token_budget: int = DEFAULT_TOKEN_BUDGET
) -> CodeContext:
    """Extract the read-writable and read-only code context of ``target``.

    :raises ContextError: the target's module cannot be parsed or no longer defines it, or
        its read-writable code alone exceeds ``token_budget``.
    """
    if token_budget < 1:
        raise ContextError(f"token_budget={token_budget!r} must be at least 1 token.")
    project = Project(rootdir, import_roots(target, rootdir))
    module = project.module_at(target.file, target.module)
    path = module.find(target.qualname)
    if path is None:
        raise ContextError(
            f"{module.rel} no longer defines {target.qualname}; re-run to pick up the change."
        )
    selection = _Selection(project, module, path)
    selection.collect()
    read_writable = render_blocks(selection.blocks("rw"))
    rw_tokens = count_tokens(read_writable)
    if rw_tokens > token_budget:
        raise ContextError(
            f"{target.qualified_name} is skipped: its read-writable code (the function and the "
            f"helpers it calls) is {rw_tokens} tokens, over the token budget of {token_budget}. "
            "Split it into smaller functions, or optimize one of its helpers instead."
        )
    read_only, trimmed = _fit(selection.blocks("ro"), token_budget - rw_tokens)
    return CodeContext(
        target=target.qualified_name,
        read_writable=read_writable,
        read_only=read_only,
        tokens=rw_tokens + count_tokens(read_only),
        token_budget=token_budget,
        helpers=selection.helpers,
        read_only_names=selection.read_only_names,
        files=[block.path for block in selection.blocks("rw") if block.path],
        trimmed=trimmed,
        unparsable=sorted(set(project.unparsable)),
    )


def _encoding() -> tiktoken.Encoding:
    from .tokenizer import cl100k_base  # the table ships with the package

    return cl100k_base()


def count_tokens(text: str) -> int:
    """Tokens in ``text`` with cl100k_base (special-token text counts as plain text)."""
    return len(_encoding().encode(text, disallowed_special=()))


def _fit(blocks: list[CodeBlock], budget: int) -> tuple[str, list[str]]:
    """The read-only markdown within ``budget`` tokens, and the cuts made to get there."""
    steps: list[tuple[str, type[codemod.ContextAwareTransformer] | None]] = [
        ("", None),
        ("read-only docstrings", StripDocstringsTransformer),
        ("read-only bodies", SignaturesOnlyTransformer),
    ]
    trimmed: list[str] = []
    for label, transformer in steps:
        if transformer is not None:
            blocks = [CodeBlock(b.path, _transform(b.code, transformer)) for b in blocks]
            trimmed.append(label)
        text = render_blocks(blocks)
        if count_tokens(text) <= budget:
            return text, trimmed
    return "", [*trimmed, "read-only context"]


def _transform(code: str, transformer: type[codemod.ContextAwareTransformer]) -> str:
    module = cst.parse_module(code)
    return transformer(codemod.CodemodContext()).transform_module(module).code


_ELLIPSIS = cst.SimpleStatementLine([cst.Expr(cst.Ellipsis())])


_D = TypeVar("_D", cst.FunctionDef, cst.ClassDef)


def _without_docstring(node: _D) -> _D:
    body = node.body
    if isinstance(body, cst.IndentedBlock) and body.body and is_docstring(body.body[0]):
        rest = list(body.body[1:]) or [_ELLIPSIS]
        return node.with_changes(body=body.with_changes(body=rest))
    return node


class StripDocstringsTransformer(codemod.ContextAwareTransformer):
    """Remove the docstrings of functions and classes (``...`` keeps a body non-empty)."""

    def leave_FunctionDef(
        self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef
    ) -> cst.FunctionDef:
        return _without_docstring(updated_node)

    def leave_ClassDef(
        self, original_node: cst.ClassDef, updated_node: cst.ClassDef
    ) -> cst.ClassDef:
        return _without_docstring(updated_node)


class SignaturesOnlyTransformer(codemod.ContextAwareTransformer):
    """Reduce every function body to ``...``, keeping signatures and class attributes."""

    def leave_FunctionDef(
        self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef
    ) -> cst.FunctionDef:
        return updated_node.with_changes(body=cst.IndentedBlock([_ELLIPSIS]))


class _Selection:
    """Which statements of which modules go into each part, found breadth first."""

    def __init__(self, project: Project, module: ModuleIndex, path: Address) -> None:
        self.project = project
        self.target_module = module
        self.target_path = path
        self.picks: dict[str, dict[str, Pick]] = {"rw": {}, "ro": {}}
        self.modules: dict[str, ModuleIndex] = {module.name: module}
        self.queues: dict[str, deque[tuple[ModuleIndex, Address, int]]] = {
            "rw": deque(),
            "ro": deque(),
        }
        self.done: set[tuple[str, str, Address]] = set()
        self.helpers: list[str] = []
        self.read_only_names: list[str] = []

    def collect(self) -> None:
        """Select the target, its helpers and their dependencies."""
        module, path = self.target_module, self.target_path
        self._push(module, path, "rw", 0)
        for depth in range(1, len(path)):  # the classes around a method
            cls = path[:depth]
            self._follow(module, module.refs.get(cls), "rw", _CORE, cls)
            members = module.members(cls)
            for index, member in enumerate(members):
                init = isinstance(member, cst.FunctionDef) and member.name.value == "__init__"
                if init and depth == len(path) - 1:
                    self._push(module, (*cls, index), "rw", 1)
        for part in ("rw", "ro"):
            while self.queues[part]:
                self._process(part, *self.queues[part].popleft())

    def _push(self, module: ModuleIndex, path: Address, part: str, level: int) -> None:
        key = (module.name, part, path)
        if key in self.done:
            return
        self.done.add(key)
        self.modules.setdefault(module.name, module)
        self.queues[part].append((module, path, level))

    def _process(self, part: str, module: ModuleIndex, path: Address, level: int) -> None:
        for seen in ("rw", part):
            if _covered(self.picks[seen].get(module.name, {}), path):
                return
        _mark(self.picks[part].setdefault(module.name, {}), path)
        unit = module.units[path[0]]
        if unit.kind != "import":
            names = [f"{module.name}.{module.qualname(path)}"]
            node = module.node_at(path)
            if part == "rw" and level > 0 and isinstance(node, cst.FunctionDef):
                self.helpers += names
            elif part == "ro":
                self.read_only_names += names
        self._follow(module, module.refs_under(path), part, level, path)

    def _follow(
        self, module: ModuleIndex, refs: Refs | None, part: str, level: int, path: Address
    ) -> None:
        if refs is None:
            return
        for region, name in sorted(refs.names):
            self._follow_name(module, name, region, part, level)
        for region, dotted in sorted(refs.dotted):
            for found, index in self.project.resolve(dotted):
                self._add(found, (index,), region, level)
        for region, attr in sorted(refs.self_attrs):
            cls = path[:-1] if len(path) > 1 else path
            for index, member in enumerate(module.members(cls)):
                if attr in _member_names(member):
                    self._add(module, (*cls, index), region, level)

    def _follow_name(
        self, module: ModuleIndex, name: str, region: str, part: str, level: int
    ) -> None:
        units = module.by_name.get(name, [])
        if not units:  # maybe from `from x import *`
            for index, source in module.star_sources:
                star = self.project.module(source)
                found = self.project.lookup(star, name) if star is not None else []
                if found:
                    self._push(module, (index,), part, max(level, 2))
                for other, unit in found:
                    self._add(other, (unit,), region, level)
            return
        for index in units:
            if module.units[index].kind != "import":
                self._add(module, (index,), region, level)
                continue
            self._push(module, (index,), part, max(level, 2))
            target = module.import_targets.get(name)
            for other, unit in self.project.resolve(target) if target else []:
                self._add(other, (unit,), region, level)

    def _add(self, module: ModuleIndex, path: Address, region: str, level: int) -> None:
        """Put a referenced statement where it belongs, by its kind and who refers to it."""
        if module is self.target_module and path == self.target_path[: len(path)]:
            return  # the target itself, or a class around it
        node = module.node_at(path)
        kind = module.units[path[0]].kind
        if kind in ("import", "main"):
            return
        is_function = isinstance(node, cst.FunctionDef)
        if level == 0 and region == "body" and (is_function or len(path) > 1):
            self._push(module, path, "rw", 1)  # a helper the target calls, or a class attribute
        elif is_function or isinstance(node, cst.ClassDef):
            if level <= _CORE:
                self._push(module, path, "ro", 2)  # helpers of helpers, types, decorators
        else:
            self._push(module, path, "ro", max(level + 1, 2))  # constants

    def blocks(self, part: str) -> list[CodeBlock]:
        """The part's code, one block per module, the target's module first."""
        found = []
        for name, module in self.modules.items():
            picks = self.picks[part].get(name)
            shown: Pick = {}  # classes the read-writable part shows with their docstrings
            if part == "ro" and picks:
                shown = self.picks["rw"].get(name, {})
                picks = _subtract(picks, shown, module, ())
            elif picks:  # `from __future__` changes what the code means: always shown
                picks = {**dict.fromkeys(_future_units(module)), **picks}
            if picks:
                found.append(CodeBlock(module.rel, _render(module, picks, shown)))
        return found


def _member_names(node: Statement) -> set[str]:
    if isinstance(node, cst.FunctionDef | cst.ClassDef):
        return {node.name.value}
    return bindings(node)


def _mark(picks: Pick, path: Address) -> None:
    node = picks
    for depth, index in enumerate(path):
        if depth == len(path) - 1:
            node[index] = None
            return
        inner = node.setdefault(index, {})
        if inner is None:
            return  # the whole statement is in already
        node = inner


def _covered(picks: Pick, path: Address) -> bool:
    """Whether ``path`` itself (or a statement holding it whole) is picked."""
    node: Pick | None = picks
    for index in path:
        if node is None:
            return True
        if index not in node:
            return False
        node = node[index]
    return node is None


def _subtract(ro: Pick, rw: Pick, module: ModuleIndex, prefix: Address) -> Pick:
    """The read-only picks minus what the read-writable part shows already."""
    left: Pick = {}
    for index, pick in ro.items():
        if index not in rw:
            left[index] = pick
            continue
        done = rw[index]
        if done is None:
            continue
        members = range(len(module.members((*prefix, index)))) if pick is None else pick
        wanted: Pick = {j: None for j in members} if pick is None else dict(pick)
        inner = _subtract(wanted, done, module, (*prefix, index))
        if inner:
            left[index] = inner
    return left


def _future_units(module: ModuleIndex) -> list[int]:
    return [
        unit.index
        for unit in module.units
        if imports_of(unit.node) and all(is_future(s) for s in imports_of(unit.node))
    ]


def _render(module: ModuleIndex, picks: Pick, shown: Pick) -> str:
    nodes: list[Statement] = []
    kinds: list[str] = []
    for index in sorted(picks):
        node = _picked(module.units[index].node, picks[index], shown.get(index))
        kinds.append(module.units[index].kind)
        after_imports = len(kinds) > 1 and kinds[-2] == "import" and kinds[-1] != "import"
        spaced = bool(nodes) and (is_def(node) or is_def(nodes[-1]))
        nodes.append(_spaced(node, 2 if spaced else 1 if after_imports else 0))
    code = cst.Module(body=nodes, default_indent=module.module.default_indent).code
    return code.replace("\r\n", "\n")


def _picked(node: Statement, pick: Pick | None, shown: Pick | None) -> Statement:
    """``node`` whole, or a class with its docstring and only the picked members.

    ``shown`` holds the members the other part shows: a class there keeps its docstring there.
    """
    if pick is None or not isinstance(node, cst.ClassDef):
        return node
    assert isinstance(node.body, cst.IndentedBlock)
    body = statements(node.body.body)
    doc = bool(body) and is_docstring(body[0]) and shown is None
    kept: list[Statement] = [body[0]] if doc else []
    for index in sorted(pick):
        member = _picked(body[index], pick[index], (shown or {}).get(index))
        spaced = bool(kept) and (is_def(member) or is_def(kept[-1]))
        kept.append(_spaced(member, 1 if spaced else 0))
    return node.with_changes(body=node.body.with_changes(body=kept))


def _spaced(node: Statement, blank: int) -> Statement:
    """``node`` with its comment lines kept, after exactly ``blank`` blank lines."""
    comments = [line for line in node.leading_lines if line.comment is not None]
    return node.with_changes(leading_lines=[cst.EmptyLine(indent=False)] * blank + comments)
