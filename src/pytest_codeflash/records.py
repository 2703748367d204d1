"""The records of a run up to ranking: settings, targets, the ranking and the run's summary.

Frozen standard-library dataclasses, not pydantic models: they are all a profiling run
(``--codeflash-dry-run``, an xdist worker) needs, and such a run must stay cheap.  Importing
pydantic and building models costs about 70 ms per ``pytest`` start, a tenth of a small
suite's whole run.  What evaluation produces, and the public JSON report, are the pydantic
models of :mod:`.models` (which re-exports these names too).  The rules are the models':
frozen, unknown fields refused (a ``TypeError``), bad values refused (a ``ValueError``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

if TYPE_CHECKING:
    from .models import FunctionResult

Backend = Literal["rules", "openai", "codeflash-service", "none"]
Effort = Literal["low", "medium", "high"]
PullRequestMode = Literal["each", "single"]
BACKENDS: tuple[Backend, ...] = get_args(Backend)
EFFORTS: tuple[Effort, ...] = get_args(Effort)

# The reason of a function for which no source proposed a rewrite (renderers add what could).
NO_CANDIDATES = "no candidates to evaluate: no source proposed a rewrite"


# Bounds of numeric settings: name -> (minimum, the minimum itself allowed, maximum).
BOUNDS: dict[str, tuple[float, bool, float | None]] = {
    "workers": (1, True, None),
    "max_functions": (1, True, None),
    "min_speedup": (0, False, None),
    "timeout": (0, False, None),
    "float_rel_tol": (0, True, None),
    "memory_limit_mb": (64, True, None),
    "max_captured_calls": (1, True, None),
    "llm_temperature": (0, True, 2),
    "llm_candidates": (1, True, 16),
    "llm_max_tokens": (1, True, None),
    "llm_concurrency": (1, True, 64),
    "llm_timeout": (0, False, None),
}


_STRING_TUPLES = (
    "targets",
    "backends",
    "api_key_env",
    "formatter_cmds",
    "ignore_paths",
    "exclude",
    "unused_keys",
    "llm_api_key_env",
)


def _set(record: object, name: str, value: object) -> None:
    object.__setattr__(record, name, value)  # a frozen dataclass, in its __post_init__


def _as_tuple(record: object, name: str, convert: Any = None) -> None:
    value = getattr(record, name)
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ValueError(f"{name} must be a sequence, got {value!r}")
    _set(record, name, tuple(convert(v) if convert else v for v in value))


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Every setting, resolved once from CLI > ini > ``[tool.codeflash]`` > defaults.

    ``backend`` alone (the single-value form) or ``backends`` may be given; the other is
    filled in: ``backend`` is always the first of ``backends``.
    """

    enabled: bool = False
    rootdir: Path
    targets: tuple[str, ...] = ()
    candidates: tuple[Path, ...] = ()
    backend: Backend = "rules"  # the first of ``backends`` (kept for plugins reading it)
    backends: tuple[Backend, ...] = ()  # every chosen back-end, in the order given
    backend_explicit: bool = False
    report: Path | None = None
    apply: bool = False
    apply_force: bool = False
    pr: bool = False
    pr_mode: PullRequestMode = "each"  # --codeflash-pr=single: one pull request for the run
    github_api_url: str = "https://api.github.com"
    github_repo: str | None = None  # OWNER/NAME; else GITHUB_REPOSITORY, else the remote's URL
    report_md: Path | None = None
    no_cache: bool = False  # --codeflash-no-cache: evaluate again, reuse no verdict
    shard: tuple[int, int] | None = None  # (K, N) of --codeflash-shard=K/N, K from 1
    workers: int | None = None  # None: the CPUs, within the memory
    dry_run: bool = False
    max_functions: int | None = None
    effort: Effort = "medium"
    min_speedup: float = 0.05
    timeout: float | None = None
    float_rel_tol: float = 0.0
    memory_limit_mb: int = 4096
    max_captured_calls: int = 64
    api_key_env: tuple[str, ...] = ("OPENAI_API_KEY", "CODEFLASH_API_KEY", "ANTHROPIC_API_KEY")
    formatter_cmds: tuple[str, ...] = ()
    ignore_paths: tuple[str, ...] = ()
    module_root: str | None = None
    verbosity: int = 0
    changed_since: str | None = None  # --codeflash-changed-since
    tests_root: str | None = None  # [tool.codeflash] tests-root, relative to the rootdir
    git_remote: str = "origin"  # [tool.codeflash] git-remote, for pull requests
    exclude: tuple[str, ...] = ()  # qualified-name globs that are never optimized
    unused_keys: tuple[str, ...] = ()  # Codeflash's [tool.codeflash] keys read but not used
    # Language-model back-ends.
    llm_url: str = "https://api.openai.com/v1"
    llm_model: str = "gpt-4o-mini"
    llm_api_key_env: tuple[str, ...] = ("CODEFLASH_LLM_API_KEY", "OPENAI_API_KEY")
    llm_temperature: float | None = None  # None: the model's own
    llm_candidates: int = 1  # choices asked for per request
    llm_max_tokens: int = 4096
    llm_concurrency: int = 4
    llm_timeout: float = 120.0  # seconds to wait for one reply
    llm_no_cache: bool = False
    service_url: str = "https://app.codeflash.ai"

    def __post_init__(self) -> None:
        _set(self, "rootdir", Path(self.rootdir))
        for name in ("report", "report_md"):
            if getattr(self, name) is not None:
                _set(self, name, Path(getattr(self, name)))
        _as_tuple(self, "candidates", Path)
        for name in _STRING_TUPLES:
            _as_tuple(self, name)
        if self.shard is not None:
            _as_tuple(self, "shard", int)
        if not self.backends:
            _set(self, "backends", (self.backend,))
        elif self.backend == "rules" and self.backends[0] != "rules":  # the default: not given
            _set(self, "backend", self.backends[0])
        for name in self.backends:
            if name not in BACKENDS:
                raise ValueError(f"backend {name!r} is not one of {', '.join(BACKENDS)}")
        if self.backend != self.backends[0]:
            raise ValueError(f"backend {self.backend!r} must be the first of {self.backends}")
        if self.effort not in EFFORTS:
            raise ValueError(f"effort {self.effort!r} is not one of {', '.join(EFFORTS)}")
        if self.pr_mode not in get_args(PullRequestMode):
            raise ValueError(f"pr_mode {self.pr_mode!r} is not 'each' or 'single'")
        for name, (low, inclusive, high) in BOUNDS.items():
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{name} must be a number, got {value!r}")
            if value < low or (value == low and not inclusive) or (high and value > high):
                bound = f"at least {low}" if inclusive else f"greater than {low}"
                upto = f" and at most {high}" if high else ""
                raise ValueError(f"{name}={value!r}: must be {bound}{upto}")

    def keyed(self, names: Iterable[str]) -> dict[str, Any]:
        """The settings ``names`` as JSON-safe values (tuples as lists, paths as strings)."""
        return {name: _json_safe(getattr(self, name)) for name in names}

    @classmethod
    def default(cls, name: str) -> Any:
        """The default value of the setting ``name``."""
        for item in dataclasses.fields(cls):
            if item.name == name:
                return item.default
        raise KeyError(name)


def _json_safe(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return [_json_safe(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


@dataclass(frozen=True, kw_only=True)
class TargetFunction:
    """A function chosen for optimization, located in the user's source tree."""

    module: str
    qualname: str
    file: Path
    lineno: int
    end_lineno: int | None = None  # last line of the body, when discovery found it
    is_async: bool = False
    is_generator: bool = False
    is_method: bool = False

    def __post_init__(self) -> None:
        _set(self, "file", Path(self.file))

    @property
    def qualified_name(self) -> str:
        return f"{self.module}.{self.qualname}"

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-safe data (the file as a string): :meth:`from_json` reads it back."""
        data = dataclasses.asdict(self)
        data["file"] = str(self.file)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TargetFunction:
        return cls(**data)


# -- discovery and ranking ---------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class RankedFunction:
    """A discovered function with what the test run measured of it (times in nanoseconds).

    ``own_ns`` excludes time in other traced functions; ``total_ns`` includes it (and counts a
    recursive function's time once).  CPU figures are scaled from the calls whose CPU time was
    measured.  ``addressable_ns`` is own time plus the time in callees per call, and ``share``
    is it over all traced own time of the run.
    """

    target: TargetFunction
    calls: int = 0
    own_ns: int = 0
    total_ns: int = 0
    own_cpu_ns: int = 0
    total_cpu_ns: int = 0
    addressable_ns: int = 0
    share: float = 0.0
    tests: tuple[str, ...] = ()
    samples: int = 0
    samples_skipped: int = 0

    def __post_init__(self) -> None:
        _as_tuple(self, "tests")

    @property
    def qualified_name(self) -> str:
        return self.target.qualified_name


# -- the run's summary: computed by the session, shown by every renderer ------------------------
@dataclass(frozen=True, kw_only=True)
class SkippedFunction:
    """A function left out by discovery or ranking, and why."""

    name: str
    reason: str
    where: str = ""  # the file (discovery), or "" (ranking)
    stage: Literal["discovery", "ranking"] = "discovery"
    excluded: bool = False  # left out because the user said so (``# codeflash: skip``, ``exclude``)


@dataclass(frozen=True, kw_only=True)
class DiscoverySummary:
    """What discovery found, tracing measured and ranking chose (``--codeflash``, no targets)."""

    functions: int
    files: int
    ran: int  # functions some test called
    traced_ns: int
    selected: list[RankedFunction] = field(default_factory=list)
    skipped: list[SkippedFunction] = field(default_factory=list)
    changed_since: str | None = None
    inputs_reused: int = 0  # functions whose inputs the last run kept (before Python 3.12)
    tests_exact: int = 0  # ... and the tests traced exactly, of
    tests_run: int = 0  # ... the tests that ran


@dataclass(frozen=True, kw_only=True)
class PlannedTarget:
    """A ``--codeflash-target`` and what the test run saw of it (``--codeflash-dry-run``)."""

    qualified_name: str
    calls: int
    tests: int
    candidates: int


@dataclass(frozen=True, kw_only=True)
class Summary:
    """Everything the renderers (terminal, JSON, Markdown) show of one run.

    ``state`` says how far the run got: ``"finished"`` (functions were evaluated, maybe
    none), ``"dry_run"``, ``"test_run_failed"`` (collection or the tests failed, nothing was
    evaluated) or ``"not_run"``.
    """

    state: Literal["finished", "dry_run", "test_run_failed", "not_run"]
    functions: list[FunctionResult] = field(default_factory=list)
    discovery: DiscoverySummary | None = None
    planned: list[PlannedTarget] = field(default_factory=list)
    shard: tuple[int, int] | None = None  # (K, N) of --codeflash-shard
    written: list[str] = field(default_factory=list)  # the reports written, as shown

    def __post_init__(self) -> None:
        if self.state not in ("finished", "dry_run", "test_run_failed", "not_run"):
            raise ValueError(f"state {self.state!r} is not a state of a run")

    def replace(self, **changes: Any) -> Summary:
        """A copy with ``changes``."""
        return dataclasses.replace(self, **changes)
