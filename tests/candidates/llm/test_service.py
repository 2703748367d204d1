"""The ``codeflash-service`` back-end against a stand-in server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pytest_codeflash.candidates.llm.service import ServiceSource
from pytest_codeflash.errors import BadServiceResponse, ConfigError
from pytest_codeflash.models import CandidateResult

from ...conftest import FAST, WRONG
from .conftest import SERVICE_KEY, Project
from .server import Reply, ScriptedServer, answer

Make = Callable[..., ServiceSource]


def _candidate(code: str, ref: str, **extra: Any) -> dict[str, Any]:
    return {
        "source_code": answer(code, prose=""),
        "explanation": f"why {ref}",
        "optimization_id": ref,
        **extra,
    }


def _accepted(candidate_id: str) -> CandidateResult:
    return CandidateResult(
        id=candidate_id,
        source="codeflash-service",
        verdict="accepted",
        reason="faster",
        speedup=2.5,
        baseline_ns=45_300_000,
        candidate_ns=18_120_000,
    )


def test_optimize_and_the_rest_of_the_loop(
    project: Project, service_server: ScriptedServer, service_source: Make
) -> None:
    service_server.script(
        "/ai/optimize",
        Reply(
            {
                "optimizations": [
                    _candidate(FAST, "opt-a", model="gpt-x"),
                    _candidate(WRONG, "opt-b"),
                    {"explanation": "no code", "optimization_id": "opt-c"},
                ]
            }
        ),
    )
    source = service_source(llm_no_cache=True)  # some requests below are asked twice
    found = source.run(source.optimize(project.target, project.source, project.context))
    assert [c.id for c in found] == ["service-1", "service-2", "service-3"]
    fast, wrong, empty = found
    assert fast.rejection is None
    assert "seen = set()" in fast.module_source
    assert (fast.source, fast.explanation) == ("codeflash-service:gpt-x", "why opt-a")
    assert wrong.source == "codeflash-service"
    assert empty.rejection == (
        "bad reply: candidate 3 of the reply of ai/optimize has no 'source_code'"
    )
    (sent,) = service_server.requests("/ai/optimize")
    assert sent.headers["authorization"] == f"Bearer {SERVICE_KEY}"
    assert sent.body["source_code"] == project.context.read_writable
    assert sent.body["source_code"].startswith("```python:src/listy/core.py\n")
    assert sent.body["dependency_code"] == project.context.read_only
    assert sent.body["n_candidates"] == 3  # low effort
    assert (sent.body["language"], sent.body["is_async"], sent.body["call_sequence"]) == (
        "python",
        False,
        1,
    )
    trace_id = sent.body["trace_id"]

    # The repair names the service's id of the candidate and the differences.
    service_server.script("/ai/code_repair", Reply(_candidate(FAST, "opt-d", parent_id="opt-b")))
    fixed = source.run(
        source.repair(
            project.target,
            project.source,
            wrong,
            [
                {
                    "scope": "return value",
                    "input": "([5, 3, 5],)",
                    "expected": "[5, 3]",
                    "actual": "[3, 5]",
                }
            ],
        )
    )
    assert [c.id for c in fixed] == ["service-2-fix-1"]
    (sent,) = service_server.requests("/ai/code_repair")
    assert sent.body["optimization_id"] == "opt-b"
    assert sent.body["trace_id"] == trace_id
    assert "if len(items) > 100:" in sent.body["modified_source_code"]
    assert sent.body["test_diffs"] == [
        {
            "scope": "return_value",
            "original_pass": True,
            "candidate_pass": True,
            "original_value": "[5, 3]",
            "candidate_value": "[3, 5]",
            "test_src_code": "# input: ([5, 3, 5],)",
            "candidate_pytest_error": None,
            "original_pytest_error": None,
        }
    ]

    service_server.script(
        "/ai/refinement", Reply({"refinements": [_candidate(FAST, "opt-e", parent_id="opt-a")]})
    )
    refined = source.run(
        source.refine(project.target, project.source, [(fast, _accepted("service-1"))])
    )
    assert [c.id for c in refined] == ["service-1-refined-1"]
    (sent,) = service_server.requests("/ai/refinement")
    (item,) = sent.body
    assert (item["optimization_id"], item["speedup"]) == ("opt-a", "150%")
    assert (item["original_code_runtime"], item["optimized_code_runtime"]) == (
        "45.3 milliseconds",
        "18.1 milliseconds",
    )

    service_server.script(
        "/ai/explain", Reply({"explanation": "Sets are fast."}), Reply({"explanation": ""})
    )
    assert source.run(source.explain(project.target, project.source, fast, _accepted("x"))) == (
        "Sets are fast."
    )
    assert source.run(source.explain(project.target, project.source, fast, _accepted("x"))) == (
        "why opt-a"  # an empty explanation keeps the candidate's own
    )
    sent = service_server.requests("/ai/explain")[0]
    assert sent.body["optimized_code"].startswith("# file: src/listy/core.py\n")

    service_server.script("/ai/rank", Reply({"ranking": [1, 0]}), Reply({"ranking": [7]}))
    pair = [(fast, _accepted("service-1")), (fixed[0], _accepted("service-2-fix-1"))]
    assert source.run(source.rank(project.target, project.source, pair)) == [1, 0]
    sent = service_server.requests("/ai/rank")[0]
    assert sent.body["optimization_ids"] == ["opt-a", "opt-d"]
    assert sent.body["diffs"][0].startswith("--- a\n+++ b\n")
    with pytest.raises(BadServiceResponse, match="no valid 'ranking'"):
        source.run(source.rank(project.target, project.source, pair))


def test_a_line_profile_goes_to_its_own_endpoint(
    project: Project, service_server: ScriptedServer, service_source: Make
) -> None:
    service_server.script("/ai/optimize-line-profiler", Reply({"optimizations": []}))
    source = service_source()
    found = source.run(
        source.optimize(project.target, project.source, project.context, line_profile={8: (3, 300)})
    )
    assert found == []  # the service may have no idea: not a failure
    (sent,) = service_server.requests("/ai/optimize-line-profiler")
    assert sent.body["n_candidates"] == 4
    assert (
        "| 8 | 3 | 0.000 | 100.0 | `        if item not in result:` |"
        in (sent.body["line_profiler_results"])
    )


def test_tests_are_generated_per_index(
    project: Project, service_server: ScriptedServer, service_source: Make
) -> None:
    module = "from listy.core import unique\n\n\ndef test_it():\n    assert unique([]) == []\n"
    service_server.default(
        "/ai/testgen",
        lambda seen: Reply(
            {
                "generated_tests": module if seen.body["test_index"] == 0 else "",
                "instrumented_behavior_tests": "",
                "instrumented_perf_tests": "",
            }
        ),
    )
    source = service_source()
    assert source.run(source.generate_tests(project.target, project.context, [])) == [module]
    sent = sorted(service_server.requests("/ai/testgen"), key=lambda s: s.body["test_index"])
    assert [s.body["test_module_path"] for s in sent] == [
        "tests.test_unique__unit_test_0",
        "tests.test_unique__unit_test_1",
    ]
    assert sent[0].body["function_to_optimize"]["function_name"] == "unique"
    assert sent[0].body["module_path"] == "listy.core"
    usage = source.usage(project.target)
    assert usage is not None
    assert usage.errors == ["generated test module dropped: the answer holds no test code"]


def test_the_cache_ignores_the_trace_id(
    project: Project, service_server: ScriptedServer, service_source: Make
) -> None:
    service_server.default(
        "/ai/optimize", lambda seen: Reply({"optimizations": [_candidate(FAST, "opt-a")]})
    )
    first = service_source()
    first.run(first.optimize(project.target, project.source, project.context))
    second = service_source()  # another run: another trace id
    second.run(second.optimize(project.target, project.source, project.context))
    assert len(service_server.requests()) == 1
    usage = second.usage(project.target)
    assert usage is not None
    assert usage.cached == 1


def test_a_garbage_reply_is_one_rejection(
    project: Project, service_server: ScriptedServer, service_source: Make
) -> None:
    service_server.script("/ai/optimize", Reply({"error": "quota exceeded"}))
    source = service_source()
    (bad,) = source.run(source.optimize(project.target, project.source, project.context))
    assert bad.rejection == (
        "bad reply: the reply of ai/optimize has no 'optimizations' list (error: quota exceeded)"
    )


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "needs your Codeflash API key in the environment variable CODEFLASH_API_KEY"),
        ({"CODEFLASH_API_KEY": "sk-not-codeflash"}, "those start with 'cf-'"),
    ],
)
def test_the_key_is_required(project: Project, environ: dict[str, str], message: str) -> None:
    settings = project.settings(backends=("codeflash-service",))
    with pytest.raises(ConfigError, match=message) as raised:
        ServiceSource.from_settings(settings, environ)
    assert "sk-not-codeflash" not in str(raised.value)
