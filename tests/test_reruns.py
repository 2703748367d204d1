"""Runs after runs (#16): verdicts reused, apply right after a run, workers, shards, merge."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .deliver import test_apply
from .deliver.test_apply import APPLIED, RUN, core

calc = test_apply.calc
# Medium effort: a timing budget that still decides on a machine busy with other work.
RUN = (*RUN[:-1], "--codeflash-effort=medium")


def functions(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text())["functions"]  # type: ignore[no-any-return]


def test_a_rerun_reuses_verdicts_and_apply_needs_no_new_timing(calc: pytest.Pytester) -> None:
    first = calc.runpytest_subprocess(*RUN, "--codeflash-report=r1.json")
    first.stdout.fnmatch_lines(["codeflash: listy.core.unique: baseline run of 4 test(s)"])
    (evaluated,) = functions(calc.path / "r1.json")
    assert evaluated["status"] == "optimized"

    again = calc.runpytest_subprocess(*RUN, "-v", "--codeflash-report=r2.json")
    again.stdout.fnmatch_lines(
        [
            "codeflash: listy.core.unique: verdicts reused from an earlier run, nothing changed",
            "*what changed: user candidate fast.py",
            "*verdicts reused from an earlier run (--codeflash-no-cache evaluates again)",
            "    existing tests: 4 compared, not timed",
            "    replayed calls: 4 compared, * timed: * -> *x (*x-*x)",
            "    diff:",
            "      --- a/src/listy/core.py",
            "*+    return list(dict.fromkeys(items))",
        ]
    )
    assert "baseline run" not in again.stdout.str()
    (reused,) = functions(calc.path / "r2.json")
    assert reused["cached"] is True
    assert reused["speedup"] == evaluated["speedup"]
    assert reused["candidates"][0]["runtime"] == evaluated["candidates"][0]["runtime"]

    applied = calc.runpytest_subprocess(
        *RUN, "-q", "--codeflash-apply", "--codeflash-report=r3.json", "--codeflash-report-md=r.md"
    )
    assert "baseline run" not in applied.stdout.str()
    applied.stdout.fnmatch_lines(
        [
            "    applied to src/listy/core.py",
            "1 of 1 function(s) optimized; 1 applied",
            "JSON report written to r3.json",
            "Markdown report written to r.md",
        ]
    )
    assert core(calc).startswith(APPLIED)
    assert "## Diff" in (calc.path / "r.md").read_text()


@pytest.mark.parametrize("fresh", ["--codeflash-no-cache", "--cache-clear"])
def test_no_cache_and_cache_clear_start_fresh(calc: pytest.Pytester, fresh: str) -> None:
    calc.runpytest_subprocess(*RUN)
    result = calc.runpytest_subprocess(*RUN, fresh)
    result.stdout.fnmatch_lines(["codeflash: listy.core.unique: baseline run of 4 test(s)"])
    assert "verdicts reused" not in result.stdout.str()


TWO = (
    "--codeflash-target=listy.core.unique",
    "--codeflash-target=listy.core.total",
    "--codeflash-effort=low",
    "-p",
    "no:cacheprovider",
)


def test_workers_and_shards_then_merge(listy: pytest.Pytester) -> None:
    both = listy.runpytest_subprocess(*TWO, "--codeflash-workers=2", "--codeflash-report=all.json")
    lines = [line for line in both.stdout.lines if line.startswith("codeflash:")]
    assert lines
    # Every line is whole and names its function (its position too, when it opens or ends it).
    assert all(
        re.match(r"codeflash: (function [12] of 2( done)?: )?listy\.core\.(unique|total)[: ]", line)
        for line in lines
    )
    names = {f["qualified_name"] for f in functions(listy.path / "all.json")}
    assert names == {"listy.core.unique", "listy.core.total"}
    shards = []
    for k in (1, 2):
        path = listy.path / f"shard-{k}.json"
        result = listy.runpytest_subprocess(
            *TWO, f"--codeflash-shard={k}/2", f"--codeflash-report={path}"
        )
        result.stdout.fnmatch_lines([f"codeflash: shard {k}/2: * of the chosen function(s)"])
        shards.append(path)
    per_shard = [{f["qualified_name"] for f in functions(path)} for path in shards]
    assert per_shard[0].isdisjoint(per_shard[1])
    assert per_shard[0] | per_shard[1] == names
    done = subprocess.run(
        [sys.executable, "-m", "pytest_codeflash", "merge", *map(str, shards)],
        cwd=listy.path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    merged = {f["qualified_name"] for f in functions(listy.path / "codeflash-report.json")}
    assert merged == names
    assert (listy.path / "codeflash-report.md").read_text().startswith("# pytest-codeflash: ")
