"""Put a module's state back before every timed batch, so no cache carries over.

Runs inside the runner process.  Timing calls a function thousands of times; a cache the
candidate keeps (``functools.lru_cache``, a dict in a module global) would make every call
after the first nearly free and the speed-up a lie.  :class:`StateReset` snapshots the
modules' data globals when timing starts, restores them before each batch, and clears
``lru_cache``s; :meth:`StateReset.detects_state` tells whether calls leave state behind.
"""

from __future__ import annotations

import contextlib
import types
from typing import Any

from .timing import MakeThunks


class StateReset:
    """Put both modules back to their state at the start of timing, before every batch."""

    def __init__(self, modules: list[types.ModuleType]) -> None:
        from .calls import data_globals, snapshot

        self.modules = modules
        self.saved = [{name: snapshot(vars(m)[name]) for name in data_globals(m)} for m in modules]

    def reset(self) -> None:
        from .calls import snapshot

        for module, saved in zip(self.modules, self.saved, strict=False):
            namespace = vars(module)
            for name, value in saved.items():
                namespace[name] = snapshot(value)
            for value in list(namespace.values()):
                _clear_caches(value)

    def fingerprint(self) -> list[Any]:
        marks: list[Any] = []
        for module in self.modules:
            for name, value in vars(module).items():
                info = getattr(value, "cache_info", None)
                if callable(info):
                    marks.append((name, info().currsize))
                elif hasattr(value, "__len__") and not isinstance(value, type):
                    try:
                        marks.append((name, len(value)))
                    except Exception:
                        continue
        return marks

    def detects_state(self, pairs: list[tuple[MakeThunks, MakeThunks]]) -> bool:
        """Whether a call leaves state behind that would make the next call cheaper."""
        for make_original, make_candidate in pairs[:3]:
            for make in (make_original, make_candidate):
                self.reset()
                before = self.fingerprint()
                with contextlib.suppress(Exception):
                    make(1)[0]()
                if self.fingerprint() != before:
                    self.reset()
                    return True
        self.reset()
        return False


def _clear_caches(value: object) -> None:
    clear = getattr(value, "cache_clear", None)
    if callable(clear) and hasattr(value, "cache_info"):
        clear()
    if isinstance(value, type):
        for member in vars(value).values():
            inner = getattr(member, "__func__", member)
            clear = getattr(inner, "cache_clear", None)
            if callable(clear) and hasattr(inner, "cache_info"):
                clear()
