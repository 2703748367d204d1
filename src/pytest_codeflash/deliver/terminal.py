"""The ``codeflash`` section of pytest's terminal summary: a renderer of the run's Summary.

It reads the :class:`~..models.Summary` the session computed and nothing else, and writes
only through pytest's terminal reporter.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ..models import Delivery, DiscoverySummary, FunctionResult, RankedFunction, Summary
from ..source.paths import relative_path

__all__ = ["delivery_lines", "render_summary"]


def render_summary(
    terminal: pytest.TerminalReporter, summary: Summary, *, verbosity: int, rootdir: Path
) -> None:
    """Write the ``codeflash`` section for ``summary`` at ``verbosity``."""
    if verbosity < 0 and not summary.functions and summary.state != "dry_run":
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
        optimized = sum(1 for r in summary.functions if r.status == "optimized")
        lines.append((f"{optimized} of {len(summary.functions)} function(s) optimized", {}))
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
    for candidate in result.candidates:
        if candidate.verdict == "accepted" or verbosity > 0:
            same = f", duplicate of {candidate.duplicate_of}" if candidate.duplicate_of else ""
            lines.append(
                (
                    f"    {candidate.verdict} {candidate.id} ({candidate.source}{same}): "
                    f"{candidate.reason}",
                    {},
                )
            )
    return lines


def discovery_lines(
    discovery: DiscoverySummary, state: str, verbosity: int, rootdir: Path
) -> list[str]:
    """What was found, traced and ranked; with ``-v`` also what was left out, and why."""
    lines = [
        f"discovered {discovery.functions} eligible function(s) in {discovery.files} "
        f"file(s); {discovery.ran} ran during the tests, {_ms(discovery.traced_ns)} traced in them"
    ]
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
    found = [s for s in discovery.skipped if s.stage == "discovery"]
    if verbosity > 0:
        if ranking:
            lines.append("not ranked:")
            lines.extend(f"  {s.name}: {s.reason}" for s in ranking)
        if found:
            lines.append("skipped by discovery:")
            lines.extend(f"  {s.name} ({s.where}): {s.reason}" for s in found)
    elif ranking or found:
        lines.append(
            f"{len(ranking)} function(s) not ranked, {len(found)} skipped by "
            "discovery (-v lists them, with the reason)"
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
    if delivery.refused:
        return [
            f"{name}: not applied: {delivery.refused}; the patch is saved, apply it with: "
            f"git apply {delivery.patch}"
        ]
    return [f"{name}: patch written; apply it with: git apply {delivery.patch}"]


def _plain(lines: Any) -> list[tuple[str, dict[str, Any]]]:
    return [(line, {}) for line in lines]


def _ms(ns: int) -> str:
    return f"{ns / 1e6:.1f} ms" if ns >= 100_000 else f"{ns / 1e3:.0f} µs"
