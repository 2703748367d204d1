"""Pydantic models passed between the stages, including the public JSON report.

Everything here is frozen and forbids unknown fields, so drift between stages (or in a
report a script reads back) fails loudly.  The report models (``Report`` and below) are a
public contract: fields may be added, never renamed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Backend = Literal["rules", "openai", "codeflash-service", "none"]
Effort = Literal["low", "medium", "high"]
Status = Literal["optimized", "not_optimized", "skipped", "error"]
Verdict = Literal["accepted", "rejected", "error"]
PullRequestMode = Literal["each", "single"]


# The reason of a function for which no source proposed a rewrite (renderers add what could).
NO_CANDIDATES = "no candidates to evaluate: no source proposed a rewrite"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class Settings(_Frozen):
    """Every setting, resolved once from CLI > ini > ``[tool.codeflash]`` > defaults."""

    enabled: bool = False
    rootdir: Path
    targets: tuple[str, ...] = ()
    candidates: tuple[Path, ...] = ()
    backend: Backend = "rules"  # the first of ``backends`` (kept for plugins reading it)
    backends: tuple[Backend, ...] = ("rules",)  # every chosen back-end, in the order given
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
    workers: int | None = Field(default=None, ge=1)  # None: the CPUs, within the memory
    dry_run: bool = False
    max_functions: int | None = Field(default=None, ge=1)
    effort: Effort = "medium"
    min_speedup: float = Field(default=0.05, gt=0)
    timeout: float | None = Field(default=None, gt=0)
    float_rel_tol: float = Field(default=0.0, ge=0)
    memory_limit_mb: int = Field(default=4096, ge=64)
    max_captured_calls: int = Field(default=64, ge=1)
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
    llm_temperature: float | None = Field(default=None, ge=0, le=2)  # None: the model's own
    llm_candidates: int = Field(default=1, ge=1, le=16)  # choices asked for per request
    llm_max_tokens: int = Field(default=4096, ge=1)
    llm_concurrency: int = Field(default=4, ge=1, le=64)
    llm_timeout: float = Field(default=120.0, gt=0)  # seconds to wait for one reply
    llm_no_cache: bool = False
    service_url: str = "https://app.codeflash.ai"

    @model_validator(mode="before")
    @classmethod
    def _one_backend_or_several(cls, data: Any) -> Any:
        """``backend`` alone (the single-value form) or ``backends``: fill in the other."""
        if isinstance(data, dict):
            backends, backend = data.get("backends"), data.get("backend")
            if not backends:
                data = {**data, "backends": (backend or "rules",)}
            elif backend is None:
                data = {**data, "backend": next(iter(backends))}
        return data

    @model_validator(mode="after")
    def _backend_is_the_first(self) -> Settings:
        if self.backend != self.backends[0]:
            raise ValueError(f"backend {self.backend!r} must be the first of {self.backends}")
        return self


class TargetFunction(_Frozen):
    """A function chosen for optimization, located in the user's source tree."""

    module: str
    qualname: str
    file: Path
    lineno: int
    end_lineno: int | None = None  # last line of the body, when discovery found it
    is_async: bool = False
    is_generator: bool = False
    is_method: bool = False

    @property
    def qualified_name(self) -> str:
        return f"{self.module}.{self.qualname}"


# -- discovery and ranking ---------------------------------------------------------------------
class RankedFunction(_Frozen):
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

    @property
    def qualified_name(self) -> str:
        return self.target.qualified_name


class FileChange(_Frozen):
    """A candidate's change to a project module other than the target's (its helpers)."""

    path: str  # relative to the rootdir, with forward slashes
    module: str  # the name it is imported under, for the runner's import overlay
    original: str
    merged: str


class Candidate(_Frozen):
    """One proposed replacement, already merged into a full module source."""

    id: str
    source: str
    module_source: str
    explanation: str = ""
    rejection: str | None = None  # set when the candidate is known unusable before running
    other_files: tuple[FileChange, ...] = ()  # other modules it changes (not yet verifiable)


class CodeContext(_Frozen):
    """The code a language model is shown for one target (``context.extract_context``).

    Both parts are markdown code blocks tagged with paths relative to the rootdir, the
    target's file first: ``read_writable`` is what the model may rewrite, ``read_only`` what
    it needs to understand it.
    """

    target: str  # the target's qualified name
    read_writable: str
    read_only: str
    tokens: int  # of both parts, with the cl100k_base encoding
    token_budget: int
    helpers: list[str] = Field(default_factory=list)  # qualified names, read-writable
    read_only_names: list[str] = Field(default_factory=list)  # qualified names
    files: list[str] = Field(default_factory=list)  # files of the read-writable blocks
    trimmed: list[str] = Field(default_factory=list)  # what was cut to fit the budget
    unparsable: list[str] = Field(default_factory=list)  # project files left out


class BaselineFacts(_Frozen):
    """What the baseline run learnt about the original, for sources that use it (prompts).

    Measured in the runner on the calls the tests made, only when a source asks for it.
    """

    line_profile: dict[int, tuple[int, int]] | None = None  # line -> (hits, ns); None: none
    invariants: list[str] | None = None  # facts true of every captured input; None: unknown
    examples: list[str] = Field(default_factory=list)  # captured calls as Python, shortened


class CallDifference(_Frozen):
    """One input on which a candidate did something else than the original."""

    kind: str  # "return value", "exception", "stdout", ..., "test outcome"
    input: str  # the call's arguments, shortened ("" for a test outcome)
    detail: str  # the comparator's one-line description
    expected: str = ""  # what the original did, shortened ("" if not known)
    actual: str = ""  # what the candidate did
    test: str = ""  # the test (or replay, generated input) that made the call


class Differences(_Frozen):
    """Where a rejected candidate differed, out of how many compared calls: what a repair
    is shown.  At most the first 20 differences are recorded per run."""

    differences: list[CallDifference]
    compared: int

    @property
    def share(self) -> float:
        """The share of the compared calls that differed (1.0 when none was compared)."""
        return min(1.0, len(self.differences) / self.compared) if self.compared else 1.0


class GeneratedTests(_Frozen):
    """Tests a language model wrote for one function, checked on the original (report schema).

    ``kept`` (node ids) passed with the original and ran for every candidate evaluated
    after them; ``dropped`` failed or errored with it, or never ran.  ``error`` says why
    none could be used, if so.
    """

    kept: list[str] = Field(default_factory=list)
    dropped: list[str] = Field(default_factory=list)
    error: str | None = None


class RuntimeRow(_Frozen):
    """One group of verification inputs of a candidate, and its timing if it was timed.

    ``group`` is ``"existing tests"`` (the calls the tests made, each compared),
    ``"replayed calls"`` (the captured calls, replayed outside the tests),
    ``"generated inputs"``, or ``"10x"``/``"100x"`` (the captured calls scaled up).
    ``inputs`` counts the inputs whose behaviour was compared (or timed, for a scale);
    the times are sums over the ``timed`` inputs of the per-input statistic the timing
    decided on, ``None`` for a group that was not timed.
    """

    group: str
    inputs: int = 0
    timed: int = 0
    original_ns: int | None = None
    candidate_ns: int | None = None
    speedup: float | None = None
    speedup_ci: tuple[float, float] | None = None
    rounds: int = 0

    @property
    def interval(self) -> tuple[float, float] | None:
        """The speed-up's interval (low, high) if this group was timed, else ``None``."""
        if self.speedup is None or self.original_ns is None or self.candidate_ns is None:
            return None
        return self.speedup_ci or (self.speedup, self.speedup)


class CandidateResult(_Frozen):
    """The verdict on one candidate (report schema)."""

    id: str
    source: str
    verdict: Verdict
    reason: str
    speedup: float | None = None
    speedup_ci: tuple[float, float] | None = None
    speedup_by_scale: dict[str, float] | None = None
    baseline_ns: int | None = None
    candidate_ns: int | None = None
    caches: bool = False
    coverage: dict[str, Any] | None = None
    explanation: str = ""
    duplicate_of: str | None = None
    calls_compared: int = 0
    calls_not_compared: int = 0  # calls with inputs that cannot be copied, or only executed
    calls_only_executed: int = 0  # calls in the tests that only ran, not compared
    tests_run: int = 0
    # Wall time of this candidate's evaluation (sandbox copy, runner start, tests, inputs,
    # timing) and how the runner spent it, by phase.
    evaluation_s: float | None = None
    phases_s: dict[str, float] | None = None
    # Differences seen only on generated inputs outside the invariants of the captured
    # calls (FunctionResult.invariants): reported, not held against the candidate.
    notes: list[str] = Field(default_factory=list)
    runtime: list[RuntimeRow] = Field(default_factory=list)  # per group of inputs
    cached: bool = False  # the verdict of an earlier run, reused


class LLMUsage(_Frozen):
    """What the language-model back-ends spent on one function (report schema).

    ``requests`` counts the replies asked for, ``cached`` those answered from the reply cache
    (``.codeflash/llm-cache/``) without a request; tokens are those the servers reported for
    fresh replies only.  ``errors`` lists requests that failed without dropping a candidate
    of their own (a timeout, a server error after the retries).
    """

    requests: int = 0
    cached: int = 0
    failed: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    errors: list[str] = Field(default_factory=list)


class FunctionResult(_Frozen):
    """Everything the run learnt about one function (report schema)."""

    qualified_name: str
    file: str
    status: Status
    reason: str
    baseline_ns: int | None = None
    speedup: float | None = None
    best_candidate: str | None = None
    candidates: list[CandidateResult] = Field(default_factory=list)
    tests: list[str] = Field(default_factory=list)
    calls_captured: int = 0
    unstable: list[str] = Field(default_factory=list)
    coverage: dict[str, Any] | None = None
    patch: str | None = None
    # What every captured call's arguments showed, assumed to be the function's contract
    # for the generated inputs ("argument 2 is ascending").
    invariants: list[str] = Field(default_factory=list)
    generated_inputs: int = 0  # generated inputs the baseline checked
    generated_inside: int = 0  # of those, how many keep the invariants
    # What became of an optimized function's patch (see Delivery).
    patch_file: str | None = None  # the saved patch, relative to the rootdir
    applied: bool | None = None  # None: --codeflash-apply not given; False: it refused
    applied_files: list[str] = Field(default_factory=list)
    apply_error: str | None = None  # why --codeflash-apply refused (the patch is saved)
    apply_notes: list[str] = Field(default_factory=list)  # formatters that failed
    llm: LLMUsage | None = None  # language-model back-ends only
    generated_tests: GeneratedTests | None = None  # language-model back-ends only
    pr_url: str | None = None  # the pull request opened with --codeflash-pr
    pr_error: str | None = None  # why --codeflash-pr opened none for this function
    cached: bool = False  # every verdict came from an earlier run; nothing ran
    # Calls in the baseline's tests that only ran, beside the ``calls_captured`` compared, and
    # seconds per phase: baseline, generation, verification, timing.
    calls_only_executed: int = 0
    phases_s: dict[str, float] | None = None


class Report(_Frozen):
    """The JSON report written by ``--codeflash-report`` (schema_version 1)."""

    schema_version: Literal[1] = 1
    functions: list[FunctionResult] = Field(default_factory=list)


# -- the run's summary: computed by the session, shown by every renderer ------------------------
class SkippedFunction(_Frozen):
    """A function left out by discovery or ranking, and why."""

    name: str
    reason: str
    where: str = ""  # the file (discovery), or "" (ranking)
    stage: Literal["discovery", "ranking"] = "discovery"
    excluded: bool = False  # left out because the user said so (``# codeflash: skip``, ``exclude``)


class DiscoverySummary(_Frozen):
    """What discovery found, tracing measured and ranking chose (``--codeflash``, no targets)."""

    functions: int
    files: int
    ran: int  # functions some test called
    traced_ns: int
    selected: list[RankedFunction] = Field(default_factory=list)
    skipped: list[SkippedFunction] = Field(default_factory=list)
    changed_since: str | None = None


class PlannedTarget(_Frozen):
    """A ``--codeflash-target`` and what the test run saw of it (``--codeflash-dry-run``)."""

    qualified_name: str
    calls: int
    tests: int
    candidates: int


class Delivery(_Frozen):
    """What became of one optimized function: its patch saved, or the change applied.

    ``applied`` is ``None`` without ``--codeflash-apply``, ``False`` when apply refused
    (``error`` says why; the patch is saved instead).
    """

    qualified_name: str
    applied: bool | None = None
    files: list[str] = Field(default_factory=list)  # what was written, rootdir-relative
    patch_file: str | None = None  # the saved patch, rootdir-relative
    error: str | None = None
    notes: list[str] = Field(default_factory=list)  # formatter problems and the like


class Summary(_Frozen):
    """Everything the renderers (terminal, JSON, Markdown) show of one run.

    ``state`` says how far the run got: ``"finished"`` (functions were evaluated, maybe
    none), ``"dry_run"``, ``"test_run_failed"`` (collection or the tests failed, nothing was
    evaluated) or ``"not_run"``.
    """

    state: Literal["finished", "dry_run", "test_run_failed", "not_run"]
    functions: list[FunctionResult] = Field(default_factory=list)
    discovery: DiscoverySummary | None = None
    planned: list[PlannedTarget] = Field(default_factory=list)
    shard: tuple[int, int] | None = None  # (K, N) of --codeflash-shard
    written: list[str] = Field(default_factory=list)  # the reports written, as shown

    @property
    def report(self) -> Report:
        """The public JSON report of this run."""
        return Report(functions=self.functions)
