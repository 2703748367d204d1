"""One call of the target, observed: fresh inputs in, an ``Outcome`` out.

Runs inside the runner process.  Inputs are cloned through pickle with the target module
redirected to the module object that will receive them (the original's private copy or the
candidate's), so each side sees instances of its own classes (see :mod:`.pickling`);
``copy.deepcopy`` is the fallback for values pickle refuses.
"""

from __future__ import annotations

import copy
import io
import itertools
import operator
import os
import pickle
import random
import sys
import types
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from typing import Any

from .foreign import reclass_copy
from .outcomes import RANDOM_STATE, Outcome
from .pickling import SENTINELS as SENTINELS
from .pickling import Args as Args
from .pickling import clone_sharing, memo
from .pickling import dump_args as dump_args
from .pickling import dump_stored as dump_stored
from .pickling import load_args as load_args
from .pickling import load_outcome as load_outcome

MAX_ITERATOR_ITEMS = 100_000
MAX_YIELDED = 10_000
_IMMUTABLE = (int, float, complex, str, bytes, bool, type(None), range, type(...))
_DONE = object()


class Uncopyable(Exception):
    """The call's inputs cannot be duplicated, so the call cannot be run twice."""


def materialise_iterators(args: Args) -> Args:
    """Replace one-shot iterators among the arguments by re-iterable snapshots.

    A generator passed as an argument can be consumed only once, but the runner calls the
    original twice and the candidate once; each call gets its own iterator over the items,
    and how far each call consumed it is compared (see :func:`observe`).
    """
    positional, keywords = args

    def fix(value: Any) -> Any:
        if isinstance(value, (str, bytes, dict, list, tuple, set, frozenset)):
            return value
        if hasattr(value, "__next__") and iter(value) is value:
            # An iterator over a sequence is copied, so the caller's own is left untouched
            # until :func:`rewind_source` advances it; any other is consumed here.
            seekable = type(value).__name__ in _SEEKABLE
            reading = copy.copy(value) if seekable else value
            items: list[Any] = []
            try:
                items.extend(itertools.islice(reading, MAX_ITERATOR_ITEMS + 1))
            except Exception as err:  # it ends by raising: each replay raises it there too
                return _Replayable(items, None, err)
            if len(items) > MAX_ITERATOR_ITEMS:
                raise Uncopyable("an iterator argument yields too many items to replay")
            return _Replayable(items, value if seekable else None)
        return value

    return tuple(fix(a) for a in positional), {k: fix(v) for k, v in keywords.items()}


_SEEKABLE = frozenset({"list_iterator", "tuple_iterator", "range_iterator", "str_ascii_iterator"})


class _Replayable:
    """Marker for a materialised iterator: each clone becomes ``iter(copy of items)``.

    ``source`` is the caller's own iterator when it could be left untouched (an iterator
    over a list, tuple, range or string): :func:`rewind_source` advances it as far as a call
    consumed its copy.  Any other iterator was consumed to make the snapshot.
    """

    def __init__(
        self, items: list[Any], source: Any = None, error: BaseException | None = None
    ) -> None:
        self.items = items
        self.source = source
        self.error = error  # what the iterator raised after its items, if it did

    def __repr__(self) -> str:
        return f"iter({self.items!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_Replayable, (self.items, None, self.error))

    def replay(self, items: list[Any]) -> Iterator[Any]:
        """An iterator over ``items`` (a copy of :attr:`items`) that ends as the original
        did: exhausted, or raising (a copy of) what it raised."""
        if self.error is None:
            return iter(items)
        return _then_raise(items, self.error)


def _then_raise(items: list[Any], error: BaseException) -> Iterator[Any]:
    yield from items
    raise copy.copy(error)


def rewind_source(materialised: Args, used: Args) -> None:
    """Leave each iterator argument of the real caller where the call ``used`` left it.

    Only iterators over a sequence (see :class:`_Replayable`) can be; a generator argument
    was consumed to make the snapshot and stays so.
    """
    pairs = list(zip(materialised[0], used[0], strict=False))
    pairs += [(materialised[1][k], used[1].get(k)) for k in materialised[1]]
    for kept, given in pairs:
        if not isinstance(kept, _Replayable) or kept.source is None:
            continue
        consumed = _consumed(given, len(kept.items))
        for _ in range(consumed or 0):
            if next(kept.source, _DONE) is _DONE:
                break


def clone_args(args: Args, module_name: str, module: types.ModuleType) -> Args:
    """Fresh, independent inputs for one call, with classes resolved in ``module``.

    Pickle first; if it refuses a value that ``copy.deepcopy`` would share anyway (a
    function a test defined), pickle again with those values kept as they
    are, so the rest is still resolved in ``module``; ``copy.deepcopy`` last, with the
    module's classes then given to the copy (see :func:`.foreign.reclass_copy`).
    """
    try:
        cloned = load_args(dump_args(args), module_name, module)
    except Exception:
        try:
            cloned = clone_sharing(args, module_name, module)
        except Exception:
            try:
                cloned = reclass_copy(copy.deepcopy(args, memo()), args, module_name, module)
            except Exception as err:
                raise Uncopyable(f"the inputs cannot be copied: {err}") from err
    positional, keywords = cloned

    def unwrap(value: Any) -> Any:
        return value.replay(value.items) if isinstance(value, _Replayable) else value

    return tuple(unwrap(a) for a in positional), {k: unwrap(v) for k, v in keywords.items()}


def _consumed(iterator: Any, total: int) -> int | None:
    """How many of ``total`` items a call took from ``iterator`` (an ``iter(list)``)."""
    if type(iterator).__name__ != "list_iterator":
        return None
    return total - operator.length_hint(iterator)


def live_args(args: Args) -> Args:
    """The inputs the real caller passed, with materialised iterators turned back on."""
    positional, keywords = args

    def unwrap(value: Any) -> Any:
        return value.replay(list(value.items)) if isinstance(value, _Replayable) else value

    return tuple(unwrap(a) for a in positional), {k: unwrap(v) for k, v in keywords.items()}


def snapshot(value: Any, replace: dict[int, Any] | None = None) -> Any:
    """A copy of a module global that later mutation cannot reach (immutables are shared,
    and so are ``object()`` sentinels, which have no state to reach); objects inside it
    whose ``id`` is a key of ``replace`` become that key's value."""
    if isinstance(value, _IMMUTABLE) or callable(value) or isinstance(value, types.ModuleType):
        return value
    if type(value) is object:
        return value
    try:
        return copy.deepcopy(value, memo(replace))
    except Exception:
        return value


def data_globals(module: types.ModuleType) -> list[str]:
    """Names of the module's data globals: not functions, classes, modules or dunders."""
    names = []
    for name, value in vars(module).items():
        if name.startswith("__") or isinstance(value, types.ModuleType):
            continue
        if callable(value) or isinstance(value, (staticmethod, classmethod, property)):
            continue
        names.append(name)
    return names


def observe(
    function: Callable[..., Any],
    args: Args,
    *,
    module: types.ModuleType,
    global_names: list[str],
    is_method: bool,
    is_generator: bool,
    around: Callable[[], Any],
) -> Outcome:
    """Call ``function`` once and record everything the caller could observe.

    ``around()`` returns the context manager that wraps the call (determinism, guard phase).
    A lazily produced result (a generator, ``map``, ``filter``, an itertools object, ...) is
    drained, up to a bound: its items, the kind of iterator it is, and an exception raised
    while iterating (after the items before it) are what the caller sees.  ``is_generator``
    says the original is a generator function; it changes nothing here, every side is
    judged by what it actually returns.  Exceptions are recorded, not raised;
    ``KeyboardInterrupt`` still propagates.
    """
    positional, keywords = args
    out, err = io.StringIO(), io.StringIO()
    outcome = Outcome()
    sizes = _iterator_sizes(args)
    with around(), redirect_stdout(out), redirect_stderr(err):
        try:
            result = function(*positional, **keywords)
            kind = lazy_kind(result)
            if kind:
                outcome.result_kind = kind
                _drain(result, outcome)
                result = None
            outcome.returned = result
        except (Exception, SystemExit) as exc:
            outcome.raised = exc
        outcome.globals_after[RANDOM_STATE] = random.getstate()
    outcome.stdout, outcome.stderr = out.getvalue(), err.getvalue()
    outcome.aliases = aliasing(outcome.returned, args)
    after = tuple(_settled(a, sizes.get(i)) for i, a in enumerate(positional))
    if is_method and after:
        outcome.self_after = after[0]
        after = after[1:]
    outcome.args_after = after
    outcome.kwargs_after = {k: _settled(v, sizes.get(k)) for k, v in keywords.items()}
    namespace = vars(module)
    for name in global_names:
        if name in namespace:
            outcome.globals_after[name] = namespace[name]
    return outcome


_LAZY_MODULES = frozenset({"builtins", "itertools"})


def lazy_kind(value: object) -> str:
    """``"generator"``, ``"map"``, ... for a lazily produced result; ``""`` for anything else.

    Generators and the iterators of ``builtins`` and ``itertools`` count; a user's own
    iterator class is compared as an object, and a file is not read.
    """
    if isinstance(value, types.GeneratorType):
        return "generator"
    kind = type(value)
    if kind.__module__ not in _LAZY_MODULES or isinstance(value, (str, bytes)):
        return ""
    try:
        return kind.__name__ if iter(value) is value else ""  # type: ignore[call-overload]
    except TypeError:
        return ""


def _drain(result: Any, outcome: Outcome) -> None:
    """Take the items of a lazy result into ``outcome``; an exception it raises propagates."""
    items: list[object] = []
    outcome.yielded = items
    try:
        for item in result:
            if len(items) >= MAX_YIELDED:
                outcome.yield_truncated = True
                break
            items.append(item)
    except (Exception, SystemExit):
        outcome.raised_while_iterating = True
        raise


MAX_ALIAS_NODES = 1000
_ATOMS = (int, float, complex, str, bytes, bool, type(None))


def aliasing(result: object, args: Args) -> tuple[str, ...]:
    """Which parts of ``result`` are the same object: as one another, or as an argument.

    Walks the result's containers (lists, tuples, dicts, sets, objects' ``__dict__``) and
    labels each mutable object the first time it is seen (``#0``, ``#1``...), or by the
    argument it is (``args[0]``, ``args[1][2]``...).  Two results with equal values but
    another aliasing (the caller's own list returned, one list twice where there were
    two) differ for a caller that mutates them.
    """
    known: dict[int, str] = {}
    positional, keywords = args
    for index, value in enumerate(positional):
        _label_inputs(value, f"args[{index}]", known, 0)
    for name, value in keywords.items():
        _label_inputs(value, name, known, 0)
    labels: list[str] = []
    seen: dict[int, str] = {}
    stack: list[tuple[object, int]] = [(result, 0)]
    while stack and len(labels) < MAX_ALIAS_NODES:
        value, depth = stack.pop()
        if isinstance(value, _ATOMS) or callable(value) or depth > 4:
            continue
        if isinstance(value, (tuple, frozenset)):  # immutable: sharing one is unobservable
            stack.extend((child, depth + 1) for child in reversed(_children(value)))
            continue
        ident = id(value)
        if ident in seen:
            labels.append(seen[ident])
            continue
        seen[ident] = known.get(ident, f"#{len(seen)}")
        labels.append(seen[ident])
        stack.extend((child, depth + 1) for child in reversed(_children(value)))
    return tuple(labels)


def _label_inputs(value: object, label: str, known: dict[int, str], depth: int) -> None:
    if isinstance(value, _ATOMS) or depth > 1 or id(value) in known:
        return
    if not isinstance(value, (tuple, frozenset)):
        known[id(value)] = label
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value[:100]):
            _label_inputs(item, f"{label}[{index}]", known, depth + 1)


def _children(value: object) -> list[object]:
    if isinstance(value, (list, tuple)):
        return list(value[:200])
    if isinstance(value, dict):
        return list(itertools.islice(value.values(), 200))
    if isinstance(value, (set, frozenset)):
        return []  # their items are hashable, hence (mostly) immutable
    state = getattr(value, "__dict__", None)
    return list(state.values())[:50] if isinstance(state, dict) else []


def _iterator_sizes(args: Args) -> dict[int | str, int]:
    """The number of items of each materialised iterator argument, by position or name."""
    sizes: dict[int | str, int] = {}
    for index, value in enumerate(args[0]):
        if type(value).__name__ == "list_iterator":
            sizes[index] = operator.length_hint(value)
    for name, value in args[1].items():
        if type(value).__name__ == "list_iterator":
            sizes[name] = operator.length_hint(value)
    return sizes


def _settled(value: Any, size: int | None = None) -> Any:
    """An argument's state after the call: for an iterator, how many of its items the call
    took (when known), as no other state of a one-shot iterator is worth comparing."""
    if size is not None:
        return ConsumedIterator(size - operator.length_hint(value))
    if hasattr(value, "__next__") and not isinstance(value, (str, bytes)):
        try:
            if iter(value) is value:
                return "<iterator>"
        except Exception:
            return value
    return value


@dataclass(frozen=True)
class ConsumedIterator:
    """An iterator argument after the call: how many items the call took from it."""

    items_taken: int

    def __repr__(self) -> str:
        return f"<iterator, {self.items_taken} item(s) taken>"


def replay_outcome(outcome: Outcome) -> Any:
    """Give the real caller what the candidate did: its return value, or its exception.

    A generator's items come back as a generator (raising its exception after them, as
    the real one did); other lazy results as an iterator over their items.
    """
    sys.stdout.write(outcome.stdout)
    sys.stderr.write(outcome.stderr)
    if outcome.raised is not None and not outcome.raised_while_iterating:
        raise outcome.raised
    if outcome.yielded is not None:
        if outcome.result_kind == "generator":
            return _regenerate(outcome.yielded, outcome.raised)
        if outcome.raised is not None:
            return _regenerate(outcome.yielded, outcome.raised)
        return iter(outcome.yielded)
    return outcome.returned


def _regenerate(items: list[object], raised: BaseException | None) -> Iterator[object]:
    yield from items
    if raised is not None:
        raise raised


def read_pickle(path: str | None) -> Any:
    """What the baseline run saved at ``path`` for this run, or ``None`` if nothing is there."""
    if not path or not os.path.exists(path):
        return None
    with open(path, "rb") as handle:
        return pickle.load(handle)
