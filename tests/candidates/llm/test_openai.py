"""The ``openai`` back-end against a real scripted server on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from pytest_codeflash.candidates.llm import Difference
from pytest_codeflash.candidates.llm.openai import OpenAISource
from pytest_codeflash.errors import ServiceError, ServiceUnavailable
from pytest_codeflash.models import CandidateResult

from ...conftest import FAST, WRONG
from .conftest import KEY, Project
from .server import Reply, ScriptedServer, answer, by_proposal, chat, choices

CHAT = "/v1/chat/completions"
Make = Callable[..., OpenAISource]


def test_optimize_turns_each_reply_into_a_candidate(
    project: Project, openai_server: ScriptedServer, openai_source: Make
) -> None:
    openai_server.default(
        CHAT,
        by_proposal(
            chat(answer(FAST), usage=(120, 80)),
            chat(answer(WRONG, path=None)),
            chat("I would use a set here, it is much faster."),
        ),
    )
    source = openai_source()
    found = source.run(source.optimize(project.target, project.source, project.context))

    assert [c.id for c in found] == ["openai-1", "openai-2", "openai-3"]
    good, wrong, prose = found
    assert good.rejection is None
    assert "seen = set()" in good.module_source
    assert "def total(values):" in good.module_source  # the rest of the module is kept
    assert good.source == "openai:gpt-4o-mini"
    assert good.explanation == "Uses a set."
    assert wrong.rejection is None  # wrong, but only the runner can tell
    assert prose.rejection is not None
    assert prose.rejection.startswith("bad reply: the answer has no code block")
    # Three requests, each a different proposal, with the key and the code context.
    sent = openai_server.requests(CHAT)
    assert len(sent) == 3
    assert {s.headers["authorization"] for s in sent} == {f"Bearer {KEY}"}
    assert [s.body["model"] for s in sent] == ["gpt-4o-mini"] * 3
    assert all(s.body["max_tokens"] == 4096 and "n" not in s.body for s in sent)
    assert "temperature" not in sent[0].body
    prompts = sorted(s.prompt for s in sent)
    assert all("```python:src/listy/core.py\n" in p and "def unique(items):" in p for p in prompts)
    assert [p.split("## This proposal ")[1][:8] for p in prompts] == [
        "(1 of 3)",
        "(2 of 3)",
        "(3 of 3)",
    ]
    usage = source.usage(project.target)
    assert usage is not None
    assert (usage.requests, usage.cached, usage.failed) == (3, 0, 0)
    assert (usage.prompt_tokens, usage.completion_tokens) == (320, 180)


def test_a_line_profile_and_invariants_guide_more_candidates(
    project: Project, openai_server: ScriptedServer, openai_source: Make
) -> None:
    openai_server.default(CHAT, choices(answer(FAST)))
    source = openai_source(llm_candidates=3, llm_temperature=0.0)
    profile = {8: (1500, 9_000_000), 9: (400, 1_000_000)}
    found = source.run(
        source.optimize(
            project.target,
            project.source,
            project.context,
            line_profile=profile,
            invariants=["items is a list of ints", "len(items) <= 1500"],
        )
    )
    # low effort: 4 profile-guided candidates, 3 per request: n=3, then one more.
    assert [c.id for c in found] == ["openai-lp-1", "openai-lp-2", "openai-lp-3", "openai-lp-4"]
    sent = openai_server.requests(CHAT)
    assert sorted(s.body.get("n", 1) for s in sent) == [1, 3]
    assert all(s.body["temperature"] == 0.0 for s in sent)
    prompt = sent[0].prompt
    assert "| 8 | 1500 | 9.000 | 90.0 | `        if item not in result:` |" in prompt
    assert "- items is a list of ints" in prompt
    assert "Focus on the lines that take most of the time" in prompt


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply(raw=b"{not json"), "not JSON"),
        (Reply({"object": "chat.completion"}), "the reply has no 'choices' list"),
        (Reply({"choices": []}), "the reply has an empty 'choices' list"),
        (Reply({"error": {"message": "overloaded"}}), "(error: overloaded)"),
        (chat(None), "choice 1 of the reply has no message content"),
        (chat(answer(FAST), finish_reason="length"), "cut off at --codeflash-llm-max-tokens"),
        (chat(answer("def unique(items:\n    return")), "its code does not parse"),
        (chat(answer("def total(values):\n    return 0\n")), "not a rewrite of unique"),
        (chat(answer("x = 1\n" * 40_000)), "over the limit of 200,000"),
    ],
)
def test_a_bad_reply_drops_its_candidate_with_a_reason(
    project: Project, openai_server: ScriptedServer, openai_source: Make, reply: Reply, reason: str
) -> None:
    openai_server.script(CHAT, reply)
    openai_server.default(CHAT, lambda seen: chat(answer(FAST)))
    source = openai_source(llm_candidates=3)  # one request for the 3 candidates of low effort
    (bad,) = source.run(source.optimize(project.target, project.source, project.context))
    assert bad.rejection is not None
    assert bad.rejection.startswith("bad reply: ")
    assert reason in bad.rejection, bad.rejection
    assert bad.module_source == ""


def test_a_reply_too_large_to_read_drops_its_candidate(
    project: Project, openai_server: ScriptedServer, openai_source: Make
) -> None:
    openai_server.script(CHAT, chat("x" * 200_000))
    source = openai_source(llm_candidates=3, max_reply_bytes=64 * 1024)
    (bad,) = source.run(source.optimize(project.target, project.source, project.context))
    assert bad.rejection is not None
    assert "larger than 64 KiB, so it was not read" in bad.rejection


def test_failed_requests_are_noted_and_only_total_failure_raises(
    project: Project, openai_server: ScriptedServer, openai_source: Make
) -> None:
    # All three attempts of one request fail (5xx is retried); the other two succeed.
    good = chat(answer(FAST))
    openai_server.default(CHAT, by_proposal(Reply({"error": "busy"}, 500), good, good))
    source = openai_source(llm_no_cache=True)
    found = source.run(source.optimize(project.target, project.source, project.context))
    assert len(found) == 2
    usage = source.usage(project.target)
    assert usage is not None
    assert (usage.requests, usage.failed) == (3, 1)
    assert "answered HTTP 500: busy" in usage.errors[0]
    assert "gave up after 3 attempts" in usage.errors[0]

    openai_server.default(CHAT, lambda seen: Reply({"error": "down"}, 503))
    with pytest.raises(ServiceUnavailable, match=r"HTTP 503: down.*\(3 of 3 requests failed\)"):
        source.run(source.optimize(project.target, project.source, project.context))


def test_replies_are_cached_and_reused_unless_disabled(
    project: Project, openai_server: ScriptedServer, openai_source: Make
) -> None:
    openai_server.default(CHAT, lambda seen: chat(answer(FAST)))
    first = openai_source()
    before = first.run(first.optimize(project.target, project.source, project.context))
    assert len(openai_server.requests()) == 3
    again = openai_source()  # a later run of the same project
    after = again.run(again.optimize(project.target, project.source, project.context))
    assert len(openai_server.requests()) == 3  # nothing asked again
    assert after == before
    usage = again.usage(project.target)
    assert usage is not None
    assert (usage.requests, usage.cached, usage.prompt_tokens) == (3, 3, 0)
    files = list((project.root / ".codeflash" / "llm-cache").rglob("*.json"))
    assert len(files) == 3
    assert not any(KEY in f.read_text() for f in files)

    fresh = openai_source(llm_no_cache=True)
    fresh.run(fresh.optimize(project.target, project.source, project.context))
    assert len(openai_server.requests()) == 6


def test_requests_in_flight_are_bounded_by_the_concurrency(
    project: Project, openai_server: ScriptedServer, openai_source: Make
) -> None:
    openai_server.default(CHAT, lambda seen: Reply(chat(answer(FAST)).body, delay=0.15))
    source = openai_source(effort="high", llm_concurrency=2, llm_no_cache=True)
    found = source.run(source.optimize(project.target, project.source, project.context))
    assert len(found) == 6
    assert openai_server.max_in_flight == 2


def test_repair_refine_explain_and_tests(
    project: Project, openai_server: ScriptedServer, openai_source: Make
) -> None:
    source = openai_source()
    fast = chat(answer(FAST))
    openai_server.default(CHAT, by_proposal(chat(answer(WRONG)), fast, fast))
    wrong = source.run(source.optimize(project.target, project.source, project.context))[0]

    openai_server.default(CHAT, lambda seen: fast)
    differences: list[Difference] = [
        {
            "scope": "return value",
            "input": "([5, 3, 5],)",
            "expected": "[5, 3]",
            "actual": "[3, 5]",
            "test": "tests/test_core.py::test_small",
        }
    ]
    fixed = source.run(source.repair(project.target, project.source, wrong, differences))
    assert [c.id for c in fixed] == ["openai-1-fix-1"]
    prompt = openai_server.requests(CHAT)[-1].prompt
    assert "behaves differently on some inputs" in prompt
    assert "1. return value for input `([5, 3, 5],)`: the original gave `[5, 3]`, the " in prompt
    assert "def unique(items):\n    if len(items) > 100:" in prompt  # the rewrite, as written

    result = CandidateResult(
        id="openai-2",
        source="openai:gpt-4o-mini",
        verdict="accepted",
        reason="faster",
        speedup=3.5,
        speedup_ci=(3.1, 3.9),
        baseline_ns=2_000_000,
        candidate_ns=571_000,
        calls_compared=5,
    )
    good = fixed[0]
    refined = source.run(source.refine(project.target, project.source, [(good, result)]))
    assert [c.id for c in refined] == ["openai-1-fix-1-refined-1"]
    prompt = openai_server.requests(CHAT)[-1].prompt
    assert "3.50x as fast as the original (95% confidence interval 3.10x to 3.90x)" in prompt
    assert "2 milliseconds before and 571 microseconds after" in prompt

    openai_server.script(CHAT, chat("A set makes each membership test O(1).\n"))
    text = source.run(source.explain(project.target, project.source, good, result))
    assert text == "A set makes each membership test O(1)."

    test_module = "from listy.core import unique\n\n\ndef test_small():\n    assert unique([1])\n"
    openai_server.script(
        CHAT, chat(f"```python\n{test_module}```\n"), chat("```python\nimport os\n```\n")
    )
    tests = source.run(
        source.generate_tests(project.target, project.context, ["unique([1]) -> [1]"])
    )
    assert tests == [test_module]
    usage = source.usage(project.target)
    assert usage is not None
    assert usage.errors == [
        "generated test module dropped: the answer's code defines no test function"
    ]
    sent = openai_server.requests(CHAT)[-2:]
    assert "`unique([1]) -> [1]`" in sent[0].prompt
    assert "from listy.core import unique" in sent[0].prompt


def test_submit_overlaps_other_work(
    project: Project, openai_server: ScriptedServer, openai_source: Make
) -> None:
    openai_server.default(CHAT, lambda seen: Reply(chat(answer(FAST)).body, delay=0.2))
    source = openai_source(llm_no_cache=True)
    future = source.submit(source.optimize(project.target, project.source, project.context))
    assert not future.done()  # returned at once; the requests run meanwhile
    assert len(future.result(timeout=10)) == 3


def test_a_refused_key_stops_asking_and_never_shows_the_key(
    project: Project,
    openai_server: ScriptedServer,
    openai_source: Make,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG")

    def echo(seen: object) -> Reply:  # a server that repeats what it got, key included
        return Reply({"error": {"message": f"bad key {json.dumps(seen.headers)}"}}, 401)  # type: ignore[attr-defined]

    openai_server.default(CHAT, echo)
    source = openai_source()
    with pytest.raises(ServiceError) as raised:
        source.run(source.optimize(project.target, project.source, project.context))
    message = str(raised.value)
    assert "answered HTTP 401" in message
    assert "check the key in $CODEFLASH_LLM_API_KEY" in message
    assert len(openai_server.requests()) == 3  # a refusal is not retried
    with pytest.raises(ServiceError, match="not asked again in this run"):
        source.run(source.optimize(project.target, project.source, project.context))
    assert len(openai_server.requests()) == 3
    usage = source.usage(project.target)
    assert usage is not None
    shown = [message, *usage.errors, caplog.text, repr(source), repr(usage)]
    assert "Bearer ***" in message
    assert not any(KEY in text for text in shown)
