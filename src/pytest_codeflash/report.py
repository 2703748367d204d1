"""Outputs: the terminal summary and the JSON report; patches and apply are in ``apply``.

The summary is computed from the ``Report`` model first and rendered second, only through
pytest's terminal reporter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import pytest

from .apply import Optimization, deliver, make_patch
from .models import FunctionResult, LLMUsage, Report, Settings

if TYPE_CHECKING:
    from .session import CodeflashSession

# Delivering optimizations (patches, --codeflash-apply) lives in apply.py; these names stay
# importable from here.
__all__ = ["Optimization", "make_patch", "render_summary", "write_outputs"]


def write_outputs(
    report: Report,
    optimizations: Sequence[Optimization],
    settings: Settings,
    progress: Callable[[str], None],
) -> None:
    """Save a patch per optimized function or apply it (``apply.deliver``); write the report."""
    deliver(optimizations, settings, progress)
    if settings.report is not None:
        settings.report.parent.mkdir(parents=True, exist_ok=True)
        settings.report.write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")


# -- terminal summary -------------------------------------------------------------------------
def render_summary(
    terminal: pytest.TerminalReporter, session: CodeflashSession, settings: Settings
) -> None:
    if settings.verbosity < 0 and not session.results and not settings.dry_run:
        return
    terminal.section("codeflash")
    if settings.dry_run:
        _render_dry_run(terminal, session)
        return
    if session.report is None:
        terminal.write_line("no optimization was run")
        return
    if not session.results:
        if session.ranking is not None:  # discovery (#5): nothing was worth optimizing
            _render_discovery(terminal, session)
            return
        terminal.write_line("collection or the test run failed; no optimization attempted")
        return
    for result in session.results:
        _render_function(terminal, result, settings.verbosity)
    optimized = sum(1 for r in session.results if r.status == "optimized")
    terminal.write_line(f"{optimized} of {len(session.results)} function(s) optimized")


def _render_function(
    terminal: pytest.TerminalReporter, result: FunctionResult, verbosity: int
) -> None:
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
    terminal.write_line(
        f"{result.qualified_name} ({result.file}): {result.status.upper()}{speed} "
        f"[{accepted}/{tried} candidates accepted] - {result.reason}",
        **markup,
    )
    if result.unstable:
        terminal.write_line(
            "    unstable (differs between two runs of the original, so not compared): "
            + ", ".join(result.unstable)
        )
    coverage = result.coverage or {}
    if verbosity > 0 and coverage.get("lines"):
        (ran, lines), (taken, branches) = coverage["lines"], coverage.get("branches", (0, 0))
        terminal.write_line(
            f"    verification inputs ran {ran}/{lines} lines and {taken}/{branches} "
            "branches of the original"
        )
    if result.llm is not None and (verbosity > 0 or result.llm.failed):  # (#13)
        _render_llm(terminal, result.llm, verbosity)
    for candidate in result.candidates:
        if candidate.verdict == "accepted" or verbosity > 0:
            same = f", duplicate of {candidate.duplicate_of}" if candidate.duplicate_of else ""
            terminal.write_line(
                f"    {candidate.verdict} {candidate.id} ({candidate.source}{same}): "
                f"{candidate.reason}"
            )


def _render_llm(terminal: pytest.TerminalReporter, usage: LLMUsage, verbosity: int) -> None:
    """What the language models were asked about the function, and what failed (#13)."""
    counts = [f"{usage.requests} request(s)"]
    if usage.cached:
        counts.append(f"{usage.cached} answered from the cache")
    if usage.failed:
        counts.append(f"{usage.failed} failed")
    terminal.write_line(
        f"    language models: {', '.join(counts)}; {usage.prompt_tokens} prompt and "
        f"{usage.completion_tokens} completion tokens"
        + ("" if verbosity > 0 or not usage.errors else " (-v shows the errors)")
    )
    if verbosity > 0:
        for error in usage.errors:
            terminal.write_line(f"      {error}")


def _render_dry_run(terminal: pytest.TerminalReporter, session: CodeflashSession) -> None:
    if session.discovery is not None:  # discovery (#5)
        _render_discovery(terminal, session)
        return
    for target in session.targets:
        trace = session.tracer.traces[target.qualified_name]
        terminal.write_line(
            f"{target.qualified_name}: called {trace.calls} time(s) by "
            f"{len(trace.tests)} test(s); candidates: "
            f"{len(session.file_candidates.get(target.qualified_name, []))}"
        )


def _render_discovery(terminal: pytest.TerminalReporter, session: CodeflashSession) -> None:
    """What discovery found and ranking chose (#5)."""
    if session.ranking is None or session.discovery is None:
        terminal.write_line("collection or the test run failed; no optimization attempted")
        return
    from .ranking import summary_lines

    for line in summary_lines(session.ranking, session.discovery, session.settings):
        terminal.write_line(line)
