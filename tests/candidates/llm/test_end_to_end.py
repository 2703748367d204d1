"""A whole run with ``--codeflash-backend=openai`` against the scripted server.

The run's pytest is a subprocess that talks to the server in this process over a socket.
"""

from __future__ import annotations

import json

import pytest

from ...conftest import FAST
from .conftest import KEY
from .server import Reply, ScriptedServer, Seen, answer, chat

CHAT = "/v1/chat/completions"


def _reply(seen: Seen) -> Reply:
    if "Make `unique` faster" in seen.prompt:
        return chat(answer(FAST), usage=(1000, 200))
    return chat("I see nothing to improve here.")


def test_a_rewrite_from_the_model_is_verified_applied_and_passes(
    listy: pytest.Pytester, openai_server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODEFLASH_LLM_API_KEY", KEY)
    openai_server.default(CHAT, _reply)
    result = listy.runpytest_subprocess(
        "--codeflash",
        "--codeflash-backend=openai",
        f"--codeflash-llm-url={openai_server.url}/v1",
        "--codeflash-apply",
        "--codeflash-effort=medium",  # low leaves the timing too few rounds on a busy machine
        "--codeflash-report=out/report.json",
        "-v",
    )
    result.assert_outcomes(passed=5)
    assert result.ret == pytest.ExitCode.OK
    report = json.loads((listy.path / "out" / "report.json").read_text())
    (unique,) = [f for f in report["functions"] if f["qualified_name"] == "listy.core.unique"]
    assert unique["status"] == "optimized", unique["reason"]
    assert unique["best_candidate"].startswith("openai-")
    assert {c["source"] for c in unique["candidates"]} == {"openai:gpt-4o-mini"}
    # Every request of the loop (candidates, profile-guided ones, tests, a refinement, an
    # explanation) is counted; the rewrites cost 1000 + 200 tokens, the prose 100 + 50.
    sent = openai_server.requests(CHAT)
    rewrites = sum("Make `unique` faster" in s.prompt for s in sent)
    assert rewrites == 5 + 6  # medium effort: 5 candidates, 6 guided by the line profile
    usage = unique["llm"]
    assert (usage["requests"], usage["cached"], usage["failed"]) == (len(sent), 0, 0)
    prose = len(sent) - rewrites
    assert usage["prompt_tokens"] == 1000 * rewrites + 100 * prose
    assert usage["completion_tokens"] == 200 * rewrites + 50 * prose
    result.stdout.fnmatch_lines(
        [
            "listy.core.unique (src/listy/core.py): OPTIMIZED *",
            f"    language models: {len(sent)} request(s); {usage['prompt_tokens']} prompt and "
            f"{usage['completion_tokens']} completion tokens",
        ]
    )
    # Applied: the file holds the rewrite, and the project's tests pass with it.
    assert "seen = set()" in (listy.path / "src" / "listy" / "core.py").read_text()
    listy.runpytest_subprocess("-p", "no:codeflash").assert_outcomes(passed=5)
    # The key went to the server, and nowhere else.
    assert {s.headers["authorization"] for s in openai_server.requests()} == {f"Bearer {KEY}"}
    written = [
        path.read_text()
        for folder in (listy.path / "out", listy.path / ".codeflash")
        for path in folder.rglob("*")
        if path.is_file()
    ]
    assert any("seen = set()" in text for text in written)  # the cache and the report
    for text in [result.stdout.str(), result.stderr.str(), *written]:
        assert KEY not in text
