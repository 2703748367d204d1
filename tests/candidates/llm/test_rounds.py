"""An LLM source in the evaluation loop (``LLMRounds``): when it asks, and how much."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import pytest

from pytest_codeflash.candidates.llm import LLMRounds
from pytest_codeflash.candidates.llm.openai import OpenAISource
from pytest_codeflash.errors import ServiceError
from pytest_codeflash.models import (
    BaselineFacts,
    CallDifference,
    Candidate,
    CandidateResult,
    Differences,
)

from ...conftest import FAST, WRONG
from .conftest import Project
from .server import Reply, ScriptedServer, answer, by_proposal, chat

CHAT = "/v1/chat/completions"
Make = Callable[..., OpenAISource]
WAIT = 30


def _differences(count: int, compared: int) -> Differences:
    found = [
        CallDifference(
            kind="return value",
            input=f"([{n}, {n}],)",
            detail=f"return value differs: expected [{n}], got [{n}, {n}] (length 1 != 2)",
            expected=f"[{n}]",
            actual=f"[{n}, {n}]",
            test="tests/test_core.py::test_small",
        )
        for n in range(count)
    ]
    return Differences(differences=found, compared=compared)


def _accepted(candidate_id: str, low: float) -> CandidateResult:
    return CandidateResult(
        id=candidate_id,
        source="openai:gpt-4o-mini",
        verdict="accepted",
        reason="faster",
        speedup=low + 0.5,
        speedup_ci=(low, low + 1.0),
    )


def test_alone_a_failing_backend_fails_the_function_combined_it_is_one_rejection(
    project: Project, openai_server: ScriptedServer, openai_source: Make
) -> None:
    openai_server.default(CHAT, lambda seen: Reply({"error": "no such model"}, 404))
    alone = LLMRounds(openai_source(backends=("openai",)))
    future = alone.propose(project.target, project.source, None)
    assert future is not None
    with pytest.raises(ServiceError, match=r"HTTP 404.*--codeflash-llm-model"):
        future.result(timeout=WAIT)
    combined = LLMRounds(openai_source(backends=("rules", "openai")))
    future = combined.propose(project.target, project.source, None)
    assert future is not None
    (failed,) = future.result(timeout=WAIT)
    assert failed == Candidate(
        id="openai-failed", source="openai", module_source="", rejection=failed.rejection
    )
    assert failed.rejection is not None
    assert failed.rejection.startswith("no candidates from openai: openai: http://127.0.0.1:")


def test_after_the_baseline_the_profile_guides_and_examples_go_to_the_tests(
    project: Project, openai_server: ScriptedServer, openai_source: Make
) -> None:
    module = "from listy.core import unique\n\n\ndef test_it():\n    assert unique([1]) == [1]\n"

    def reply(seen: object) -> Reply:
        prompt = seen.prompt  # type: ignore[attr-defined]
        return chat(f"```python\n{module}```" if "pytest test module" in prompt else answer(FAST))

    openai_server.default(CHAT, reply)
    rounds = LLMRounds(openai_source())
    assert rounds.propose(project.target, project.source, BaselineFacts()) is None  # no profile
    facts = BaselineFacts(line_profile={8: (10, 900), 9: (3, 100)}, examples=["unique([1]) -> [1]"])
    guided = rounds.propose(project.target, project.source, facts)
    tests = rounds.propose_tests(project.target, facts)
    assert guided is not None
    assert tests is not None
    assert [c.id for c in guided.result(timeout=WAIT)] == [f"openai-lp-{n}" for n in (1, 2, 3, 4)]
    assert tests.result(timeout=WAIT) == [module, module]
    prompts = [s.prompt for s in openai_server.requests(CHAT)]
    assert sum("## Where the original spends its time" in p for p in prompts) == 4
    assert sum("`unique([1]) -> [1]`" in p for p in prompts) == 2


def test_repairs_go_to_own_candidates_that_differed_on_few_inputs_within_the_budget(
    project: Project, openai_server: ScriptedServer, openai_source: Make
) -> None:
    openai_server.default(CHAT, lambda seen: chat(answer(FAST)))
    rounds = LLMRounds(openai_source())  # low effort: 2 repairs, up to 20 % of the calls
    source = rounds.source
    wrong = source.run(source.optimize(project.target, project.source, project.context))[0]
    few, many = _differences(1, 20), _differences(5, 20)
    foreign = wrong.model_copy(update={"source": "rules:seen-set"})

    assert rounds.propose_repair(project.target, project.source, foreign, few) is None
    assert rounds.propose_repair(project.target, project.source, wrong, many) is None
    first = rounds.propose_repair(project.target, project.source, wrong, few)
    assert first is not None
    (fixed,) = first.result(timeout=WAIT)
    assert fixed.id == "openai-1-fix-1"
    assert rounds.propose_repair(project.target, project.source, fixed, few) is None  # a repair
    second = rounds.propose_repair(project.target, project.source, wrong, few)
    assert second is not None
    second.result(timeout=WAIT)
    assert rounds.propose_repair(project.target, project.source, wrong, few) is None  # budget
    prompt = openai_server.requests(CHAT)[-1].prompt
    assert (
        "1. return value for input `([0, 0],)`: the original gave `[0]`, the rewrite gave "
        "`[0, 0]` (in test tests/test_core.py::test_small)"
    ) in prompt

    # Without the values apart, the comparator's words are shown.
    vague = Differences(
        differences=[CallDifference(kind="exception", input="(None,)", detail="raised TypeError")],
        compared=10,
    )
    other = LLMRounds(openai_source())
    asked = other.propose_repair(project.target, project.source, wrong, vague)
    assert asked is not None
    asked.result(timeout=WAIT)
    assert (
        "1. exception for input `(None,)`: raised TypeError"
        in openai_server.requests(CHAT)[-1].prompt
    )


def test_the_best_accepted_candidates_are_refined_and_the_winner_explained(
    project: Project, openai_server: ScriptedServer, openai_source: Make
) -> None:
    openai_server.default(
        CHAT, by_proposal(chat(answer(FAST)), chat(answer(WRONG)), chat(answer(FAST)))
    )
    rounds = LLMRounds(openai_source())  # low effort: the 2 best are refined
    source = rounds.source
    one, two, three = source.run(source.optimize(project.target, project.source, project.context))
    rejected = CandidateResult(id=two.id, source=two.source, verdict="rejected", reason="x")
    judged = [(one, _accepted(one.id, 1.2)), (two, rejected), (three, _accepted(three.id, 2.0))]
    assert rounds.propose_follow_ups(project.target, project.source, [judged[1]]) is None

    openai_server.default(CHAT, lambda seen: chat(answer(FAST)))
    refined = rounds.propose_follow_ups(project.target, project.source, judged)
    assert refined is not None
    assert sorted(c.id for c in refined.result(timeout=WAIT)) == [
        "openai-1-refined-1",
        "openai-3-refined-1",
    ]
    openai_server.default(CHAT, lambda seen: chat("A set makes lookups constant time."))
    explained = rounds.propose_explanation(project.target, project.source, three, judged[2][1])
    assert explained is not None
    assert explained.result(timeout=WAIT) == "A set makes lookups constant time."
    assert rounds.wait_s == source.plan.deadline_s
    assert rounds.uses_facts


class _Impatient(LLMRounds):
    """Waits half a second per function instead of the effort's minutes."""

    @property
    def wait_s(self) -> float:
        return 0.5


def test_a_service_that_does_not_answer_is_left_behind(
    project: Project, openai_server: ScriptedServer, openai_source: Make
) -> None:
    from pytest_codeflash.evaluate.evaluation import Evaluation
    from pytest_codeflash.evaluate.rounds import Rounds
    from pytest_codeflash.evaluate.sources import Given

    from ...evaluate.test_rounds import FakeEvaluation

    openai_server.default(CHAT, lambda seen: Reply(chat(answer(FAST)).body, delay=5.0))
    evaluation = FakeEvaluation()
    evaluation.target = project.target
    evaluation.original_source = project.source
    quick = Candidate(id="quick", source="rules:x", module_source=FAST)
    silent = _Impatient(openai_source(backends=("rules", "openai")))
    result = Rounds(cast(Evaluation, evaluation), [Given([quick]), silent]).run()

    assert result.best_candidate == "quick"  # judged without waiting for the model
    assert [c.id for c in result.candidates] == ["quick"]
    assert any("no answer within" in event for event in evaluation.events)
