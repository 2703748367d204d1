"""The first end-to-end path: a target, hand-written candidates, verdicts, report, summary.

Every run here starts real runner subprocesses, so the runs are shared between assertions.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from .conftest import SLOW_MODULE, tree_digest

TARGET = "--codeflash-target=listy.core.unique"
# The original with a branch for lists that start with a large number: no test passes one,
# but the captured calls with their numbers magnified 1000x do (#14).
REACH_RIGHT = SLOW_MODULE.replace(
    "    result = []\n",
    "    if items and items[0] >= 1000:\n        return list(dict.fromkeys(items))\n"
    "    result = []\n",
    1,
)
REACH_WRONG = REACH_RIGHT.replace("list(dict.fromkeys(items))", "sorted(set(items))")


def test_first_end_to_end_path(listy: pytest.Pytester) -> None:
    """One real run (they are expensive), checked from every side."""
    (listy.path / "candidates" / "reach_right.py").write_text(REACH_RIGHT)
    (listy.path / "candidates" / "reach_wrong.py").write_text(REACH_WRONG)
    before = tree_digest(listy.path)
    result = listy.runpytest_subprocess(
        TARGET,
        "--codeflash-candidate=candidates/fast.py",
        "--codeflash-candidate=candidates/wrong.py",
        "--codeflash-candidate=candidates/untested.py",
        "--codeflash-candidate=candidates/reach_right.py",
        "--codeflash-candidate=candidates/reach_wrong.py",
        "--codeflash-report=out/report.json",
        # Two at a time, whatever this machine's CPUs: the candidates start beside the
        # baseline's input generation (evaluate/early.py), and each other.
        "--codeflash-workers=2",
        "-v",
    )
    after = tree_digest(listy.path)
    report = json.loads((listy.path / "out" / "report.json").read_text())
    result.assert_outcomes(passed=5)
    check_verdicts(report)
    check_reach(report)
    check_unchanged(before, after)
    check_summary(result)
    check_patch(result, listy)


def check_verdicts(report: dict[str, Any]) -> None:
    assert report["schema_version"] == 1
    (function,) = report["functions"]
    assert function["qualified_name"] == "listy.core.unique"
    assert function["file"] == "src/listy/core.py"
    assert function["status"] == "optimized"
    assert function["best_candidate"] == "fast.py"
    assert function["baseline_ns"] > 0
    by_id = {c["id"]: c for c in function["candidates"]}
    fast, wrong, untested = by_id["fast.py"], by_id["wrong.py"], by_id["untested.py"]
    assert untested["verdict"] == "rejected"
    assert untested["reason"].startswith("unverified: changed line(s) 7 ")
    assert untested["coverage"]["changed_unrun"] == [7]
    assert untested["coverage"]["searched"] > 0  # inputs searched to reach line 7 (#14)
    assert function["coverage"]["lines"] == [5, 5]
    assert fast["coverage"]["changed_unrun"] == []
    assert fast["verdict"] == "accepted"
    assert fast["source"] == "file"
    assert "waiting for the baseline's generated inputs" in fast["phases_s"]
    low, high = fast["speedup_ci"]
    assert 1.05 < low <= fast["speedup"] <= high
    assert function["speedup"] == fast["speedup"]
    assert wrong["verdict"] == "rejected"
    assert wrong["speedup"] is None
    # The differing input, and the expected and actual values, are named.
    assert wrong["reason"].startswith("return value differs")
    assert "[0, 319," in wrong["reason"]
    assert "expected" in wrong["reason"]
    assert "got" in wrong["reason"]


def check_reach(report: dict[str, Any]) -> None:
    """Changed lines no test ran, reached by a search for inputs that run them (#14)."""
    by_id = {c["id"]: c for c in report["functions"][0]["candidates"]}
    right, wrong = by_id["reach_right.py"], by_id["reach_wrong.py"]
    assert right["coverage"]["changed_unrun"] == []
    assert right["coverage"]["reached"] == [7]
    assert not right["reason"].startswith("unverified")  # verified; timing decided
    assert wrong["verdict"] == "rejected"
    assert wrong["reason"].startswith("return value differs")
    assert "from an input searched to reach changed line(s) 7" in wrong["reason"]


def check_unchanged(before: dict[str, str], after: dict[str, str]) -> None:
    created = set(after) - set(before)
    # pytester keeps the run's stdout and stderr files in the project directory.
    expected = (".codeflash/patches/", "out/", "stdout", "stderr")
    assert all(p.startswith(expected) for p in created), created
    assert {p: d for p, d in after.items() if p in before} == before


def check_summary(result: pytest.RunResult) -> None:
    result.stdout.fnmatch_lines(
        [
            "codeflash: listy.core.unique: baseline run of 4 test(s)",
            "codeflash: listy.core.unique: candidate 1/5 fast.py: verifying and timing",
            "*= codeflash =*",
            "listy.core.unique (src/listy/core.py): OPTIMIZED *x [[]1/5 candidates accepted]*",
            "    accepted fast.py (file): *x faster (*",
            "    rejected wrong.py (file): return value differs at*; "
            "input (?0, 319, *) from *test_large",
            "1 of 1 function(s) optimized",
        ]
    )


def check_patch(result: pytest.RunResult, listy: pytest.Pytester) -> None:
    result.stdout.fnmatch_lines(["*patch written; apply it with: git apply .codeflash/patches/*"])
    (patch,) = (listy.path / ".codeflash" / "patches").glob("*.patch")
    text = patch.read_text()
    assert text.startswith("--- a/src/listy/core.py\n+++ b/src/listy/core.py\n")
    assert "+    seen = set()" in text


def test_quiet_run_shows_no_progress(listy: pytest.Pytester) -> None:
    result = listy.runpytest_subprocess(TARGET, "--codeflash-candidate=candidates/wrong.py", "-q")
    assert "codeflash: listy.core.unique: baseline" not in result.stdout.str()
    result.stdout.fnmatch_lines(["listy.core.unique (src/listy/core.py): NOT_OPTIMIZED*"])
    # Without -v, rejected candidates are counted but not listed one by one.
    assert "rejected wrong.py" not in result.stdout.str()


def test_under_xdist_workers_report_and_controller_optimizes(listy: pytest.Pytester) -> None:
    result = listy.runpytest_subprocess(
        "-n", "2", TARGET, "--codeflash-candidate=candidates/fast.py", "--codeflash-effort=low"
    )
    result.assert_outcomes(passed=5)
    # Exactly one summary, from the controller, built from the workers' traces.
    assert result.stdout.str().count("= codeflash =") == 1
    result.stdout.fnmatch_lines(["codeflash: listy.core.unique: baseline run of 4 test(s)"])
    result.stdout.fnmatch_lines(["listy.core.unique (src/listy/core.py): OPTIMIZED*"])
