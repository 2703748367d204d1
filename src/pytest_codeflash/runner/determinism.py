"""Give the original and the candidate identical values from every nondeterministic source.

Runs inside the runner subprocess: standard library only; numpy only if already imported.
While a :class:`Determinism` is active, every one of these restarts from the same state:

* a virtual wall clock (``time.time``/``time_ns``, the ``datetime`` stand-ins that
  :meth:`Determinism.prepare_module` binds, ``localtime``/``gmtime``/``ctime``/``strftime``
  without a time) and a virtual monotonic clock (``perf_counter``, ``monotonic(_ns)``,
  ``process_time(_ns)``, ``thread_time(_ns)``), each advancing 1 µs per reading and by the
  duration of a ``time.sleep``.  They start where :meth:`Determinism.start_clock` last set
  them: the runner sets the real time at the start of each call a test makes, so the code
  under test and the test's own code agree on "now" and "today", and a fixed time for the
  inputs it replays.  ``time.perf_counter_ns`` is never patched
  (:data:`REAL_PERF_COUNTER_NS`) and asyncio's event loops keep the real clock;
* one seeded byte stream for ``os.urandom``, ``os.getrandom`` and ``random._urandom`` (hence
  ``random.SystemRandom``, ``secrets``, numpy's unseeded entropy and ``uuid.uuid4``), and
  ``uuid.uuid1`` from it and the wall clock;
* ``random``'s and numpy's global generators, seeded with ``seed``; a generator seeded without
  a seed (``random.Random()``, ``numpy.random.default_rng()``...) gets one from a seeded stream.

What is patched in are dispatchers that call the real function whenever no Determinism is
active, so a module that captured one (``from time import time``) still works after exit.

A clock, stream or class that the test itself replaced (``monkeypatch.setattr(time,
"time", ...)``, freezegun and the like) is left as the test made it: the test decided what
its code sees, and both the original and the candidate see the same thing.  Names that the
prepared module bound to a dispatcher or stand-in follow that replacement too.
Activations do not nest: entering while any is active raises ``RuntimeError``, because the
patches are process-wide and an inner exit would undo the outer activation's.
"""

from __future__ import annotations

import datetime as _dt
import functools
import importlib
import operator
import os
import random
import sys
import time
import types
import uuid
from collections.abc import Callable
from typing import Any, cast

from .standins import ACTIVE, DeterministicDate, DeterministicDatetime, datetime_proxy

__all__ = [
    "REAL_MONOTONIC",
    "REAL_PERF_COUNTER_NS",
    "REAL_TIME",
    "Determinism",
    "DeterministicDate",
    "DeterministicDatetime",
    "child_environment",
]

REAL_PERF_COUNTER_NS: Callable[[], int] = time.perf_counter_ns
"""The real ``time.perf_counter_ns``; never patched, safe for the runner's timer."""
REAL_MONOTONIC: Callable[[], float] = time.monotonic
"""The real ``time.monotonic``, for runner code (watchdogs) that may run while active."""
REAL_TIME: Callable[[], float] = time.time
"""The real ``time.time``, for starting the virtual clocks at the real time."""

_REAL_DATETIME = _dt.datetime
_REAL_DATE = _dt.date
_REAL_LOCALTIME = time.localtime
_REAL_GMTIME = time.gmtime
_REAL_ASCTIME = time.asctime
_REAL_SLEEP = time.sleep
_REAL_STRFTIME = time.strftime
_REAL_RANDOM_SEED = random.Random.seed
_RANDOM_INST = cast(random.Random, vars(random)["_inst"])
_REAL_GLOBAL_SEED = random.seed
_MONOTONIC_START_US = 1_000 * 1_000_000
_UUID_EPOCH_OFFSET = 0x01B21DD213814000  # 100 ns intervals from 1582-10-15 to 1970-01-01
_MISSING = object()


def child_environment(env: dict[str, str]) -> dict[str, str]:
    """Return a copy of ``env`` that fixes str/bytes hashing in the runner.

    Hash randomisation is chosen at interpreter start-up, so it cannot be fixed in-process.
    """
    return {**env, "PYTHONHASHSEED": "0"}


def _dispatcher(
    owner: object, name: str, real: Callable[..., Any], fake: Callable[..., Any]
) -> Callable[..., Any]:
    """Return a function calling ``fake`` on the active Determinism, else ``real``.

    When ``owner.name`` holds something else than ``real`` or this dispatcher (the test
    replaced it), that replacement is called instead: a module that bound the function by
    name (``from time import time``) sees what the test chose, as it would have had the
    test patched it in that module.
    """

    @functools.wraps(real)
    def dispatch(*args: Any, **kwargs: Any) -> Any:
        active = ACTIVE.current
        if active is None:
            return real(*args, **kwargs)
        current = getattr(owner, name, real)
        if current is not real and current is not dispatch:
            return current(*args, **kwargs)
        return fake(active, *args, **kwargs)

    return dispatch


def _random_seed(self: random.Random, a: Any = None, version: int = 2) -> None:
    """Replace ``random.Random.seed``: a missing seed comes from the active seed stream.

    Without it ``random.Random()`` and ``random.seed()`` would seed from the OS at C level.
    """
    active = ACTIVE.current
    if a is None and active is not None:
        a = active._next_seed()
    _REAL_RANDOM_SEED(self, a, version)


def _real_loop_time(self: object) -> float:
    """Replace ``asyncio.BaseEventLoop.time`` while active: the real monotonic clock."""
    return REAL_MONOTONIC()


def _put_back(owner: object, name: str, old: object) -> None:
    """Restore ``owner.name`` to ``old`` (deleting it if it did not exist)."""
    if old is _MISSING:
        delattr(owner, name)
    else:
        setattr(owner, name, old)


class Determinism:
    """Patch every nondeterministic source to a fixed, restartable sequence while active."""

    def __init__(self, seed: int = 0, epoch: float = 1_700_000_000.0) -> None:
        """Store the seed of every stream and the wall-clock start, in seconds since 1970."""
        self._seed = seed
        self._undo: list[Callable[[], None]] = []
        self.start_clock(epoch)
        self._reset()

    def start_clock(self, epoch: float, monotonic: float = _MONOTONIC_START_US / 1e6) -> None:
        """Start the virtual clocks of the next activations at ``epoch`` (seconds since
        1970) and ``monotonic`` (seconds), for example the real time and monotonic clock
        now, so that they agree with what code outside the activation reads."""
        self._epoch_us = round(epoch * 1_000_000)
        self._mono_start_us = round(monotonic * 1_000_000)

    def prepare_module(self, module: types.ModuleType) -> None:
        """Rebind names in ``module`` that refer to objects that cannot be patched in place.

        ``datetime``/``date`` classes become the stand-ins, the ``datetime`` module becomes a
        proxy holding them, and functions imported by name (``from time import time``,
        ``from numpy.random import default_rng``) become dispatchers.  All of them behave
        exactly like the originals while no Determinism is active.
        """
        replacements = _replacements()
        namespace = vars(module)
        for name, value in list(namespace.items()):
            found = replacements.get(id(value))
            if found is not None and found[0] is value:
                namespace[name] = found[1]

    def __enter__(self) -> Determinism:
        """Reset every source to its start state, then patch them in."""
        if ACTIVE.current is not None:
            raise RuntimeError("a Determinism is already active; activations do not nest")
        self._reset()
        try:
            state = random.getstate()
            self._undo.append(lambda: random.setstate(state))
            _REAL_GLOBAL_SEED(self._seed)
            self._seed_numpy()
            for owner, name, real, dispatch in _PATCHES:
                # A value the test put there itself is the test's choice: left alone.
                if vars(owner).get(name) is real:
                    self._patch(owner, name, dispatch)
            self._patch_loaded_modules()
        except BaseException:
            self._restore()
            raise
        ACTIVE.current = self
        return self

    def __exit__(self, *exc: object) -> None:
        """Undo every patch and restore the previous ``random`` and numpy states."""
        if ACTIVE.current is self:
            ACTIVE.current = None
        self._restore()

    # -- state -----------------------------------------------------------------------------

    def _reset(self) -> None:
        """Restart every stream and clock at its start state."""
        self._wall_ticks = 0
        self._mono_ticks = 0
        # String seeds are hashed with SHA-512, so they do not depend on PYTHONHASHSEED,
        # and distinct labels keep the streams from mirroring each other.
        self._bytes = random.Random(f"codeflash-bytes-{self._seed}")
        self._seeds = random.Random(f"codeflash-seeds-{self._seed}")
        self._uuid_rng = random.Random(f"codeflash-uuid1-{self._seed}")
        self._uuid_node = self._uuid_rng.getrandbits(48) | 0x010000000000  # multicast: random
        self._uuid_last: int | None = None

    def _seed_numpy(self) -> None:
        """Seed numpy's legacy global generator and patch its seeding functions."""
        if "numpy" not in sys.modules:
            return
        # numpy 2 imports numpy.random lazily; importing it now rather than inside the
        # first call means every activation seeds it the same way.
        nprandom = importlib.import_module("numpy.random")
        patches = _numpy_patches(nprandom)
        state = nprandom.get_state()
        self._undo.append(lambda: nprandom.set_state(state))
        patches[0][1](self._seed % 2**32)  # the real numpy.random.seed
        for name, _real, dispatch in patches:
            self._patch(nprandom, name, dispatch)

    def _patch_loaded_modules(self) -> None:
        """Patch the standard-library modules that are handled only once imported."""
        tempfile = sys.modules.get("tempfile")
        if tempfile is not None:  # its name generator is created lazily: make it anew
            self._patch(tempfile, "_name_sequence", None)
        base_events = sys.modules.get("asyncio.base_events")
        if base_events is not None:
            # An event loop reading the virtual clock would wait for real the time it
            # computes, see 1 µs pass, and wait again: a coroutine that sleeps never wakes.
            self._patch(base_events.BaseEventLoop, "time", _real_loop_time)

    def _patch(self, owner: object, name: str, value: object) -> None:
        """Set ``owner.name`` to ``value`` and remember how to undo it."""
        old = vars(owner).get(name, _MISSING)
        setattr(owner, name, value)
        self._undo.append(functools.partial(_put_back, owner, name, old))

    def _restore(self) -> None:
        """Run every undo action, newest first, even if one of them fails."""
        errors: list[BaseException] = []
        while self._undo:
            try:
                self._undo.pop()()
            except Exception as exc:  # keep restoring the rest before reporting
                errors.append(exc)
        if errors:
            raise errors[0]

    def _wall_us(self) -> int:
        """Read the virtual wall clock in µs since 1970 and advance it by 1 µs."""
        tick = self._wall_ticks
        self._wall_ticks = tick + 1
        return self._epoch_us + tick

    def _mono_us(self) -> int:
        """Read the virtual monotonic clock in µs and advance it by 1 µs."""
        tick = self._mono_ticks
        self._mono_ticks = tick + 1
        return self._mono_start_us + tick

    def _next_seed(self) -> int:
        """Return the next seed for a generator created without one."""
        return self._seeds.getrandbits(64)

    # -- fakes, see _build_patches -----------------------------------------------------------

    def _time(self) -> float:
        return self._wall_us() / 1_000_000

    def _sleep(self, secs: float) -> None:
        _REAL_SLEEP(secs)  # other threads and processes may be what the caller waits for
        micros = round(secs * 1_000_000)
        self._wall_ticks += micros
        self._mono_ticks += micros

    def _localtime(self, secs: float | None = None) -> time.struct_time:
        return _REAL_LOCALTIME(self._time() if secs is None else secs)

    def _gmtime(self, secs: float | None = None) -> time.struct_time:
        return _REAL_GMTIME(self._time() if secs is None else secs)

    def _ctime(self, secs: float | None = None) -> str:
        return _REAL_ASCTIME(self._localtime(secs))

    def _strftime(self, fmt: str, *when: Any) -> str:
        return _REAL_STRFTIME(fmt, *(when or (self._localtime(),)))

    def _urandom(self, size: int) -> bytes:
        size = operator.index(size)
        if size < 0:
            raise ValueError("negative argument not allowed")
        return self._bytes.randbytes(size)

    def _uuid1(self, node: int | None = None, clock_seq: int | None = None) -> uuid.UUID:
        # Mirrors uuid.uuid1's pure-Python path, with the virtual clock and our own stream.
        timestamp = self._wall_us() * 10 + _UUID_EPOCH_OFFSET
        if self._uuid_last is not None and timestamp <= self._uuid_last:
            timestamp = self._uuid_last + 1
        self._uuid_last = timestamp
        if clock_seq is None:
            clock_seq = self._uuid_rng.getrandbits(14)
        fields = (
            timestamp & 0xFFFFFFFF,
            (timestamp >> 32) & 0xFFFF,
            (timestamp >> 48) & 0x0FFF,
            (clock_seq >> 8) & 0x3F,
            clock_seq & 0xFF,
            self._uuid_node if node is None else node,
        )
        return uuid.UUID(fields=fields, version=1)


_Patch = tuple[object, str, Callable[..., Any], Callable[..., Any]]


def _build_patches() -> list[_Patch]:
    """List (owner, attribute, real object, replacement) for every patched attribute."""
    # Each fake takes the active Determinism, then the real function's arguments.
    fakes: list[tuple[object, str, Callable[..., Any]]] = [
        (time, "time", Determinism._time),
        (time, "time_ns", lambda det: det._wall_us() * 1_000),
        (time, "localtime", Determinism._localtime),
        (time, "gmtime", Determinism._gmtime),
        (time, "ctime", Determinism._ctime),
        (time, "sleep", Determinism._sleep),
        (time, "strftime", Determinism._strftime),
        (os, "urandom", Determinism._urandom),
        (os, "getrandom", lambda det, size, flags=0: det._urandom(size)),
        (random, "_urandom", Determinism._urandom),  # behind SystemRandom and secrets
        (uuid, "uuid4", lambda det: uuid.UUID(bytes=det._urandom(16), version=4)),
        (uuid, "uuid1", Determinism._uuid1),
    ]
    for name in ("perf_counter", "monotonic", "process_time", "thread_time"):
        fakes.append((time, name, lambda det: det._mono_us() / 1_000_000))
    for name in ("monotonic_ns", "process_time_ns", "thread_time_ns"):  # not perf_counter_ns
        fakes.append((time, name, lambda det: det._mono_us() * 1_000))
    patches: list[_Patch] = []
    for owner, name, fake in fakes:
        real = getattr(owner, name, None)
        if real is not None:  # e.g. os.getrandom exists only on Linux
            patches.append((owner, name, real, _dispatcher(owner, name, real, fake)))
    patches.append((random.Random, "seed", _REAL_RANDOM_SEED, _random_seed))
    bound_seed = types.MethodType(_random_seed, _RANDOM_INST)
    patches.append((random, "seed", _REAL_GLOBAL_SEED, bound_seed))
    return patches


_PATCHES = _build_patches()
_STATIC_REPLACEMENTS: dict[int, tuple[object, object]] = {
    id(real): (real, dispatch) for _owner, _name, real, dispatch in _PATCHES
}
_STATIC_REPLACEMENTS[id(_REAL_DATETIME)] = (_REAL_DATETIME, DeterministicDatetime)
_STATIC_REPLACEMENTS[id(_REAL_DATE)] = (_REAL_DATE, DeterministicDate)
_STATIC_REPLACEMENTS[id(_dt)] = (_dt, datetime_proxy())


@functools.cache
def _numpy_patches(nprandom: types.ModuleType) -> list[tuple[str, Any, Any]]:
    """Return (name, real, dispatcher) for numpy.random's ``seed`` and ``default_rng``."""
    real_seed = nprandom.seed
    real_default_rng = nprandom.default_rng

    @functools.wraps(real_seed)
    def seed(seed: Any = None) -> None:
        active = ACTIVE.current
        if seed is None and active is not None:
            seed = active._next_seed() & 0xFFFFFFFF  # the legacy seeder takes 32 bits
        real_seed(seed)

    @functools.wraps(real_default_rng)
    def default_rng(seed: Any = None) -> Any:
        active = ACTIVE.current
        if seed is None and active is not None:
            seed = active._next_seed()
        return real_default_rng(seed)

    return [("seed", real_seed, seed), ("default_rng", real_default_rng, default_rng)]


def _replacements() -> dict[int, tuple[object, object]]:
    """Map id(real object) to (real object, replacement), numpy included when loaded."""
    nprandom = sys.modules.get("numpy.random")
    if nprandom is None:
        return _STATIC_REPLACEMENTS
    found = dict(_STATIC_REPLACEMENTS)
    for _name, real, dispatch in _numpy_patches(nprandom):
        found[id(real)] = (real, dispatch)
    return found
