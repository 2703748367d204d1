"""Contain what code under evaluation may do to the world, and notice when it tries.

Runs inside the runner process.  An audit hook (``sys.addaudithook``, which cannot be removed)
refuses every file write, delete, rename or directory change outside the allowed roots (the
run's temporary directory) with ``PermissionError``; reads of secret-looking environment
variables are recorded.  Each event is attributed to the phase that caused it ("original",
"candidate" or "test"), so a candidate is blamed only for what the original does not do.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

SECRET_MARKERS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "CREDENTIAL")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
# Audit events that change the file system, with the argument positions holding paths.
_PATH_EVENTS = {
    "os.remove": (0,),
    "os.rmdir": (0,),
    "os.rename": (0, 1),
    "os.mkdir": (0,),
    "os.truncate": (0,),
    "os.chmod": (0,),
    "os.chown": (0,),
    "os.link": (0, 1),
    "os.symlink": (1,),
    "os.utime": (0,),
    "shutil.rmtree": (0,),
    "shutil.copyfile": (1,),
    "shutil.copytree": (1,),
    "shutil.move": (0, 1),
}


@dataclass
class Guard:
    """The audit hook's state: allowed roots, current phase, and what it saw."""

    allowed: tuple[str, ...]
    secret_names: frozenset[str] = frozenset()
    phase: str = "test"
    violations: list[dict[str, str]] = field(default_factory=list)
    secret_reads: dict[str, set[str]] = field(default_factory=dict)
    events: int = 0
    """Secret reads and blocked operations seen so far, repeats included."""

    def install(self) -> None:
        """Start enforcing; from now on, for the life of the process."""
        sys.addaudithook(self._audit)
        _watch_environ(self)

    @contextmanager
    def phase_of(self, phase: str) -> Iterator[None]:
        """Attribute events inside the block to ``phase``."""
        previous, self.phase = self.phase, phase
        try:
            yield
        finally:
            self.phase = previous

    def is_secret(self, name: str) -> bool:
        upper = name.upper()
        return name in self.secret_names or any(m in upper for m in SECRET_MARKERS)

    def note_env_read(self, name: str) -> None:
        if self.phase != "test" and self.is_secret(name):
            self.secret_reads.setdefault(self.phase, set()).add(name)
            self.events += 1

    def _audit(self, event: str, args: tuple[Any, ...]) -> None:
        if event == "open":
            path, mode, flags = ([*list(args), None, None, None])[:3]
            writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & _WRITE_FLAGS
            )
            if writes:
                self._check(event, [path])
            return
        positions = _PATH_EVENTS.get(event)
        if positions is not None:
            self._check(event, [args[i] for i in positions if i < len(args)])

    def _check(self, event: str, paths: Sequence[object]) -> None:
        for path in paths:
            if isinstance(path, int) or path is None:
                continue  # a file descriptor: it was opened (and checked) already
            try:
                full = os.path.realpath(os.fsdecode(path))  # type: ignore[arg-type]
            except (TypeError, ValueError):
                continue
            if full == os.devnull or any(_inside(full, root) for root in self.allowed):
                continue
            self.violations.append({"phase": self.phase, "event": event, "path": full})
            self.events += 1
            raise PermissionError(
                f"codeflash sandbox: {event} outside the sandbox is not allowed: {full}"
            )


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _watch_environ(guard: Guard) -> None:
    """Record reads of secret-looking variables through ``os.environ`` and ``os.getenv``."""
    environ_type = type(os.environ)
    original_getitem = environ_type.__getitem__

    def __getitem__(self: Any, key: Any) -> Any:
        if isinstance(key, str):
            guard.note_env_read(key)
        return original_getitem(self, key)

    environ_type.__getitem__ = __getitem__  # type: ignore[method-assign]


def scrub_environment(env: dict[str, str], extra_names: Sequence[str]) -> dict[str, str]:
    """A copy of ``env`` without secrets: names with a secret marker or listed explicitly."""
    extra = set(extra_names)
    return {
        name: value
        for name, value in env.items()
        if name not in extra and not any(m in name.upper() for m in SECRET_MARKERS)
    }
