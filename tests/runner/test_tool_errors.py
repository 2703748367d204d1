"""A failure of pytest-codeflash's own code is an error, never a candidate's rejection.

The project's ``conftest.py`` breaks one phase of the runner on purpose, chosen by a
``FAULT = "<phase>"`` line in the candidate's source (only in candidate runs: the baseline
stays whole).  Each candidate must get the verdict ``error`` naming the phase, the
exception and where it was raised, and the run must go on to the next candidate.
"""

from __future__ import annotations

import json

import pytest

from ..conftest import FAST

CONFTEST = """\
import json
import sys

import pytest_codeflash.runner.differential as differential
import pytest_codeflash.runner.replay as replay


def _spec():
    for arg in sys.argv:
        if arg.startswith("--codeflash-runner-spec="):
            with open(arg.split("=", 1)[1]) as handle:
                return json.load(handle)
    return None


def _boom(*args, **kwargs):
    raise IndexError("injected into the runner")


SPEC = _spec()
if SPEC is not None and SPEC["mode"] == "candidate":
    fault = next(
        (line.split('"')[1] for line in SPEC["candidate_source"].splitlines()
         if line.startswith("FAULT = ")),
        None,
    )
    if fault == "replay":
        replay._replay = _boom
    elif fault == "generated inputs":
        replay.verify_generated = _boom
    elif fault == "comparison":
        differential.compare_outcomes = _boom
    elif fault == "timing":
        replay._measure = _boom
"""

PHASES = ("replay", "generated inputs", "comparison", "timing")


@pytest.fixture
def faulty(listy: pytest.Pytester) -> pytest.Pytester:
    (listy.path / "tests" / "conftest.py").write_text(CONFTEST)
    for phase in PHASES:
        marked = f'FAULT = "{phase}"\n\n\n' + FAST
        (listy.path / "candidates" / f"{phase.replace(' ', '_')}.py").write_text(marked)
    return listy


def test_each_phase_failing_gives_an_error_verdict(faulty: pytest.Pytester) -> None:
    candidates = [f"--codeflash-candidate=candidates/{p.replace(' ', '_')}.py" for p in PHASES]
    result = faulty.runpytest_subprocess(
        "--codeflash-target=listy.core.unique",
        *candidates,
        "--codeflash-effort=low",
        "--codeflash-report=report.json",
        "-q",
    )
    result.assert_outcomes(passed=5)
    (function,) = json.loads((faulty.path / "report.json").read_text())["functions"]
    assert function["status"] == "error"
    assert function["reason"].startswith("pytest-codeflash failed on 4 of 4 candidate(s)")
    for phase, candidate in zip(PHASES, function["candidates"], strict=True):
        assert candidate["verdict"] == "error", candidate["reason"]
        reason = candidate["reason"]
        assert reason.startswith(f"error in pytest-codeflash ({phase}): IndexError("), reason
        assert "conftest.py:" in reason
        assert "in _boom" in reason
    # The terminal says it at every verbosity, -q included.
    result.stdout.fnmatch_lines(
        [
            "listy.core.unique (src/listy/core.py): ERROR *",
            "    error replay.py (file): error in pytest-codeflash (replay): *",
        ]
    )
