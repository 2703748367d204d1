"""The ``codeflash`` section of pytest's terminal summary: a renderer of the run's Summary.

It reads the :class:`~..models.Summary` the session computed and nothing else, and writes
only through pytest's terminal reporter.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ..records import NO_CANDIDATES
from ..source.paths import relative_path
from .markdown import duration

if TYPE_CHECKING:
    from ..models import Delivery, FunctionResult, LLMUsage
    from ..records import DiscoverySummary, RankedFunction, Summary

__all__ = ["delivery_lines", "function_lines", "render_summary", "result_line"]


def render_summary(
    terminal: pytest.TerminalReporter, summary: Summary, *, verbosity: int, rootdir: Path
) -> None:
    """Write the ``codeflash`` section for ``summary`` at ``verbosity``."""
    if verbosity < 0 and not (summary.functions or summary.written) and summary.state != "dry_run":
        return
    terminal.section("codeflash")
    lines: list[tuple[str, dict[str, Any]]] = []
    if summary.state == "not_run":
        lines.append(("no optimization was run", {}))
    elif summary.state == "test_run_failed":
        lines.append(("collection or the test run failed; no optimization attempted", {}))
    elif summary.discovery is not None and (summary.state == "dry_run" or not summary.functions):
        lines += _plain(discovery_lines(summary.discovery, summary.state, verbosity, rootdir))
    elif summary.state == "dry_run":
        lines += _plain(
            f"{t.qualified_name}: called {t.calls} time(s) by {t.tests} test(s); "
            f"candidates: {t.candidates}"
            for t in summary.planned
        )
    else:
        for result in summary.functions:
            lines += function_lines(result, verbosity)
        lines.append((result_line(summary.functions), {}))
        lines += _plain(_none_proposed(summary.functions))
        if verbosity <= 0 and any(_hidden(r) for r in summary.functions):
            lines.append(("-v lists every candidate's verdict, with its reason", {}))
    lines += _plain(summary.written)  # every file written, -q included
    for text, markup in lines:
        terminal.write_line(text, **markup)


def function_lines(result: FunctionResult, verbosity: int) -> list[tuple[str, dict[str, Any]]]:
    """One function's result: its status line, then details by verbosity."""
    accepted = sum(1 for c in result.candidates if c.verdict == "accepted")
    tried = len(result.candidates)
    markup: dict[str, Any] = (
        {"green": True}
        if result.status == "optimized"
        else {"red": True}
        if result.status == "error"
        else {"yellow": True}
    )
    speed = f" {result.speedup:.2f}x" if result.speedup else ""
    lines = [
        (
            f"{result.qualified_name} ({result.file}): {result.status.upper()}{speed} "
            f"[{accepted}/{tried} candidates accepted] - {result.reason}",
            markup,
        )
    ]
    if result.unstable:
        lines.append(
            (
                "    unstable (differs between two runs of the original, so not compared): "
                + ", ".join(result.unstable),
                {},
            )
        )
    if result.calls_only_executed:  # the tests call it too often to compare every call
        lines.append(
            (
                f"    compared {result.calls_captured:,} call(s) in the tests, "
                f"{result.calls_only_executed:,} only executed",
                {},
            )
        )
    if verbosity > 0 and result.phases_s:
        spent = ", ".join(f"{name} {seconds:.1f}" for name, seconds in result.phases_s.items())
        lines.append((f"    seconds per phase: {spent}", {}))
    coverage = result.coverage or {}
    if verbosity > 0 and coverage.get("lines"):
        (ran, total), (taken, branches) = coverage["lines"], coverage.get("branches") or (0, 0)
        lines.append(
            (
                f"    verification inputs ran {ran}/{total} lines and {taken}/{branches} "
                "branches of the original",
                {},
            )
        )
    if result.llm is not None and (verbosity > 0 or result.llm.failed):
        lines += _plain(_llm_lines(result.llm, verbosity))
    if verbosity > 0 and result.invariants:
        inside = f"{result.generated_inside} of {result.generated_inputs} generated inputs keep"
        lines.append((f"    assumed from the captured calls ({inside} them):", {}))
        lines += _plain(f"      {phrase}" for phrase in result.invariants)
    for candidate in result.candidates:
        if candidate.verdict in ("accepted", "error") or verbosity > 0:
            same = f", duplicate of {candidate.duplicate_of}" if candidate.duplicate_of else ""
            lines.append(
                (
                    f"    {candidate.verdict} {candidate.id} ({candidate.source}{same}): "
                    f"{candidate.reason}",
                    {},
                )
            )
            lines += _plain(f"      note: {note}" for note in candidate.notes[:3])
    lines += _plain(_winner_lines(result, verbosity))
    return lines + _delivery(result) + _pull_request(result)


def _winner_lines(result: FunctionResult, verbosity: int) -> list[str]:
    """The accepted rewrite: why it is faster; with ``-v`` its runtime table and its diff."""
    best = next((c for c in result.candidates if c.id == result.best_candidate), None)
    if best is None:
        return []
    lines = []
    if best.explanation:
        lines.append(f"    what changed: {' '.join(best.explanation.split())}")
    if best.cached:
        lines.append(
            "    verdicts reused from an earlier run (--codeflash-no-cache evaluates again)"
        )
    if verbosity <= 0:
        return lines
    for row in best.runtime:
        interval = row.interval
        if interval is None:
            lines.append(f"    {row.group}: {row.inputs} compared, not timed")
            continue
        low, high = interval
        lines.append(
            f"    {row.group}: {row.inputs} compared, {row.timed} timed: "
            f"{duration(row.original_ns or 0)} -> {duration(row.candidate_ns or 0)}, "
            f"{row.speedup or 0:.2f}x ({low:.2f}x-{high:.2f}x)"
        )
    if result.patch:
        lines += ["    diff:", *(f"      {line}" for line in result.patch.splitlines())]
    return lines


def _llm_lines(usage: LLMUsage, verbosity: int) -> list[str]:
    """What the language models were asked about the function, and what failed."""
    counts = [f"{usage.requests} request(s)"]
    if usage.cached:
        counts.append(f"{usage.cached} answered from the cache")
    if usage.failed:
        counts.append(f"{usage.failed} failed")
    lines = [
        f"    language models: {', '.join(counts)}; {usage.prompt_tokens} prompt and "
        f"{usage.completion_tokens} completion tokens"
        + ("" if verbosity > 0 or not usage.errors else " (-v shows the errors)")
    ]
    if verbosity > 0:
        lines += [f"      {error}" for error in usage.errors]
    return lines


def _delivery(result: FunctionResult) -> list[tuple[str, dict[str, Any]]]:
    """Where the optimization went; shown at every verbosity, ``-q`` included."""
    apply_it = f"; apply it with: git apply {result.patch_file}"
    if result.applied:
        lines = [(f"    applied to {', '.join(result.applied_files)}", {"green": True})]
        return lines + [(f"    {note}", {"yellow": True}) for note in result.apply_notes]
    if result.applied is False:
        refused = f"    NOT APPLIED: {result.apply_error}; patch saved{apply_it}"
        return [(refused, {"red": True, "bold": True})]
    if result.patch_file:
        return [(f"    patch saved{apply_it}", {})]
    return []


def _pull_request(result: FunctionResult) -> list[tuple[str, dict[str, Any]]]:
    """The pull request opened for the function, or why none was; every verbosity."""
    if result.pr_url:
        return [(f"    pull request: {result.pr_url}", {"green": True})]
    if result.pr_error:
        return [(f"    NO PULL REQUEST: {result.pr_error}", {"red": True, "bold": True})]
    return []


def _none_proposed(results: Sequence[FunctionResult]) -> list[str]:
    """Once, not per function: what could propose rewrites where no source did."""
    count = sum(1 for r in results if r.reason == NO_CANDIDATES)
    if not count:
        return []
    return [
        f"{count} function(s) got no candidate from the chosen back-ends; a language model "
        "(--codeflash-backend=openai) or a rewrite of your own (--codeflash-candidate) may "
        "propose one"
    ]


def _hidden(result: FunctionResult) -> bool:
    """Whether the function has verdicts that only ``-v`` lists (see function_lines)."""
    return any(c.verdict not in ("accepted", "error") for c in result.candidates)


def result_line(results: Sequence[FunctionResult]) -> str:
    """The one-line result: optimized, and with ``--codeflash-apply`` applied or not."""
    optimized = sum(1 for r in results if r.status == "optimized")
    line = f"{optimized} of {len(results)} function(s) optimized"
    applied = sum(1 for r in results if r.applied)
    refused = sum(1 for r in results if r.applied is False)
    if applied or refused:
        line += f"; {applied} applied"
        line += f", {refused} NOT applied (patch saved, see above)" if refused else ""
    return line


def discovery_lines(
    discovery: DiscoverySummary, state: str, verbosity: int, rootdir: Path
) -> list[str]:
    """What was found, traced and ranked; with ``-v`` also what was left out, and why."""
    lines = [
        f"discovered {discovery.functions} eligible function(s) in {discovery.files} "
        f"file(s); {discovery.ran} ran during the tests, {_ms(discovery.traced_ns)} traced in them"
    ]
    if discovery.inputs_reused and discovery.tests_exact >= discovery.tests_run:
        lines.append(  # every test traced exactly anyway (before 3.12, with the counter)
            f"inputs of {discovery.inputs_reused} function(s) kept from the last run (their "
            f"files are unchanged; --codeflash-no-cache samples them afresh)"
        )
    elif discovery.inputs_reused:
        lines.append(
            f"inputs of {discovery.inputs_reused} function(s) kept from the last run (their "
            f"files are unchanged); {discovery.tests_exact} of {discovery.tests_run} test(s) "
            f"traced exactly (--codeflash-no-cache traces all)"
        )
    if discovery.changed_since:
        lines.append(f"only functions changed since {discovery.changed_since} are ranked")
    if discovery.selected:
        verb = "would be optimized" if state == "dry_run" else "chosen to optimize"
        lines.append(
            f"ranked by addressable time (own time + time in callees per call); "
            f"{len(discovery.selected)} {verb}:"
        )
        for index, function in enumerate(discovery.selected, 1):
            lines.extend(_describe(index, function, rootdir))
    else:
        lines.append("no function is worth optimizing: none ran long enough in the tests")
    ranking = [s for s in discovery.skipped if s.stage == "ranking"]
    excluded = [s for s in discovery.skipped if s.stage == "discovery" and s.excluded]
    found = [s for s in discovery.skipped if s.stage == "discovery" and not s.excluded]
    if verbosity > 0:
        if ranking:
            lines.append("not ranked:")
            lines.extend(f"  {s.name}: {s.reason}" for s in ranking)
        if excluded:
            lines.append("excluded:")
            lines.extend(f"  {s.name} ({s.where}): {s.reason}" for s in excluded)
        if found:
            lines.append("skipped by discovery:")
            lines.extend(f"  {s.name} ({s.where}): {s.reason}" for s in found)
    elif discovery.skipped:
        lines.append(
            f"{len(ranking)} function(s) not ranked, {len(found)} skipped by "
            f"discovery, {len(excluded)} excluded (-v lists them, with the reason)"
        )
    return lines


def _describe(index: int, function: RankedFunction, rootdir: Path) -> list[str]:
    target = function.target
    where = relative_path(target.file, rootdir)
    inputs = f"{function.samples} input(s) captured"
    if function.samples_skipped:
        inputs += f", {function.samples_skipped} not picklable"
    return [
        f"  {index}. {function.qualified_name} ({where}:{target.lineno}): "
        f"{function.share:.1%} of traced time, {_ms(function.addressable_ns)} addressable",
        f"     own {_ms(function.own_ns)} (CPU {_ms(function.own_cpu_ns)}), total "
        f"{_ms(function.total_ns)}; {function.calls} call(s) from {len(function.tests)} "
        f"test(s); {inputs}",
    ]


def delivery_lines(delivery: Delivery) -> list[str]:
    """The progress lines saying what became of one optimized function."""
    name = delivery.qualified_name
    if delivery.applied:
        applied = f"{name}: applied to {', '.join(delivery.files)}"
        return [applied, *(f"{name}: {note}" for note in delivery.notes)]
    if delivery.applied is False:
        return [
            f"{name}: not applied: {delivery.error}; the patch is saved, apply it with: "
            f"git apply {delivery.patch_file}"
        ]
    return [f"{name}: patch written; apply it with: git apply {delivery.patch_file}"]


def _plain(lines: Any) -> list[tuple[str, dict[str, Any]]]:
    return [(line, {}) for line in lines]


def _ms(ns: int) -> str:
    return f"{ns / 1e6:.1f} ms" if ns >= 100_000 else f"{ns / 1e3:.0f} µs"
