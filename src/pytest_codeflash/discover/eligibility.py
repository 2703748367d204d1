"""Which functions of one source file can be optimized, decided on its libcst syntax tree.

Eligible: module-level functions and methods (of classes at module level, nested classes
included), sync or async, static or class methods, that return or yield a value.  Left out,
each with its reason: test functions, pytest fixtures and hooks, properties, nested
functions, abstract methods and protocol members, ``@overload`` stubs, context managers,
functions defined inside ``if``/``try``/``with``/loop blocks, those that return nothing,
and trivial bodies (``pass``, ``...``, ``raise NotImplementedError``, or returning a name,
an attribute or a constant).  A ``# codeflash: skip`` comment on the ``def`` or ``class``
line, on one of its decorators, or in the comment lines directly above it excludes the
function, or every method of the class.

Only statements are walked, not every expression node, and line numbers come from
re-generating each statement's code rather than from libcst's position metadata: both are
several times faster on large files.  Imported only when discovery parses a file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import libcst as cst

from ..errors import TargetError
from ..records import Settings, SkippedFunction, TargetFunction
from ..source.syntax import dotted
from .exclude import excluded_by

_PROPERTY = {"property", "cached_property", "abstractproperty"}
_PROPERTY_PARTS = {"setter", "getter", "deleter"}
_ABSTRACT = {"abstractmethod", "abstractclassmethod", "abstractstaticmethod"}
_CONTEXT = {"contextmanager", "asynccontextmanager"}
_BLOCKS = (cst.If, cst.For, cst.While, cst.With, cst.Try, cst.TryStar, cst.Match)
_SUITE_FIELDS = ("body", "orelse", "handlers", "finalbody", "cases")
SKIP_MARKER = re.compile(r"#\s*codeflash:\s*skip\b", re.IGNORECASE)
_HAS_SUITES = (
    cst.BaseCompoundStatement,
    cst.Else,
    cst.Finally,
    cst.ExceptHandler,
    cst.ExceptStarHandler,
    cst.MatchCase,
)


@dataclass(frozen=True)
class _Owner:
    """The class a method is defined in."""

    qualname: str
    protocol: bool
    test: bool
    skip: str = ""  # the class marked ``# codeflash: skip`` (this one or an outer one)


class _Scan:
    """One pass over a module: every function found, eligible or skipped."""

    def __init__(self, module: cst.Module, module_name: str, path: Path, rel: str) -> None:
        self.module = module
        self.module_name = module_name
        self.path = path
        self.rel = rel
        self.found: list[TargetFunction] = []
        self.skipped: list[SkippedFunction] = []
        # Comments right above the module's first statement belong to the module's header.
        self.header_marked = _marked(_block_above(module.header))

    def code(self, statements: Sequence[cst.CSTNode]) -> list[tuple[cst.CSTNode, str]]:
        """Each statement with its generated code, whose newlines give its height.

        A class's code is not generated as a whole (its members are, one by one): it stands
        in as its header plus ``pass``, and only its line count is used.
        """
        pairs: list[tuple[cst.CSTNode, str]] = []
        for statement in statements:
            if isinstance(statement, cst.ClassDef) and isinstance(
                statement.body, cst.IndentedBlock
            ):
                pairs.append((statement, ""))
            else:
                pairs.append((statement, self.module.code_for_node(statement)))
        return pairs

    def skip(self, qualname: str, line: int, reason: str, excluded: bool = False) -> None:
        name = f"{self.module_name}.{qualname}"
        self.skipped.append(
            SkippedFunction(name=name, where=f"{self.rel}:{line}", reason=reason, excluded=excluded)
        )

    def marked(self, node: cst.FunctionDef | cst.ClassDef) -> bool:
        """Whether ``node`` carries a ``# codeflash: skip`` comment."""
        first = bool(self.module.body) and node is self.module.body[0] and self.header_marked
        return first or _has_marker(node)

    def body(
        self, statements: list[tuple[cst.CSTNode, str]], line: int, owner: _Owner | None
    ) -> int:
        """Scan a module or class body whose first statement starts at ``line``; its end+1."""
        prefix = f"{owner.qualname}." if owner else ""
        for statement, code in statements:
            if isinstance(statement, cst.FunctionDef):
                self.function(statement, line, code, prefix, owner)
            elif isinstance(statement, cst.ClassDef):
                line = self.klass(statement, line, prefix, owner)
                continue
            elif isinstance(statement, _BLOCKS):
                for inner in _defs_in(statement):
                    self.skip(
                        prefix + inner.name.value,
                        line,
                        "defined inside an if/try/with/for block; only functions defined "
                        "directly at module or class level are optimized",
                    )
            line += code.count("\n")
        return line

    def klass(self, node: cst.ClassDef, line: int, prefix: str, owner: _Owner | None) -> int:
        """Scan a class starting at ``line``; the line after it."""
        block = node.body
        if not isinstance(block, cst.IndentedBlock):
            return line + self.module.code_for_node(node).count("\n")
        stub = node.with_changes(body=cst.SimpleStatementSuite(body=[cst.Pass()]))
        header = self.module.code_for_node(stub).count("\n")
        bases = {_dotted(arg.value) for arg in node.bases}
        qualname = prefix + node.name.value
        me = _Owner(
            qualname,
            protocol=bool(bases & {"Protocol", "typing.Protocol", "typing_extensions.Protocol"}),
            test=node.name.value.startswith("Test") or bool(owner and owner.test),
            skip=qualname if self.marked(node) else owner.skip if owner else "",
        )
        return self.body(self.code(block.body), line + header, me) + len(block.footer)

    def function(
        self, node: cst.FunctionDef, line: int, code: str, prefix: str, owner: _Owner | None
    ) -> None:
        qualname = prefix + node.name.value
        decorators = sum(self.module.code_for_node(d).count("\n") for d in node.decorators)
        def_line = line + len(node.leading_lines) + len(node.lines_after_decorators) + decorators
        footer = len(node.body.footer) if isinstance(node.body, cst.IndentedBlock) else 0
        facts = _Body.of(node, code)
        for nested in facts.nested:
            self.skip(f"{qualname}.<locals>.{nested}", def_line, "nested function")
        if self.marked(node) or (owner is not None and owner.skip):
            on = f" on class {owner.skip}" if owner is not None and owner.skip else ""
            self.skip(qualname, def_line, f"excluded by a '# codeflash: skip' comment{on}", True)
            return
        reason = _skip_reason(node, owner, facts)
        if reason:
            self.skip(qualname, def_line, reason)
            return
        self.found.append(
            TargetFunction(
                module=self.module_name,
                qualname=qualname,
                file=self.path,
                lineno=def_line,
                end_lineno=max(def_line, line + code.count("\n") - 1 - footer),
                is_async=node.asynchronous is not None,
                is_generator=facts.yields,
                is_method=owner is not None,
            )
        )


def scan_source(
    source: str, module_name: str, path: Path, rel: str
) -> tuple[list[TargetFunction], list[SkippedFunction]]:
    """The eligible functions of one module's source, and the skipped ones with reasons."""
    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as err:
        where = f"{rel}:{err.raw_line}"
        skip = SkippedFunction(
            name=module_name, where=where, reason=f"cannot parse: {err.message}", stage="discovery"
        )
        return [], [skip]
    scan = _Scan(module, module_name, path, rel)
    scan.body(scan.code(module.body), 1 + len(module.header), None)
    return scan.found, scan.skipped


def exclusion(target: TargetFunction, source: str, rel: str, patterns: Sequence[str]) -> str:
    """Why an explicitly named target is excluded (an ``exclude`` glob, a marker), or ``""``."""
    pattern = excluded_by(target.qualified_name, patterns)
    if pattern is not None:
        return f"excluded by the exclude pattern {pattern!r}"
    _, skipped = scan_source(source, target.module, target.file, rel)
    return next((s.reason for s in skipped if s.excluded and s.name == target.qualified_name), "")


def refuse_excluded(spec: str, target: TargetFunction, source: str, settings: Settings) -> None:
    """A :class:`TargetError` for an explicit target that ``# codeflash: skip`` or
    ``exclude`` rules out.

    The marker often guards code whose slowness is the point (constant-time comparisons,
    rate limits), so naming the function does not silently override it.
    """
    from ..source.paths import relative_path

    reason = exclusion(
        target, source, relative_path(target.file, settings.rootdir), settings.exclude
    )
    if not reason:
        return
    fix = (
        "narrow the pattern in exclude, or clear the list for this run with --codeflash-exclude="
        if "pattern" in reason
        else "remove the '# codeflash: skip' comment first"
    )
    raise TargetError(
        f"--codeflash-target={spec}: {target.qualified_name} is {reason}, and excluded functions "
        f"are never optimized, even when named. To optimize it, {fix}."
    )


@dataclass(frozen=True)
class _Body:
    """What a function's own body does (nested functions and classes not looked into)."""

    returns_value: bool
    yields: bool
    trivial: bool
    nested: tuple[str, ...]

    @classmethod
    def of(cls, node: cst.FunctionDef, code: str) -> _Body:
        returns = yields = False
        nested: list[str] = []
        for statement in _statements(node.body):
            if isinstance(statement, cst.FunctionDef):
                nested.append(statement.name.value)
            elif isinstance(statement, cst.Return) and _is_value(statement.value):
                returns = True
                yields = yields or isinstance(statement.value, cst.Yield)
            elif _top_yield(statement):
                yields = True
        if not yields and "yield" in code:
            yields = _deep_yield(node.body)
        return cls(returns, yields, _is_trivial(node.body), tuple(nested))


def _skip_reason(node: cst.FunctionDef, owner: _Owner | None, facts: _Body) -> str:
    name = node.name.value
    decorators = [_dotted(d.decorator) for d in node.decorators]
    last = {d.rsplit(".", 1)[-1] for d in decorators}
    if name.startswith("test") or (owner is not None and owner.test):
        return "test function"
    if name.startswith("pytest_"):
        return "pytest hook implementation"
    if "fixture" in last:
        return "pytest fixture"
    if last & _PROPERTY or any(d.rsplit(".", 1)[-1] in _PROPERTY_PARTS for d in decorators):
        return "property"
    if last & _ABSTRACT:
        return "abstract method"
    if owner is not None and owner.protocol:
        return "protocol member"
    if "overload" in last:
        return "@overload stub"
    if last & _CONTEXT:
        return "context manager"
    if facts.trivial:
        return "trivial body"
    if not (facts.returns_value or facts.yields):
        return "returns no value"
    return ""


# -- the skip marker -------------------------------------------------------------------------


def _has_marker(node: cst.FunctionDef | cst.ClassDef) -> bool:
    """A marker above the node (or its decorators), on a decorator, or on its header line."""
    comments = [*_block_above(node.leading_lines), *_comments(node.lines_after_decorators)]
    comments += [d.trailing_whitespace.comment for d in node.decorators]
    body = node.body
    if isinstance(body, cst.IndentedBlock):
        comments.append(body.header.comment)
    elif isinstance(body, cst.SimpleStatementSuite):
        comments.append(body.trailing_whitespace.comment)
    return _marked(comments)


def _block_above(lines: Sequence[cst.EmptyLine]) -> list[cst.Comment | None]:
    """The comments of the contiguous comment lines that end right above a statement."""
    block: list[cst.Comment | None] = []
    for line in reversed(lines):
        if line.comment is None:
            break
        block.append(line.comment)
    return block


def _comments(lines: Sequence[cst.EmptyLine]) -> list[cst.Comment | None]:
    return [line.comment for line in lines]


def _marked(comments: Sequence[cst.Comment | None]) -> bool:
    return any(c is not None and SKIP_MARKER.search(c.value) for c in comments)


# -- walking statements ----------------------------------------------------------------------


def _statements(suite: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """Every statement and small statement under ``suite``, not entering defs or classes."""
    stack: list[cst.CSTNode] = [suite]
    while stack:
        current = stack.pop()
        if isinstance(
            current, (cst.IndentedBlock, cst.SimpleStatementSuite, cst.SimpleStatementLine)
        ):
            stack.extend(current.body)
        elif isinstance(current, (cst.FunctionDef, cst.ClassDef)):
            yield current
        elif isinstance(current, _HAS_SUITES):
            for name in _SUITE_FIELDS:
                value = getattr(current, name, None)
                if isinstance(value, (list, tuple)):
                    stack.extend(value)
                elif isinstance(value, cst.CSTNode):
                    stack.append(value)
        else:
            yield current


def _defs_in(block: cst.CSTNode) -> Iterator[cst.FunctionDef]:
    for statement in _statements(block):
        if isinstance(statement, cst.FunctionDef):
            yield statement


def _top_yield(statement: cst.CSTNode) -> bool:
    value = getattr(statement, "value", None)
    if isinstance(value, cst.Await):
        value = value.expression
    return isinstance(statement, (cst.Expr, cst.Assign, cst.AnnAssign, cst.AugAssign)) and (
        isinstance(value, cst.Yield)
    )


def _deep_yield(suite: cst.CSTNode) -> bool:
    """Slow path: a yield inside an expression (``f((yield))``); rare."""
    stack: list[cst.CSTNode] = [suite]
    while stack:
        current = stack.pop()
        if isinstance(current, cst.Yield):
            return True
        if not isinstance(current, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            stack.extend(current.children)
    return False


def _is_value(value: cst.BaseExpression | None) -> bool:
    return value is not None and not (isinstance(value, cst.Name) and value.value == "None")


def _is_trivial(suite: cst.BaseSuite) -> bool:
    """Nothing to optimize: no statements, placeholders, or one return of a simple value."""
    statements = [s for line in _lines_of(suite) for s in line]
    if statements and _is_docstring(statements[0]):
        statements = statements[1:]
    if all(_is_placeholder(s) for s in statements):
        return True
    if len(statements) != 1:
        return False
    only = statements[0]
    value = getattr(only, "value", None) if isinstance(only, (cst.Return, cst.Expr)) else None
    return value is not None and _is_simple(value)


def _lines_of(suite: cst.BaseSuite) -> Iterator[Sequence[cst.CSTNode]]:
    if isinstance(suite, cst.SimpleStatementSuite):
        yield suite.body
        return
    assert isinstance(suite, cst.IndentedBlock)
    for statement in suite.body:
        yield statement.body if isinstance(statement, cst.SimpleStatementLine) else [statement]


def _is_docstring(statement: cst.CSTNode) -> bool:
    return isinstance(statement, cst.Expr) and isinstance(
        statement.value, (cst.SimpleString, cst.ConcatenatedString)
    )


def _is_placeholder(statement: cst.CSTNode) -> bool:
    if isinstance(statement, cst.Pass):
        return True
    if isinstance(statement, cst.Expr) and isinstance(statement.value, cst.Ellipsis):
        return True
    if isinstance(statement, cst.Raise) and statement.exc is not None:
        exc = statement.exc.func if isinstance(statement.exc, cst.Call) else statement.exc
        return _dotted(exc) == "NotImplementedError"
    return False


def _is_simple(value: cst.BaseExpression) -> bool:
    while isinstance(value, cst.Attribute):
        value = value.value
    if isinstance(value, cst.UnaryOperation):
        value = value.expression
    return isinstance(
        value,
        (cst.Name, cst.Integer, cst.Float, cst.Imaginary, cst.SimpleString, cst.Ellipsis),
    )


def _dotted(expr: cst.BaseExpression) -> str:
    """``a.b.c`` for a name, attribute chain, call or subscript of one; ``""`` otherwise."""
    if isinstance(expr, cst.Call):
        expr = expr.func
    if isinstance(expr, cst.Subscript):
        expr = expr.value
    return dotted(expr)
