"""The evaluation loop, with stand-ins for the evaluation and the sources (nothing is run).

What the loop decides: when each source is asked, in which order answers are verified,
what a late, failing or failed answer does, and when generated tests make it check an
accepted candidate again.  The real thing, end to end: ``tests/candidates/llm/test_loop.py``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, cast

import pytest

from pytest_codeflash.errors import ServiceError
from pytest_codeflash.evaluate.evaluation import Evaluation, Judged
from pytest_codeflash.evaluate.generated import GeneratedTestSet
from pytest_codeflash.evaluate.rounds import Rounds
from pytest_codeflash.evaluate.sources import Given, ready
from pytest_codeflash.models import (
    BaselineFacts,
    CallDifference,
    Candidate,
    CandidateResult,
    Differences,
    FunctionResult,
    GeneratedTests,
    TargetFunction,
)

TARGET = TargetFunction(module="pkg.mod", qualname="f", file=Path("pkg/mod.py"), lineno=1)
FACTS = BaselineFacts(line_profile={2: (10, 1000)}, examples=["f(1) -> 1"])
DIFFERS = Differences(
    differences=[CallDifference(kind="return value", input="(1,)", detail="differs")],
    compared=10,
)


def candidate(name: str) -> Candidate:
    return Candidate(id=name, source="fake", module_source=f"# {name}\n")


class FakeEvaluation:
    """Judges candidates by name: ``bad*`` differ, ``sneaky*`` fail the generated tests."""

    def __init__(self) -> None:
        self.target = TARGET
        self.original_source = "def f(x):\n    return x\n"
        self.facts = BaselineFacts()
        self.generated = GeneratedTestSet()
        self.events: list[str] = []
        self.described: bool | None = None
        self.tests_kept = False
        self.sources: list[Any] = []
        self.asked_before_the_baseline: list[str] = []

    def progress(self, message: str) -> None:
        self.events.append(message)

    slots = 1

    def start(self, *, describe: bool = False, early: bool = False) -> FunctionResult | None:
        self.described = describe
        self.asked_before_the_baseline = list(self.sources[0].asked) if self.sources else []
        self.events.append("baseline begins" if early else "baseline")
        self.facts = FACTS
        return None

    def finish(self) -> FunctionResult | None:
        self.events.append("baseline ends")
        return None

    def evaluate_all(self, work: Sequence[tuple[Candidate, str]]) -> Iterator[Judged]:
        for item, label in work:
            yield self.evaluate(item, label)

    def evaluate(self, candidate: Candidate, label: str, *, again: bool = False) -> Judged:
        self.events.append(f"evaluate {candidate.id}" + (" again" if again else ""))
        wrong = candidate.id.startswith("bad") or (
            self.tests_kept and candidate.id.startswith("sneaky")
        )
        verdict = CandidateResult(
            id=candidate.id,
            source=candidate.source,
            verdict="rejected" if wrong else "accepted",
            reason="differs" if wrong else "faster",
            speedup=None if wrong else 2.0,
            speedup_ci=None if wrong else (1.5, 2.5),
        )
        return Judged(candidate, verdict, DIFFERS if wrong else None, self.tests_kept)

    def add_tests(self, modules: Sequence[str]) -> GeneratedTests:
        self.events.append(f"tests {len(modules)}")
        self.tests_kept = True
        return GeneratedTests(kept=["gen.py::test_a"])

    def reused(self, first_round: Sequence[Candidate]) -> FunctionResult | None:
        return None  # no earlier run

    def keep(self, result: FunctionResult) -> None:
        pass  # nothing kept between runs here

    def summarise(self, results: list[CandidateResult]) -> FunctionResult:
        accepted = [r for r in results if r.verdict == "accepted"]
        best = max(accepted, key=lambda r: r.speedup or 0.0) if accepted else None
        return FunctionResult(
            qualified_name=TARGET.qualified_name,
            file="pkg/mod.py",
            status="optimized" if best else "not_optimized",
            reason="",
            best_candidate=best.id if best else None,
            candidates=results,
        )


class FakeSource:
    """A source that answers with futures the test completes (or not)."""

    uses_facts = True

    def __init__(self, wait_s: float = 60.0) -> None:
        self.wait_s = wait_s
        self.asked: list[str] = []
        self.first: Future[list[Candidate]] = Future()
        self.guided: Future[list[Candidate]] | None = None
        self.tests: Future[list[str]] | None = None
        self.repairs: dict[str, Future[list[Candidate]]] = {}
        self.follow_ups: Future[list[Candidate]] | None = None
        self.explanation: Future[str] | None = ready("because")

    def propose(
        self, target: TargetFunction, source: str, facts: BaselineFacts | None
    ) -> Future[list[Candidate]] | None:
        self.asked.append("propose" if facts is None else f"propose {facts.examples}")
        return self.first if facts is None else self.guided

    def propose_tests(
        self, target: TargetFunction, facts: BaselineFacts
    ) -> Future[list[str]] | None:
        self.asked.append("tests")
        return self.tests

    def propose_repair(
        self, target: TargetFunction, source: str, candidate: Candidate, found: Differences
    ) -> Future[list[Candidate]] | None:
        self.asked.append(f"repair {candidate.id}")
        return self.repairs.get(candidate.id)

    def propose_follow_ups(
        self, target: TargetFunction, source: str, judged: Sequence[tuple[Candidate, Any]]
    ) -> Future[list[Candidate]] | None:
        self.asked.append(f"follow-ups {[c.id for c, _ in judged]}")
        return self.follow_ups

    def propose_explanation(
        self, target: TargetFunction, source: str, candidate: Candidate, verdict: CandidateResult
    ) -> Future[str] | None:
        self.asked.append(f"explain {candidate.id}")
        return self.explanation


def run(evaluation: FakeEvaluation, *sources: Any) -> FunctionResult:
    evaluation.sources = [s for s in sources if isinstance(s, FakeSource)]
    return Rounds(cast(Evaluation, evaluation), list(sources)).run()


def test_requests_go_out_before_the_baseline_and_answers_are_verified_as_they_come() -> None:
    evaluation, source = FakeEvaluation(), FakeSource()
    source.first.set_result([candidate("bad"), candidate("good")])
    source.guided = ready([candidate("guided")])
    source.repairs["bad"] = ready([candidate("bad-fixed")])
    source.follow_ups = ready([candidate("refined")])
    result = run(evaluation, source)

    assert source.asked[:3] == ["propose", "propose ['f(1) -> 1']", "tests"]
    assert evaluation.asked_before_the_baseline == ["propose"]
    assert evaluation.described is True
    verified = [e.split()[1] for e in evaluation.events if e.startswith("evaluate")]
    assert verified == ["bad", "good", "guided", "bad-fixed", "refined"]
    assert "repair bad" in source.asked
    assert "follow-ups ['bad', 'good', 'guided', 'bad-fixed']" in source.asked
    assert result.best_candidate == "good"
    (good,) = [c for c in result.candidates if c.id == "good"]
    assert good.explanation == "because"


def test_sources_that_answer_at_once_keep_the_plain_sequence() -> None:
    evaluation = FakeEvaluation()
    result = run(evaluation, Given([candidate("one"), candidate("two")]))
    assert evaluation.described is False  # no line profile, no examples: no extra time
    assert evaluation.events[:3] == ["baseline", "evaluate one", "evaluate two"]
    assert [c.explanation for c in result.candidates] == ["", ""]


def test_with_a_spare_slot_known_candidates_are_verified_before_the_baseline_ends() -> None:
    """Their runs wait for its generated inputs (see evaluate.early); the follow-ups, which
    read the first verdicts, come after it."""
    evaluation = FakeEvaluation()
    evaluation.slots = 2
    run(evaluation, Given([candidate("one"), candidate("two")]))
    assert evaluation.events[:4] == [
        "baseline begins",
        "evaluate one",
        "evaluate two",
        "baseline ends",
    ]


def test_a_baseline_that_fails_after_the_candidates_started_decides_the_function() -> None:
    evaluation = FakeEvaluation()
    evaluation.slots = 2
    failed = FunctionResult(
        qualified_name=TARGET.qualified_name,
        file="pkg/mod.py",
        status="skipped",
        reason="baseline exceeded 60 s",
    )
    evaluation.finish = lambda: failed  # type: ignore[method-assign]
    assert run(evaluation, Given([candidate("one")])) is failed


def test_a_source_that_does_not_answer_in_time_is_left_behind() -> None:
    evaluation, slow = FakeEvaluation(), FakeSource(wait_s=0.3)
    slow.explanation = None
    result = run(evaluation, Given([candidate("one")]), slow)
    assert slow.first.cancelled()
    assert result.best_candidate == "one"
    assert any("no answer within 0 s" in e for e in evaluation.events)


def test_a_failed_proposal_fails_the_function_and_other_failures_do_not() -> None:
    evaluation, source = FakeEvaluation(), FakeSource()
    source.first.set_exception(ServiceError("openai: HTTP 404"))
    with pytest.raises(ServiceError, match="HTTP 404"):
        run(evaluation, source)

    evaluation, source = FakeEvaluation(), FakeSource()
    source.first.set_result([candidate("bad")])
    broken: Future[list[Candidate]] = Future()
    broken.set_exception(ServiceError("openai: HTTP 500"))
    source.repairs["bad"] = broken
    tests: Future[list[str]] = Future()
    tests.set_exception(ServiceError("no test module"))
    source.tests = tests
    result = run(evaluation, source)
    assert result.status == "not_optimized"
    assert any("no more candidates: openai: HTTP 500" in e for e in evaluation.events)
    assert evaluation.generated.report is not None
    assert evaluation.generated.report.error == "no test module"


def test_generated_tests_come_first_and_recheck_what_was_accepted_without_them() -> None:
    evaluation, source = FakeEvaluation(), FakeSource()
    source.first.set_result([candidate("sneaky")])
    tests: Future[list[str]] = Future()
    source.tests = tests
    source.guided = Future()
    source.explanation = None

    def later() -> None:  # the tests arrive after the first candidate was verified
        while "evaluate sneaky" not in evaluation.events:
            threading.Event().wait(0.01)
        tests.set_result(["def test_a(): pass\n"])
        assert source.guided is not None
        source.guided.set_result([candidate("sneaky-2")])

    threading.Thread(target=later, daemon=True).start()
    result = run(evaluation, source)
    steps = [e for e in evaluation.events if not e.startswith(TARGET.qualified_name)]
    assert steps == [
        "baseline",
        "evaluate sneaky",
        "tests 1",
        "evaluate sneaky again",
        "evaluate sneaky-2",
    ]
    assert {c.id: c.verdict for c in result.candidates} == {
        "sneaky": "rejected",
        "sneaky-2": "rejected",
    }
    assert "repair sneaky" in source.asked  # rejected on the second look: worth a repair
