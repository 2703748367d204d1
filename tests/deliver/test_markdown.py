"""The Markdown renderer: what a reviewer reads, per optimized function, and the job summary."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_codeflash.deliver.markdown import (
    append_step_summary,
    duration,
    function_markdown,
    run_markdown,
)
from pytest_codeflash.deliver.outputs import write_outputs
from pytest_codeflash.models import CandidateResult, FunctionResult, RuntimeRow, Settings, Summary

PATCH = (
    "--- a/pkg/mod.py\n+++ b/pkg/mod.py\n@@ -1,2 +1,2 @@\n"
    " def f(x):\n-    return sorted(x)[0]\n+    return min(x)\n"
)


def optimized() -> FunctionResult:
    best = CandidateResult(
        id="min",
        source="rules:min",
        verdict="accepted",
        reason="3.00x faster (99% CI 2.80-3.20, 12 rounds), identical on 4 call(s)",
        speedup=3.0,
        speedup_ci=(2.8, 3.2),
        explanation="Takes the minimum\nwithout sorting.",
        coverage={"candidate": {"lines": [2, 2]}, "changed_lines": 1, "changed_unrun": []},
        runtime=[
            RuntimeRow(group="existing tests", inputs=4),
            RuntimeRow(
                group="replayed calls",
                inputs=4,
                timed=4,
                original_ns=3_000_000,
                candidate_ns=1_000_000,
                speedup=3.0,
                speedup_ci=(2.8, 3.2),
                rounds=12,
            ),
            RuntimeRow(group="generated inputs", inputs=60),
        ],
    )
    loser = CandidateResult(id="x", source="file", verdict="rejected", reason="a | b differs")
    return FunctionResult(
        qualified_name="pkg.mod.f",
        file="pkg/mod.py",
        status="optimized",
        reason="min is 3.00x faster",
        speedup=3.0,
        best_candidate="min",
        candidates=[loser, best],
        coverage={"lines": [2, 2], "branches": [0, 0], "missing_lines": []},
        patch=PATCH,
        patch_file=".codeflash/patches/p.patch",
    )


def test_a_function_shows_explanation_runtime_coverage_and_diff() -> None:
    text = function_markdown(optimized())
    assert text.startswith(
        "# `pkg.mod.f`: 3.00x faster\n\nIn `pkg/mod.py`, candidate `min` (rules:min)."
    )
    assert "**What changed.** Takes the minimum without sorting." in text
    assert "| existing tests | 4 | not timed | not timed | |" in text
    assert (
        "| replayed calls | 4 | 3 ms | 1 ms | 3.00x (2.80x-3.20x, 4 input(s), 12 rounds) |" in text
    )
    assert "| generated inputs | 60 | not timed | not timed | |" in text
    assert "- The original: 2 of 2 lines and 0 of 0 branches ran" in text
    assert "- The rewrite: 2 of 2 lines ran; 1 changed line(s), all of them ran." in text
    assert "## Diff\n\n```diff\n" + PATCH.rstrip("\n") + "\n```" in text
    assert "Patch: `.codeflash/patches/p.patch`" in text


def test_the_run_lists_every_function_and_details_the_optimized() -> None:
    other = FunctionResult(
        qualified_name="pkg.mod.g", file="pkg/mod.py", status="error", reason="a|b"
    )
    text = run_markdown(Summary(state="finished", functions=[optimized(), other], shard=(1, 2)))
    assert text.startswith("# pytest-codeflash: 1 of 2 function(s) optimized\n")
    assert "Shard 1 of 2" in text
    assert "| `pkg.mod.f` | optimized | 3.00x | 1/2 | min is 3.00x faster |" in text
    assert "| `pkg.mod.g` | error |  | 0/0 | a\\|b |" in text  # a table cell stays one cell
    assert "## `pkg.mod.f`: 3.00x faster" in text
    assert "### Runtime" in text
    assert "pkg.mod.g`:" not in text


def test_a_diff_with_backticks_gets_a_longer_fence() -> None:
    result = optimized().model_copy(update={"patch": PATCH + "+    '''```'''\n"})
    assert "````diff\n" in function_markdown(result)


@pytest.mark.parametrize(
    ("ns", "shown"),
    [(12, "12 ns"), (1500, "1.5 µs"), (2_345_678, "2.35 ms"), (3e9, "3 s")],
)
def test_durations(ns: float, shown: str) -> None:
    assert duration(ns) == shown


def test_the_step_summary_is_appended_when_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    assert append_step_summary("x") is None
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    settings = Settings(rootdir=tmp_path, report_md=tmp_path / "out" / "run.md")
    done = write_outputs(Summary(state="finished", functions=[optimized()]), settings)
    markdown = (tmp_path / "out" / "run.md").read_text()
    assert summary.read_text() == "earlier step\n" + markdown
    assert done.written == [
        "Markdown report written to out/run.md",
        f"Markdown appended to $GITHUB_STEP_SUMMARY ({summary})",
    ]
