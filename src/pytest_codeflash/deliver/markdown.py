"""The run as Markdown a person reads: ``--codeflash-report-md``, the job summary, PR bodies.

A renderer of the :class:`~..models.Summary` (or of one :class:`~..models.FunctionResult`,
for a pull request about one function); it computes nothing and reads nothing else.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..models import CandidateResult, FunctionResult, RuntimeRow, Summary

__all__ = ["append_step_summary", "function_markdown", "run_markdown", "write_markdown"]

STEP_SUMMARY = "GITHUB_STEP_SUMMARY"


def run_markdown(summary: Summary, title: str = "pytest-codeflash") -> str:
    """The whole run: a table of every function, then a section per optimized one."""
    functions = summary.functions
    optimized = [f for f in functions if f.status == "optimized"]
    lines = [f"# {title}: {len(optimized)} of {len(functions)} function(s) optimized", ""]
    if summary.state == "test_run_failed":
        lines += ["Collection or the test run failed; no optimization was attempted.", ""]
    elif summary.state == "dry_run":
        lines += ["A dry run: nothing was evaluated.", ""]
    if summary.shard is not None:
        k, n = summary.shard
        lines += [f"Shard {k} of {n}: the other shards' functions are in their own reports.", ""]
    if functions:
        lines += ["| Function | Status | Speed-up | Candidates accepted | Why |"]
        lines += ["| --- | --- | --- | --- | --- |"]
        lines += [_overview_row(f) for f in functions]
        lines.append("")
    for result in optimized:
        lines += [function_markdown(result, level=2), ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def function_markdown(result: FunctionResult, level: int = 1) -> str:
    """One optimized function: what changed, why it is faster, the proof, and the diff."""
    h = "#" * level
    best = _best(result)
    speed = f": {result.speedup:.2f}x faster" if result.speedup else f": {result.status}"
    lines = [f"{h} `{result.qualified_name}`{speed}", ""]
    where = f"In `{result.file}`"
    if best is not None:
        where += f", candidate `{best.id}` ({best.source})"
    lines += [where + ".", ""]
    if best is not None and best.explanation:
        lines += [f"**What changed.** {_one_paragraph(best.explanation)}", ""]
    lines += [f"**Verdict.** {best.reason if best is not None else result.reason}", ""]
    if best is not None and best.cached:
        lines += ["_Verdict reused from an earlier run on the same code, tests and settings._", ""]
    if best is not None and best.runtime:
        lines += [f"{h}# Runtime", "", *runtime_table(best.runtime), ""]
    coverage = coverage_lines(result, best)
    if coverage:
        lines += [f"{h}# Coverage", "", *coverage, ""]
    if result.patch:
        lines += [f"{h}# Diff", "", *_fenced(result.patch, "diff"), ""]
    lines += _delivery(result)
    return "\n".join(lines).rstrip("\n")


def runtime_table(rows: Sequence[RuntimeRow]) -> list[str]:
    """Per group of verification inputs: compared, and the times where it was timed."""
    table = [
        "| Inputs | Compared | Original | Optimized | Speed-up (confidence interval) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        interval = row.interval
        if interval is None:
            table.append(f"| {row.group} | {row.inputs} | not timed | not timed | |")
            continue
        low, high = interval
        table.append(
            f"| {row.group} | {row.inputs} | {duration(row.original_ns or 0)} | "
            f"{duration(row.candidate_ns or 0)} | {row.speedup or 0:.2f}x ({low:.2f}x-{high:.2f}x, "
            f"{row.timed} input(s), {row.rounds} rounds) |"
        )
    return table


def coverage_lines(result: FunctionResult, best: CandidateResult | None) -> list[str]:
    """What the verification inputs executed of the original and of the rewrite."""
    lines = []
    original = result.coverage or {}
    if original.get("lines"):
        ran, total = original["lines"]
        taken, branches = original.get("branches") or (0, 0)
        lines.append(
            f"- The original: {ran} of {total} lines and {taken} of {branches} branches ran "
            "under the verification inputs."
        )
    candidate = (best.coverage or {}) if best is not None else {}
    if (candidate.get("candidate") or {}).get("lines"):
        ran, total = candidate["candidate"]["lines"]
        changed, unrun = candidate.get("changed_lines", 0), candidate.get("changed_unrun") or []
        lines.append(
            f"- The rewrite: {ran} of {total} lines ran; {changed} changed line(s), "
            + (f"{len(unrun)} never ran." if unrun else "all of them ran.")
        )
    return lines


def duration(ns: float) -> str:
    """A time for people: ns, µs, ms or s with three significant figures."""
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.0f} ns"


def write_markdown(text: str, path: Path) -> None:
    """Write ``text`` to ``path``, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def append_step_summary(text: str) -> Path | None:
    """Append ``text`` to ``$GITHUB_STEP_SUMMARY`` when it is set; the file, or ``None``."""
    name = os.environ.get(STEP_SUMMARY, "").strip()
    if not name:
        return None
    path = Path(name)
    with path.open("a", encoding="utf-8") as stream:
        stream.write(text if text.endswith("\n") else text + "\n")
    return path


def _overview_row(result: FunctionResult) -> str:
    accepted = sum(1 for c in result.candidates if c.verdict == "accepted")
    speed = f"{result.speedup:.2f}x" if result.speedup else ""
    return (
        f"| `{result.qualified_name}` | {result.status.replace('_', ' ')} | {speed} | "
        f"{accepted}/{len(result.candidates)} | {_cell(result.reason)} |"
    )


def _delivery(result: FunctionResult) -> list[str]:
    lines = []
    if result.pr_url:
        lines.append(f"Pull request: {result.pr_url}")
    if result.pr_error:
        lines.append(f"No pull request: {_cell(result.pr_error)}")
    if result.applied:
        lines.append(f"Applied to {', '.join(f'`{f}`' for f in result.applied_files)}.")
    elif result.patch_file:
        lines.append(
            f"Patch: `{result.patch_file}` (apply it with `git apply {result.patch_file}`)."
        )
    return lines


def _best(result: FunctionResult) -> CandidateResult | None:
    return next((c for c in result.candidates if c.id == result.best_candidate), None)


def _fenced(text: str, language: str) -> list[str]:
    fence = "```"
    while fence in text:
        fence += "`"
    return [f"{fence}{language}", text.rstrip("\n"), fence]


def _one_paragraph(text: str) -> str:
    return " ".join(text.split())


def _cell(text: str) -> str:
    return _one_paragraph(text).replace("|", "\\|")
