"""Evaluate the candidates of one function: baseline run, one isolated run per candidate, verdicts.

This is the parent side of verification.  It never imports the user's code and never
unpickles anything a child produced: children report plain JSON.
"""

from __future__ import annotations

import pickle
import signal
import time
from collections.abc import Callable, Sequence
from typing import Any

from ..models import Candidate, CandidateResult, FunctionResult, Settings, TargetFunction
from ..runner.child import GENERATED_FILE, INPUTS_FILE
from ..runner.generate import EXAMPLES
from ..runner.replay import EFFORT_BUDGET_S
from ..runner.sandbox import ChildRun, Sandbox
from ..source.normalise import candidate_key, normalise

Progress = Callable[[str], None]
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
    ) -> None:
        self.target = target
        self.samples = list(samples)  # arguments captured in the user's own test run
        self.original_source = original_source
        self.tests = sorted(tests)
        self.settings = settings
        self.sandbox = sandbox
        self.progress = progress
        self.rel_file = _relative(target, settings)
        self.coverage: dict[str, Any] | None = None
        self._candidates: list[Candidate] = []

    def run(
        self,
        candidates: Sequence[Candidate],
        follow_up: Callable[[list[CandidateResult]], list[Candidate]] | None = None,
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
        self.progress(f"{name}: baseline run of {len(self.tests)} test(s)")
        extra: dict[str, Any] = {}
        if self.samples:
            seeds = self.sandbox.workdir / f"seeds-{self.target.qualified_name}.pickle"
            seeds.write_bytes(pickle.dumps(self.samples))
            extra["seed_inputs_path"] = str(seeds)
        baseline = self.sandbox.run(
            self._spec("baseline", self.original_source, extra),
            self.tests,
            max(self.settings.timeout or 0.0, BASELINE_TIMEOUT_S),
        )
        problem = _baseline_problem(baseline, name)
        if problem:
            return self._result("error", problem)
        assert baseline.result is not None
        passed = {t: o for t, o in baseline.result["tests"].items() if o == "passed"}
        calls = baseline.result.get("calls") or {}
        if not passed:
            return self._result(
                "skipped",
                f"none of the {len(self.tests)} test(s) that call {name} pass with the original",
            )
        if not calls.get("compared"):
            return self._result("skipped", f"the tests never called {name} in the runner")
        unstable = sorted(calls.get("unstable", {}))
        self.coverage = (baseline.result.get("coverage") or {}).get("original") or None
        results = self._evaluate_all(candidates, baseline)
        more = follow_up(results) if follow_up is not None else []
        if more:
            results += self._evaluate_all(more, baseline)
        return self._summarise(results, baseline, unstable, int(calls["compared"]))

    # -- per candidate --------------------------------------------------------------------
    @property
    def _diff_sizes(self) -> dict[str, int]:
        return {c.id: diff_size(self.original_source, c.module_source) for c in self._candidates}

    def _evaluate_all(
        self, candidates: Sequence[Candidate], baseline: ChildRun
    ) -> list[CandidateResult]:
        self._candidates += list(candidates)
        seen: dict[str, CandidateResult] = {}
        original_key = normalise(self.original_source)  # docstrings, local names aside
        results = []
        for index, candidate in enumerate(candidates, 1):
            if candidate.rejection:
                results.append(_rejected(candidate, candidate.rejection))
                continue
            if candidate.other_files:
                # The runner overlays the target's module only; helper changes elsewhere
                # would go unverified, so such a candidate cannot be accepted yet.
                others = ", ".join(str(change.path) for change in candidate.other_files)
                results.append(
                    _rejected(
                        candidate,
                        f"unverifiable: the candidate also changes "
                        f"{others}, and the runner verifies changes to the "
                        "target's module only",
                    )
                )
                continue
            key = candidate_key(candidate)
            label = (
                f"{self.target.qualified_name}: candidate {index}/{len(candidates)} {candidate.id}"
            )
            if key == original_key:
                results.append(
                    _rejected(
                        candidate, "no change: the candidate's code is the same as the original's"
                    )
                )
                continue
            if key in seen:
                first = seen[key]
                results.append(
                    first.model_copy(
                        update={
                            "id": candidate.id,
                            "source": candidate.source,
                            "duplicate_of": first.id,
                            "evaluation_s": None,
                            "phases_s": None,
                        }
                    )
                )
                continue
            self.progress(f"{label}: verifying and timing")
            began = time.perf_counter()
            # The effort's budget covers the whole evaluation: the timing gets what the
            # copy, the start and the checks leave of it (see runner.replay.time_candidate).
            began_monotonic = time.monotonic()
            run = self.sandbox.run(
                self._spec(
                    "candidate",
                    candidate.module_source,
                    {
                        "baseline_tests": baseline.result["tests"] if baseline.result else {},
                        "inputs_path": str(baseline.io_dir / INPUTS_FILE),
                        "generated_path": str(baseline.io_dir / GENERATED_FILE),
                        "began_monotonic": began_monotonic,
                    },
                ),
                self.tests,
                self._candidate_timeout(baseline),
            )
            verdict = _with_times(judge(candidate, run, self.target), run, began)
            self.progress(f"{label}: {verdict.verdict}: {verdict.reason}")
            seen[key] = verdict
            results.append(verdict)
        return results

    def _candidate_timeout(self, baseline: ChildRun) -> float:
        """The user's limit (or one scaled from the baseline run) plus our own budgets."""
        budget = EFFORT_BUDGET_S[self.settings.effort]
        # Generated inputs and timing (up to three sizes), which the user did not ask for.
        ours = 5.0 * budget + 4.0
        if self.settings.timeout:
            return self.settings.timeout + ours
        return max(10.0, 3.0 * baseline.wall_s + 5.0) + ours

    def _spec(self, mode: str, source: str, extra: dict[str, Any]) -> dict[str, Any]:
        spec = {
            "mode": mode,
            "module": self.target.module,
            "qualname": self.target.qualname,
            "is_method": self.target.is_method,
            "is_async": self.target.is_async,
            "is_generator": self.target.is_generator,
            "original_source": self.original_source,
            "candidate_source": source,
            "rel_tol": self.settings.float_rel_tol,
            "max_inputs": self.settings.max_captured_calls,
            "timing": {
                "min_speedup": self.settings.min_speedup,
                "budget_s": EFFORT_BUDGET_S[self.settings.effort],
            },
            "generation": {
                "examples": EXAMPLES[self.settings.effort],
                "budget_s": 2 * EFFORT_BUDGET_S[self.settings.effort],
                "call_limit_s": 1.0,
            },
        }
        spec.update(extra)
        return spec

    # -- the function's result ------------------------------------------------------------
    def _summarise(
        self, results: list[CandidateResult], baseline: ChildRun, unstable: list[str], compared: int
    ) -> FunctionResult:
        accepted = [r for r in results if r.verdict == "accepted"]
        baseline_ns = next((r.baseline_ns for r in results if r.baseline_ns), None)
        if not accepted:
            reason = (
                f"none of {len(results)} candidate(s) was accepted"
                if results
                else "no candidates to evaluate"
            )
            return self._result("not_optimized", reason, results, baseline_ns, unstable, compared)
        best = select_best(accepted, self._diff_sizes)
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


def select_best(accepted: Sequence[CandidateResult], diff_sizes: dict[str, int]) -> CandidateResult:
    """The fastest by the lower bound of its interval; within noise, the smallest change.

    Candidates whose intervals overlap the leader's cannot be told apart by speed, so the one
    that changes the fewest lines wins among them.
    """

    def low(result: CandidateResult) -> float:
        return (result.speedup_ci or (0.0, 0.0))[0]

    leader = max(accepted, key=low)
    tied = [r for r in accepted if (r.speedup_ci or (0.0, 0.0))[1] >= low(leader)]
    return min(tied, key=lambda r: (diff_sizes.get(r.id, 0), -low(r)))


def diff_size(original: str, candidate: str) -> int:
    """How many lines differ between two module sources."""
    import difflib

    return sum(
        1
        for line in difflib.unified_diff(original.splitlines(), candidate.splitlines(), n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    )


def _with_times(verdict: CandidateResult, run: ChildRun, began: float) -> CandidateResult:
    """``verdict`` with the evaluation's wall time and the runner's phases."""
    total = time.perf_counter() - began
    phases = dict((run.result or {}).get("phases_s") or {})
    if phases:
        phases = {"start-up": round(max(0.0, total - sum(phases.values())), 4), **phases}
    return verdict.model_copy(update={"evaluation_s": round(total, 4), "phases_s": phases or None})


def judge(candidate: Candidate, run: ChildRun, target: TargetFunction) -> CandidateResult:
    """Turn one child run into an accepted/rejected verdict with its reason."""
    name = target.qualified_name
    result = run.result
    if run.timed_out:
        where = f" (while {run.progress})" if run.progress else ""
        return _rejected(candidate, f"timeout: killed after {run.wall_s:.1f} s{where}")
    if result is None or result.get("phase") == "started":
        return _rejected(candidate, _crash_reason(run))
    blame = _unsafe(result)
    if blame:
        return _rejected(candidate, blame)
    if result.get("errors"):
        return _rejected(candidate, f"crash: {result['errors'][0]}")
    if not result.get("overlay_used") or not result.get("wrapper_installed"):
        return _rejected(
            candidate,
            f"unverifiable: {target.module} was not imported through "
            "the runner, so the candidate never ran",
        )
    for section in ("calls", "replay", "generated"):
        differences = (result.get(section) or {}).get("differences") or []
        if differences:
            first = differences[0]
            return _rejected(
                candidate, f"{first['detail']}; input {first['input']} from {first['test']}", result
            )
    failing = _failing_tests(result)
    if failing:
        more = f" (and {len(failing) - 1} more)" if len(failing) > 1 else ""
        return _rejected(candidate, f"test failed with the candidate: {failing[0]}{more}", result)
    unrun = (result.get("coverage") or {}).get("changed_unrun")
    if unrun:
        lines = ", ".join(str(n) for n in unrun[:8])
        return _rejected(
            candidate,
            f"unverified: changed line(s) {lines} of the candidate never ran under the "
            "verification inputs",
            result,
        )
    return _timing_verdict(candidate, result, name)


def _timing_verdict(candidate: Candidate, result: dict[str, Any], name: str) -> CandidateResult:
    calls = result.get("calls") or {}
    replay = result.get("replay") or {}
    replayed = int(replay.get("compared", 0))
    generated = int((result.get("generated") or {}).get("examples", 0))
    compared = int(result.get("tests_compared", 0))
    if compared <= 0 and not replayed:
        return _rejected(candidate, f"unverifiable: no call of {name} could be compared", result)
    if calls.get("fully_unstable") and calls["fully_unstable"] >= compared:
        return _rejected(
            candidate,
            f"unverifiable: {name}'s results change from run to run, so equality proves nothing",
            result,
        )
    timing = result.get("timing")
    if not timing:
        return _rejected(
            candidate,
            "unverifiable: no captured input could be replayed to time the candidate",
            result,
        )
    differences = timing.get("scale_differences")
    if differences:
        first = differences[0]
        return _rejected(
            candidate, f"{first['detail']}; input {first['input']} from {first['test']}", result
        )
    checked = (
        f"identical on {compared} call(s) in the tests, {replayed} replayed and "
        f"{generated} generated input(s)"
    )
    deciding = timing.get("scaled") or timing
    scale = f" at {deciding['factor']}x the captured input sizes" if "factor" in deciding else ""
    speedup, (low, high) = float(deciding["speedup"]), deciding["ci"]
    figures = f"{speedup:.2f}x (95% CI {low:.2f}-{high:.2f}, {deciding['rounds']} rounds){scale}"
    if len(timing.get("by_scale", {})) > 1:
        figures += (
            " ("
            + ", ".join(f"{size}x: {value:.2f}x" for size, value in timing["by_scale"].items())
            + ")"
        )
    caches = (
        "; it keeps a cache between calls, timed from a cold cache" if timing.get("caches") else ""
    )
    baseline_ns = int(timing.get("baseline_ns") or 0) or None
    common = {
        "speedup": speedup,
        "speedup_ci": (float(low), float(high)),
        "speedup_by_scale": timing.get("by_scale"),
        "baseline_ns": baseline_ns,
        "candidate_ns": int(baseline_ns / float(timing["speedup"])) if baseline_ns else None,
        "caches": bool(timing.get("caches")),
    }
    if deciding["verdict"] == "faster":
        return _verdict(
            candidate, "accepted", f"{figures} faster, {checked}{caches}", result, **common
        )
    word = "not faster" if timing["verdict"] == "not_faster" else "not significantly faster"
    return _verdict(
        candidate, "rejected", f"{word}: {figures}; behaviour {checked}", result, **common
    )


def _unsafe(result: dict[str, Any]) -> str:
    by_original = {
        (v["event"], v["path"]) for v in result.get("violations", []) if v["phase"] == "original"
    }
    for violation in result.get("violations", []):
        if (
            violation["phase"] == "candidate"
            and (violation["event"], violation["path"]) not in by_original
        ):
            return (
                f"unsafe: tried to {violation['event']} {violation['path']} outside its "
                "sandbox (blocked)"
            )
    reads = result.get("secret_reads", {})
    extra = set(reads.get("candidate", ())) - set(reads.get("original", ()))
    if extra:
        return f"unsafe: reads secret environment variable(s) {', '.join(sorted(extra))}"
    return ""


def _failing_tests(result: dict[str, Any]) -> list[str]:
    return [t for t, o in result.get("tests", {}).items() if o in ("failed", "error")]


def _crash_reason(run: ChildRun) -> str:
    code = run.returncode
    if code is not None and code < 0:
        try:
            how = f"killed by {signal.Signals(-code).name}"
        except ValueError:
            how = f"killed by signal {-code}"
    else:
        how = f"exited with code {code}"
    where = f" while {run.progress}" if run.progress else ""
    last = next((line for line in reversed(run.output_tail.splitlines()) if line.strip()), "")
    detail = f"; last output: {last[:160]}" if last else ""
    return f"crash: the runner process {how}{where} before reporting{detail}"


def _baseline_problem(run: ChildRun, name: str) -> str:
    if run.timed_out:
        return f"the original's tests did not finish in {run.wall_s:.0f} s in the runner"
    if run.result is None or run.result.get("phase") == "started":
        return f"the runner failed on the original code: {_crash_reason(run)}"
    if run.result.get("errors"):
        return f"the runner could not load {name}: {run.result['errors'][0]}"
    if not run.result.get("overlay_used"):
        return (
            f"the runner could not take over the import of {name}'s module; is it "
            "imported under another name?"
        )
    return ""


def _rejected(
    candidate: Candidate, reason: str, result: dict[str, Any] | None = None
) -> CandidateResult:
    return _verdict(candidate, "rejected", reason, result)


def _verdict(
    candidate: Candidate, verdict: str, reason: str, result: dict[str, Any] | None, **extra: Any
) -> CandidateResult:
    calls = (result or {}).get("calls") or {}
    coverage = (result or {}).get("coverage") or None
    if coverage:
        coverage = {k: v for k, v in coverage.items() if k != "original"}
    return CandidateResult(
        id=candidate.id,
        source=candidate.source,
        verdict=verdict,  # type: ignore[arg-type]
        reason=reason,
        explanation=candidate.explanation,
        calls_compared=int(calls.get("compared", 0)),
        tests_run=len((result or {}).get("tests", {})),
        coverage=coverage,
        **extra,
    )


def _relative(target: TargetFunction, settings: Settings) -> str:
    try:
        return target.file.relative_to(settings.rootdir).as_posix()
    except ValueError:
        return target.file.as_posix()
