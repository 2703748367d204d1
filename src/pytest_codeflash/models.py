"""Pydantic models passed between the stages, including the public JSON report.

Everything here is frozen and forbids unknown fields, so drift between stages (or in a
report a script reads back) fails loudly.  The report models (``Report`` and below) are a
public contract: fields may be added, never renamed.

The records of a run up to ranking (``Settings``, ``TargetFunction``, ``RankedFunction``,
``Summary``, ...) are standard-library dataclasses in :mod:`.records`, so that a profiling
run never imports pydantic; they are importable from here too.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .records import NO_CANDIDATES as NO_CANDIDATES
from .records import Backend as Backend
from .records import DiscoverySummary as DiscoverySummary
from .records import Effort as Effort
from .records import PlannedTarget as PlannedTarget
from .records import PullRequestMode as PullRequestMode
from .records import RankedFunction as RankedFunction
from .records import Settings as Settings
from .records import SkippedFunction as SkippedFunction
from .records import Summary as Summary
from .records import TargetFunction as TargetFunction

Status = Literal["optimized", "not_optimized", "skipped", "error"]
Verdict = Literal["accepted", "rejected", "error"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


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
