"""Compare everything one call of the target did: its result, its effects and its output.

Runs inside the isolated runner, so only the standard library is imported; the values
themselves are compared by :mod:`.compare`, with the same strict rules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .compare import _UNSET, CompareHook, _Comparer, _room_to_recurse
from .digest import same_bytes, same_large
from .mismatch import Mismatch, Unverifiable, at, differ, short_repr

# The key of the ``random`` module's state among an outcome's globals.
RANDOM_STATE = "<random module state>"


@dataclass
class Outcome:
    """What one call of the target did, as seen by the caller."""

    returned: object = None
    raised: BaseException | None = None
    stdout: str = ""
    stderr: str = ""
    args_after: tuple[object, ...] = ()  # positional args after the call (mutation check)
    kwargs_after: dict[str, object] = field(default_factory=dict)
    self_after: object = None  # for methods: the instance after the call (or None)
    globals_after: dict[str, object] = field(default_factory=dict)  # touched module globals
    yielded: list[object] | None = None  # a lazy result's items, consumed up to a bound
    yield_truncated: bool = False
    result_kind: str = ""  # "generator", "map", ...: the kind of lazy result (see calls.lazy_kind)
    aliases: tuple[str, ...] = ()  # which parts of the result are the same object (calls.aliasing)
    raised_while_iterating: bool = False  # ``raised`` came from the lazy result, after ``yielded``


@dataclass(frozen=True)
class Difference:
    """The first way in which a candidate's call outcome differs from the original's.

    ``kind`` is one of: "return value", "exception", "stdout", "stderr", "argument
    mutation", "self state", "global state", "yielded values", "interface", "aliasing",
    "unverifiable".  ``note``, when set (always for "unverifiable"), replaces the
    description built from ``mismatch``.
    """

    kind: str
    mismatch: Mismatch | None
    note: str = ""

    def describe(self) -> str:
        """Say what differs, in one line."""
        if self.note or self.mismatch is None:
            return self.note or f"{self.kind} differs"
        m, verb = self.mismatch, "differ" if self.kind == "yielded values" else "differs"
        what = f"expected {m.expected}, got {m.actual} ({m.detail})"
        return f"{self.kind} {verb}{at(m.path)}: {what}"


def compare_outcomes(
    expected: Outcome, actual: Outcome, *, rel_tol: float = 0.0, hook: CompareHook | None = None
) -> Difference | None:
    """Compare two call outcomes; ``None`` when the caller could not tell them apart.

    Parts are checked in this order: raised-or-returned, the exception, the return value or
    yielded values, arguments, ``self``, globals, stdout, stderr.  A part that cannot be
    compared gives a Difference of kind "unverifiable", never "equal".
    """
    comparer = _Comparer(rel_tol, hook)
    with _room_to_recurse():
        for noun, check in _CHECKS:
            try:
                difference = check(comparer, expected, actual)
            except Unverifiable as exc:
                return Difference("unverifiable", None, f"cannot verify the {noun}: {exc}")
            if difference is not None:
                return difference
    return None


def _check_exception(c: _Comparer, e: Outcome, a: Outcome) -> Difference | None:
    if e.raised is not None and a.raised is not None:
        m = c.node(e.raised, a.raised, "", 0)
        if m is not None:
            detail = f"{m.path.lstrip('.')}: {m.detail}" if m.path else m.detail
            return Difference("exception", differ("", e.raised, a.raised, detail))
        if e.raised_while_iterating != a.raised_while_iterating:
            return Difference("exception", None, _when_raised(e, a))
        return None
    results = [short_repr(o.yielded if o.yielded is not None else o.returned) for o in (e, a)]
    if a.raised is not None:
        note = f"raised {short_repr(a.raised)} but the original returned {results[0]}"
        return Difference("exception", differ("", e.returned, a.raised, "raised"), note)
    if e.raised is not None:
        note = f"returned {results[1]} but the original raised {short_repr(e.raised)}"
        return Difference("exception", differ("", e.raised, a.returned, "returned"), note)
    return None


def _when_raised(e: Outcome, a: Outcome) -> str:
    def when(outcome: Outcome) -> str:
        if outcome.raised_while_iterating:
            return f"while its result was iterated (after {len(outcome.yielded or ())} item(s))"
        return "when called"

    name = type(e.raised).__name__
    return f"the original raised {name} {when(e)}, the candidate {when(a)}"


def _check_result(c: _Comparer, e: Outcome, a: Outcome) -> Difference | None:
    if e.result_kind != a.result_kind:
        return Difference("interface", None, _interface_change(e, a))
    if e.yielded is not None and a.yielded is not None:
        m = c.node(e.yielded, a.yielded, "", 0)
        if m is not None:
            return Difference("yielded values", m)
        if e.yield_truncated != a.yield_truncated:
            which = ("original", "candidate") if e.yield_truncated else ("candidate", "original")
            note = "the {} yielded more than {n} values, the {} stopped after {n}"
            return Difference("yielded values", None, note.format(*which, n=len(e.yielded)))
        return None
    m = c.node(e.returned, a.returned, "", 0)
    if m is not None:
        return Difference("return value", m)
    if e.aliases != a.aliases and e.raised is None:
        return Difference("aliasing", None, _aliasing_note(e.aliases, a.aliases))
    return None


def _aliasing_note(expected: tuple[str, ...], actual: tuple[str, ...]) -> str:
    """Say how the candidate's result shares objects differently from the original's."""
    for x, y in zip(expected, actual, strict=False):
        if x != y:
            what = {True: "the caller's own {}", False: "a new object"}
            return (
                "aliasing differs: the original returns "
                + (what[x.startswith("args") or not x.startswith("#")].format(x))
                + f" ({x}), the candidate "
                + (what[y.startswith("args") or not y.startswith("#")].format(y))
                + f" ({y}); a caller that changes one changes the other"
            )
    return "aliasing differs: the results share their parts with each other differently"


def _interface_change(e: Outcome, a: Outcome) -> str:
    """Say how the kinds of result differ: a generator made a list, or the reverse."""

    def what(outcome: Outcome) -> str:
        if outcome.result_kind == "generator":
            return "a generator"
        if outcome.result_kind:
            return f"a lazy {outcome.result_kind} object"
        return f"a {type(outcome.returned).__name__}" if outcome.raised is None else "nothing"

    return (
        f"interface change: the original returns {what(e)}, the candidate {what(a)} "
        "(callers may rely on laziness, next() or iterating only once)"
    )


def _check_arguments(c: _Comparer, e: Outcome, a: Outcome) -> Difference | None:
    if _same_large(c, (e.args_after, e.kwargs_after), (a.args_after, a.kwargs_after)):
        return None
    m = c.node(e.args_after, a.args_after, "args", 0)
    m = m or c.node(e.kwargs_after, a.kwargs_after, "kwargs", 0)
    return None if m is None else Difference("argument mutation", m)


def _check_self(c: _Comparer, e: Outcome, a: Outcome) -> Difference | None:
    if _same_large(c, e.self_after, a.self_after):
        return None
    m = c.node(e.self_after, a.self_after, "self", 0)
    return None if m is None else Difference("self state", m)


def _same_large(c: _Comparer, expected: object, actual: object) -> bool:
    """Large arguments and instances equal byte for byte (see .digest); never with a compare
    hook, which may see two equal-looking values otherwise."""
    return c.hook is None and same_large(expected, actual)


def _check_globals(c: _Comparer, e: Outcome, a: Outcome) -> Difference | None:
    """Every module global the function may touch, after every compared call: a module's
    tables (tabulate's formats, a few hundred named tuples) walked node by node took most
    of a run.  A global equal byte for byte on both sides (see .digest; never with a
    compare hook) is equal; any other is compared node by node."""
    for name in [*e.globals_after, *(n for n in a.globals_after if n not in e.globals_after)]:
        x, y = e.globals_after.get(name, _UNSET), a.globals_after.get(name, _UNSET)
        if name == RANDOM_STATE and x == y:  # 625 ints: equal in one step, or node by node
            continue
        if c.hook is None and same_bytes(x, y):
            continue
        m = c.attribute(x, y, f"global {name}", 0)
        if m is not None:
            return Difference("global state", m)
    return None


def _check_output(c: _Comparer, e: Outcome, a: Outcome) -> Difference | None:
    for stream in ("stdout", "stderr"):
        m = c.node(getattr(e, stream), getattr(a, stream), "", 0)
        if m is not None:
            return Difference(stream, m)
    return None


_CHECKS: list[tuple[str, Callable[[_Comparer, Outcome, Outcome], Difference | None]]] = [
    ("exception", _check_exception),
    ("return value", _check_result),
    ("arguments after the call", _check_arguments),
    ("instance after the call", _check_self),
    ("globals after the call", _check_globals),
    ("output", _check_output),
]


def resource_limit(expected: Outcome, actual: Outcome) -> str:
    """Describe a candidate that hit a limit the original stayed within, or return ''."""
    raised = actual.raised
    if isinstance(raised, (MemoryError, RecursionError)) and type(expected.raised) is not type(
        raised
    ):
        what = "memory limit" if isinstance(raised, MemoryError) else "recursion limit"
        return (
            f"resource limit: the candidate hit the {what} ({type(raised).__name__}) "
            "where the original did not"
        )
    return ""


def compare_stable(
    first: Outcome, second: Outcome, actual: Outcome, rel_tol: float, hook: Any
) -> Difference | None:
    """Compare only the parts of the outcome that were the same in both original runs.

    Each part on its own: a result that changes from run to run leaves the arguments'
    state, ``self`` and every module global that did not still compared.
    """
    parts = (
        "returned",
        "raised",
        "stdout",
        "stderr",
        "yielded",
        "self_after",
        "args_after",
        "kwargs_after",
    )
    masked_first, masked_actual = Outcome(), Outcome()
    for always in ("result_kind", "raised_while_iterating"):
        setattr(masked_first, always, getattr(first, always))
        setattr(masked_actual, always, getattr(actual, always))
    for part in parts:
        a, b = getattr(first, part), getattr(second, part)
        found = compare_outcomes(_only(part, a), _only(part, b), rel_tol=rel_tol, hook=hook)
        if found is not None and found.kind == "unverifiable":
            return found
        if found is None:
            setattr(masked_first, part, a)
            setattr(masked_actual, part, getattr(actual, part))
    for name in first.globals_after:
        a, b = first.globals_after[name], second.globals_after.get(name, _UNSET)
        alone = (Outcome(globals_after={name: a}), Outcome(globals_after={name: b}))
        found = compare_outcomes(*alone, rel_tol=rel_tol, hook=hook)
        if found is not None and found.kind == "unverifiable":
            return found
        if found is None:
            masked_first.globals_after[name] = a
            masked_actual.globals_after[name] = actual.globals_after.get(name, _UNSET)
    return compare_outcomes(masked_first, masked_actual, rel_tol=rel_tol, hook=hook)


def _only(part: str, value: Any) -> Outcome:
    outcome = Outcome()
    setattr(outcome, part, value)
    return outcome
