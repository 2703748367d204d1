"""The wall-clock bounds of one function's evaluation, and how its time was spent.

Every phase has a limit derived from what the original costs and from the effort:

- the **baseline** (the original's own run of the tests, in the runner) may take
  ``--codeflash-timeout`` seconds or, by default, ten times the plain run of those tests
  measured while tracing (at least a minute), plus the comparison budget below and its
  own input generation;
- **comparisons** in the tests stop being made, beyond each test's first call, after
  :func:`compare_budget_s` seconds (the other calls only run; see ``runner.sampling``),
  and a candidate's replay of the captured calls stops after as long again;
- **generated inputs** and **timing** have their budgets by effort (``EFFORT_BUDGET_S``);
- each **candidate** run is bounded by :meth:`.evaluation.Evaluation._candidate_timeout`.

Pure functions: what the parent computes from settings and measured figures.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..models import CandidateResult, Settings
from ..runner.protocol import EFFORT_BUDGET_S, WAITING_PHASE, RunnerSpec

BASELINE_MIN_S = 60.0
"""The shortest limit for the baseline's tests, whatever the plain run cost."""
BASELINE_FACTOR = 10.0
"""The baseline's tests may take this many times the plain run: the original runs twice per
compared call and its inputs are copied."""
COMPARE_FACTOR = 2.0
COMPARE_EFFORT_FACTOR = 4.0
"""Comparisons in the tests, and replays of captured calls, may each cost this many times
the effort's budget (or ``COMPARE_FACTOR`` times the plain run, if longer)."""
STARTUP_S = 10.0
"""For the sandbox copy, the interpreter and pytest starting, coverage."""


def compare_budget_s(settings: Settings, plain_s: float) -> float:
    """Seconds of comparisons in the tests of one run, after which only each test's first
    call is compared (four times the effort's budget, or twice the plain run if longer);
    replaying the captured calls gets as long again."""
    return max(COMPARE_EFFORT_FACTOR * EFFORT_BUDGET_S[settings.effort], COMPARE_FACTOR * plain_s)


def baseline_limit_s(settings: Settings, plain_s: float) -> float:
    """The wall-clock limit of the baseline run (see the module docstring)."""
    budget = EFFORT_BUDGET_S[settings.effort]
    tests = settings.timeout or max(BASELINE_MIN_S, BASELINE_FACTOR * plain_s)
    # Generated inputs get the budget (and one slow call past it), the line profile one
    # second at most.
    ours = 2.0 * budget + 1.0 + STARTUP_S
    return round(tests + compare_budget_s(settings, plain_s) + ours, 1)


def baseline_exceeded(limit_s: float, name: str, calls: int, spec: RunnerSpec, where: str) -> str:
    """The status of a baseline stopped at its limit: what took so long, and what was done."""
    many = f"the tests call {name} {calls:,} time(s)" if calls else f"the tests of {name} ran on"
    doing = f", last {where}" if where else ""
    return (
        f"baseline exceeded {limit_s:.0f} s: {many}; compared the first {spec.compare_first} "
        f"calls per test and one in {spec.compare_one_in} after{doing}. Run fewer or smaller "
        "tests of it, or raise --codeflash-timeout"
    )


def function_phases(
    baseline: dict[str, float], baseline_wall_s: float, results: Sequence[CandidateResult]
) -> dict[str, float]:
    """Seconds per phase of a function's evaluation, for the report's ``phases_s``.

    ``baseline``: the original's run, its input generation taken out (``generation``);
    ``verification``: the candidates' runs, their timing taken out (``timing``), and their
    wait for the baseline's generated inputs (in ``generation`` already, for candidates
    started beside it).  Candidates evaluated side by side overlap: these are the seconds
    each phase took, summed, not the wall time.  Verdicts reused from earlier runs cost
    nothing here.
    """
    generation = baseline.get("generated inputs", 0.0)
    fresh = [r for r in results if not r.cached and r.evaluation_s is not None]
    timing = sum((r.phases_s or {}).get("timing", 0.0) for r in fresh)
    waited = sum((r.phases_s or {}).get(WAITING_PHASE, 0.0) for r in fresh)
    evaluated = sum(r.evaluation_s or 0.0 for r in fresh)
    return {
        "baseline": round(max(0.0, baseline_wall_s - generation), 3),
        "generation": round(generation, 3),
        "verification": round(max(0.0, evaluated - timing - waited), 3),
        "timing": round(timing, 3),
    }
