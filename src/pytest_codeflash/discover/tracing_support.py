"""The cold parts of tracing: argument capture, bounded pickling, reservoir arithmetic,
merging samples from several processes, and finding a function's code object.

Standard library only, like :mod:`.tracing`.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import inspect
import io
import math
import os
import pickle
import random
import sys
import threading
import time
import types
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from .tracing_records import TracerState


def start_offset(code: types.CodeType) -> int:
    """``f_lasti`` of a fresh frame under ``sys.setprofile``: its first RESUME, or -1
    (always before 3.11, which has no RESUME)."""
    if sys.version_info < (3, 11):
        return -1
    import dis

    for instruction in dis.get_instructions(code):
        if instruction.opname == "RESUME":
            return instruction.offset
    return -1


# -- inputs ------------------------------------------------------------------------------------


def arguments(
    code: types.CodeType, values: Mapping[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The call's ``(args, kwargs)`` from the locals (``values``) of a frame of ``code`` that
    has just started."""
    names = code.co_varnames
    count, keywords = code.co_argcount, code.co_kwonlyargcount
    args = [values[name] for name in names[:count]]
    kwargs = {name: values[name] for name in names[count : count + keywords] if name in values}
    index = count + keywords
    if code.co_flags & inspect.CO_VARARGS:
        args.extend(values[names[index]])
        index += 1
    if code.co_flags & inspect.CO_VARKEYWORDS:
        kwargs.update(values[names[index]])
    return tuple(args), kwargs


def refused_by_pickle(inputs: tuple[tuple[Any, ...], dict[str, Any]]) -> bool:
    """Whether pickle is sure to refuse these ``(args, kwargs)``, at a glance: one of them is
    a function or a class that pickle cannot find by its name.

    pickle saves a function (and a class) by reference, its module and qualified name,
    and checks that the name leads back to the same object: a lambda's or a local
    function's name (``<lambda>``, ``f.<locals>.g``) leads nowhere, nor does the name of a
    function that a decorator or an assignment has replaced.  Finding that out by pickling
    costs as much as pickling everything before it, and then an exception.
    """
    args, kwargs = inputs
    return any(map(_unpicklable_by_name, args)) or any(map(_unpicklable_by_name, kwargs.values()))


_MISSING = object()


def _unpicklable_by_name(value: Any) -> bool:
    kind = type(value)
    if kind is not types.FunctionType and kind is not type:
        return False
    qualname = getattr(value, "__qualname__", None)
    if not isinstance(qualname, str):
        return False
    if "<" in qualname:  # <lambda>, <locals>: no name leads there
        return True
    module = sys.modules.get(getattr(value, "__module__", None) or "")
    if module is None:
        return False  # pickle would import it, or search for it: let it try
    found: Any = module
    try:
        for part in qualname.split("."):
            found = getattr(found, part, _MISSING)
            if found is _MISSING:
                return True
    except Exception:  # a module's or class's own __getattr__: let pickle see
        return False
    return found is not value


class _TooLarge(Exception):
    pass


class _BoundedBuffer(io.BytesIO):
    """Stops pickling as soon as the output passes its limit (pickle writes in frames)."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def write(self, data: Any) -> int:
        if self.tell() + len(data) > self.limit:
            raise _TooLarge
        return super().write(data)


# From 3.12 the standard library warns while pickling some objects (itertools').
_PICKLING_WARNS = sys.version_info >= (3, 12)


def bounded_dumps(value: Any, limit: int) -> bytes:
    """``pickle.dumps(value)``, or an exception once it passes ``limit`` bytes.

    From 3.12, where the standard library warns while pickling (itertools' deprecation),
    warnings are silenced: they would land in the user's test run, which did not cause
    them.  Before 3.12 nothing in the standard library warns there, and silencing costs a
    few microseconds a call (about 10 ms on toolz's short suite), so only an argument's own
    warning ``__reduce__`` would show.
    """
    buffer = _BoundedBuffer(max(0, limit))
    if _PICKLING_WARNS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    else:
        pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    return buffer.getvalue()


def reservoir_skip(rng: random.Random, chance: float) -> int:
    """How many calls to pass over before the next one is kept, each kept with ``chance``."""
    if chance >= 1.0:
        return 0
    return int(math.log(1.0 - rng.random()) / math.log1p(-chance))


def merge_samples(
    ours: list[bytes], our_calls: int, theirs: list[bytes], their_calls: int, limit: int
) -> list[bytes]:
    """Two uniform samples into one: each side contributes in proportion to its calls."""
    if len(ours) + len(theirs) <= limit:
        return list(dict.fromkeys([*ours, *theirs]))
    total = max(1, our_calls + their_calls)
    mine = min(len(ours), max(limit - len(theirs), round(limit * our_calls / total)))
    return list(dict.fromkeys([*ours[:mine], *theirs[: limit - mine]]))


# -- finding code objects ----------------------------------------------------------------------


def code_of(module: types.ModuleType, qualname: str, file: str | None) -> types.CodeType | None:
    """The code object of ``qualname`` in ``module``, looking through decorators.

    It must have the function's name (and qualified name, on 3.11+), and come from ``file``
    when that is given, so that a monkeypatched stand-in or a wrapper is never traced.
    """
    owner: Any = module
    parts = qualname.split(".")
    try:
        for part in parts:
            owner = _static_attribute(owner, part)
    except AttributeError:
        return None
    for function in _functions_in(owner):
        code: types.CodeType = function.__code__
        if code.co_name != parts[-1] or getattr(code, "co_qualname", qualname) != qualname:
            continue
        if file is None or real_path(code.co_filename) == file:
            return code
    return None


def _static_attribute(owner: Any, name: str) -> Any:
    """``inspect.getattr_static``, with a short way for a module's own names (a run looks up
    hundreds of them as the tests start)."""
    if type(owner) is types.ModuleType and not name.startswith("__"):
        found = vars(owner).get(name, _MISSING)
        if found is not _MISSING:
            return found
    return inspect.getattr_static(owner, name)


@functools.lru_cache(maxsize=1024)
def real_path(path: str) -> str:
    """``os.path.realpath``, once per path: a run looks up a few files' functions by the
    hundred, and each look-up stats every folder on the way."""
    return os.path.realpath(path)


def _functions_in(raw: Any) -> Iterator[Any]:
    """``raw`` and the functions it wraps (``__wrapped__``, ``__func__``, closure cells)."""
    queue, seen = [raw], 0
    while queue and seen < 32:
        current = queue.pop(0)
        seen += 1
        if isinstance(current, (staticmethod, classmethod)):
            queue.append(current.__func__)
            continue
        if isinstance(getattr(current, "__code__", None), types.CodeType):
            yield current
        for name in ("__wrapped__", "__func__"):
            with contextlib.suppress(Exception):
                inner = inspect.getattr_static(current, name)
                queue.append(inner)
        for cell in getattr(current, "__closure__", None) or ():
            with contextlib.suppress(ValueError):
                if callable(cell.cell_contents):
                    queue.append(cell.cell_contents)


# -- the sampler's clocks ------------------------------------------------------------------------


def window_time(tracer: TracerState, now: int) -> int:
    """Nanoseconds spent in windows so far: the sampler charges the time in windows since
    its last look inside one to what it sees (it does not look between windows)."""
    open_ns = now - tracer.window_since if tracer.windows_open else 0
    return tracer.window_ns + max(0, open_ns)


def thread_cpu_ns(ident: int, clocks: dict[int, int | None]) -> int | None:
    """The CPU time of thread ``ident``, if the platform has per-thread CPU clocks."""
    if ident not in clocks:
        try:
            clocks[ident] = time.pthread_getcpuclockid(ident)
        except (AttributeError, OSError, OverflowError):
            clocks[ident] = None
    clock = clocks[ident]
    if clock is None:
        return None
    try:
        return time.clock_gettime_ns(clock)
    except OSError:  # the thread has ended
        clocks[ident] = None
        return None


# -- running a function in the main thread, from another ----------------------------------------

_QUEUE: collections.deque[Callable[[], None]] = collections.deque()
_ADD: Any = None  # Py_AddPendingCall, once looked up; False where it cannot be used
_CALLBACK: Any = None  # the C callback it is given: kept alive for the process's lifetime


def _run_queued(_arg: object) -> int:
    """Run the queued functions (see ``FastPhases._switch`` for what they may not do)."""
    while _QUEUE:
        try:
            _QUEUE.popleft()()
        except Exception:  # nothing may escape into the interpreter loop
            pass
        except BaseException as exc:  # a signal handler's (KeyboardInterrupt, a timeout's)
            _raise_in_main_thread(type(exc))
    return 0


def _raise_in_main_thread(kind: type[BaseException]) -> None:
    """Raise ``kind`` in the main thread as soon as it runs Python again: a C callback cannot
    pass an exception on, and a signal handler's must not be lost."""
    import ctypes

    ident = threading.main_thread().ident or 0
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), ctypes.py_object(kind))


def _counter_module() -> Any:
    """:mod:`._evalcount` where it was built (CPython 3.10 and 3.11, a compiler at install
    time), else ``None``."""
    if sys.version_info >= (3, 12):
        return None
    try:
        from . import _evalcount  # type: ignore[attr-defined]
    except ImportError:
        return None
    return _evalcount


def counter_built() -> bool:
    """Whether this run traces before 3.12 with :mod:`._evalcount` (it was built)."""
    return _counter_module() is not None


def evaluation_counter() -> Any:
    """The frame-evaluation counter of :mod:`._evalcount`, started, for the tests' thread;
    ``None`` where it was not built (cProfile's profiler does its work then), or it is in
    use (a traced run inside a traced run) or another tool evaluates frames."""
    counter = _counter_module()
    return counter if counter is not None and counter.start() else None


def can_call_in_main_thread() -> bool:
    """Whether :func:`call_in_main_thread` works here (it looks, the first time: call this
    from the main thread before another thread needs it)."""
    global _ADD, _CALLBACK
    if _ADD is None:
        _ADD = False
        try:
            import ctypes

            callback_type = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)
            prototype = ctypes.PYFUNCTYPE(ctypes.c_int, callback_type, ctypes.c_void_p)
            add = prototype(("Py_AddPendingCall", ctypes.pythonapi))
        except (ImportError, AttributeError, OSError):
            return False
        _CALLBACK = callback_type(_run_queued)
        _ADD = add
    return _ADD is not False


def call_in_main_thread(function: Callable[[], None]) -> bool:
    """Have the main thread run ``function`` between two of its bytecodes, as it runs signal
    handlers (``Py_AddPendingCall``), without a signal: no system call is interrupted.

    Callable from any thread.  ``False`` where the interpreter offers no way to (not CPython,
    or its queue is full); the caller then does without.
    """
    if not can_call_in_main_thread():
        return False
    _QUEUE.append(function)
    if _ADD(_CALLBACK, None) == 0:
        return True
    with contextlib.suppress(ValueError):
        _QUEUE.remove(function)
    return False
