"""One call of the target, observed: fresh inputs in, an ``Outcome`` out.

Runs inside the runner process.  Inputs are cloned through pickle with the target module
redirected to the module object that will receive them (the original's private copy or the
candidate's), so each side sees instances of its own classes; ``copy.deepcopy`` is the
fallback for values pickle refuses.
"""

from __future__ import annotations

import copy
import io
import itertools
import os
import pickle
import random
import sys
import types
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from typing import Any

from .outcomes import RANDOM_STATE, Outcome

Args = tuple[tuple[Any, ...], dict[str, Any]]
MAX_ITERATOR_ITEMS = 100_000
MAX_YIELDED = 10_000
_IMMUTABLE = (int, float, complex, str, bytes, bool, type(None), range, type(...))


class Uncopyable(Exception):
    """The call's inputs cannot be duplicated, so the call cannot be run twice."""


class _RedirectUnpickler(pickle.Unpickler):
    def __init__(self, data: bytes, module_name: str, module: types.ModuleType) -> None:
        super().__init__(io.BytesIO(data))
        self._name = module_name
        self._module = module

    def find_class(self, module: str, name: str) -> Any:
        if module == self._name:
            obj: Any = self._module
            for part in name.split("."):
                obj = getattr(obj, part)
            return obj
        return super().find_class(module, name)


def dump_args(args: Args) -> bytes:
    """Serialise a call's inputs (raises on unpicklable values)."""
    return pickle.dumps(args, protocol=pickle.HIGHEST_PROTOCOL)


def load_args(data: bytes, module_name: str, module: types.ModuleType) -> Args:
    """Deserialise inputs, resolving classes of ``module_name`` in ``module``."""
    loaded = _RedirectUnpickler(data, module_name, module).load()
    args, kwargs = loaded
    return tuple(args), dict(kwargs)


def load_outcome(data: bytes, module_name: str, module: types.ModuleType) -> Outcome:
    """Deserialise a stored :class:`Outcome`, resolving classes of ``module_name`` in ``module``."""
    loaded = _RedirectUnpickler(data, module_name, module).load()
    if not isinstance(loaded, Outcome):
        raise TypeError(f"expected a stored Outcome, found {type(loaded).__name__}")
    return loaded


def materialise_iterators(args: Args) -> Args:
    """Replace one-shot iterators among the arguments by re-iterable snapshots.

    A generator passed as an argument can be consumed only once, but the runner calls the
    original twice and the candidate once; each call gets its own iterator over the items.
    """
    positional, keywords = args

    def fix(value: Any) -> Any:
        if isinstance(value, (str, bytes, dict, list, tuple, set, frozenset)):
            return value
        if hasattr(value, "__next__") and iter(value) is value:
            items = list(itertools.islice(value, MAX_ITERATOR_ITEMS + 1))
            if len(items) > MAX_ITERATOR_ITEMS:
                raise Uncopyable("an iterator argument yields too many items to replay")
            return _Replayable(items)
        return value

    return tuple(fix(a) for a in positional), {k: fix(v) for k, v in keywords.items()}


class _Replayable:
    """Marker for a materialised iterator: each clone becomes ``iter(copy of items)``."""

    def __init__(self, items: list[Any]) -> None:
        self.items = items

    def __repr__(self) -> str:
        return f"iter({self.items!r})"


def clone_args(args: Args, module_name: str, module: types.ModuleType) -> Args:
    """Fresh, independent inputs for one call, with classes resolved in ``module``."""
    try:
        cloned = load_args(dump_args(args), module_name, module)
    except Exception:
        try:
            cloned = copy.deepcopy(args)
        except Exception as err:
            raise Uncopyable(f"the inputs cannot be copied: {err}") from err
    positional, keywords = cloned

    def unwrap(value: Any) -> Any:
        return iter(value.items) if isinstance(value, _Replayable) else value

    return tuple(unwrap(a) for a in positional), {k: unwrap(v) for k, v in keywords.items()}


def live_args(args: Args) -> Args:
    """The inputs the real caller passed, with materialised iterators turned back on."""
    positional, keywords = args

    def unwrap(value: Any) -> Any:
        return iter(list(value.items)) if isinstance(value, _Replayable) else value

    return tuple(unwrap(a) for a in positional), {k: unwrap(v) for k, v in keywords.items()}


def snapshot(value: Any) -> Any:
    """A copy of a module global that later mutation cannot reach (immutables are shared)."""
    if isinstance(value, _IMMUTABLE) or callable(value) or isinstance(value, types.ModuleType):
        return value
    try:
        return copy.deepcopy(value)
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
    Exceptions are recorded, not raised; ``KeyboardInterrupt`` still propagates.
    """
    positional, keywords = args
    out, err = io.StringIO(), io.StringIO()
    outcome = Outcome()
    with around(), redirect_stdout(out), redirect_stderr(err):
        try:
            result = function(*positional, **keywords)
            if is_generator:
                items = list(itertools.islice(result, MAX_YIELDED + 1))
                outcome.yield_truncated = len(items) > MAX_YIELDED
                outcome.yielded = items[:MAX_YIELDED]
                result = None
            outcome.returned = result
        except (Exception, SystemExit) as exc:
            outcome.raised = exc
        outcome.globals_after[RANDOM_STATE] = random.getstate()
    outcome.stdout, outcome.stderr = out.getvalue(), err.getvalue()
    after = tuple(_settled(a) for a in positional)
    if is_method and after:
        outcome.self_after = after[0]
        after = after[1:]
    outcome.args_after = after
    outcome.kwargs_after = {k: _settled(v) for k, v in keywords.items()}
    namespace = vars(module)
    for name in global_names:
        if name in namespace:
            outcome.globals_after[name] = namespace[name]
    return outcome


def _settled(value: Any) -> Any:
    """An argument's state after the call; a one-shot iterator has none worth comparing."""
    if hasattr(value, "__next__") and not isinstance(value, (str, bytes)):
        try:
            if iter(value) is value:
                return "<iterator>"
        except Exception:
            return value
    return value


def replay_outcome(outcome: Outcome) -> Any:
    """Give the real caller what the candidate did: its return value, or its exception."""
    sys.stdout.write(outcome.stdout)
    sys.stderr.write(outcome.stderr)
    if outcome.raised is not None:
        raise outcome.raised
    if outcome.yielded is not None:
        return iter(outcome.yielded)
    return outcome.returned


def read_pickle(path: str | None) -> Any:
    """What the baseline run saved at ``path`` for this run, or ``None`` if nothing is there."""
    if not path or not os.path.exists(path):
        return None
    with open(path, "rb") as handle:
        return pickle.load(handle)
