"""The one contract between the parent and the runner child: what goes in, what comes out.

The parent writes a :class:`RunnerSpec` as JSON next to the sandbox copy; the child reads it,
runs, and writes a :class:`RunnerResult` as JSON (first a stub with ``phase="started"``, then
the whole result).  Both sides import this module and nothing else of each other: the parent
never imports ``child``, ``replay`` or ``generate``, the child never imports the parent side.

Standard library only (the child is started many times).  Everything is a dataclass with
defaults, so a partial result (a child that died half-way) still loads; :func:`load` builds
a dataclass back from JSON, recursing into nested dataclasses and lists of them.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, Union

__all__ = [
    "EFFORT_BUDGET_S",
    "EXAMPLES",
    "GENERATED_DONE",
    "GENERATED_FILE",
    "INPUTS_FILE",
    "WAITING_PHASE",
    "CallsSummary",
    "CoverageSummary",
    "DifferenceRecord",
    "GeneratedSummary",
    "GenerationSpec",
    "LineProfileSummary",
    "LineTiming",
    "ReplaySummary",
    "RunnerResult",
    "RunnerSpec",
    "SizeTiming",
    "TimingSpec",
    "TimingSummary",
    "ToolError",
    "dump",
    "load",
]

INPUTS_FILE = "inputs.pickle"
"""In the baseline's io directory: the captured calls, pickled, for every candidate's replay."""
GENERATED_FILE = "generated.pickle"
"""In the baseline's io directory: the generated inputs it checked (and kept outcomes)."""
GENERATED_DONE = "generated.done"
"""Written by the baseline run once its generation is over (``done``), or by the parent if
the run ended first (``ended``, or ``aborted`` if stopped at its limit): a candidate started
early waits for it."""
WAITING_PHASE = "waiting for the baseline's generated inputs"
"""That candidate's phase (in its ``phases_s``) while it waits."""

EFFORT_BUDGET_S = {"low": 1.0, "medium": 2.0, "high": 5.0}
"""Seconds per candidate evaluation by ``--codeflash-effort``, behaviour checks included."""
EXAMPLES = {"low": 60, "medium": 200, "high": 600}
"""Generated inputs per function by ``--codeflash-effort``."""

Mode = Literal["baseline", "candidate"]
_T = TypeVar("_T")


@dataclass
class TimingSpec:
    """How the child times the candidate against the original."""

    min_speedup: float = 0.05
    budget_s: float = 2.0


@dataclass
class GenerationSpec:
    """How the child generates more inputs from the captured ones."""

    examples: int = 0
    budget_s: float = 5.0
    call_limit_s: float = 1.0


@dataclass
class RunnerSpec:
    """Everything one runner process needs to know; written by the parent as JSON."""

    mode: Mode
    module: str
    qualname: str
    original_source: str
    candidate_source: str
    is_method: bool = False
    tests: list[str] = field(default_factory=list)
    """The node ids to run (their files are collected; see ``child.select_tests``)."""
    is_async: bool = False
    is_generator: bool = False
    rel_tol: float = 0.0
    max_inputs: int = 64
    max_compared: int = 1000
    compare_first: int = 100
    """Calls compared in full at the start of each test; after them, one in
    ``compare_one_in`` (a deterministic sample), the others only run."""
    compare_one_in: int = 50
    compare_budget_s: float = 0.0
    """Seconds of comparisons in the tests before only each test's first call is compared
    (0: no limit; see ``runner.sampling``)."""
    seed: int = 0
    clock_epoch: float = 1_700_000_000.0
    """Where the virtual wall clock starts for inputs replayed outside the tests (seconds
    since 1970): set once per function by the parent, so every run of it agrees."""
    timing: TimingSpec = field(default_factory=TimingSpec)
    generation: GenerationSpec = field(default_factory=GenerationSpec)
    # The baseline only: arguments the user's own run captured (a fallback for replays).
    seed_inputs_path: str | None = None
    # A candidate only: the baseline's test outcomes and the inputs it saved.
    baseline_tests: dict[str, str] = field(default_factory=dict)
    inputs_path: str | None = None
    generated_path: str | None = None
    generated_done_path: str | None = None
    """Set for a candidate started while the baseline still generates inputs: the marker
    (:data:`GENERATED_DONE`) to wait for before replaying them."""
    began_monotonic: float | None = None
    """When the parent started this evaluation (``time.monotonic``, system-wide)."""
    deadline_monotonic: float | None = None
    """When the parent stops waiting for this run (``time.monotonic``): timing may grow past
    the effort's budget for a slow function, never past this."""
    # The baseline only, for candidate sources that learn from it (0: nothing of the kind).
    profile_budget_s: float = 0.0
    """Seconds for the original's per-line profile on the captured inputs."""
    examples: int = 0
    """How many captured calls to describe as Python (``f([3, 1]) -> [3, 1]``)."""
    # Filled in by the sandbox for each run.
    result_path: str = ""
    progress_path: str = ""
    output_dir: str = ""
    allowed_roots: list[str] = field(default_factory=list)
    secret_names: list[str] = field(default_factory=list)


@dataclass
class DifferenceRecord:
    """One call on which the candidate did something else than the original."""

    test: str
    input: str
    kind: str
    detail: str
    expected: str = ""
    """What the original did at the first difference, as a short repr ("" if unknown)."""
    actual: str = ""
    """What the candidate did there."""


@dataclass
class CallsSummary:
    """The differential comparison of the target's calls (in the tests, or all of them)."""

    compared: int = 0
    unchecked: int = 0
    """Calls in the tests only run, not compared (see ``runner.sampling``)."""
    uncopyable: list[str] = field(default_factory=list)
    uncopyable_count: int = 0
    unstable: dict[str, int] = field(default_factory=dict)
    fully_unstable: int = 0
    differences: list[DifferenceRecord] = field(default_factory=list)
    sampled_tests: int = 0
    """Tests in which some calls were only run."""
    most_calls_per_test: int = 0
    sampling: str = ""
    """How the compared calls were chosen, when not all were ("" then)."""


@dataclass
class ReplaySummary:
    """The captured calls replayed outside the tests."""

    inputs: int = 0
    compared: int = 0
    differences: list[DifferenceRecord] = field(default_factory=list)


@dataclass
class GeneratedSummary:
    """The generated inputs: how many were compared, skipped, and what they came from."""

    examples: int = 0
    skipped_slow: int = 0
    differences: list[DifferenceRecord] = field(default_factory=list)
    source: str = ""
    """What the inputs were generated from ("captured calls", "type annotations", ...)."""
    error: str = ""
    inputs: int = 0
    outcomes_kept: int = 0
    inside: int = 0
    """How many of the inputs keep the invariants of the captured calls."""
    invariants: list[str] = field(default_factory=list)
    """The invariants assumed, one phrase each ("argument 2 is ascending")."""
    notes: list[DifferenceRecord] = field(default_factory=list)
    """Differences on inputs outside the invariants: reported, not held against it."""
    unverifiable: int = 0
    """Inputs left out: the original's results on them cannot be compared with themselves."""


@dataclass
class SizeTiming:
    """The timing figures of one size of inputs, for the report's runtime table.

    ``original_ns`` and ``candidate_ns`` are sums over the timed inputs of the per-input
    statistic the timing decided on (nothing is timed again for them).
    """

    factor: int = 1
    inputs: int = 0
    original_ns: int = 0
    candidate_ns: int = 0
    speedup: float = 1.0
    ci: list[float] = field(default_factory=lambda: [1.0, 1.0])
    rounds: int = 0


@dataclass
class TimingSummary:
    """The interleaved timing of original and candidate at one size of inputs."""

    speedup: float = 1.0
    ci: list[float] = field(default_factory=lambda: [1.0, 1.0])
    verdict: str = "undecided"
    rounds: int = 0
    confidence: float = 0.99
    """The level of ``ci``, when ``method`` is "bootstrap"."""
    method: str = "bootstrap"
    """"bootstrap" (``ci`` is a confidence interval) or "separation" (every candidate round
    beat every original round by a wide margin; ``ci`` is the range measured)."""
    budget_s: float = 0.0
    """The time the timing of this size was given."""
    round_s: float = 0.0
    """The slowest round: both sides, every timed input."""
    loops: list[int] = field(default_factory=list)
    elapsed_s: float = 0.0
    stopped_by: str = ""
    caches: bool = False
    baseline_ns: int = 0
    inputs: int = 0
    factor: int = 1
    """The size of the timed inputs, as a multiple of the captured ones."""
    by_scale: dict[str, float] = field(default_factory=dict)
    scaled: TimingSummary | None = None
    """The timing at a larger size that decided, if the captured size did not."""
    scale_differences: list[DifferenceRecord] = field(default_factory=list)
    candidate_ns: int = 0
    """The candidate's counterpart of ``baseline_ns``."""
    sizes: list[SizeTiming] = field(default_factory=list)
    """Every size that was timed, the captured one first."""


@dataclass
class FunctionCoverage:
    """Lines and branches of one function that the verification inputs ran."""

    lines: list[int] = field(default_factory=list)
    """``[covered, statements]``."""
    branches: list[int] = field(default_factory=list)
    """``[taken, branches]``."""
    missing_lines: list[int] = field(default_factory=list)


@dataclass
class CoverageSummary:
    """What coverage.py saw of the original and the candidate during verification."""

    original: FunctionCoverage | None = None
    candidate: FunctionCoverage | None = None
    changed_lines: int = 0
    changed_unrun: list[int] = field(default_factory=list)
    reached: list[int] = field(default_factory=list)
    """Changed lines no verification input ran that inputs searched for them did."""
    searched: int = 0
    """Inputs compared while searching for inputs that run unrun changed lines."""
    error: str = ""


@dataclass
class ToolError:
    """An exception in pytest-codeflash's own code in the runner: no verdict can come of it."""

    phase: str
    """What the runner was doing: "comparison", "replay", "generated inputs", "timing", ..."""
    error: str
    """The exception, as ``repr``."""
    where: str
    """The innermost frame: ``file:line in function``."""


@dataclass
class LineTiming:
    """One line of the original target: how often it ran and how long, callees included."""

    line: int
    hits: int = 0
    ns: int = 0


@dataclass
class LineProfileSummary:
    """The original's per-line profile on the captured inputs (the baseline run only)."""

    lines: list[LineTiming] = field(default_factory=list)
    calls: int = 0
    """Calls of the original that were profiled."""
    complete: bool = True
    """False when the time budget ran out before every captured call was profiled."""
    tool: str = ""
    """``sys.monitoring`` (Python 3.12+) or ``sys.settrace``."""
    error: str = ""


@dataclass
class Violation:
    """An operation the sandbox guard blocked."""

    event: str
    path: str
    phase: str


@dataclass
class RunnerResult:
    """What one runner process reports; written by the child as JSON, read by the parent."""

    phase: str = "started"
    """"started" until the tests ran; "tests" from then on."""
    tests: dict[str, str] = field(default_factory=dict)
    """Outcome by test node id: "passed", "failed", "error" or "skipped"."""
    first_failure: str = ""
    """The first test that failed, and how ("tests/t.py::test_x failed: AssertionError")."""
    not_passing: dict[str, str] = field(default_factory=dict)
    """The tests that passed in the baseline and not in this run, with their outcome here
    ("missing" for a test function none of whose instances can be told apart)."""
    overlay_used: bool = False
    wrapper_installed: bool = False
    errors: list[str] = field(default_factory=list)
    """Why the target could not be set up at all (its module failed to load, ...)."""
    tool_errors: list[ToolError] = field(default_factory=list)
    calls: CallsSummary | None = None
    tests_compared: int = 0
    replay: ReplaySummary | None = None
    generated: GeneratedSummary | None = None
    timing: TimingSummary | None = None
    coverage: CoverageSummary | None = None
    violations: list[Violation] = field(default_factory=list)
    secret_reads: dict[str, list[str]] = field(default_factory=dict)
    phases_s: dict[str, float] = field(default_factory=dict)
    line_profile: LineProfileSummary | None = None
    """The baseline only, when asked for: the original's per-line profile."""
    examples: list[str] = field(default_factory=list)
    """The baseline only, when asked for: captured calls written as Python, shortened."""
    inputs_captured: int = -1
    """The baseline only: captured calls kept (pickled) for the candidates to replay and
    time; -1 when not known."""


def dump(value: Any) -> str:
    """One of this module's dataclasses as JSON."""
    return json.dumps(dataclasses.asdict(value), default=repr)


def load(cls: type[_T], data: object) -> _T:
    """Build ``cls`` (a dataclass of this module) from decoded JSON, tolerating missing keys.

    Unknown keys are ignored, so a parent and a child of slightly different versions still
    talk.  Raises ``TypeError`` if ``data`` is not a mapping or a required field is missing.
    """
    if not isinstance(data, dict):
        raise TypeError(f"expected a JSON object for {cls.__name__}, got {type(data).__name__}")
    hints = _hints(cls)
    values = {}
    for item in dataclasses.fields(cls):  # type: ignore[arg-type]
        if item.name in data:
            values[item.name] = _convert(hints[item.name], data[item.name])
    return cls(**values)


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    return hints


def _convert(hint: Any, value: object) -> object:
    origin = typing.get_origin(hint)
    if origin in (Union, getattr(__import__("types"), "UnionType", Union)):
        if value is None:
            return None
        options = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return _convert(options[0], value) if len(options) == 1 else value
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return load(hint, value)
    if origin is list and isinstance(value, list):
        (item,) = typing.get_args(hint) or (Any,)
        return [_convert(item, element) for element in value]
    return value


def tool_error(phase: str, err: BaseException) -> ToolError:
    """Describe ``err``, raised in ``phase``, with the frame it was raised in."""
    import traceback

    frames = traceback.extract_tb(err.__traceback__)
    last = frames[-1] if frames else None
    where = f"{last.filename}:{last.lineno} in {last.name}" if last else "unknown"
    return ToolError(phase=phase, error=repr(err)[:500], where=where)
