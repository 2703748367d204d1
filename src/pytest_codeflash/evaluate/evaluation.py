"""Evaluate the candidates of one function: a baseline run, one isolated run per candidate.

This is the parent side of verification.  It never imports the user's code and never
unpickles anything a child produced: it writes a :class:`~..runner.protocol.RunnerSpec`,
the sandbox starts the runner, and :mod:`.verdicts` judges the
:class:`~..runner.protocol.RunnerResult` that comes back.
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Callable, Sequence
from typing import Any

from ..models import Candidate, CandidateResult, FunctionResult, Settings, TargetFunction
from ..runner.protocol import (
    EFFORT_BUDGET_S,
    EXAMPLES,
    GENERATED_FILE,
    INPUTS_FILE,
    GenerationSpec,
    Mode,
    RunnerSpec,
    TimingSpec,
)
from ..runner.sandbox import ChildRun, Sandbox
from ..source.normalise import candidate_key, normalise
from ..source.paths import relative_path
from .cache import FunctionCache
from .runtime import with_runtime
from .verdicts import baseline_problem, diff_size, judge, rejected, select_best

Progress = Callable[[str], None]
FollowUp = Callable[[list[CandidateResult]], list[Candidate]]
# The baseline measures the original; --codeflash-timeout bounds candidates, which are judged
# against it, so the original's own run only has this generous safety limit.
BASELINE_TIMEOUT_S = 600.0


class Evaluation:
    """Runs the baseline and every candidate of one target, and explains each verdict."""

    def __init__(
        self,
        target: TargetFunction,
        original_source: str,
        tests: Sequence[str],
        settings: Settings,
        sandbox: Sandbox,
        progress: Progress,
        samples: Sequence[bytes] = (),
        cache: FunctionCache | None = None,
    ) -> None:
        self.target = target
        self.samples = list(samples)  # arguments captured in the user's own test run
        self.original_source = original_source
        self.tests = sorted(tests)
        self.settings = settings
        self.sandbox = sandbox
        self.progress = progress
        self.rel_file = relative_path(target.file, settings.rootdir)
        self.coverage: dict[str, Any] | None = None
        self._candidates: list[Candidate] = []
        # One clock for the inputs every run of this function replays (see RunnerSpec).
        self.clock_epoch = float(int(time.time()))
        self.cache = cache  # verdicts of earlier runs (evaluate/cache.py)

    def run(
        self, candidates: Sequence[Candidate], follow_up: FollowUp | None = None
    ) -> FunctionResult:
        """Baseline, then every candidate; then ``follow_up``'s candidates, if it has any.

        ``follow_up`` sees the first round's verdicts (the rule engine combines the accepted
        rules into one more candidate) and shares the same baseline run.
        """
        name = self.target.qualified_name
        if not self.tests:
            return self._result(
                "skipped",
                f"no test calls {name}, so nothing can verify a "
                "candidate; run the tests that exercise it",
            )
        # -- verdicts of earlier runs: the whole result, if nothing changed (#16) -----------
        reused = self.cache.result(candidates) if self.cache is not None else None
        if reused is not None:
            self.progress(f"{name}: verdicts reused from an earlier run, nothing changed")
            return reused
        # ----------------------------------------------------------------------------------
        self.progress(f"{name}: baseline run of {len(self.tests)} test(s)")
        baseline = self._baseline()
        problem = baseline_problem(baseline, name)
        if problem:
            return self._result("error", problem)
        assert baseline.result is not None
        passed = [t for t, o in baseline.result.tests.items() if o == "passed"]
        calls = baseline.result.calls
        if not passed:
            return self._result(
                "skipped",
                f"none of the {len(self.tests)} test(s) that call {name} pass with the original",
            )
        if calls is None or not calls.compared:
            return self._result("skipped", f"the tests never called {name} in the runner")
        coverage = baseline.result.coverage
        if coverage is not None and coverage.original is not None:
            import dataclasses

            self.coverage = dataclasses.asdict(coverage.original)
        results = self._evaluate_all(candidates, baseline)
        more = follow_up(results) if follow_up is not None else []
        if more:
            results += self._evaluate_all(more, baseline)
        result = self._summarise(results, sorted(calls.unstable), calls.compared)
        if self.cache is not None:  # for the next run (#16)
            self.cache.keep_result(result, self._candidates)
        return result

    def _baseline(self) -> ChildRun:
        spec = self._spec("baseline", self.original_source)
        if self.samples:
            seeds = self.sandbox.workdir / f"seeds-{self.target.qualified_name}.pickle"
            seeds.write_bytes(pickle.dumps(self.samples))
            spec.seed_inputs_path = str(seeds)
        timeout = max(self.settings.timeout or 0.0, BASELINE_TIMEOUT_S)
        return self.sandbox.run(spec, self.tests, timeout)

    # -- per candidate --------------------------------------------------------------------
    def _evaluate_all(
        self, candidates: Sequence[Candidate], baseline: ChildRun
    ) -> list[CandidateResult]:
        self._candidates += list(candidates)
        seen: dict[str, CandidateResult] = {}
        original_key = normalise(self.original_source)  # docstrings, local names aside
        results = []
        for index, candidate in enumerate(candidates, 1):
            known = _known_verdict(candidate, original_key, seen)
            if known is not None:
                results.append(known)
                continue
            label = (
                f"{self.target.qualified_name}: candidate {index}/{len(candidates)} {candidate.id}"
            )
            self.progress(f"{label}: verifying and timing")
            verdict = self._evaluate(candidate, baseline)
            self.progress(f"{label}: {verdict.verdict}: {verdict.reason}")
            seen[candidate_key(candidate)] = verdict
            results.append(verdict)
        return results

    def _evaluate(self, candidate: Candidate, baseline: ChildRun) -> CandidateResult:
        """One isolated run of ``candidate``, judged (or its verdict of an earlier run)."""
        known = self.cache.verdict(candidate) if self.cache is not None else None  # (#16)
        if known is not None:
            return known
        verdict = self._run_candidate(candidate, baseline)
        if self.cache is not None:
            self.cache.keep_verdict(candidate, verdict)
        return verdict

    def _run_candidate(self, candidate: Candidate, baseline: ChildRun) -> CandidateResult:
        began = time.perf_counter()
        spec = self._spec("candidate", candidate.module_source)
        spec.baseline_tests = dict(baseline.result.tests) if baseline.result else {}
        spec.inputs_path = str(baseline.io_dir / INPUTS_FILE)
        spec.generated_path = str(baseline.io_dir / GENERATED_FILE)
        # The effort's budget covers the whole evaluation: the timing gets what the copy, the
        # start and the checks leave of it (see runner.replay.timing_budget).
        spec.began_monotonic = time.monotonic()
        timeout = self._candidate_timeout(baseline)
        spec.deadline_monotonic = spec.began_monotonic + timeout
        run = self.sandbox.run(spec, self.tests, timeout)
        verdict = judge(candidate, run, self.target, spec.baseline_tests)
        verdict = with_runtime(verdict, run.result)  # the runtime table (#16)
        return _with_times(verdict, run, began)

    def _candidate_timeout(self, baseline: ChildRun) -> float:
        """The user's limit (or one scaled from the baseline run) plus our own budgets."""
        budget = EFFORT_BUDGET_S[self.settings.effort]
        # Generated inputs and timing (up to three sizes), which the user did not ask for.
        ours = 5.0 * budget + 4.0
        if self.settings.timeout:
            return self.settings.timeout + ours
        return max(10.0, 3.0 * baseline.wall_s + 5.0) + ours

    def _spec(self, mode: Mode, source: str) -> RunnerSpec:
        effort = self.settings.effort
        return RunnerSpec(
            mode=mode,
            module=self.target.module,
            qualname=self.target.qualname,
            is_method=self.target.is_method,
            is_async=self.target.is_async,
            is_generator=self.target.is_generator,
            original_source=self.original_source,
            candidate_source=source,
            rel_tol=self.settings.float_rel_tol,
            max_inputs=self.settings.max_captured_calls,
            clock_epoch=self.clock_epoch,
            timing=TimingSpec(
                min_speedup=self.settings.min_speedup, budget_s=EFFORT_BUDGET_S[effort]
            ),
            generation=GenerationSpec(
                examples=EXAMPLES[effort], budget_s=2 * EFFORT_BUDGET_S[effort], call_limit_s=1.0
            ),
        )

    # -- the function's result ------------------------------------------------------------
    def _summarise(
        self, results: list[CandidateResult], unstable: list[str], compared: int
    ) -> FunctionResult:
        accepted = [r for r in results if r.verdict == "accepted"]
        baseline_ns = next((r.baseline_ns for r in results if r.baseline_ns), None)
        failed = [r for r in results if r.verdict == "error"]
        if failed and not accepted:
            reason = (
                f"pytest-codeflash failed on {len(failed)} of {len(results)} candidate(s), "
                f"so they have no verdict: {failed[0].reason}"
            )
            return self._result("error", reason, results, baseline_ns, unstable, compared)
        if not accepted:
            reason = (
                f"none of {len(results)} candidate(s) was accepted"
                if results
                else "no candidates to evaluate"
            )
            return self._result("not_optimized", reason, results, baseline_ns, unstable, compared)
        diff_sizes = {
            c.id: diff_size(self.original_source, c.module_source) for c in self._candidates
        }
        best = select_best(accepted, diff_sizes)
        reason = f"{best.id} is {best.speedup:.2f}x faster with identical behaviour"
        return self._result(
            "optimized", reason, results, baseline_ns, unstable, compared, best=best
        )

    def error(self, reason: str) -> FunctionResult:
        """The result for a function whose evaluation failed for reasons of our own."""
        return self._result("error", reason)

    def _result(
        self,
        status: str,
        reason: str,
        candidates: list[CandidateResult] | None = None,
        baseline_ns: int | None = None,
        unstable: list[str] | None = None,
        compared: int = 0,
        best: CandidateResult | None = None,
    ) -> FunctionResult:
        return FunctionResult(
            qualified_name=self.target.qualified_name,
            file=self.rel_file,
            status=status,  # type: ignore[arg-type]
            reason=reason,
            baseline_ns=baseline_ns,
            speedup=best.speedup if best else None,
            best_candidate=best.id if best else None,
            candidates=candidates or [],
            tests=list(self.tests),
            calls_captured=compared,
            unstable=unstable or [],
            coverage=self.coverage,
        )


def _known_verdict(
    candidate: Candidate, original_key: str, seen: dict[str, CandidateResult]
) -> CandidateResult | None:
    """The verdict on a candidate that needs no run: unusable, unchanged, or seen before."""
    if candidate.rejection:
        return rejected(candidate, candidate.rejection)
    if candidate.other_files:
        # The runner overlays the target's module only; helper changes elsewhere would go
        # unverified, so such a candidate cannot be accepted yet.
        others = ", ".join(str(change.path) for change in candidate.other_files)
        return rejected(
            candidate,
            f"unverifiable: the candidate also changes {others}, and the runner verifies "
            "changes to the target's module only",
        )
    key = candidate_key(candidate)
    if key == original_key:
        return rejected(candidate, "no change: the candidate's code is the same as the original's")
    first = seen.get(key)
    if first is None:
        return None
    return first.model_copy(
        update={
            "id": candidate.id,
            "source": candidate.source,
            "duplicate_of": first.id,
            "evaluation_s": None,
            "phases_s": None,
        }
    )


def _with_times(verdict: CandidateResult, run: ChildRun, began: float) -> CandidateResult:
    """``verdict`` with the evaluation's wall time and the runner's phases."""
    total = time.perf_counter() - began
    phases = dict(run.result.phases_s) if run.result is not None else {}
    if phases:
        phases = {"start-up": round(max(0.0, total - sum(phases.values())), 4), **phases}
    return verdict.model_copy(update={"evaluation_s": round(total, 4), "phases_s": phases or None})
