"""The evaluation loop with a language model, end to end: one run, many questions about it.

``pytest --codeflash --codeflash-backend=openai`` runs once (a subprocess, in a module-scoped
fixture) against a scripted server on 127.0.0.1 that answers each kind of request in its
own way; the tests below read the run's report, output and the server's log.  The project's
``conftest.py`` tells the server when a runner process starts, so the tests can see the
order of events without looking at a clock.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ...conftest import FAST, SLOW_MODULE, TESTS
from .conftest import KEY
from .server import Reply, ScriptedServer, Seen, answer, chat

CHAT = "/v1/chat/completions"
STARTED = "/runner/started"
FINISHED = "/runner/finished"

# Tells the server whenever a runner process (baseline or candidate) starts and ends its tests.
PING_CONFTEST = """\
import os
import urllib.request


def _ping(config, what):
    url = os.environ.get("LISTY_PING")
    if url and config.pluginmanager.has_plugin("codeflash-child-runner"):
        urllib.request.urlopen(f"{url}/{what}", data=b"{}", timeout=10).read()


def pytest_sessionstart(session):
    _ping(session.config, "started")


def pytest_sessionfinish(session):
    _ping(session.config, "finished")
"""

# Wrong on negative numbers (and on values that do not compare with 0): the generated inputs
# find it, on one input of many, so it is worth a repair.
NEGATIVES_DROPPED = FAST.replace("if item not in seen:", "if item not in seen and item >= 0:")
REPAIRED = FAST.replace("    seen = set()\n", "    seen = set()\n    add = seen.add\n").replace(
    "seen.add(item)", "add(item)"
)
BY_DICT = '''\
def unique(items):
    """Items in first-seen order, without repeats."""
    return list(dict.fromkeys(items))
'''
BY_COMPREHENSION = '''\
def unique(items):
    """Items in first-seen order, without repeats."""
    seen = set()
    return [x for x in items if not (x in seen or seen.add(x))]
'''
# Wrong on one input only, which no test of the project uses but a generated test does.
SNEAKY = FAST.replace(
    "    seen = set()\n", "    if items == [42, 42, 7]:\n        return [7]\n    seen = set()\n"
)
GOOD_TESTS = """\
from listy.core import unique


def test_repeats():
    assert unique([42, 42, 7]) == [42, 7]
"""
MIXED_TESTS = """\
from listy.core import unique


def test_wrong_about_the_code():
    assert unique([1, 1]) == [1, 1]


def test_strings():
    assert unique(["a", "b", "a"]) == ["a", "b"]
"""
EXPLANATION = "A set answers each membership test in constant time instead of a list scan."


class Script:
    """The server's answers, by kind of request (the prompts say which kind each is)."""

    def __init__(self, server: ScriptedServer) -> None:
        self.server = server
        self.refinements = 0
        self.waited_for_the_baseline: list[bool] = []
        self.asked_before_the_runner_ended: list[bool] = []
        self.asked = threading.Event()
        self.lock = threading.Lock()

    def finished(self, seen: Seen) -> Reply:
        """A runner ends its tests: hold it until the first candidates were asked for."""
        self.asked_before_the_runner_ended.append(self.asked.wait(60))
        return Reply({})

    def __call__(self, seen: Seen) -> Reply:
        self.asked.set()
        prompt = seen.prompt
        if "Write a pytest test module" in prompt:
            first = "## Focus of this module (1 of" in prompt
            return chat(f"```python\n{GOOD_TESTS if first else MIXED_TESTS}```\n")
        if "Explain in two to four sentences" in prompt:
            return chat(EXPLANATION)
        if "behaves differently on some inputs" in prompt:
            return chat(answer(REPAIRED))
        if "Improve it further" in prompt:
            with self.lock:
                self.refinements += 1
                first = self.refinements == 1
            return chat(answer(SNEAKY if first else BY_COMPREHENSION))
        proposal = int(prompt.split("## This proposal (")[1].split(" of ")[0])
        if "## Where the original spends its time" in prompt:
            return chat(answer(BY_DICT) if proposal == 1 else "Nothing more to gain.")
        # The first candidates: answered only once a runner started, i.e. while the baseline
        # runs, which a run that waited for them before its baseline would never see.
        self.waited_for_the_baseline.append(self._baseline_started())
        replies = [answer(NEGATIVES_DROPPED), answer(FAST)]
        return chat(replies[proposal - 1] if proposal <= len(replies) else "Use a set.")

    def _baseline_started(self, limit: float = 60.0) -> bool:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if self.server.requests(STARTED):
                return True
            time.sleep(0.02)
        return False


@dataclass
class Run:
    """What one run left behind."""

    output: str
    returncode: int
    report: dict[str, Any]
    seen: list[Seen]
    script: Script
    files: list[str]

    @property
    def unique(self) -> dict[str, Any]:
        functions: list[dict[str, Any]] = self.report["functions"]
        (found,) = [f for f in functions if f["qualified_name"] == "listy.core.unique"]
        return found

    def candidate(self, candidate_id: str) -> dict[str, Any]:
        candidates: list[dict[str, Any]] = self.unique["candidates"]
        (found,) = [c for c in candidates if c["id"] == candidate_id]
        return found

    def prompts(self, marker: str) -> list[str]:
        return [s.prompt for s in self.seen if s.path == CHAT and marker in s.prompt]


def _project(root: Path) -> None:
    (root / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\npythonpath = ["src"]\ntestpaths = ["tests"]\n'
    )
    package = root / "src" / "listy"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "core.py").write_text(SLOW_MODULE)
    (root / "tests").mkdir()
    # Inputs small enough that timing decides in a few milliseconds per round, even on a
    # busy machine with the low effort's budget.
    (root / "tests" / "test_core.py").write_text(TESTS.replace("1500", "300").replace("400", "100"))
    (root / "conftest.py").write_text(PING_CONFTEST)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    root = tmp_path_factory.mktemp("loop")
    _project(root)
    server = ScriptedServer()
    script = Script(server)
    server.default(CHAT, script)
    server.default(STARTED, lambda seen: Reply({}))
    server.default(FINISHED, script.finished)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_CORE"))}
    env.update(CODEFLASH_LLM_API_KEY=KEY, LISTY_PING=f"{server.url}/runner")
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-p",
                "no:cacheprovider",
                "--codeflash",
                "--codeflash-backend=openai",
                f"--codeflash-llm-url={server.url}/v1",
                "--codeflash-effort=medium",
                "--codeflash-report=report.json",
                "-v",
            ],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        report = json.loads((root / "report.json").read_text())
        files = [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()]
        yield Run(
            done.stdout + done.stderr, done.returncode, report, server.requests(), script, files
        )
    finally:
        server.close()


def test_the_first_requests_overlap_the_baseline(run: Run) -> None:
    # Asked before the baseline's runner ended (which waits for the question), and answered
    # only once it had started: a run that waited for these answers before starting its
    # baseline would have waited in vain, and one that asked after it would hang the end.
    assert run.script.asked_before_the_runner_ended[0] is True
    assert run.script.waited_for_the_baseline == [True] * 5  # medium effort: 5 requests
    assert run.returncode == 0, run.output


def test_a_repair_turns_a_wrong_candidate_into_a_right_one(run: Run) -> None:
    wrong = run.candidate("openai-1")
    assert wrong["verdict"] == "rejected"
    assert "differs" in wrong["reason"] or "raised" in wrong["reason"]
    # Right now: accepted, unless a busy machine left the timing too few rounds to decide.
    fixed = run.candidate("openai-1-fix-1")
    assert fixed["verdict"] == "accepted" or "behaviour identical" in fixed["reason"]
    (prompt,) = [p for p in run.prompts("behaves differently on some inputs") if ">= 0" in p]
    assert "## Where they differ" in prompt
    assert "the original gave `[" in prompt  # the expected and actual values


def test_the_profile_guides_more_candidates(run: Run) -> None:
    guided = run.prompts("## Where the original spends its time")
    assert len(guided) == 6  # medium effort
    lines = guided[0].splitlines()
    row = next(line for line in lines if line.startswith("| 8 |") and "not in result" in line)
    assert int(row.split("|")[2]) >= 300  # test_large alone runs this line 300 times
    assert run.candidate("openai-lp-1")["verdict"] == "accepted"


def test_generated_tests_are_kept_only_if_they_pass_with_the_original(run: Run) -> None:
    (prompt, *_) = run.prompts("Write a pytest test module")
    assert "`unique([3, 1, 3, 2, 1]) -> [3, 1, 2]`" in prompt  # an example call
    generated = run.unique["generated_tests"]
    assert sorted(test.rsplit("::", 1)[1] for test in generated["kept"]) == [
        "test_repeats",
        "test_strings",
    ]
    assert [test.rsplit("::", 1)[1] for test in generated["dropped"]] == [
        "test_wrong_about_the_code"
    ]
    # The kept ones ran for the candidates, and nothing was written into the project.
    assert run.candidate("openai-lp-1")["tests_run"] == 4 + 2
    assert not [f for f in run.files if "codeflash_generated_tests" in f]


def test_a_candidate_wrong_only_on_a_generated_tests_input_is_rejected(run: Run) -> None:
    refined = [c for c in run.unique["candidates"] if re.search(r"-refined-\d+$", c["id"])]
    # The best accepted candidates (3 at medium effort), refined once each.
    assert len(refined) == len(run.prompts("Improve it further")) >= 1
    (sneaky,) = [c for c in refined if "[42, 42, 7]" in c["reason"]]
    assert sneaky["verdict"] == "rejected"
    assert sneaky["reason"].startswith("return value differs")
    assert "from codeflash_generated_tests/" in sneaky["reason"]
    assert "::test_repeats" in sneaky["reason"]


def test_the_winner_is_explained(run: Run) -> None:
    best = run.candidate(run.unique["best_candidate"])
    assert best["verdict"] == "accepted"
    assert best["explanation"] == EXPLANATION
    assert run.unique["status"] == "optimized"
    assert KEY not in run.output
