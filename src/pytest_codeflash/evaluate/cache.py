"""Verdicts of earlier runs, kept in pytest's cache directory and reused when nothing changed.

A function's verdicts are keyed by everything they depend on:

- the target's module as the run read it, and every project module it imports (directly
  or not), by content;
- the tests that call it: their node ids, their files and the project modules those
  import, the ``conftest.py`` files above them and pytest's configuration file;
- the settings that change a verdict (effort, minimum speed-up, tolerance, limits), the
  plugin's version and the Python that ran it;
- and, per candidate, the candidate's merged module source.

So a re-run of the same command evaluates nothing that has not changed: a function whose
first-round candidates are all known is not run at all (its whole result is reused, the
winner included), and a known candidate among new ones is not run again.  Verdicts that
may be the machine's or the tool's fault (a timeout, a crash, an ``error`` verdict) are
never kept.  ``--cache-clear``
empties pytest's cache, and ``--codeflash-no-cache`` reads nothing from it (and still
stores the new verdicts for the next run).
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

from .. import __version__
from ..models import Candidate, CandidateResult, FunctionResult, Settings, TargetFunction
from ..source.depends import project_dependencies
from ..source.paths import project_import_roots

__all__ = ["CacheStore", "FunctionCache", "VerdictCache"]

PREFIX = "codeflash/verdicts/"
# Settings that change what a verdict is; delivery options (apply, reports, PRs) do not.
KEYED_SETTINGS = (
    "effort",
    "min_speedup",
    "timeout",
    "float_rel_tol",
    "memory_limit_mb",
    "max_captured_calls",
    "api_key_env",
    "llm_api_key_env",
)
TRANSIENT = ("timeout:", "crash:")  # verdicts that say more about the machine than the code


class CacheStore(Protocol):
    """What pytest's ``config.cache`` offers (``_pytest.cacheprovider.Cache``)."""

    def get(self, key: str, default: Any) -> Any: ...

    def set(self, key: str, value: object) -> None: ...


class VerdictCache:
    """The run's view of the cached verdicts: one :class:`FunctionCache` per function."""

    def __init__(
        self, store: CacheStore, settings: Settings, *, extra_files: Sequence[Path] = ()
    ) -> None:
        self.store = store
        self.settings = settings
        self.read = not settings.no_cache
        self.roots = project_import_roots(settings.rootdir)
        self.extra_files = list(extra_files)
        self.lock = threading.Lock()  # workers share the store

    def for_function(
        self, target: TargetFunction, source: str, tests: Iterable[str]
    ) -> FunctionCache:
        """The cache of ``target``'s verdicts, keyed by its code, its tests and the settings."""
        return FunctionCache(self, self.context(target, source, sorted(tests)))

    def context(self, target: TargetFunction, source: str, tests: list[str]) -> str:
        """The digest of everything the function's verdicts depend on, but the candidate."""
        rootdir = self.settings.rootdir.resolve()
        test_files = sorted({rootdir / t.split("::", 1)[0] for t in tests})
        code = project_dependencies([target.file, *test_files], [*self.roots, rootdir])
        code = [p for p in code if p != target.file.resolve()]
        files = sorted({*code, *_conftests(test_files, rootdir), *self.extra_files})
        settings = self.settings.keyed(KEYED_SETTINGS)
        data = {
            "version": __version__,
            "python": [sys.version, platform.machine()],
            "target": {k: v for k, v in target.to_json().items() if k != "file"},
            "source": _digest(source.encode("utf-8", "surrogateescape")),
            "files": {_shown(p, rootdir): _file_digest(p) for p in files},
            "tests": tests,
            "settings": settings,
        }
        return _digest(json.dumps(data, sort_keys=True).encode())

    def get(self, key: str) -> Any:
        if not self.read:
            return None
        with self.lock:
            return self.store.get(PREFIX + key, None)

    def set(self, key: str, value: object) -> None:
        with self.lock:
            self.store.set(PREFIX + key, value)


class FunctionCache:
    """The cached verdicts of one function (see the module's docstring)."""

    def __init__(self, owner: VerdictCache, context: str) -> None:
        self.owner = owner
        self.context = context
        self.first_round = ""  # the key of the function's result, set by ``result``
        self.winner: Candidate | None = None  # the reused result's winner

    def result(self, candidates: Sequence[Candidate]) -> FunctionResult | None:
        """The function's whole result, if these first-round candidates were all judged."""
        keys = [self._candidate(c) for c in candidates]
        self.first_round = _digest(json.dumps([self.context, keys]).encode())
        data = self.owner.get(self.first_round)
        if not isinstance(data, dict):
            return None
        try:
            result = FunctionResult.model_validate(data["result"])
            winner = data.get("winner")
            self.winner = Candidate.model_validate(winner) if winner else None
        except (KeyError, ValueError):
            return None  # an entry of an older version: evaluate again
        if result.best_candidate is not None and self.winner is None:
            return None
        judged = [c.model_copy(update={"cached": True}) for c in result.candidates]
        return result.model_copy(update={"candidates": judged, "cached": True})

    def keep_result(self, result: FunctionResult, candidates: Sequence[Candidate]) -> None:
        """Store ``result`` (and its winner's source) under the first round's key."""
        if not self.first_round or result.status not in ("optimized", "not_optimized"):
            return
        if any(_transient(c) for c in result.candidates):
            return
        winner = next((c for c in candidates if c.id == result.best_candidate), None)
        value = {
            "result": result.model_dump(mode="json"),
            "winner": winner.model_dump(mode="json") if winner is not None else None,
        }
        self.owner.set(self.first_round, value)

    def verdict(self, candidate: Candidate) -> CandidateResult | None:
        """The verdict an earlier run gave this candidate's code, as this candidate's."""
        data = self.owner.get(self._candidate(candidate))
        if not isinstance(data, dict):
            return None
        try:
            verdict = CandidateResult.model_validate(data)
        except ValueError:
            return None
        update = {"id": candidate.id, "source": candidate.source, "cached": True}
        return verdict.model_copy(update={**update, "explanation": candidate.explanation})

    def keep_verdict(self, candidate: Candidate, verdict: CandidateResult) -> None:
        if not _transient(verdict):
            self.owner.set(self._candidate(candidate), verdict.model_dump(mode="json"))

    def _candidate(self, candidate: Candidate) -> str:
        others = [[c.path, c.merged] for c in candidate.other_files]
        data = [self.context, candidate.module_source, candidate.rejection, others]
        return _digest(json.dumps(data).encode("utf-8", "surrogateescape"))


def _transient(verdict: CandidateResult) -> bool:
    """A verdict that says more about the machine or the tool than about the candidate."""
    return verdict.verdict == "error" or verdict.reason.startswith(TRANSIENT)


def _conftests(test_files: Iterable[Path], rootdir: Path) -> set[Path]:
    """The ``conftest.py`` files pytest loads for these test files, up to the rootdir."""
    found = set()
    for test in test_files:
        for folder in test.parents:
            conftest = folder / "conftest.py"
            if conftest.is_file():
                found.add(conftest.resolve())
            if folder == rootdir or rootdir not in folder.parents:
                break
    return found


def _file_digest(path: Path) -> str:
    try:
        return _digest(path.read_bytes())
    except OSError:
        return "missing"


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _shown(path: Path, rootdir: Path) -> str:
    try:
        return path.relative_to(rootdir.resolve()).as_posix()
    except ValueError:
        return path.as_posix()
