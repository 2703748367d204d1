"""Evaluate the candidates of one function: a baseline run, one isolated run per candidate.

This is the parent side of verification.  It never imports the user's code and never
unpickles anything a child produced: it writes a :class:`~..runner.protocol.RunnerSpec`,
the sandbox starts the runner, and :mod:`.verdicts` judges the
:class:`~..runner.protocol.RunnerResult` that comes back.  In which order candidates come
and what follows a verdict is the loop's business (:mod:`.rounds`).
"""

from __future__ import annotations

import pickle
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..models import (
    NO_CANDIDATES,
    BaselineFacts,
    Candidate,
    CandidateResult,
    Differences,
    FunctionResult,
    GeneratedTests,
    Settings,
    TargetFunction,
)
from ..runner.protocol import (
    EFFORT_BUDGET_S,
    EXAMPLES,
    GENERATED_DONE,
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
from .bounds import baseline_exceeded, baseline_limit_s, compare_budget_s, function_phases
from .cache import FunctionCache
from .findings import baseline_facts, differences_of
from .generated import GeneratedTestSet
from .known import known_verdict
from .runtime import with_runtime
from .verdicts import baseline_problem, diff_size, judge, none_accepted, select_best

if TYPE_CHECKING:
    from .early import EarlyBaseline

Progress = Callable[[str], None]
# For sources that read the baseline's facts: the line profile's budget (at most) and the
# number of captured calls described for prompts.
PROFILE_BUDGET_S = 1.0
EXAMPLE_CALLS = 12


@dataclass(frozen=True)
class Judged:
    """A candidate with its verdict; for a rejection, where it differed (if it did)."""

    candidate: Candidate
    verdict: CandidateResult
    differences: Differences | None = None
    with_generated_tests: bool = False  # whether the generated tests ran for it


class Evaluation:
    """Runs the baseline and the candidates of one target, and explains each verdict."""

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
        plain: tuple[float, int] = (0.0, 0),
    ) -> None:
        self.target = target
        self.samples = list(samples)  # arguments captured in the user's own test run
        # What the user's own run of the tests measured: their seconds, the target's calls.
        self.plain_s, self.traced_calls = plain
        self.original_source = original_source
        self.tests = sorted(tests)
        self.settings = settings
        self.sandbox = sandbox
        self.progress = progress  # called from several threads: must be safe for that
        self.rel_file = relative_path(target.file, settings.rootdir)
        self.coverage: dict[str, Any] | None = None
        self.invariants: list[str] = []
        self.drawn = (0, 0)  # generated inputs the baseline checked, and those inside
        self.baseline: ChildRun | None = None
        self._early: EarlyBaseline | None = None  # a baseline started early, until it ends
        self._interim: ChildRun | None = None  # what it had when candidates could start
        # The runs of this function at once: candidates, and a baseline started early.
        self._gate = threading.Semaphore(sandbox.slots)
        self._uncached: list[tuple[Candidate, CandidateResult]] = []  # until the baseline ends
        self.facts = BaselineFacts()
        self.calls_compared = 0
        self.calls_only_executed = 0
        self.unstable: list[str] = []
        self.generated = GeneratedTestSet()  # generated tests that passed with the original
        self._candidates: list[Candidate] = []
        self._seen: dict[str, CandidateResult] = {}
        self._original_key = normalise(original_source)  # docstrings, local names aside
        # One clock for the inputs every run of this function replays (see RunnerSpec).
        self.clock_epoch = float(int(time.time()))
        self.cache = cache  # verdicts of earlier runs (evaluate/cache.py)

    def start(self, *, describe: bool = False, early: bool = False) -> FunctionResult | None:
        """Run the baseline; a result instead if it cannot judge candidates (skipped, error).

        ``describe``: also measure the original's line profile and describe example calls
        (:attr:`facts`), for sources that read them.  ``early``: return as soon as the
        baseline has what candidates need to start (see :mod:`.early`); :meth:`finish`
        then waits for the rest of it.
        """
        name = self.target.qualified_name
        if not self.tests:
            return self._result(
                "skipped",
                f"no test calls {name}, so nothing can verify a "
                "candidate; run the tests that exercise it",
            )
        self.progress(f"{name}: baseline run of {len(self.tests)} test(s)")
        if not early:
            self.baseline = self._baseline(describe)
            return self._judge_baseline(self.baseline)
        from .early import EarlyBaseline

        self._early = EarlyBaseline(lambda started: self._baseline(describe, started), self._gate)
        interim = self._early.interim()
        if interim is not None and self._judge_baseline(interim, final=False) is None:
            self._interim = interim  # candidates may start (see _evaluate)
            return None
        return self.finish()

    def finish(self) -> FunctionResult | None:
        """For a baseline started ``early``: wait for its end, and say what :meth:`start`
        would have said of it.  Verdicts given meanwhile stand only if this is ``None``."""
        early, self._early = self._early, None
        if early is None:
            return None
        self.baseline = early.result()
        self._interim = None
        stop = self._judge_baseline(self.baseline)
        uncached, self._uncached = self._uncached, []
        if stop is None and self.cache is not None:  # the verdicts given meanwhile stand
            for candidate, verdict in uncached:
                self.cache.keep_verdict(candidate, verdict)
        return stop

    def _judge_baseline(self, baseline: ChildRun, final: bool = True) -> FunctionResult | None:
        """Why ``baseline`` cannot judge candidates, as the function's result, or ``None``
        (and, if ``final``, the figures it measured are kept).  Not ``final``: the run so far
        (:meth:`.early.EarlyBaseline.interim`), generation aside."""
        name = self.target.qualified_name
        if baseline.timed_out:
            return self._result("skipped", self._exceeded(baseline))
        problem = baseline_problem(baseline, name)
        if problem:
            return self._result("error", problem)
        assert baseline.result is not None
        passed = [t for t, o in baseline.result.tests.items() if o == "passed"]
        calls = baseline.result.calls
        if not passed:
            first = baseline.result.first_failure
            return self._result(
                "skipped",
                f"none of the {len(self.tests)} test(s) that call {name} pass with the original"
                + (f" in the runner (the first: {first})" if first else ""),
            )
        if calls is not None and not calls.compared and calls.uncopyable_count:
            why = calls.uncopyable[0] if calls.uncopyable else "they cannot be copied"
            return self._result(
                "skipped",
                f"none of the {calls.uncopyable_count} call(s) of {name} the tests made in the "
                f"runner could be compared: {why}",
            )
        if calls is None or not calls.compared:
            return self._result("skipped", f"the tests never called {name} in the runner")
        if not final:
            return None
        drawn = baseline.result.generated
        untimeable = drawn is not None and not drawn.error and not drawn.inputs
        if untimeable and not baseline.result.inputs_captured:
            # Every candidate would end "unverifiable" (nothing to time): none is run.
            return self._result(
                "skipped",
                f"no call of {name} could be kept to replay (its inputs cannot be "
                "pickled) and no input could be generated, so no candidate could be timed",
            )
        if drawn is not None:
            self.invariants = list(drawn.invariants)
            self.drawn = (drawn.inputs, drawn.inside)
        # The calls the tests made (the tally goes on counting replayed and generated ones).
        self.calls_compared = baseline.result.tests_compared or calls.compared
        self.unstable = sorted(calls.unstable)
        self.calls_only_executed = calls.unchecked
        coverage = baseline.result.coverage
        if coverage is not None and coverage.original is not None:
            import dataclasses

            self.coverage = dataclasses.asdict(coverage.original)
        self.facts = baseline_facts(baseline.result)
        return None

    def _baseline(self, describe: bool, started: Callable[[Path], None] | None = None) -> ChildRun:
        spec = self._spec("baseline", self.original_source)
        if describe:
            spec.profile_budget_s = min(PROFILE_BUDGET_S, EFFORT_BUDGET_S[self.settings.effort])
            spec.examples = EXAMPLE_CALLS
        if self.samples:
            seeds = self.sandbox.workdir / f"seeds-{self.target.qualified_name}.pickle"
            seeds.write_bytes(pickle.dumps(self.samples))
            spec.seed_inputs_path = str(seeds)
        limit = baseline_limit_s(self.settings, self.plain_s)
        return self.sandbox.run(spec, self.tests, limit, started=started)

    def _exceeded(self, baseline: ChildRun) -> str:
        """The status of a baseline stopped at its limit."""
        spec = self._spec("baseline", self.original_source)
        where = baseline.progress.removeprefix("running ").strip()
        name = self.target.qualified_name
        limit = baseline_limit_s(self.settings, self.plain_s)
        return baseline_exceeded(limit, name, self.traced_calls, spec, where)

    # -- generated tests ------------------------------------------------------------------
    def add_tests(self, modules: Sequence[str]) -> GeneratedTests:
        """Run generated test ``modules`` with the original; keep the tests that pass.

        The kept tests run, beside the user's, for every candidate evaluated from now on.
        """
        assert self.baseline is not None
        files = self.generated.files_for(self.target, modules)
        spec = self._spec("baseline", self.original_source)
        spec.generation = GenerationSpec()  # no generated inputs: the user's calls have them
        timeout = max(30.0, 3.0 * self.baseline.wall_s + 10.0)
        run = self.sandbox.run(spec, sorted(files), timeout, files=files)
        return self.generated.record(run, files)

    # -- per candidate --------------------------------------------------------------------
    @property
    def slots(self) -> int:
        """How many candidates may be evaluated at once (the sandbox's runs)."""
        return self.sandbox.slots

    def evaluate_all(self, work: Sequence[tuple[Candidate, str]]) -> Iterator[Judged]:
        """:meth:`evaluate` for each ``(candidate, label)``, the sandbox's slots at a time;
        the verdicts in order.

        A candidate whose code is the same as an earlier one's in ``work`` is not run beside
        it: it waits, and shares its verdict as a duplicate.
        """
        if self.slots <= 1 or len(work) <= 1:
            for candidate, label in work:
                yield self.evaluate(candidate, label)
            return
        from concurrent.futures import Future

        from .scheduler import in_daemon_thread

        runs: dict[int, Future[Judged]] = {}
        keys: set[str] = set()
        for index, (candidate, label) in enumerate(work):
            key = candidate_key(candidate)
            if key not in keys:
                keys.add(key)
                call = partial(self.evaluate, candidate, label)
                runs[index] = in_daemon_thread(call, "codeflash-candidate", self._gate)
        try:
            for index, (candidate, label) in enumerate(work):
                yield runs[index].result() if index in runs else self.evaluate(candidate, label)
        finally:
            for run in runs.values():
                run.cancel()  # those not started yet, if we stopped early (Ctrl-C)

    def evaluate(self, candidate: Candidate, label: str, *, again: bool = False) -> Judged:
        """One isolated run of ``candidate`` (unless its verdict is known), judged.

        ``again``: run it even if it was judged before (with generated tests added since).
        """
        known = None if again else known_verdict(candidate, self._original_key, self._seen)
        self._candidates.append(candidate)
        if known is not None:
            return Judged(candidate, known, with_generated_tests=bool(self.generated.tests))
        # Verdicts of earlier runs; generated tests are not part of their key.
        cache = self.cache if not self.generated.tests else None
        cached = cache.verdict(candidate) if cache is not None and not again else None
        if cached is not None:
            self.progress(f"{label}: {cached.verdict} in an earlier run: {cached.reason}")
            self._seen[candidate_key(candidate)] = cached
            return Judged(candidate, cached, with_generated_tests=False)
        self.progress(f"{label}: verifying and timing")
        verdict, run = self._evaluate(candidate)
        self.progress(f"{label}: {verdict.verdict}: {verdict.reason}")
        self._seen[candidate_key(candidate)] = verdict
        if cache is not None and self._early is not None:
            self._uncached.append((candidate, verdict))  # kept if the baseline can judge
        elif cache is not None:
            cache.keep_verdict(candidate, verdict)
        found = differences_of(run) if verdict.verdict == "rejected" else None
        return Judged(candidate, verdict, found, with_generated_tests=bool(self.generated.tests))

    def _evaluate(self, candidate: Candidate) -> tuple[CandidateResult, ChildRun]:
        """One isolated run of ``candidate``, judged."""
        baseline = self.baseline or self._interim
        assert baseline is not None
        began = time.perf_counter()
        spec = self._spec("candidate", candidate.module_source)
        if self._early is not None:  # started early: wait for its generated inputs
            spec.generated_done_path = str(baseline.io_dir / GENERATED_DONE)
        spec.baseline_tests = dict(baseline.result.tests) if baseline.result else {}
        spec.baseline_tests.update(dict.fromkeys(self.generated.tests, "passed"))
        spec.inputs_path = str(baseline.io_dir / INPUTS_FILE)
        spec.generated_path = str(baseline.io_dir / GENERATED_FILE)
        # The effort's budget covers the whole evaluation: the timing gets what the copy, the
        # start and the checks leave of it (see runner.replay.timing_budget).
        spec.began_monotonic = time.monotonic()
        timeout = self._candidate_timeout(baseline)
        spec.deadline_monotonic = spec.began_monotonic + timeout
        tests = [*self.tests, *self.generated.tests]
        # Started early: its limit grows by the time it may have waited for the baseline.
        grace = None if self._early is None else partial(self._early.waited, time.monotonic())
        run = self.sandbox.run(spec, tests, timeout, self.generated.files, grace=grace)
        verdict = judge(candidate, run, self.target, spec.baseline_tests)
        verdict = with_runtime(verdict, run.result)  # the runtime table
        return _with_times(verdict, run, began), run

    def _candidate_timeout(self, baseline: ChildRun) -> float:
        """The user's limit (or one scaled from the baseline run) plus our own budgets."""
        budget = EFFORT_BUDGET_S[self.settings.effort]
        # Generated inputs and timing (up to three sizes), which the user did not ask for.
        ours = 5.0 * budget + 4.0
        if self.settings.timeout:
            # The comparisons in the tests, and the replay, may each take their budget on top
            # (without a timeout of the user's, three times the baseline's covers them).
            return self.settings.timeout + 2 * compare_budget_s(self.settings, self.plain_s) + ours
        wall = baseline.wall_s
        if self._early is not None:  # the run so far: its generation is still to come
            wall += budget + 1.0
        return max(10.0, 3.0 * wall + 5.0) + ours

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
            compare_budget_s=compare_budget_s(self.settings, self.plain_s),
            timing=TimingSpec(
                min_speedup=self.settings.min_speedup, budget_s=EFFORT_BUDGET_S[effort]
            ),
            # The original runs twice per generated input (see Differential.self_check):
            # a cheap function draws its EXAMPLES well inside the budget, a slow one as many
            # as the effort's seconds allow.
            generation=GenerationSpec(
                examples=EXAMPLES[effort], budget_s=EFFORT_BUDGET_S[effort], call_limit_s=1.0
            ),
        )

    def candidate(self, candidate_id: str) -> Candidate:
        """The candidate judged under ``candidate_id`` (or the winner of a reused result)."""
        found = next((c for c in self._candidates if c.id == candidate_id), None)
        if found is None and self.cache is not None and self.cache.winner is not None:
            found = self.cache.winner  # the winner of a result reused from an earlier run
        assert found is not None, candidate_id
        return found

    # -- whole results of earlier runs ----------------------------------------------------
    def reused(self, first_round: Sequence[Candidate]) -> FunctionResult | None:
        """The result of an earlier run, if the code, tests, settings and these first-round
        candidates are all unchanged (nothing is run then)."""
        reused = self.cache.result(first_round) if self.cache is not None else None
        if reused is not None:
            name = self.target.qualified_name
            self.progress(f"{name}: verdicts reused from an earlier run, nothing changed")
        return reused

    def keep(self, result: FunctionResult) -> None:
        """Keep ``result`` for the next run (under the key :meth:`reused` computed)."""
        if self.cache is not None and not self.generated.tests:
            self.cache.keep_result(result, self._candidates)

    # -- the function's result ------------------------------------------------------------
    def summarise(self, results: list[CandidateResult]) -> FunctionResult:
        """The function's result from its candidates' verdicts: the best accepted one wins."""
        unstable, compared = self.unstable, self.calls_compared
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
            reason = none_accepted(results) if results else NO_CANDIDATES
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
            calls_only_executed=self.calls_only_executed,
            phases_s=self._phases(candidates or []),
            unstable=unstable or [],
            coverage=self.coverage,
            invariants=self.invariants,
            generated_inputs=self.drawn[0],
            generated_inside=self.drawn[1],
            generated_tests=self.generated.report,
        )

    def _phases(self, results: list[CandidateResult]) -> dict[str, float] | None:
        """Seconds per phase of this function's evaluation (see :func:`.bounds.function_phases`)."""
        run = self.baseline
        if run is None:
            return None
        spent = dict(run.result.phases_s) if run.result is not None else {}
        return function_phases(spent, run.wall_s, results)


def _with_times(verdict: CandidateResult, run: ChildRun, began: float) -> CandidateResult:
    """``verdict`` with the evaluation's wall time and the runner's phases."""
    total = time.perf_counter() - began
    phases = dict(run.result.phases_s) if run.result is not None else {}
    if phases:
        phases = {"start-up": round(max(0.0, total - sum(phases.values())), 4), **phases}
    return verdict.model_copy(update={"evaluation_s": round(total, 4), "phases_s": phases or None})
